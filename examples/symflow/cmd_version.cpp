#include <iostream>

#include "commands.hpp"

static symflow::cli::RegisterCommand reg("version", "Print the symflow version", [](CLI::App& app) {
  app.callback([] { std::cout << "symflow 0.1.0\n"; });
});
