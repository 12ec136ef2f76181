// fuzz/fuzz_safetensors.cpp - libFuzzer harness for the safetensors reader (io/safetensors.hpp)
// and the checkpoint metadata helpers (io/checkpoint.hpp).
//
// Input: the bytes of a safetensors file. SafetensorsView::parse validates them (8-byte header
// length, JSON header, dtypes, shapes, data_offsets, coverage of the data section, checksums);
// the harness parses with and without ReadOptions::requireChecksum, and for a valid file reads
// every tensor back (copyTensor into float and double, with conversion), loads the file into a
// small model-like tensor list (loadTensors: names, shapes, dtypes, I64 counters) and runs the
// metadata helpers (parseInt64, decodeRngState) on every metadata value. Every failure must be
// a symflow::Error; the view must stay inside the input (AddressSanitizer checks that).
// Checksums: mutated files mostly fail the FNV-1a check, so the seeds include files without
// checksums (other tools' files have none) to let the fuzzer reach the later checks too.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "symflow/io/checkpoint.hpp"
#include "symflow/io/safetensors.hpp"

using namespace symflow;

namespace {

// Bounds what a valid fuzz file may make us allocate (the file holds the bytes anyway).
constexpr std::uint64_t kMaxElements = 1 << 20;

void exercise(const io::SafetensorsView& view) {
  for (const auto& t : view.tensors()) {
    if (t.numel > kMaxElements) continue;
    std::vector<float> f(t.numel);
    std::vector<double> d(t.numel);
    for (bool convert : {false, true}) {
      try {
        view.copyTensor<float>(t, f.data(), t.numel, convert);
      } catch (const Error&) {
      }
      try {
        view.copyTensor<double>(t, d.data(), t.numel, convert);
      } catch (const Error&) {
      }
    }
  }
  // A fixed "model": a weight (2, 3), a bias (3), a BatchNorm counter; names the seeds use.
  std::vector<float> w(6), b(3), count(1);
  std::vector<TensorRef<float>> targets;
  targets.push_back(TensorRef<float>{"layer.weight", {2, 3}, w.data(), nullptr, true});
  targets.push_back(TensorRef<float>{"layer.bias", {3}, b.data(), nullptr, true});
  targets.push_back(TensorRef<float>{"bn.num_batches_tracked", {}, count.data(), nullptr, false});
  for (int mode = 0; mode < 4; ++mode) {
    io::LoadOptions o;
    o.allowMissing = mode & 1;
    o.allowUnexpected = mode & 2;
    o.allowDtypeConversion = mode == 3;
    try {
      io::loadTensors(view, targets, o, {"optim."});
    } catch (const Error&) {
    }
  }
  for (const auto& [key, value] : view.metadata()) {
    try {
      (void)io::parseInt64(value, key);
    } catch (const Error&) {
    }
    try {
      (void)io::decodeRngState(value, key);
    } catch (const Error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (bool require : {false, true}) {
    io::ReadOptions options;
    options.requireChecksum = require;
    try {
      const auto view = io::SafetensorsView::parse(data, size, "fuzz", options);
      if (!require) exercise(view);
    } catch (const Error&) {
    }
  }
  return 0;
}
