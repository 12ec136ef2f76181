// doctest's test runner (main and the framework's implementation), compiled once into the
// static library symflow_doctest_main that every suite links (tests/CMakeLists.txt). Compiling
// it into each of the ~45 suites cost about 4 s of compiler time per suite in a Release build
// and 16 s in the sanitized one: a few minutes of every CI run.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
