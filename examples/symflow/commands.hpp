// The `symflow` command-line program: one executable, one subcommand per cmd_*.cpp file.
// Each cmd_*.cpp registers itself with a static RegisterCommand object:
//
//   static symflow::cli::RegisterCommand reg("render", "Render a synth patch to WAV",
//       [](CLI::App& app) { ...add options...; app.callback([...] { ...run... }); });
//
// Errors: throw symflow::Error (or any std::exception) with a one-line message; main()
// prints "symflow <cmd>: error: <message>" and exits with status 1.
#pragma once
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "symflow/core/types.hpp"
#include "symflow/train/distributed.hpp"

namespace symflow::cli {

/// Transform for unsigned options such as --seed (use with ->transform, not ->check: it edits
/// the text). CLI11 2.1 reads "-1" into an unsigned integer as 2^64 - 1 without a word, and
/// reads a leading 0 as octal ("08" fails, "010" is 8): only decimal digits are accepted and
/// leading zeros are dropped, so "08" is 8 and "010" is 10 (issue 17).
/// Error: "--seed: must be a non-negative integer, got '-1'".
inline CLI::Validator nonNegativeInteger() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
          return "must be a non-negative integer, got '" + s + "'";
        const auto first = s.find_first_not_of('0');
        s = first == std::string::npos ? std::string("0") : s.substr(first);
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

/// Refuses, before any work, a folder that cannot be created or written: walks up to the nearest
/// existing ancestor of `dir`, which must be a folder we may write into (every missing level
/// below it is then creatable). `shown` is the path the user gave (the folder itself, or a file
/// in it). Errors: "--out a/b: cannot create it (a is not a folder)", "--out a: exists and is
/// not a folder", "--out a/b: cannot create it (permission denied in a)". Nothing is created
/// (issue 17: invert found a bad --out only after inference).
inline void checkFolderCreatable(const std::string& option, const std::string& dir, std::string shown = "") {
  namespace fs = std::filesystem;
  if (shown.empty()) shown = dir;
  std::error_code ec;
  const fs::path p = dir.empty() ? fs::path(".") : fs::path(dir);
  if (fs::is_directory(p, ec)) {
    if (::access(p.c_str(), W_OK | X_OK) != 0)
      throw Error(option + " " + shown + ": cannot write into " + p.string() + " (permission denied)");
    return;
  }
  if (fs::exists(p, ec))
    throw Error(option + " " + shown + (shown == dir ? ": exists and is not a folder"
                                                     : ": cannot create it (" + dir + " is not a folder)"));
  for (fs::path q = p.parent_path();; q = q.parent_path()) {
    const fs::path at = q.empty() ? fs::path(".") : q;
    const fs::file_status st = fs::status(at, ec);
    if (fs::exists(st)) {
      if (!fs::is_directory(st))
        throw Error(option + " " + shown + ": cannot create it (" + at.string() + " is not a folder)");
      if (::access(at.c_str(), W_OK | X_OK) != 0)
        throw Error(option + " " + shown + ": cannot create it (permission denied in " + at.string() + ")");
      return;
    }
    if (q.empty() || q == q.root_path()) return;
  }
}

/// Creates `dir` and its missing parents (after checkFolderCreatable). Error names the option.
inline void createFolder(const std::string& option, const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(option + " " + dir + ": cannot create the folder (" + ec.message() + ")");
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
