// fuzz/fuzz_kosc_model.cpp - libFuzzer harness for loading k-osc model files: train::loadKOscModel,
// i.e. SafetensorsFile::read -> model config JSON from the metadata (KOscModelConfig::fromJson)
// -> makeKOscModel -> loadCheckpoint (format key, checksums, tensor names / shapes / dtypes),
// then one prediction (1 Euler step) of a loaded model. model_harness.hpp has the method.
#include "model_harness.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/train/kosc_trainer.hpp"

using namespace symflow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = fuzz::scratchModelPath("kosc_model");
  return fuzz::fuzzModelFile(data, size, path, [](const std::string& p) {
    auto model = train::loadKOscModel(p);
    Mat<float> features = Mat<float>::Constant(synth::KOscConstants::numSpectrumBins, 1, 0.01f), x;
    models::SampleOptions so;
    so.steps = 1;
    so.solver = models::SolverKind::Euler;
    Rng rng(1);
    model->predict(features, so, rng, x);
  });
}
