// symflow version: the version and the optional features this program was built with
// ("mpi: yes" when `mpirun -np N symflow train` trains data-parallel; tests/mpi_train_test.sh
// reads it).
#include <iostream>

#include "commands.hpp"

static symflow::cli::RegisterCommand reg("version", "Print the symflow version and build features", [](CLI::App& app) {
  app.callback([] {
    std::cout << "symflow 0.1.0\n";
#ifdef SYMFLOW_WITH_MPI
    std::cout << "mpi: yes\n";
#else
    std::cout << "mpi: no\n";
#endif
  });
});
