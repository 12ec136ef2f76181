// fuzz/fuzz_params_json.cpp - libFuzzer harness for the parameter-JSON reader of
// `symflow render --params` and `symflow invert` results (examples/symflow/render_tasks.hpp,
// parseParamsJson = readParamsJson without the file; nlohmann-json).
//
// Input: the JSON text. It is read for the k-osc task (k = 2, symmetric: 6 parameters, the
// settings "k" and "variant" must match) and for surge-simple (93 parameters). Every refusal
// must be a symflow::Error of one line; an accepted file has every parameter in [-1, 1].
#include <cstdint>
#include <cstdlib>
#include <string>

#include "render_tasks.hpp"

using namespace symflow::cli;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<RenderTask> tasks = [] {
    TaskOptions o;
    o.k = 2;
    return renderTasks(o);
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& task : tasks) {
    try {
      const ParamsFile p = parseParamsJson(text, "fuzz.json", task);
      if (p.params.size() != task.spec().size()) std::abort();
      for (float v : p.params)
        if (!(v >= -1.f && v <= 1.f)) std::abort();
    } catch (const symflow::Error& e) {
      if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
    }
  }
  return 0;
}
