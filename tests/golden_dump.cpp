// golden_dump OUT_DIR [--seed N] [KIND ...] [--cnn KIND ...] [--alt KIND ...] [--model FILE ...]
// Writes, for each k-osc model kind (default, when nothing is given: every kind with weights),
// each kind given with --cnn (the same kind with the CNN encoder, named <kind>-cnn) or --alt
// (the other config choices, see flavorConfig; <kind>-alt) and each k-osc model file (e.g. the shipped models/kosc4-*.safetensors; named after the file,
// metadata "source_model" = FILE, its own weights and input statistics), what
// tests/golden_torch.py needs to pin a whole symflow model to PyTorch (issue 22, point 1):
//
//   OUT_DIR/<name>.model.safetensors   the model file before the step, as `symflow train`
//                                      writes it: every tensor under its PyTorch name, the
//                                      model config JSON in the metadata ("symflow_model_config")
//   OUT_DIR/<name>.golden.safetensors  one training step and one prediction:
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
//     buffer/<name>              every non-trainable tensor after the step (BatchNorm running
//                                statistics updated by it; input statistics unchanged)
//     sample/noise    (B, P)     flows: the sampler's x0 (replayed from a copy of its Rng)
//     sample/x        (B, P)     KOscModel::predict: flows RK4, 4 steps, guidance 2 (metadata
//                                "sample_steps", "guidance", "solver"); regressions the head
//   Metadata also holds "kind", "source_model", "cfg_dropout", "seed". <name> is the kind (with
//   -cnn or -alt) or the model file's name without .safetensors.
// A model of a KIND is tiny (tests/kosc_testing.hpp: k = 2, d 16, 2 DiT layers, the spectral-MLP
// encoder with per-bin input statistics measured on 256 training sounds; with --cnn the paper's
// CNN encoder at its fixed size, 2.6M weights with the flow; with --alt the other config
// choices), B = 8 sounds.
// Run with OMP_NUM_THREADS=1; everything is seeded (--seed N, default 22), so the files are the
// same on every run. Exit status 0, or 2 with one line on stderr.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
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
constexpr const char* kModelConfigKey = "symflow_model_config";  // train/trainer.hpp, docs/training.md

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

/// The values of every non-trainable tensor (BatchNorm running statistics, input statistics).
std::vector<std::vector<float>> buffers(models::KOscModel& m) {
  std::vector<std::vector<float>> out;
  for (const auto& t : m.tensors())
    if (!t.grad) out.emplace_back(t.value, t.value + t.size());
  return out;
}
void setBuffers(models::KOscModel& m, const std::vector<std::vector<float>>& values) {
  std::size_t i = 0;
  for (const auto& t : m.tensors())
    if (!t.grad) std::copy(values[i].begin(), values[i].end(), t.value), ++i;
}

/// Flow models: the step through FlowModel::lossAndGradient with a cache of our own, so the
/// drop mask, the coupled noise and the times it used can be written out. Checked to give the
/// same loss and gradients, bit for bit, as KOscModel::step (which uses its private cache).
template <class Enc, class VF>
bool flowStep(models::KOscModel& m, const Mat<float>& features, const Mat<float>& x1, const Rng& stepRng,
              const models::FlowTrainOptions& o, Dump& dump, models::StepLoss& loss) {
  using Net = models::FlowModel<float, Enc, VF>;
  auto* kn = dynamic_cast<models::detail::KOscNet<Net>*>(&m);
  if (!kn) return false;
  const auto before = buffers(m);  // a training step updates BatchNorm running statistics
  Rng official = stepRng;
  m.store().zeroGrad();
  const models::StepLoss ref = m.step(features, x1, official, o);
  const Vec<float> refGrads = m.store().grads();
  const auto refBuffers = buffers(m);

  setBuffers(m, before);
  m.store().zeroGrad();
  Rng rng = stepRng;
  typename Net::StepCache cache;
  loss = kn->net().lossAndGradient(features, x1, rng, o, cache);
  require(loss.loss == ref.loss && loss.data == ref.data && loss.penalty == ref.penalty &&
              m.store().grads() == refGrads && buffers(m) == refBuffers,
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

/// flowStep for each vector field of the k-osc flows.
template <class Enc>
bool flowSteps(models::KOscModel& m, const Mat<float>& features, const Mat<float>& x1, const Rng& stepRng,
               const models::FlowTrainOptions& o, Dump& dump, models::StepLoss& loss) {
  using models::DitVectorField;
  return flowStep<Enc, DitVectorField<float, nn::Param2Tok<float>>>(m, features, x1, stepRng, o, dump, loss) ||
         flowStep<Enc, DitVectorField<float, nn::FixedTokenizer<float>>>(m, features, x1, stepRng, o, dump, loss) ||
         flowStep<Enc, models::MlpVectorField<float>>(m, features, x1, stepRng, o, dump, loss);
}

/// Writes OUT_DIR/<name>.golden.safetensors (and <name>.model.safetensors) for a model whose
/// weights and input statistics are set. sourcePath: the model file it was loaded from, if any.
void dumpModel(models::KOscModel& m, const std::string& name, const std::string& outDir, std::uint64_t seed,
               const std::string& sourcePath) {
  const models::KOscModelConfig& cfg = m.config();
  const models::ModelKind kind = cfg.kind;
  synth::KOscStream<float> stream(cfg.k, cfg.variant, seed);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  const auto batch = stream.trainSounds(0, kBatch);
  Mat<float> features;
  models::kOscFeatures<float>(batch.signals, fft, features);

  Dump dump;
  dump.matrix("batch/signals", batch.signals);
  dump.matrix("batch/features", features);
  dump.matrix("batch/x1", batch.params);

  // The model file as the trainer writes it (train/trainer.hpp kModelConfigKey), without optimizer,
  // before the step changes its BatchNorm running statistics.
  io::saveCheckpoint<float>(outDir + "/" + name + ".model.safetensors", m, nullptr,
                            {{kModelConfigKey, json::dump(cfg.toJson())}});

  models::FlowTrainOptions o;
  o.cfgDropout = kCfgDropout;
  o.otCoupling = true;
  const Rng stepRng = Rng(seed).fork(2);
  models::StepLoss loss;
  const bool flow = models::isFlow(kind);
  if (flow) {
    const Mat<float>& x1 = batch.params;
    const bool done = flowSteps<nn::SpectralMlpEncoder<float>>(m, features, x1, stepRng, o, dump, loss) ||
                      flowSteps<nn::CnnEncoder<float>>(m, features, x1, stepRng, o, dump, loss);
    require(done, "golden_dump: " + name + " is not a flow of a known encoder and vector field");
  } else {
    m.store().zeroGrad();
    Rng rng = stepRng;
    loss = m.step(features, batch.params, rng, o);
  }
  dump.doubles("step/loss", {loss.loss, loss.data, loss.penalty});
  for (const auto& t : m.tensors())
    if (t.grad)
      dump.tensor("grad/" + t.name, t.shape, t.grad, t.size());
    else
      dump.tensor("buffer/" + t.name, t.shape, t.value, t.size());

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
  m.predict(features, so, sampleRng, x);
  dump.matrix("sample/x", x);

  io::Metadata meta{{"kind", models::toString(kind)},
                    {"source_model", sourcePath},
                    {"cfg_dropout", std::to_string(kCfgDropout)},
                    {"seed", std::to_string(seed)},
                    {"sample_steps", std::to_string(kSampleSteps)},
                    {"guidance", std::to_string(kGuidance)},
                    {"solver", models::toString(so.solver)}};
  io::writeSafetensors(outDir + "/" + name + ".golden.safetensors", dump.tensors, meta);
}

/// The tiny model of a kind: Flavor::Tiny as tests/kosc_testing.hpp; Cnn with the CNN encoder;
/// Alt with the other choices of the config (sinusoidal time encoding of width 8, 3 Param2Tok
/// tokens for k = 2 with the random init and penalty weight 0.05, the per-sound input LayerNorm
/// and a final LayerNorm in the spectral-MLP encoder, the asymmetric variant).
enum class Flavor { Tiny, Cnn, Alt };
models::KOscModelConfig flavorConfig(models::ModelKind kind, Flavor flavor) {
  models::KOscModelConfig c = testing::tinyKOscConfig(
      kind, flavor == Flavor::Cnn ? models::EncoderKind::Cnn : models::EncoderKind::SpectralMlp);
  if (flavor == Flavor::Alt) {
    c.dit.timeDim = 8;
    c.tokens = 3;
    c.p2tInit = nn::Param2TokInit::Random;
    c.penaltyWeight = 0.05;
    c.spectralInputNorm = nn::SpectralInputNorm::PerSound;
    c.spectralFinalNorm = true;
    c.variant = synth::KOscVariant::Asymmetric;
  }
  return c;
}

/// A tiny model of this kind and flavor, its per-bin input statistics (if any) measured on
/// kStatsSounds training sounds after the batch's; named <kind>, <kind>-cnn or <kind>-alt.
void dumpKind(models::ModelKind kind, Flavor flavor, const std::string& outDir, std::uint64_t seed) {
  const models::KOscModelConfig cfg = flavorConfig(kind, flavor);
  Rng initRng = Rng(seed).fork(1);
  auto model = models::makeKOscModel(cfg, &initRng);
  synth::KOscStream<float> stream(cfg.k, cfg.variant, seed);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  Mat<float> statsFeatures;
  models::kOscFeatures<float>(stream.trainSounds(kBatch, kStatsSounds).signals, fft, statsFeatures);
  model->fitInputStatistics(statsFeatures);  // the spectral-MLP encoder's per-bin statistics
  const char* suffix = flavor == Flavor::Cnn ? "-cnn" : flavor == Flavor::Alt ? "-alt" : "";
  dumpModel(*model, models::toString(kind) + suffix, outDir, seed, "");
}

/// A k-osc model file (e.g. a shipped model, models/*.safetensors), named after its file.
void dumpFile(const std::string& path, const std::string& outDir, std::uint64_t seed) {
  const auto file = io::SafetensorsFile::read(path);
  const auto& md = file.view().metadata();
  const auto it = md.find(kModelConfigKey);
  require(it != md.end(), path + ": not a symflow model (no '" + std::string(kModelConfigKey) + "' metadata)");
  const auto cfg = models::KOscModelConfig::fromJson(json::parse(it->second, path + " model config"));
  auto model = models::makeKOscModel(cfg);
  io::loadCheckpoint<float>(path, *model, nullptr);
  std::string name = path.substr(path.find_last_of('/') + 1);
  name = name.substr(0, name.rfind(".safetensors"));
  dumpModel(*model, name, outDir, seed, path);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::uint64_t seed = 22;
    std::vector<std::pair<models::ModelKind, Flavor>> kinds;
    std::vector<std::string> files;
    std::string outDir;
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--seed" && i + 1 < args.size()) {
        seed = std::stoull(args[++i]);
      } else if ((args[i] == "--cnn" || args[i] == "--alt") && i + 1 < args.size()) {
        const Flavor flavor = args[i] == "--cnn" ? Flavor::Cnn : Flavor::Alt;
        kinds.emplace_back(models::parseModelKind(args[++i]), flavor);
      } else if (args[i] == "--model" && i + 1 < args.size()) {
        files.push_back(args[++i]);
      } else if (outDir.empty()) {
        outDir = args[i];
      } else {
        kinds.emplace_back(models::parseModelKind(args[i]), Flavor::Tiny);
      }
      require(kinds.empty() || kinds.back().first != models::ModelKind::Random,
              "golden_dump: 'random' has no weights to compare");
    }
    if (outDir.empty()) {
      std::cerr << "usage: golden_dump OUT_DIR [--seed N] [KIND ...] [--cnn KIND ...] [--alt KIND ...] [--model FILE ...]\n";
      return 2;
    }
    if (kinds.empty() && files.empty())
      for (auto k : {models::ModelKind::CnfParam2Tok, models::ModelKind::CnfMlp, models::ModelKind::FfnMse,
                     models::ModelKind::CnfEquivariant, models::ModelKind::FfnSort, models::ModelKind::FfnChamfer})
        kinds.emplace_back(k, Flavor::Tiny);
    for (const auto& [k, flavor] : kinds) dumpKind(k, flavor, outDir, seed);
    for (const auto& f : files) dumpFile(f, outDir, seed);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "golden_dump: " << e.what() << "\n";
    return 2;
  }
}
