// symflow: command-line front end. Subcommands live in cmd_*.cpp (see commands.hpp).
#include <algorithm>
#include <csignal>
#include <exception>
#include <iostream>

#include "commands.hpp"

int main(int argc, char** argv) {
  // Over a file-size limit (ulimit -f) the kernel would kill us with SIGXFSZ in the middle of a
  // write; ignored, the write fails with EFBIG and is reported like a full disk (one-line error,
  // the previous checkpoint untouched; include/symflow/io/atomic_file.hpp).
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"symflow: synthesizer inversion with equivariant flow matching"};
  app.require_subcommand(1);
  auto& cmds = symflow::cli::registry();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (auto& c : cmds) c.setup(*app.add_subcommand(c.name, c.help));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // Bad or missing options: one line, like every other error (CLI11's exit codes, 100-115).
    std::string which = app.get_subcommands().empty() ? "" : " " + app.get_subcommands()[0]->get_name();
    std::cerr << "symflow" << which << ": error: " << e.what() << " (see --help)\n";
    return e.get_exit_code();
  } catch (const std::exception& e) {
    std::string which = app.get_subcommands().empty() ? "" : " " + app.get_subcommands()[0]->get_name();
    std::cerr << "symflow" << which << ": error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
