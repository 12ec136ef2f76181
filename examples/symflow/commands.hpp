// The `symflow` command-line program: one executable, one subcommand per cmd_*.cpp file.
// Each cmd_*.cpp registers itself with a static RegisterCommand object:
//
//   static symflow::cli::RegisterCommand reg("render", "Render a synth patch to WAV",
//       [](CLI::App& app) { ...add options...; app.callback([...] { ...run... }); });
//
// Errors: throw symflow::Error (or any std::exception) with a one-line message; main()
// prints "symflow <cmd>: error: <message>" and exits with status 1.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace symflow::cli {

struct Command {
  std::string name, help;
  std::function<void(CLI::App&)> setup;
};

inline std::vector<Command>& registry() {
  static std::vector<Command> cmds;
  return cmds;
}

struct RegisterCommand {
  RegisterCommand(std::string name, std::string help, std::function<void(CLI::App&)> setup) {
    registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

}  // namespace symflow::cli
