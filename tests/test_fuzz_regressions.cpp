// The inputs the fuzzers found (fuzz/, docs/reliability.md "Fuzzing"), replayed through the same
// entry points as their harness, each with the outcome it must now have. The files are in
// tests/fixtures/fuzz/<harness>/; a new finding is added there and to the table of its harness
// below. The seed corpora (fuzz/corpus/) are replayed too: every seed is a real file the
// program wrote, so each must be accepted.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "audio_input.hpp"
#include "render_tasks.hpp"
#include "symflow/io/checkpoint.hpp"
#include "symflow/io/json.hpp"
#include "symflow/io/safetensors.hpp"

using namespace symflow;

namespace {

const std::string kFixtures = std::string(SYMFLOW_SOURCE_DIR) + "/tests/fixtures/fuzz/";
const std::string kCorpus = std::string(SYMFLOW_SOURCE_DIR) + "/fuzz/corpus/";

std::string readBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(bool(f), "cannot open " << path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> filesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The error message of f(), or "" when it succeeds.
template <class F> std::string errorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// What fuzz_audio.cpp does with an input.
std::string loadAudio(const std::string& bytes, const std::string& name) {
  cli::AudioLimits limits;
  limits.maxSeconds = 5;
  limits.maxSampleRate = 96000;
  return errorOf([&] { cli::loadAudioBytesForModel(bytes.data(), bytes.size(), name, 44100, 1024, nullptr, limits); });
}

// What fuzz_params_json.cpp does with an input, for one task.
std::string readParams(const std::string& text, const cli::RenderTask& task) {
  return errorOf([&] { cli::parseParamsJson(text, "fuzz.json", task); });
}

std::vector<cli::RenderTask> paramTasks() {
  cli::TaskOptions o;
  o.k = 2;
  return cli::renderTasks(o);
}

}  // namespace

TEST_CASE("fuzz_json findings") {
  SUBCASE("-0.0 is written so that it reads back as -0.0, not as the integer 0") {
    const std::string text = readBytes(kFixtures + "json/minus-zero.json");  // "-0e0"
    const json::Value v = json::parse(text);
    CHECK(std::signbit(v.asDouble()));
    CHECK(json::dump(v) == "-0.0");
    const json::Value back = json::parse(json::dump(v));
    CHECK_FALSE(back.isInteger());
    CHECK(std::signbit(back.asDouble()));
    CHECK(json::dump(back) == "-0.0");
    CHECK(json::dump(json::Value(-0.0)) == "-0.0");
    CHECK(json::dump(json::Value(0.0)) == "0");
  }
}

TEST_CASE("fuzz seed corpora are accepted (every seed is a file symflow wrote)") {
  for (const auto& path : filesIn(kCorpus + "json")) {
    CAPTURE(path);
    const std::string text = readBytes(path);
    CHECK(errorOf([&] { json::parse(text, path); }) == "");
  }
  for (const auto& path : filesIn(kCorpus + "safetensors")) {
    CAPTURE(path);
    const std::string bytes = readBytes(path);
    CHECK(errorOf([&] { io::SafetensorsView::parse(bytes.data(), bytes.size(), path); }) == "");
  }
  for (const char* dir : {"kosc_model", "surge_model"})
    for (const auto& path : filesIn(kCorpus + dir)) {
      CAPTURE(path);
      const std::string bytes = readBytes(path);
      io::ReadOptions strict;
      strict.requireChecksum = true;
      CHECK(errorOf([&] { io::SafetensorsView::parse(bytes.data(), bytes.size(), path, strict); }) == "");
    }
  for (const auto& path : filesIn(kCorpus + "audio")) {
    CAPTURE(path);
    CHECK(loadAudio(readBytes(path), path) == "");
  }
  const auto tasks = paramTasks();
  cli::TaskOptions asymmetric;
  asymmetric.k = 2;
  asymmetric.variant = "asymmetric";
  const cli::RenderTask koscAsymmetric = cli::makeKOscTask(asymmetric);
  for (const auto& path : filesIn(kCorpus + "params_json")) {
    CAPTURE(path);
    const std::string text = readBytes(path);
    const cli::RenderTask& task = path.find("surge") != std::string::npos       ? cli::findTask(tasks, "surge-simple")
                                  : path.find("asymmetric") != std::string::npos ? koscAsymmetric
                                                                                 : cli::findTask(tasks, "kosc");
    CHECK(readParams(text, task) == "");
  }
}
