// The model-file inputs the fuzzers found (fuzz/fuzz_kosc_model.cpp, fuzz/fuzz_surge_model.cpp,
// docs/reliability.md "Fuzzing"), loaded the way every --model option loads them
// (train::loadKOscModel, train::loadSurgeModel), each with the error it must now give, and the
// surge-simple seeds (fuzz/corpus/surge_model/), which must load. Files:
// tests/fixtures/fuzz/kosc_model/, tests/fixtures/fuzz/surge_model/. Kept apart from
// test_fuzz_regressions.cpp because it compiles the whole model stack.
#include <doctest/doctest.h>

#include <string>

#include <filesystem>

#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/surge_trainer.hpp"

using namespace symflow;

namespace {
const std::string kFixtures = std::string(SYMFLOW_SOURCE_DIR) + "/tests/fixtures/fuzz/kosc_model/";
const std::string kSurgeFixtures = std::string(SYMFLOW_SOURCE_DIR) + "/tests/fixtures/fuzz/surge_model/";

template <class Load>
std::string errorOf(Load&& load) {
  try {
    load();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
std::string loadError(const std::string& path) { return errorOf([&] { train::loadKOscModel(path); }); }
std::string loadSurgeError(const std::string& path) { return errorOf([&] { train::loadSurgeModel(path); }); }

void checkRefusedAsForged(const std::string& path, const std::string& error) {
  CHECK(error.find(path + ": the model config describes ") == 0);
  CHECK(error.find("weights, more than the ") != std::string::npos);
  CHECK(error.find("the file can hold (damaged or forged config)") != std::string::npos);
}
}  // namespace

TEST_CASE("a model file whose config describes a huge model is refused before allocating it") {
  // Both are a tiny exported model (14 KB, 3562 float-sized words) whose "symflow_model_config"
  // was changed: DiT width 16384 and ff 65536 (5.6e9 weights), or 1024 layers of width 1024
  // and ff 4096 (1.9e10 weights). The loader used to build that model first (allocating and
  // zeroing weights and gradients: tens of GB, or std::bad_alloc) before it compared the
  // tensors with the file.
  for (const char* name : {"config-dit-width-16384.safetensors", "config-dit-1024-layers.safetensors"}) {
    CAPTURE(name);
    const std::string path = kFixtures + name;
    checkRefusedAsForged(path, loadError(path));
  }
}

TEST_CASE("a surge-simple model file whose config describes a huge model is refused before allocating it") {
  // The tiny cnf-param2tok seed of fuzz/corpus/surge_model (7,9xx float-sized words) with its
  // config changed: AST width 16384 and ff 65536 (3.2e9 weights), or a hop of one sample
  // (32,001 frames: the AST's positional embedding alone outgrows the file).
  for (const char* name : {"config-ast-width-16384.safetensors", "config-hop-one-sample.safetensors"}) {
    CAPTURE(name);
    const std::string path = kSurgeFixtures + name;
    checkRefusedAsForged(path, loadSurgeError(path));
  }
}

TEST_CASE("the surge-simple seeds load, as surge models only") {
  const std::string dir = std::string(SYMFLOW_SOURCE_DIR) + "/fuzz/corpus/surge_model";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string path = e.path().string();
    CAPTURE(path);
    CHECK(loadSurgeError(path) == "");
    CHECK(train::readModelTask(path) == "surge-simple");
    CHECK(loadError(path) != "");  // not a k-osc model
    ++n;
  }
  CHECK(n == 3);
}
