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

#include "symflow/core/types.hpp"
#include "symflow/train/distributed.hpp"

namespace symflow::cli {

/// Check for unsigned options such as --seed: CLI11 2.1 reads "-1" into an unsigned integer as
/// 2^64 - 1 without a word. Error: "--seed: must be a non-negative integer, got '-1'".
inline CLI::Validator nonNegativeInteger() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
          return "must be a non-negative integer, got '" + s + "'";
        return {};
      },
      "UINT", "non-negative integer");
}

/// Returns f(); a symflow::Error from it is rethrown with "OPTION: " in front, so that a
/// library message names the option it came from ("--solver: unknown solver 'x' (...)").
template <class F> auto forOption(const std::string& option, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(option + ": " + e.what());
  }
}

struct Command {
  std::string name, help;
  std::function<void(CLI::App&)> setup;
};

inline std::vector<Command>& registry() {
  static std::vector<Command> cmds;
  return cmds;
}

/// The ranks of this run of the program: set by main() when it was started by mpirun and
/// built with SYMFLOW_MPI (docs/distributed.md), nullptr otherwise (one process alone).
/// `symflow train` trains data-parallel over them; every other command refuses to run on
/// more than one rank.
inline train::Communicator*& communicator() {
  static train::Communicator* comm = nullptr;
  return comm;
}

struct RegisterCommand {
  RegisterCommand(std::string name, std::string help, std::function<void(CLI::App&)> setup) {
    registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

}  // namespace symflow::cli
