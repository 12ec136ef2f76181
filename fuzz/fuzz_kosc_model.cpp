// fuzz/fuzz_kosc_model.cpp - libFuzzer harness for the model-loading path of the `symflow`
// commands that take --model (eval, invert, inspect, export, demo): train::loadKOscModel, i.e.
// SafetensorsFile::read -> model config JSON from the metadata (KOscModelConfig::fromJson) ->
// makeKOscModel -> loadCheckpoint (format key, checksums, tensor names / shapes / dtypes).
//
// Input: the bytes of a model file. The checksums of mutated files almost never match, which
// would stop every input at the first check, so the harness first parses the input WITHOUT
// requiring checksums (a wrong stored checksum is still refused there) and, when that works,
// re-serializes its tensors and metadata with fresh checksums (serializeSafetensors) before
// handing the file to loadKOscModel. Mutations of the header, the model config and the
// tensors thus reach the loader itself. The file goes to a per-process scratch file (the
// loader reads paths), in /dev/shm when it exists.
// A loaded model also predicts one sound (1 Euler step), so that loaded weights (NaN, huge)
// are run through the forward pass under the sanitizers.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "symflow/io/safetensors.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/train/kosc_trainer.hpp"

using namespace symflow;

namespace {

std::string scratchPath() {
  const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/symflow_fuzz_model_" + std::to_string(::getpid()) + ".safetensors";
}

void writeFile(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = scratchPath();
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
  writeFile(path, file);
  try {
    io::Metadata meta;
    auto model = train::loadKOscModel(path, &meta);
    Mat<float> features = Mat<float>::Constant(synth::KOscConstants::numSpectrumBins, 1, 0.01f), x;
    models::SampleOptions so;
    so.steps = 1;
    so.solver = models::SolverKind::Euler;
    Rng rng(1);
    model->predict(features, so, rng, x);
  } catch (const Error&) {
  }
  std::remove(path.c_str());
  return 0;
}
