// golden_dump OUT_DIR [KIND ...]
// Writes, for each k-osc model kind (default: every kind with weights), what
// tests/golden_torch.py needs to pin a whole symflow model to PyTorch (issue 22, point 1):
//
//   OUT_DIR/<kind>.model.safetensors   the model file, as `symflow train` writes it: every
//                                      tensor under its PyTorch name, the model config JSON in
//                                      the metadata ("symflow_model_config")
//   OUT_DIR/<kind>.golden.safetensors  one training step and one prediction:
//     batch/signals   (B, 1024)  the k-osc sounds (KOscStream, training sounds 0 .. B-1)
//     batch/features  (B, 513)   |rFFT| / 1024 of them: the model's input (kOscFeatures)
//     batch/x1        (B, P)     the raw labels given to KOscModel::step (ffn-sort sorts them
//                                itself, as the model does)
//     flows only (the step's random draws, read from the step's cache):
//     batch/drop      (B)        the classifier-free-guidance drop mask (1 = null_z)
//     batch/x0_drawn  (B, P)     the noise as drawn (replayed from a copy of the step's Rng)
//     batch/x0        (B, P)     the noise after the minibatch OT re-pairing with x1
//     batch/t         (B)        the times
//     step/loss       (3) F64    objective, data term, penalty (StepLoss)
//     grad/<name>                d objective / d tensor for every trainable tensor
//     sample/noise    (B, P)     flows: the sampler's x0 (replayed from a copy of its Rng)
//     sample/x        (B, P)     KOscModel::predict: flows RK4, 4 steps, guidance 2 (metadata
//                                "sample_steps", "guidance", "solver"); regressions the head
//   Metadata also holds "kind", "cfg_dropout", "seed".
// The model is tiny (tests/kosc_testing.hpp: k = 2, d 16, 2 DiT layers, the spectral-MLP
// encoder with per-bin input statistics measured on 256 training sounds), B = 8 sounds.
// Run with OMP_NUM_THREADS=1; everything is seeded (--seed N, default 22), so the files are the
// same on every run. Exit status 0, or 2 with one line on stderr.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "kosc_testing.hpp"
#include "symflow/audio/fft.hpp"
#include "symflow/io/checkpoint.hpp"
#include "symflow/io/json.hpp"
#include "symflow/io/safetensors.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/synth/kosc.hpp"

namespace {

using namespace symflow;

constexpr Index kBatch = 8;
constexpr Index kStatsSounds = 256;
constexpr double kCfgDropout = 0.5;  // both dropped and kept sounds in a batch of 8
constexpr int kSampleSteps = 4;
constexpr double kGuidance = 2.0;

/// Owns the bytes of every tensor written to one golden file.
struct Dump {
  std::vector<std::vector<float>> f32;
  std::vector<std::vector<double>> f64;
  std::vector<io::TensorData> tensors;

  /// A column-major rows x cols matrix (one sound per column) is the row-major (cols, rows)
  /// tensor of PyTorch's batch-first layout: the bytes are the same.
  void matrix(const std::string& name, const Mat<float>& m) {
    f32.emplace_back(m.data(), m.data() + m.size());
    tensors.push_back(io::tensorData<float>(name, {m.cols(), m.rows()}, f32.back().data()));
  }
  void vector(const std::string& name, std::vector<float> v) {
    f32.push_back(std::move(v));
    tensors.push_back(io::tensorData<float>(name, {Index(f32.back().size())}, f32.back().data()));
  }
  void tensor(const std::string& name, const std::vector<Index>& shape, const float* data, Index n) {
    f32.emplace_back(data, data + n);
    tensors.push_back(io::tensorData<float>(name, shape, f32.back().data()));
  }
  void doubles(const std::string& name, std::vector<double> v) {
    f64.push_back(std::move(v));
    tensors.push_back(io::tensorData<double>(name, {Index(f64.back().size())}, f64.back().data()));
  }
};

/// Flow models: the step through FlowModel::lossAndGradient with a cache of our own, so the
/// drop mask, the coupled noise and the times it used can be written out. Checked to give the
/// same loss and gradients, bit for bit, as KOscModel::step (which uses its private cache).
template <class VF>
bool flowStep(models::KOscModel& m, const Mat<float>& features, const Mat<float>& x1, const Rng& stepRng,
              const models::FlowTrainOptions& o, Dump& dump, models::StepLoss& loss) {
  using Net = models::FlowModel<float, nn::SpectralMlpEncoder<float>, VF>;
  auto* kn = dynamic_cast<models::detail::KOscNet<Net>*>(&m);
  if (!kn) return false;
  Rng official = stepRng;
  m.store().zeroGrad();
  const models::StepLoss ref = m.step(features, x1, official, o);
  const Vec<float> refGrads = m.store().grads();

  m.store().zeroGrad();
  Rng rng = stepRng;
  typename Net::StepCache cache;
  loss = kn->net().lossAndGradient(features, x1, rng, o, cache);
  require(loss.loss == ref.loss && loss.data == ref.data && loss.penalty == ref.penalty &&
              m.store().grads() == refGrads,
          "golden_dump: FlowModel::lossAndGradient differs from KOscModel::step on the same Rng");

  const Index B = x1.cols(), P = x1.rows();
  std::vector<float> drop;
  for (bool d : cache.drop) drop.push_back(d ? 1.0f : 0.0f);
  dump.vector("batch/drop", drop);
  // The draws in their documented order (models/flow_model.hpp): drop mask, x0, t.
  Rng replay = stepRng;
  (void)o.dropMask(B, replay);
  Mat<float> drawn(P, B);
  replay.fillNormal(drawn.data(), drawn.data() + drawn.size());
  dump.matrix("batch/x0_drawn", drawn);
  dump.matrix("batch/x0", cache.path.x0);
  dump.vector("batch/t", std::vector<float>(cache.path.t.data(), cache.path.t.data() + B));
  return true;
}

void dumpKind(models::ModelKind kind, const std::string& outDir, std::uint64_t seed) {
  const std::string name = models::toString(kind);
  models::KOscModelConfig cfg = testing::tinyKOscConfig(kind);
  Rng initRng = Rng(seed).fork(1);
  auto model = models::makeKOscModel(cfg, &initRng);

  synth::KOscStream<float> stream(cfg.k, cfg.variant, seed);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  Mat<float> statsFeatures;
  models::kOscFeatures<float>(stream.trainSounds(kBatch, kStatsSounds).signals, fft, statsFeatures);
  require(model->fitInputStatistics(statsFeatures), "golden_dump: the model has no per-bin input statistics");

  const auto batch = stream.trainSounds(0, kBatch);
  Mat<float> features;
  models::kOscFeatures<float>(batch.signals, fft, features);

  Dump dump;
  dump.matrix("batch/signals", batch.signals);
  dump.matrix("batch/features", features);
  dump.matrix("batch/x1", batch.params);

  models::FlowTrainOptions o;
  o.cfgDropout = kCfgDropout;
  o.otCoupling = true;
  const Rng stepRng = Rng(seed).fork(2);
  models::StepLoss loss;
  const bool flow = models::isFlow(kind);
  if (flow) {
    using models::DitVectorField;
    const bool done =
        flowStep<DitVectorField<float, nn::Param2Tok<float>>>(*model, features, batch.params, stepRng, o, dump, loss) ||
        flowStep<DitVectorField<float, nn::FixedTokenizer<float>>>(*model, features, batch.params, stepRng, o, dump,
                                                                    loss) ||
        flowStep<models::MlpVectorField<float>>(*model, features, batch.params, stepRng, o, dump, loss);
    require(done, "golden_dump: " + name + " is not a flow of the spectral-MLP encoder");
  } else {
    model->store().zeroGrad();
    Rng rng = stepRng;
    loss = model->step(features, batch.params, rng, o);
  }
  dump.doubles("step/loss", {loss.loss, loss.data, loss.penalty});
  for (const auto& t : model->tensors())
    if (t.grad) dump.tensor("grad/" + t.name, t.shape, t.grad, t.size());

  models::SampleOptions so;
  so.steps = kSampleSteps;
  so.guidance = kGuidance;
  so.solver = models::SolverKind::Rk4;
  Rng sampleRng = Rng(seed).fork(3);
  if (flow) {
    Rng replay = sampleRng;
    Mat<float> noise(cfg.paramDim(), kBatch);
    replay.fillNormal(noise.data(), noise.data() + noise.size());
    dump.matrix("sample/noise", noise);
  }
  Mat<float> x;
  model->predict(features, so, sampleRng, x);
  dump.matrix("sample/x", x);

  io::Metadata meta{{"kind", name},
                    {"cfg_dropout", std::to_string(kCfgDropout)},
                    {"seed", std::to_string(seed)},
                    {"sample_steps", std::to_string(kSampleSteps)},
                    {"guidance", std::to_string(kGuidance)},
                    {"solver", models::toString(so.solver)}};
  io::writeSafetensors(outDir + "/" + name + ".golden.safetensors", dump.tensors, meta);
  // The model file as the trainer writes it (train/trainer.hpp kModelConfigKey), without optimizer.
  io::saveCheckpoint<float>(outDir + "/" + name + ".model.safetensors", *model, nullptr,
                            {{"symflow_model_config", json::dump(cfg.toJson())}});
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::uint64_t seed = 22;
    std::vector<models::ModelKind> kinds;
    std::string outDir;
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--seed" && i + 1 < args.size()) {
        seed = std::stoull(args[++i]);
      } else if (outDir.empty()) {
        outDir = args[i];
      } else {
        kinds.push_back(models::parseModelKind(args[i]));
        require(kinds.back() != models::ModelKind::Random, "golden_dump: 'random' has no weights to compare");
      }
    }
    if (outDir.empty()) {
      std::cerr << "usage: golden_dump OUT_DIR [--seed N] [KIND ...]\n";
      return 2;
    }
    if (kinds.empty())
      kinds = {models::ModelKind::CnfParam2Tok, models::ModelKind::CnfMlp,  models::ModelKind::FfnMse,
               models::ModelKind::CnfEquivariant, models::ModelKind::FfnSort, models::ModelKind::FfnChamfer};
    for (auto k : kinds) dumpKind(k, outDir, seed);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "golden_dump: " << e.what() << "\n";
    return 2;
  }
}
