// CsvLog (train/progress.hpp) and the output paths of the k-osc trainer (TrainPaths in
// train/kosc_trainer.hpp): header once, append without repeating it, refusals.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/progress.hpp"

using namespace symflow;

namespace {
std::string tempPath() {
  char tmpl[] = "/tmp/symflow_csv_XXXXXX";
  close(mkstemp(tmpl));
  return tmpl;
}
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("CsvLog: header once, rows in column order, append keeps the header single") {
  const std::string path = tempPath();
  const std::vector<std::string> cols{"step", "loss", "lr"};
  {
    train::CsvLog log(path, cols, false);
    log.write({{"step", 1}, {"loss", 0.5}, {"lr", 1e-4}});
    log.write({{"step", 2}, {"loss", std::nan("")}, {"lr", -INFINITY}});
  }
  CHECK(slurp(path) == "step,loss,lr\n1,0.5,0.0001\n2,nan,-inf\n");
  {
    train::CsvLog log(path, cols, true);  // resume: no second header
    log.write({{"step", 3}, {"loss", 0.25}, {"lr", 2e-4}});
  }
  CHECK(slurp(path) == "step,loss,lr\n1,0.5,0.0001\n2,nan,-inf\n3,0.25,0.0002\n");
  {
    train::CsvLog log(path, cols, false);  // a fresh run truncates
    log.write({{"step", 1}, {"loss", 1}, {"lr", 0}});
  }
  CHECK(slurp(path) == "step,loss,lr\n1,1,0\n");
  std::remove(path.c_str());
}

TEST_CASE("CsvLog: appending to an empty file writes the header; a cut last line is ended") {
  const std::string path = tempPath();  // exists, empty
  { train::CsvLog log(path, {"a", "b"}, true); }
  CHECK(slurp(path) == "a,b\n");
  std::ofstream(path, std::ios::app) << "1,2\n3";  // a job killed mid-line
  {
    train::CsvLog log(path, {"a", "b"}, true);
    log.write({{"a", 5}, {"b", 6}});
  }
  CHECK(slurp(path) == "a,b\n1,2\n3\n5,6\n");
  std::remove(path.c_str());
}

TEST_CASE("CsvLog: refuses another header, wrong rows and bad column names") {
  const std::string path = tempPath();
  std::ofstream(path) << "step,loss\n1,0.5\n";
  CHECK_THROWS_WITH_AS(train::CsvLog(path, {"step", "loss", "lr"}, true),
                       doctest::Contains("has columns 'step,loss', expected 'step,loss,lr'"), Error);
  CHECK(slurp(path) == "step,loss\n1,0.5\n");  // untouched
  train::CsvLog log(path, {"step", "loss"}, true);
  CHECK_THROWS_AS(log.write({{"step", 2}}), Error);                   // too few values
  CHECK_THROWS_AS(log.write({{"loss", 2}, {"step", 0.1}}), Error);    // wrong order
  CHECK_THROWS_AS(train::CsvLog(path, {"a,b"}, false), Error);       // needs quoting
  CHECK_THROWS_AS(train::CsvLog(path, {}, false), Error);
  CHECK_THROWS_AS(train::CsvLog("/nonexistent_dir_symflow/x.csv", {"a"}, false), Error);
  std::remove(path.c_str());
}

TEST_CASE("TrainPaths: a folder or a .safetensors file") {
  const auto d = train::TrainPaths::of("runs/p2t");
  CHECK(d.dir == "runs/p2t");
  CHECK(d.checkpoint == "runs/p2t/model.safetensors");
  CHECK(d.previous == "runs/p2t/model.prev.safetensors");
  CHECK(d.jsonLog == "runs/p2t/train.jsonl");
  CHECK(d.csvLog == "runs/p2t/train.csv");
  const auto f = train::TrainPaths::of("runs/p2t.safetensors");
  CHECK(f.dir == "runs");
  CHECK(f.checkpoint == "runs/p2t.safetensors");
  CHECK(f.previous == "runs/p2t.prev.safetensors");
  CHECK(f.jsonLog == "runs/p2t.jsonl");
  CHECK(f.csvLog == "runs/p2t.csv");
  const auto bare = train::TrainPaths::of("m.safetensors");
  CHECK(bare.dir == ".");
  CHECK(bare.previous == "m.prev.safetensors");
  CHECK(bare.csvLog == "m.csv");
  CHECK(train::checkpointPath("out") == "out/model.safetensors");
  CHECK_THROWS_AS(train::TrainPaths::of("runs/.safetensors"), Error);
  CHECK_THROWS_AS(train::TrainPaths::of(""), Error);
}
