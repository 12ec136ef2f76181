#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "symflow/train/interrupt.hpp"
#include "symflow/train/progress.hpp"

using namespace symflow;

TEST_CASE("formatDuration") {
  CHECK(train::formatDuration(5) == "5s");
  CHECK(train::formatDuration(125) == "2m05s");
  CHECK(train::formatDuration(3 * 3600 + 7 * 60) == "3h07m");
  CHECK(train::formatDuration(-1) == "?");
}

TEST_CASE("Progress prints a final line with steps and loss") {
  FILE* f = std::tmpfile();
  {
    train::Progress p("t", 3, 10, 1000.0, f);
    p.update(1, 1.0);
    p.update(2, 1.0);
    p.update(3, 1.0);  // last step always prints
  }
  std::rewind(f);
  char buf[512] = {0};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string s(buf, n);
  CHECK(s.find("[t] step 3/3 (100.0%)") != std::string::npos);
  CHECK(s.find("loss 1") != std::string::npos);
}

TEST_CASE("MetricLog writes JSON lines, NaN as null") {
  char tmpl[] = "/tmp/symflow_log_XXXXXX";
  close(mkstemp(tmpl));
  std::string path = tmpl;
  {
    train::MetricLog log(path, false);
    log.write({{"step", 1}, {"loss", 0.5}});
    log.write({{"step", 2}, {"loss", std::nan("")}});
  }
  std::ifstream in(path);
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  CHECK(l1 == "{\"step\": 1, \"loss\": 0.5}");
  CHECK(l2 == "{\"step\": 2, \"loss\": null}");
  std::remove(path.c_str());
}

TEST_CASE("InterruptGuard: first SIGINT sets the flag instead of killing") {
  train::InterruptGuard g;
  CHECK_FALSE(g.requested());
  std::raise(SIGINT);
  CHECK(g.requested());
}
