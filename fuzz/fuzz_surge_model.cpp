// fuzz/fuzz_surge_model.cpp - libFuzzer harness for loading surge-simple model files:
// train::loadSurgeModel, i.e. SafetensorsFile::read -> model config JSON from the metadata
// (SurgeModelConfig::fromJson: synth, feature, AST, DiT / MLP / head sizes) -> makeSurgeModel
// (refuses configs with more weights than the file can hold) -> loadCheckpoint, then the
// features of a quiet sound of the model's length and one prediction (1 Euler step).
// model_harness.hpp has the method. Seeds: fuzz/corpus/surge_model (tiny exported models of
// the three kinds, fuzz/make_corpus.sh).
#include "model_harness.hpp"
#include "symflow/models/surge_model.hpp"
#include "symflow/train/surge_trainer.hpp"

using namespace symflow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = fuzz::scratchModelPath("surge_model");
  return fuzz::fuzzModelFile(data, size, path, [](const std::string& p) {
    auto model = train::loadSurgeModel(p);
    const auto& cfg = model->config();
    models::SurgeFeatures features(cfg.feature, cfg.sampleRate);
    const Mat<float> audio = Mat<float>::Constant(cfg.numSamples(), 1, 0.01f);
    Mat<float> f, x;
    features.compute(CMatRef<float>(audio), f);
    models::SampleOptions so;
    so.steps = 1;
    so.solver = models::SolverKind::Euler;
    Rng rng(1);
    model->predict(f, so, rng, x);
  });
}
