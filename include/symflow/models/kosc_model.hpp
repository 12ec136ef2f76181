// symflow/models/kosc_model.hpp - the k-osc task's models behind one runtime interface, so
// command-line tools can train, save, load and evaluate any of them by name.
//
// Models (paper.md, Task 1):
//   cnf-equivariant  DiT vector field, fixed tokens (one per oscillator)   FlowModel
//   cnf-param2tok    DiT vector field, Param2Tok with n = k tokens         FlowModel
//   cnf-mlp          residual-MLP vector field (non-equivariant)           FlowModel
//   ffn-mse          encoder + residual-MLP head, MSE                       RegressionModel
//   ffn-sort         the same, labels sorted by oscillator frequency        RegressionModel
//   ffn-chamfer      the same, Chamfer loss over oscillator rows            RegressionModel
//   random           uniform parameters in [-1, 1] (reference; no weights)
// Encoders: cnn (the paper's spectral CNN) or spectral-mlp (cheap). Both read the k-osc
// feature: |rFFT(signal)| / 1024 (PyTorch's norm="forward"), 513 x B (kOscFeatures).
//
// Inspection: KOscModel::param2TokAssignment() returns a copy of the learned Param2Tok
// assignment A (tokens x parameters, rows of "assign") for cnf-param2tok, nothing otherwise.
//
// KOscModelConfig round-trips through JSON (stored in checkpoints' metadata under
// "symflow_model_config"), so a checkpoint rebuilds its own model.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "symflow/audio/fft.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/io/json.hpp"
#include "symflow/models/flow_model.hpp"
#include "symflow/models/regression_model.hpp"
#include "symflow/models/vector_fields.hpp"
#include "symflow/nn/cnn_encoder.hpp"
#include "symflow/nn/spectral_mlp_encoder.hpp"
#include "symflow/synth/kosc.hpp"

namespace symflow::models {

enum class ModelKind { CnfEquivariant, CnfParam2Tok, CnfMlp, FfnMse, FfnSort, FfnChamfer, Random };
enum class EncoderKind { Cnn, SpectralMlp };

inline const std::vector<std::pair<ModelKind, std::string>>& modelKindNames() {
  static const std::vector<std::pair<ModelKind, std::string>> names{
      {ModelKind::CnfEquivariant, "cnf-equivariant"}, {ModelKind::CnfParam2Tok, "cnf-param2tok"},
      {ModelKind::CnfMlp, "cnf-mlp"},                 {ModelKind::FfnMse, "ffn-mse"},
      {ModelKind::FfnSort, "ffn-sort"},               {ModelKind::FfnChamfer, "ffn-chamfer"},
      {ModelKind::Random, "random"}};
  return names;
}
inline std::string toString(ModelKind k) {
  for (const auto& [kind, name] : modelKindNames())
    if (kind == k) return name;
  return "?";
}
inline ModelKind parseModelKind(const std::string& s) {
  std::string all;
  for (const auto& [kind, name] : modelKindNames()) {
    if (name == s) return kind;
    all += (all.empty() ? "" : ", ") + name;
  }
  throw Error("unknown model '" + s + "' (expected one of: " + all + ")");
}
inline std::string toString(EncoderKind e) { return e == EncoderKind::Cnn ? "cnn" : "spectral-mlp"; }
inline EncoderKind parseEncoderKind(const std::string& s) {
  if (s == "cnn") return EncoderKind::Cnn;
  if (s == "spectral-mlp") return EncoderKind::SpectralMlp;
  throw Error("unknown encoder '" + s + "' (expected cnn or spectral-mlp)");
}
inline bool isFlow(ModelKind k) {
  return k == ModelKind::CnfEquivariant || k == ModelKind::CnfParam2Tok || k == ModelKind::CnfMlp;
}

struct KOscModelConfig {
  Index k = 4;
  synth::KOscVariant variant = synth::KOscVariant::Symmetric;
  ModelKind kind = ModelKind::CnfParam2Tok;
  EncoderKind encoder = EncoderKind::Cnn;
  Index embedDim = 128;           // encoder output width (dz)
  DitConfig dit{};                // DiT vector field sizes (paper [cfg])
  Index tokens = 0;               // Param2Tok tokens; 0 means k
  double penaltyWeight = 0.01;    // Param2Tok L1 weight
  Index mlpWidth = 192, mlpBlocks = 7;  // CNF (MLP) vector field [cfg]
  HeadConfig head{};              // FFN head
  Index spectralWidth = 256, spectralBlocks = 2;  // spectral-MLP encoder sizes
  // spectral-MLP input normalization and final LayerNorm (nn::SpectralMlpEncoder). A config
  // without these keys (models made before 2026-12) reads as per-sound / final norm on.
  nn::SpectralInputNorm spectralInputNorm = nn::SpectralInputNorm::PerBin;
  bool spectralFinalNorm = false;
  // Param2Tok initialization: Authors (near-permutation-invariant, paper.md [cfg]) or Random
  // (the PyTorch peer's: p_in, p_out N(0, 1/d), assign N(0, 1/P)). Missing key: authors.
  nn::Param2TokInit p2tInit = nn::Param2TokInit::Authors;

  Index paramDim() const { return 3 * k; }

  json::Value toJson() const {
    json::Value v = json::Value::object();
    v.set("task", "kosc").set("k", k).set("variant", variant == synth::KOscVariant::Symmetric ? "symmetric" : "asymmetric");
    v.set("model", toString(kind)).set("encoder", toString(encoder)).set("embed_dim", embedDim);
    json::Value d = json::Value::object();
    d.set("width", dit.width).set("heads", dit.heads).set("ff_dim", dit.ffDim).set("layers", dit.layers);
    d.set("time_dim", dit.timeDim);
    v.set("dit", d).set("tokens", tokens).set("penalty_weight", penaltyWeight);
    v.set("mlp_width", mlpWidth).set("mlp_blocks", mlpBlocks);
    v.set("head_width", head.width).set("head_blocks", head.blocks);
    v.set("spectral_width", spectralWidth).set("spectral_blocks", spectralBlocks);
    v.set("spectral_input_norm", nn::toString(spectralInputNorm)).set("spectral_final_norm", spectralFinalNorm);
    v.set("p2t_init", nn::toString(p2tInit));
    return v;
  }
  static KOscModelConfig fromJson(const json::Value& v) {
    require(v.isObject(), "model config: not a JSON object");
    auto str = [&](const char* key) -> std::string {
      const json::Value* x = v.find(key);
      require(x && x->isString(), std::string("model config: missing or non-string '") + key + "'");
      return x->asString();
    };
    auto integer = [&](const char* key, Index lo, Index hi) -> Index {
      const json::Value* x = v.find(key);
      require(x && x->isInteger(), std::string("model config: missing or non-integer '") + key + "'");
      const Index n = Index(x->asInt64());
      require(n >= lo && n <= hi, std::string("model config: '") + key + "' = " + std::to_string(n) + " out of range");
      return n;
    };
    require(str("task") == "kosc", "model config: task '" + str("task") + "' is not kosc");
    KOscModelConfig c;
    c.k = integer("k", 1, 256);
    const std::string var = str("variant");
    require(var == "symmetric" || var == "asymmetric", "model config: unknown variant '" + var + "'");
    c.variant = var == "symmetric" ? synth::KOscVariant::Symmetric : synth::KOscVariant::Asymmetric;
    c.kind = parseModelKind(str("model"));
    c.encoder = parseEncoderKind(str("encoder"));
    c.embedDim = integer("embed_dim", 1, 1 << 16);
    const json::Value* d = v.find("dit");
    require(d && d->isObject(), "model config: missing 'dit'");
    KOscModelConfig sub = c;  // reuse the integer reader on the nested object
    auto dint = [&](const char* key, Index lo, Index hi) -> Index {
      const json::Value* x = d->find(key);
      require(x && x->isInteger(), std::string("model config: missing or non-integer 'dit.") + key + "'");
      const Index n = Index(x->asInt64());
      require(n >= lo && n <= hi, std::string("model config: 'dit.") + key + "' out of range");
      return n;
    };
    (void)sub;
    c.dit.width = dint("width", 1, 1 << 14);
    c.dit.heads = dint("heads", 1, 1 << 10);
    c.dit.ffDim = dint("ff_dim", 1, 1 << 16);
    c.dit.layers = dint("layers", 1, 1 << 10);
    c.dit.timeDim = dint("time_dim", 0, 1 << 14);
    c.dit.condDim = c.embedDim;
    c.tokens = integer("tokens", 0, 1 << 14);
    const json::Value* pw = v.find("penalty_weight");
    require(pw && pw->isNumber() && pw->asDouble() >= 0, "model config: bad 'penalty_weight'");
    c.penaltyWeight = pw->asDouble();
    c.mlpWidth = integer("mlp_width", 1, 1 << 16);
    c.mlpBlocks = integer("mlp_blocks", 0, 1 << 10);
    c.head.width = integer("head_width", 1, 1 << 16);
    c.head.blocks = integer("head_blocks", 0, 1 << 10);
    c.spectralWidth = integer("spectral_width", 1, 1 << 16);
    c.spectralBlocks = integer("spectral_blocks", 0, 1 << 10);
    // Keys added in 2026-12; older files describe the per-sound LayerNorm with a final norm.
    c.spectralInputNorm = nn::SpectralInputNorm::PerSound;
    c.spectralFinalNorm = true;
    if (const json::Value* x = v.find("spectral_input_norm")) {
      require(x->isString(), "model config: non-string 'spectral_input_norm'");
      c.spectralInputNorm = nn::parseSpectralInputNorm(x->asString());
    }
    if (const json::Value* x = v.find("spectral_final_norm")) {
      require(x->isBool(), "model config: non-boolean 'spectral_final_norm'");
      c.spectralFinalNorm = x->asBool();
    }
    c.p2tInit = nn::Param2TokInit::Authors;
    if (const json::Value* x = v.find("p2t_init")) {
      require(x->isString(), "model config: non-string 'p2t_init'");
      c.p2tInit = nn::parseParam2TokInit(x->asString());
    }
    return c;
  }
};

/// Sampling settings for flows (ignored by the regression baselines).
enum class SolverKind { Euler, Midpoint, Heun, Rk4 };
inline SolverKind parseSolverKind(const std::string& s) {
  if (s == "euler") return SolverKind::Euler;
  if (s == "midpoint") return SolverKind::Midpoint;
  if (s == "heun") return SolverKind::Heun;
  if (s == "rk4") return SolverKind::Rk4;
  throw Error("unknown solver '" + s + "' (expected euler, midpoint, heun or rk4)");
}
inline std::string toString(SolverKind s) {
  switch (s) {
    case SolverKind::Euler: return "euler";
    case SolverKind::Midpoint: return "midpoint";
    case SolverKind::Heun: return "heun";
    case SolverKind::Rk4: return "rk4";
  }
  return "?";
}
/// "symmetric"/"sym" or "asymmetric"/"asym".
inline synth::KOscVariant parseVariant(const std::string& s) {
  if (s == "symmetric" || s == "sym") return synth::KOscVariant::Symmetric;
  if (s == "asymmetric" || s == "asym") return synth::KOscVariant::Asymmetric;
  throw Error("unknown variant '" + s + "' (expected symmetric (sym) or asymmetric (asym))");
}
inline std::string toString(synth::KOscVariant v) {
  return v == synth::KOscVariant::Symmetric ? "symmetric" : "asymmetric";
}

struct SampleOptions {
  int steps = 100;                     // solver steps (paper: RK4, 100)
  double guidance = 2.0;               // classifier-free guidance weight w
  SolverKind solver = SolverKind::Rk4;
};

/// A flow's posterior sample for each column of features: net.embed(features, z), then
/// net.sample<Solver>(z, so.steps, so.guidance, rng, x) with the solver so names. Shared by
/// every flow model of every task (any Net with those two members).
template <class Net>
void sampleFlow(Net& net, const Mat<float>& features, const SampleOptions& so, Rng& rng, Mat<float>& x) {
  Mat<float> z;
  net.embed(features, z);
  const float w = float(so.guidance);
  switch (so.solver) {
    case SolverKind::Euler: net.template sample<flow::EulerSolver<float>>(z, so.steps, w, rng, x); break;
    case SolverKind::Midpoint: net.template sample<flow::MidpointSolver<float>>(z, so.steps, w, rng, x); break;
    case SolverKind::Heun: net.template sample<flow::HeunSolver<float>>(z, so.steps, w, rng, x); break;
    case SolverKind::Rk4: net.template sample<flow::Rk4Solver<float>>(z, so.steps, w, rng, x); break;
  }
}

/// |z| of a float bin: the sum of squares in double (exact: products of floats fit a double)
/// and one square root, rounded to float, which is how glibc's hypotf (std::abs of a
/// complex<float>) computes it, bit for bit (tests/test_train_distributed.cpp compares the
/// features with std::abs), but inline, so the loop vectorizes: the library call cost more
/// than the FFT (bench_kosc BM_KOscTrainData). Finite inputs (signals are). Double: std::abs.
inline float kOscMagnitude(std::complex<float> z) {
  const double re = z.real(), im = z.imag();
  return float(std::sqrt(re * re + im * im));
}
inline double kOscMagnitude(std::complex<double> z) { return std::abs(z); }

/// |rFFT(signal)| / n for each column: n x B -> (n/2 + 1) x B.
template <class S>
void kOscFeatures(const CMatRef<S>& signals, audio::RealFft<S>& fft, Mat<S>& features) {
  const Index n = signals.rows(), bins = n / 2 + 1;
  require(fft.size() == n, "kOscFeatures: FFT size differs from the signal length");
  features.resize(bins, signals.cols());
  const S inv = S(1) / S(n);
  for (Index b = 0; b < signals.cols(); ++b) {
    Eigen::Map<Vec<S>>(fft.input(), n) = signals.col(b);
    fft.execute();
    const auto* X = fft.output();
    for (Index i = 0; i < bins; ++i) features(i, b) = kOscMagnitude(X[i]) * inv;
  }
}

/// Runtime interface over every k-osc model (float).
class KOscModel {
 public:
  explicit KOscModel(const KOscModelConfig& c) : cfg_(c) {}
  virtual ~KOscModel() = default;
  const KOscModelConfig& config() const { return cfg_; }
  ParamStore<float>& store() { return store_; }
  /// Every tensor (trainable and buffers) with PyTorch-style names.
  virtual std::vector<TensorRef<float>> tensors() = 0;
  /// Initializes every weight (each layer's own init scheme) from rng.
  virtual void init(Rng& rng) = 0;
  /// Forward + backward on one batch; gradients are ADDED to store().grads().
  /// x1 are the raw labels; the model applies its own label transform (sorting for ffn-sort).
  virtual StepLoss step(const Mat<float>& features, const Mat<float>& x1, Rng& rng, const FlowTrainOptions& o) = 0;
  /// One parameter set per column of features (a posterior sample for flows).
  virtual void predict(const Mat<float>& features, const SampleOptions& so, Rng& rng, Mat<float>& x) = 0;
  /// cnf-param2tok: a copy of the learned assignment A, n x P (row t: the weights with which
  /// token t reads each flat parameter; the tensor "assign"). Every other model: std::nullopt.
  virtual std::optional<Mat<float>> param2TokAssignment() const { return std::nullopt; }
  /// cnf-param2tok: replaces A (n x P, the shape param2TokAssignment returns); others: refused.
  virtual void setParam2TokAssignment(const Mat<float>& A) {
    (void)A;
    throw Error(models::toString(config().kind) + " has no learned assignment to set");
  }
  /// cnf-param2tok: the L1 penalty's weight becomes scale x the config's penaltyWeight (a
  /// penalty warm-up, TrainOptions::penaltyWarmup); other models: nothing.
  virtual void setPenaltyScale(double scale) { (void)scale; }
  /// DiT vector fields (cnf-equivariant, cnf-param2tok): every block's attention branch is
  /// scaled by `scale` (a training schedule, TrainOptions::attnOff); true. Other models:
  /// nothing, false (the trainer refuses --attn-off / --attn-ramp for them).
  virtual bool setAttentionScale(double scale) {
    (void)scale;
    return false;
  }
  /// v(xt, t, out): the conditional vector field (no guidance) for the sounds of `features`.
  using VelocityFn = std::function<void(const Mat<float>& xt, float t, Mat<float>& v)>;
  /// Flow models: the vector field for these sounds (their embedding computed once; the
  /// function refers to this model and must not outlive it); other models: an empty function.
  virtual VelocityFn velocityField(const Mat<float>& features) { (void)features; return {}; }
  /// spectral-mlp encoder with per-bin input normalization: its standardizer (the trainer
  /// measures its statistics before the first step, KOscTask::prepare); else nullptr.
  virtual nn::BandStandardizer<float>* inputStandardizer() { return nullptr; }
  /// Measures the per-bin input statistics on features (bins x sounds, kOscFeatures of training
  /// sounds) and stores them in the model; false (nothing done) when the model has no per-bin
  /// input normalization.
  virtual bool fitInputStatistics(const Mat<float>& features) { (void)features; return false; }
  /// Visits tensors for checkpoints (io/checkpoint.hpp expects a visitParams member).
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    for (auto t : tensors()) {
      t.name = joinName(prefix, t.name);
      f(t);
    }
  }

 protected:
  KOscModelConfig cfg_;
  ParamStore<float> store_;
};

namespace detail {

struct NoWeights {
  Index numParams() const { return 0; }
  void bind(ParamCursor<float>&) {}
  template <class F> void visitParams(const std::string&, F&&) {}
  void init(Rng&) {}
};

template <class Net>
class KOscNet : public KOscModel {
 public:
  /// maxWeights >= 0: refuse (before allocating) a net with more weights, see makeKOscModel.
  KOscNet(const KOscModelConfig& c, Net net, Index maxWeights = -1) : KOscModel(c), net_(std::move(net)) {
    if (maxWeights >= 0 && net_.numParams() > maxWeights)
      throw Error("the model config describes " + std::to_string(net_.numParams()) + " weights, more than the " +
                  std::to_string(maxWeights) + " the file can hold (damaged or forged config)");
    store_.attach(net_);
  }
  Net& net() { return net_; }
  std::vector<TensorRef<float>> tensors() override { return listTensors<float>(net_); }
  void init(Rng& rng) override { net_.init(rng); }
  nn::BandStandardizer<float>* inputStandardizer() override {
    if constexpr (std::is_same_v<Net, NoWeights>) {
      return nullptr;
    } else if constexpr (std::is_same_v<std::decay_t<decltype(net_.encoder())>, nn::SpectralMlpEncoder<float>>) {
      return net_.encoder().inputStandardizer();
    } else {
      return nullptr;
    }
  }
  bool fitInputStatistics(const Mat<float>& features) override {
    if constexpr (std::is_same_v<Net, NoWeights>) {
      (void)features;
      return false;
    } else if constexpr (std::is_same_v<std::decay_t<decltype(net_.encoder())>, nn::SpectralMlpEncoder<float>>) {
      auto* st = net_.encoder().inputStandardizer();
      if (!st) return false;
      Mat<float> u;
      net_.encoder().compressedInput(features, u);
      nn::BandStatistics stats(st->bands());
      stats.add(u);
      st->setStatistics(stats);
      return true;
    } else {
      (void)features;
      return false;
    }
  }

 protected:
  Net net_;
};

template <class Enc, class VF>
class KOscFlow final : public KOscNet<FlowModel<float, Enc, VF>> {
  using Base = KOscNet<FlowModel<float, Enc, VF>>;
  static constexpr bool isDit = std::is_same_v<VF, DitVectorField<float, nn::Param2Tok<float>>> ||
                                std::is_same_v<VF, DitVectorField<float, nn::FixedTokenizer<float>>>;

 public:
  using Base::Base;
  StepLoss step(const Mat<float>& f, const Mat<float>& x1, Rng& rng, const FlowTrainOptions& o) override {
    return this->net_.lossAndGradient(f, x1, rng, o, cache_);
  }
  std::optional<Mat<float>> param2TokAssignment() const override {
    if constexpr (std::is_same_v<VF, DitVectorField<float, nn::Param2Tok<float>>>)
      return Mat<float>(this->net_.vectorField().tokenizer().assignT().transpose());
    else
      return std::nullopt;
  }
  void setParam2TokAssignment(const Mat<float>& A) override {
    if constexpr (std::is_same_v<VF, DitVectorField<float, nn::Param2Tok<float>>>) {
      auto At = this->net_.vectorField().tokenizer().assignT();  // P x n
      require(A.rows() == At.cols() && A.cols() == At.rows(), "setParam2TokAssignment: shape mismatch");
      At = A.transpose();
    } else {
      KOscModel::setParam2TokAssignment(A);
    }
  }
  void setPenaltyScale(double scale) override {
    if constexpr (std::is_same_v<VF, DitVectorField<float, nn::Param2Tok<float>>>)
      this->net_.vectorField().tokenizer().setPenaltyWeight(this->cfg_.penaltyWeight * scale);
    else
      (void)scale;
  }
  KOscModel::VelocityFn velocityField(const Mat<float>& features) override {
    auto z = std::make_shared<Mat<float>>();
    this->net_.embed(features, *z);
    auto cache = std::make_shared<typename VF::Cache>();
    auto tv = std::make_shared<Vec<float>>();
    return [this, z, cache, tv](const Mat<float>& xt, float t, Mat<float>& v) {
      tv->setConstant(xt.cols(), t);
      this->net_.vectorField().forward(xt, *tv, *z, v, *cache);
    };
  }
  bool setAttentionScale(double scale) override {
    if constexpr (isDit) {
      this->net_.vectorField().setAttentionScale(float(scale));
      return true;
    } else {
      (void)scale;
      return false;
    }
  }
  void predict(const Mat<float>& f, const SampleOptions& so, Rng& rng, Mat<float>& x) override {
    sampleFlow(this->net_, f, so, rng, x);
  }

 private:
  typename FlowModel<float, Enc, VF>::StepCache cache_;
};

template <class Enc>
class KOscRegression final : public KOscNet<RegressionModel<float, Enc>> {
  using Base = KOscNet<RegressionModel<float, Enc>>;

 public:
  using Base::Base;
  StepLoss step(const Mat<float>& f, const Mat<float>& x1, Rng&, const FlowTrainOptions&) override {
    if (this->net_.loss() == RegressionLoss::Sort) {
      sorted_ = synth::sortedByFrequency<float>(x1, this->cfg_.k);
      return this->net_.lossAndGradient(f, sorted_, cache_);
    }
    return this->net_.lossAndGradient(f, x1, cache_);
  }
  void predict(const Mat<float>& f, const SampleOptions&, Rng&, Mat<float>& x) override { this->net_.predict(f, x); }

 private:
  typename RegressionModel<float, Enc>::StepCache cache_;
  Mat<float> sorted_;
};

class KOscRandom final : public KOscNet<NoWeights> {
 public:
  using KOscNet<NoWeights>::KOscNet;
  StepLoss step(const Mat<float>&, const Mat<float>&, Rng&, const FlowTrainOptions&) override { return {}; }
  void predict(const Mat<float>& f, const SampleOptions&, Rng& rng, Mat<float>& x) override {
    x.resize(cfg_.paramDim(), f.cols());
    rng.fillUniform(x.data(), x.data() + x.size(), -1.0, 1.0);
  }
};

template <class Enc>
std::unique_ptr<KOscModel> makeWithEncoder(const KOscModelConfig& c, Enc enc, Index maxWeights) {
  const Index P = c.paramDim(), k = c.k;
  DitConfig dit = c.dit;
  dit.condDim = c.embedDim;
  switch (c.kind) {
    case ModelKind::CnfEquivariant: {
      using VF = DitVectorField<float, nn::FixedTokenizer<float>>;
      VF vf(nn::FixedTokenizer<float>(nn::GroupLayout::parameterMajor(k, 3), dit.width), dit, "tokenizer");
      return std::make_unique<KOscFlow<Enc, VF>>(c, FlowModel<float, Enc, VF>(std::move(enc), std::move(vf), c.embedDim),
                                                 maxWeights);
    }
    case ModelKind::CnfParam2Tok: {
      using VF = DitVectorField<float, nn::Param2Tok<float>>;
      VF vf(nn::Param2Tok<float>(P, c.tokens > 0 ? c.tokens : k, dit.width, c.penaltyWeight, c.p2tInit), dit, "p2t");
      return std::make_unique<KOscFlow<Enc, VF>>(c, FlowModel<float, Enc, VF>(std::move(enc), std::move(vf), c.embedDim),
                                                 maxWeights);
    }
    case ModelKind::CnfMlp: {
      using VF = MlpVectorField<float>;
      typename VF::Config mc;
      mc.width = c.mlpWidth;
      mc.blocks = c.mlpBlocks;
      mc.condDim = c.embedDim;
      mc.timeDim = dit.timeDim;
      return std::make_unique<KOscFlow<Enc, VF>>(c, FlowModel<float, Enc, VF>(std::move(enc), VF(P, mc), c.embedDim),
                                                 maxWeights);
    }
    case ModelKind::FfnMse:
    case ModelKind::FfnSort:
    case ModelKind::FfnChamfer: {
      const RegressionLoss loss = c.kind == ModelKind::FfnMse    ? RegressionLoss::Mse
                                  : c.kind == ModelKind::FfnSort ? RegressionLoss::Sort
                                                                 : RegressionLoss::Chamfer;
      RegressionModel<float, Enc> net(std::move(enc), c.embedDim, P, c.head, loss, k, 3,
                                      nn::GroupLayout::parameterMajor(k, 3).indices());
      return std::make_unique<KOscRegression<Enc>>(c, std::move(net), maxWeights);
    }
    case ModelKind::Random:
      break;
  }
  return std::make_unique<KOscRandom>(c, NoWeights{});
}

}  // namespace detail

/// Builds the model the config describes; initializes its weights from rng when given.
/// maxWeights >= 0 (loading a file): a config with more weights is refused with an Error before
/// anything is allocated, so a small damaged or forged file cannot make the loader allocate GBs.
inline std::unique_ptr<KOscModel> makeKOscModel(const KOscModelConfig& c, Rng* rng = nullptr, Index maxWeights = -1) {
  std::unique_ptr<KOscModel> m;
  const Index bins = synth::KOscConstants::numSpectrumBins;
  if (c.encoder == EncoderKind::Cnn) {
    typename nn::CnnEncoder<float>::Config ec;
    ec.nBins = bins;
    ec.dOut = c.embedDim;
    m = detail::makeWithEncoder(c, nn::CnnEncoder<float>(ec), maxWeights);
  } else {
    typename nn::SpectralMlpEncoder<float>::Config ec;
    ec.nBins = bins;
    ec.width = c.spectralWidth;
    ec.nBlocks = c.spectralBlocks;
    ec.dOut = c.embedDim;
    ec.inputNorm = c.spectralInputNorm;
    ec.finalNorm = c.spectralFinalNorm;
    m = detail::makeWithEncoder(c, nn::SpectralMlpEncoder<float>(ec), maxWeights);
  }
  if (rng) m->init(*rng);
  return m;
}

}  // namespace symflow::models
