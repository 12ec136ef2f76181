// The model-file inputs the fuzzers found (fuzz/fuzz_kosc_model.cpp, docs/reliability.md
// "Fuzzing"), loaded the way every --model option loads them (train::loadKOscModel), each with
// the error it must now give. Files: tests/fixtures/fuzz/kosc_model/. Kept apart from
// test_fuzz_regressions.cpp because it compiles the whole model stack.
#include <doctest/doctest.h>

#include <string>

#include "symflow/train/kosc_trainer.hpp"

using namespace symflow;

namespace {
const std::string kFixtures = std::string(SYMFLOW_SOURCE_DIR) + "/tests/fixtures/fuzz/kosc_model/";

std::string loadError(const std::string& path) {
  try {
    train::loadKOscModel(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
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
    const std::string error = loadError(path);
    CHECK(error.find(path + ": the model config describes ") == 0);
    CHECK(error.find("weights, more than the ") != std::string::npos);
    CHECK(error.find("the file can hold (damaged or forged config)") != std::string::npos);
  }
}
