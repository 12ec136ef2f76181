// symflow: command-line front end. Subcommands live in cmd_*.cpp (see commands.hpp).
#include <algorithm>
#include <exception>
#include <iostream>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"symflow: synthesizer inversion with equivariant flow matching"};
  app.require_subcommand(1);
  auto& cmds = symflow::cli::registry();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (auto& c : cmds) c.setup(*app.add_subcommand(c.name, c.help));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::string which = app.get_subcommands().empty() ? "" : " " + app.get_subcommands()[0]->get_name();
    std::cerr << "symflow" << which << ": error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
