// fuzz/model_harness.hpp - the body of the model-file harnesses (fuzz_kosc_model,
// fuzz_surge_model): the loading path of the `symflow` commands that take --model (eval,
// invert, inspect, export, demo) for one task.
//
// Input: the bytes of a model file. The checksums of mutated files almost never match, which
// would stop every input at the first check, so the input is first parsed WITHOUT requiring
// checksums (a wrong stored checksum is still refused there) and, when that works, its tensors
// and metadata are re-serialized with fresh checksums (serializeSafetensors) before the file is
// handed to the loader. Mutations of the header, the model config and the tensors thus reach
// the loader itself. The file goes to a per-process scratch file (the loaders read paths), in
// /dev/shm when it exists. `loadAndRun(path)` loads the model and runs a loaded one forward, so
// that loaded weights (NaN, huge) pass through the forward pass under the sanitizers; every
// refusal is a symflow::Error, anything else (a crash, a sanitizer report, another exception)
// is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "symflow/io/safetensors.hpp"

namespace symflow::fuzz {

inline std::string scratchModelPath(const char* tag) {
  const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/symflow_fuzz_" + tag + "_" + std::to_string(::getpid()) + ".safetensors";
}

template <class LoadAndRun>
int fuzzModelFile(const std::uint8_t* data, std::size_t size, const std::string& path, LoadAndRun&& loadAndRun) {
  std::vector<unsigned char> file;
  try {
    const auto view = io::SafetensorsView::parse(data, size, "fuzz");
    std::vector<io::TensorData> tensors;
    for (const auto& t : view.tensors()) tensors.push_back({t.name, t.dtype, t.shape, view.bytes(t)});
    io::Metadata meta = view.metadata();
    meta.erase(io::kDataChecksumKey);
    meta.erase(io::kHeaderChecksumKey);
    file = io::serializeSafetensors(tensors, meta);
  } catch (const Error&) {
    file.assign(data, data + size);  // refused as is; the loader must refuse it too
  }
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(file.data(), 1, file.size(), f);
    std::fclose(f);
  }
  try {
    loadAndRun(path);
  } catch (const Error&) {
  }
  std::remove(path.c_str());
  return 0;
}

}  // namespace symflow::fuzz
