// symflow: command-line front end. Subcommands live in cmd_*.cpp (see commands.hpp).
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "commands.hpp"

#ifdef SYMFLOW_WITH_MPI
#include "symflow/train/mpi_communicator.hpp"
#endif

int main(int argc, char** argv) {
#ifdef SYMFLOW_WITH_MPI
  symflow::train::MpiSession mpi(argc, argv);
  if (mpi.active()) symflow::cli::communicator() = &mpi.world();
  const int rank = mpi.active() ? mpi.world().rank() : 0;
  const int ranks = mpi.active() ? mpi.world().size() : 1;
  // an error on one rank ends every rank of the job at once (the others would wait for it)
  auto fail = [&](int code) { if (ranks > 1) mpi.abortJob(code); return code; };
#else
  // without MPI support a launch of several copies is refused below (they would share files)
  const int rank = 0, ranks = symflow::train::launcherWorldSize();
  auto fail = [](int code) { return code; };
#endif
  // Over a file-size limit (ulimit -f) the kernel would kill us with SIGXFSZ in the middle of a
  // write; ignored, the write fails with EFBIG and is reported like a full disk (one-line error,
  // the previous checkpoint untouched; include/symflow/io/atomic_file.hpp).
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"symflow: synthesizer inversion with equivariant flow matching"};
  app.require_subcommand(1);
  auto& cmds = symflow::cli::registry();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (auto& c : cmds) c.setup(*app.add_subcommand(c.name, c.help));
  // "symflow train: error: ..." (rank r: ... when several ranks run)
  auto prefix = [&] {
    std::string which = app.get_subcommands().empty() ? "" : " " + app.get_subcommands()[0]->get_name();
    return "symflow" + which + (ranks > 1 ? " (rank " + std::to_string(rank) + " of " + std::to_string(ranks) + ")" : "");
  };
  try {
#ifndef SYMFLOW_WITH_MPI
    if (ranks > 1)
      throw symflow::Error("started by mpirun with " + std::to_string(ranks) +
                           " ranks, but this symflow was built without MPI (install libopenmpi-dev and rebuild; "
                           "CMake option SYMFLOW_MPI)");
#endif
    // only `symflow train` knows what to do with several ranks
    if (ranks > 1 && (argc < 2 || std::string(argv[1]) != "train"))
      throw symflow::Error("only `symflow train` runs on several MPI ranks (" + std::to_string(ranks) +
                           " here); run other commands without mpirun");
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // Bad or missing options: one line, like every other error (CLI11's exit codes, 100-115).
    std::cerr << (prefix() + ": error: " + e.what() + " (see --help)\n");  // one write: ranks do not interleave
    return fail(e.get_exit_code());
  } catch (const std::exception& e) {
    std::cerr << (prefix() + ": error: " + e.what() + "\n");
    return fail(1);
  }
  return 0;
}
