// symflow/models/surge_model.hpp - the Surge-style task's models (paper.md, Task 2, scaled to
// the CPU) behind one runtime interface, as kosc_model.hpp does for k-osc.
//
// Feature (SurgeFeatures): the rendered sound (numSamples x B, 16 kHz by default) ->
//   log-mel 10 log10(max(1e-10, W |STFT|^2)) with a Hann window of 25 ms (400 samples at
//   16 kHz, zero-padded to nFft = the next power of two, 512), hop 10 ms (160), centred
//   frames, 64 Slaney mel bands (audio/mel.hpp). Output (M F) x B, band fastest (the layout
//   the AST encoder reads): F = 1 + numSamples / hop = 201 frames for 2 s.
//   No per-sound dB floor: every entry is a fixed function of its own mel power, and the
//   encoder's BandStandardizer (statistics measured on training sounds by
//   measureSurgeInputStatistics, stored in the model file as encoder.input_norm.*) scales it.
//
// Models (x1: the 93 synth parameters of surge_spec.hpp in model units [-1, 1], note pitch and
// note on/off times included, P = 93):
//   cnf-param2tok  AST (L = dit.layers query outputs, d x (B L)) -> per-layer DiT vector field
//                  (DitConfig::perLayerCond: layer l reads query l) with Param2Tok, sinusoidal
//                  time; CFM loss, minibatch OT, classifier-free guidance with ONE learned
//                  null embedding used for all L queries of a dropped sound.   QueryFlowModel
//   cnf-mlp        AST pooled (mean of the L queries, d x B) -> residual-MLP vector field.
//                                                                               FlowModel
//   ffn            AST pooled -> residual-MLP regression head, MSE.             RegressionModel
//
// Param2Tok tokens: n = 32 by default (the paper: 128 tokens for 92 parameters on a GPU).
//   The DiT's cost per sound grows as n (4 d^2 + 2 d d_ff) + 2 n^2 d per layer; 32 tokens cut
//   it 4x (attention 16x) against 128, so a CPU run does 4x more steps in the same time, while
//   32 is still well above the ~14 groups the synth's structure suggests (3 oscillator+LFO
//   blocks, 2 filter+LFO blocks, 2 envelopes, amp LFO, mixer/noise/high-pass, note) and leaves
//   about 3 parameters per token: room for Param2Tok to give each symmetric block its own
//   token(s). Configurable (SurgeModelConfig::tokens).
//
// Training data: SurgeBatchRenderer::render(seed, step, B) is batch `step` of the stream
// (a function of its arguments only; run it on a train::BatchProducer thread). Sound g of a
// batch comes from its own generator Rng(seed).fork(kDataDomain).fork(step).fork(g), so a
// data-parallel rank renders just its shard [first, last) with render(seed, step, first, last).
//
// SurgeModelConfig round-trips through JSON (task "surge-simple"); stored in checkpoints'
// metadata like KOscModelConfig, so a checkpoint rebuilds its own model.
#pragma once
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "symflow/audio/mel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/flow/coupling.hpp"
#include "symflow/flow/guidance.hpp"
#include "symflow/flow/path.hpp"
#include "symflow/flow/solvers.hpp"
#include "symflow/io/json.hpp"
#include "symflow/models/flow_model.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/models/regression_model.hpp"
#include "symflow/models/vector_fields.hpp"
#include "symflow/nn/ast_encoder.hpp"
#include "symflow/nn/band_standardizer.hpp"
#include "symflow/nn/conditioning.hpp"
#include "symflow/synth/surge.hpp"

namespace symflow::models {

// ---------------------------------------------------------------------------------------------
// Feature

struct SurgeFeatureConfig {
  Index mels = 64;
  double windowSeconds = 0.025;
  double hopSeconds = 0.010;

  Index windowSamples(double sampleRate) const { return Index(std::lround(windowSeconds * sampleRate)); }
  Index hopSamples(double sampleRate) const { return Index(std::lround(hopSeconds * sampleRate)); }
  /// The smallest power of two >= the window.
  Index nFft(double sampleRate) const {
    Index n = 1;
    while (n < windowSamples(sampleRate)) n *= 2;
    return n;
  }
  Index frames(double sampleRate, Index numSamples) const { return 1 + numSamples / hopSamples(sampleRate); }
  void validate(double sampleRate) const {
    require(mels > 0, "SurgeFeatureConfig: mels must be positive");
    require(windowSamples(sampleRate) >= 16, "SurgeFeatureConfig: window shorter than 16 samples");
    require(hopSamples(sampleRate) >= 1, "SurgeFeatureConfig: hop shorter than one sample");
  }
};

/// Log-mel features of rendered sounds (header comment). Holds the STFT plan: one per thread.
class SurgeFeatures {
 public:
  SurgeFeatures(const SurgeFeatureConfig& c, double sampleRate)
      : cfg_((c.validate(sampleRate), c)), mel_(melConfig(c, sampleRate)) {}
  Index mels() const { return cfg_.mels; }
  Index frames(Index numSamples) const { return mel_.numFrames(numSamples); }

  /// audio: numSamples x B -> features (M F) x B.
  void compute(const CMatRef<float>& audio, Mat<float>& features) {
    mel_.power(audio, power_);  // M x (B F)
    const Index B = audio.cols(), MF = power_.size() / std::max<Index>(B, 1);
    features.resize(MF, B);
    Eigen::Map<Mat<float>>(features.data(), power_.rows(), power_.cols()) =
        (power_.array().max(1e-10f).log10() * 10.0f).matrix();
  }

 private:
  static audio::MelConfig melConfig(const SurgeFeatureConfig& c, double sr) {
    audio::MelConfig m;
    m.sampleRate = sr;
    m.nFft = c.nFft(sr);
    m.winLength = c.windowSamples(sr);
    m.hop = c.hopSamples(sr);
    m.nMels = c.mels;
    m.center = true;
    return m;
  }
  SurgeFeatureConfig cfg_;
  audio::MelSpectrogram<float> mel_;
  Mat<float> power_;
};

// ---------------------------------------------------------------------------------------------
// Config

enum class SurgeModelKind { CnfParam2Tok, CnfMlp, Ffn };

inline std::string toString(SurgeModelKind k) {
  switch (k) {
    case SurgeModelKind::CnfParam2Tok: return "cnf-param2tok";
    case SurgeModelKind::CnfMlp: return "cnf-mlp";
    case SurgeModelKind::Ffn: return "ffn";
  }
  return "?";
}
inline SurgeModelKind parseSurgeModelKind(const std::string& s) {
  if (s == "cnf-param2tok") return SurgeModelKind::CnfParam2Tok;
  if (s == "cnf-mlp") return SurgeModelKind::CnfMlp;
  if (s == "ffn") return SurgeModelKind::Ffn;
  throw Error("unknown surge-simple model '" + s + "' (expected one of: cnf-param2tok, cnf-mlp, ffn)");
}

struct SurgeModelConfig {
  SurgeModelKind kind = SurgeModelKind::CnfParam2Tok;
  double sampleRate = 16000;   // synth render rate (Hz)
  double seconds = 2.0;        // sound length
  SurgeFeatureConfig feature{};
  nn::AstEncoderConfig ast{};  // mels, frames and queries are derived (see finalize)
  DitConfig dit = defaultDit();
  Index tokens = 32;           // Param2Tok tokens (header comment: why 32)
  double penaltyWeight = 0.01;
  Index mlpWidth = 256, mlpBlocks = 4;  // CNF (MLP) vector field
  HeadConfig head{};                    // FFN head

  static DitConfig defaultDit() {
    DitConfig d;
    d.width = 128;
    d.heads = 4;
    d.ffDim = 256;
    d.layers = 4;
    d.timeDim = 32;  // sinusoidal (paper: Surge uses a sinusoidal time encoding)
    return d;
  }
  Index paramDim() const { return synth::surge::kNumParams; }
  Index numSamples() const { return Index(std::llround(sampleRate * seconds)); }
  Index embedDim() const { return ast.width; }
  synth::SurgeConfig synthConfig() const {
    synth::SurgeConfig s;
    s.sampleRate = sampleRate;
    s.seconds = seconds;
    return s;
  }
  /// The AST sizes that follow from the rest: mels, frames, queries (= DiT layers), pooling.
  nn::AstEncoderConfig astConfig() const {
    nn::AstEncoderConfig a = ast;
    a.mels = feature.mels;
    a.frames = feature.frames(sampleRate, numSamples());
    a.queries = kind == SurgeModelKind::CnfParam2Tok ? dit.layers : ast.queries;
    a.pooled = kind != SurgeModelKind::CnfParam2Tok;
    return a;
  }
  DitConfig ditConfig() const {
    DitConfig d = dit;
    d.condDim = embedDim();
    d.perLayerCond = true;
    return d;
  }
  void validate() const {
    synthConfig().validate();
    feature.validate(sampleRate);
    astConfig().validate();
    require(tokens >= 1, "SurgeModelConfig: need at least one Param2Tok token");
    require(dit.layers >= 1 && dit.width % dit.heads == 0, "SurgeModelConfig: bad DiT sizes");
    require(dit.timeDim % 2 == 0, "SurgeModelConfig: the sinusoidal time width must be even");
  }

  json::Value toJson() const {
    json::Value v = json::Value::object();
    v.set("task", "surge-simple").set("model", toString(kind));
    v.set("sample_rate", sampleRate).set("seconds", seconds);
    json::Value f = json::Value::object();
    f.set("mels", feature.mels).set("window_seconds", feature.windowSeconds).set("hop_seconds", feature.hopSeconds);
    v.set("feature", f);
    json::Value a = json::Value::object();
    a.set("patch", ast.patch).set("stride", ast.stride).set("width", ast.width).set("heads", ast.heads);
    a.set("layers", ast.layers).set("ff_dim", ast.ffDim).set("queries", ast.queries);
    v.set("ast", a);
    json::Value d = json::Value::object();
    d.set("width", dit.width).set("heads", dit.heads).set("ff_dim", dit.ffDim).set("layers", dit.layers);
    d.set("time_dim", dit.timeDim);
    v.set("dit", d).set("tokens", tokens).set("penalty_weight", penaltyWeight);
    v.set("mlp_width", mlpWidth).set("mlp_blocks", mlpBlocks);
    v.set("head_width", head.width).set("head_blocks", head.blocks);
    return v;
  }

  static SurgeModelConfig fromJson(const json::Value& v) {
    require(v.isObject(), "model config: not a JSON object");
    auto sub = [](const json::Value& o, const char* key) -> const json::Value& {
      const json::Value* x = o.find(key);
      require(x && x->isObject(), std::string("model config: missing object '") + key + "'");
      return *x;
    };
    auto str = [](const json::Value& o, const char* key) -> std::string {
      const json::Value* x = o.find(key);
      require(x && x->isString(), std::string("model config: missing or non-string '") + key + "'");
      return x->asString();
    };
    auto integer = [](const json::Value& o, const char* key, Index lo, Index hi) -> Index {
      const json::Value* x = o.find(key);
      require(x && x->isInteger(), std::string("model config: missing or non-integer '") + key + "'");
      const Index n = Index(x->asInt64());
      require(n >= lo && n <= hi, std::string("model config: '") + key + "' = " + std::to_string(n) + " out of range");
      return n;
    };
    auto number = [](const json::Value& o, const char* key, double lo, double hi) -> double {
      const json::Value* x = o.find(key);
      require(x && x->isNumber(), std::string("model config: missing or non-numeric '") + key + "'");
      const double d = x->asDouble();
      require(d >= lo && d <= hi, std::string("model config: '") + key + "' out of range");
      return d;
    };
    require(str(v, "task") == "surge-simple", "model config: task '" + str(v, "task") + "' is not surge-simple");
    SurgeModelConfig c;
    c.kind = parseSurgeModelKind(str(v, "model"));
    c.sampleRate = number(v, "sample_rate", 8000, 48000);
    c.seconds = number(v, "seconds", 0.05, 8);
    const json::Value& f = sub(v, "feature");
    c.feature.mels = integer(f, "mels", 1, 1024);
    c.feature.windowSeconds = number(f, "window_seconds", 1e-4, 1);
    c.feature.hopSeconds = number(f, "hop_seconds", 1e-5, 1);
    const json::Value& a = sub(v, "ast");
    c.ast.patch = integer(a, "patch", 1, 1024);
    c.ast.stride = integer(a, "stride", 1, 1024);
    c.ast.width = integer(a, "width", 1, 1 << 14);
    c.ast.heads = integer(a, "heads", 1, 1 << 10);
    c.ast.layers = integer(a, "layers", 1, 1 << 10);
    c.ast.ffDim = integer(a, "ff_dim", 1, 1 << 16);
    c.ast.queries = integer(a, "queries", 1, 1 << 10);
    const json::Value& d = sub(v, "dit");
    c.dit.width = integer(d, "width", 1, 1 << 14);
    c.dit.heads = integer(d, "heads", 1, 1 << 10);
    c.dit.ffDim = integer(d, "ff_dim", 1, 1 << 16);
    c.dit.layers = integer(d, "layers", 1, 1 << 10);
    c.dit.timeDim = integer(d, "time_dim", 0, 1 << 14);
    c.tokens = integer(v, "tokens", 1, 1 << 14);
    c.penaltyWeight = number(v, "penalty_weight", 0, 1e6);
    c.mlpWidth = integer(v, "mlp_width", 1, 1 << 16);
    c.mlpBlocks = integer(v, "mlp_blocks", 0, 1 << 10);
    c.head.width = integer(v, "head_width", 1, 1 << 16);
    c.head.blocks = integer(v, "head_blocks", 0, 1 << 10);
    c.validate();
    return c;
  }
};

// ---------------------------------------------------------------------------------------------
// Flow with one conditioning column per DiT layer

/// FlowModel's training step and sampler for an encoder with Lq = outputsPerSound() output
/// columns per sound (z: dz x (B Lq), column b Lq + l) and a per-layer vector field. The CFG
/// drop mask is drawn per sound (B flags, same draws as FlowModel) and a dropped sound gets
/// null_z in all its Lq columns. Params: "encoder.*", "null_z", "vf.*".
template <class S, class Encoder, class VF>
class QueryFlowModel {
 public:
  struct StepCache {
    typename Encoder::Cache enc;
    typename VF::Cache vf;
    Mat<S> z, zc, v, dv, dxt, dzc, dz;
    std::vector<bool> drop, dropColumns;
    flow::PathSample<S> path;
    flow::OtCoupling<S> ot;
  };

  QueryFlowModel() = default;
  QueryFlowModel(Encoder encoder, VF vf) : enc_(std::move(encoder)), null_(enc_.outFeatures()), vf_(std::move(vf)) {
    require(vf_.condColumnsPerSample() == enc_.outputsPerSound(),
            "QueryFlowModel: the encoder gives " + std::to_string(enc_.outputsPerSound()) +
                " columns per sound, the vector field reads " + std::to_string(vf_.condColumnsPerSample()));
  }

  Encoder& encoder() { return enc_; }
  const Encoder& encoder() const { return enc_; }
  VF& vectorField() { return vf_; }
  const VF& vectorField() const { return vf_; }
  Index paramDim() const { return vf_.paramDim(); }
  Index columnsPerSound() const { return enc_.outputsPerSound(); }

  Index numParams() const { return enc_.numParams() + null_.numParams() + vf_.numParams(); }
  void bind(ParamCursor<S>& c) {
    enc_.bind(c);
    null_.bind(c);
    vf_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    enc_.visitParams(joinName(prefix, "encoder"), f);
    null_.visitParams(prefix, f);
    vf_.visitParams(joinName(prefix, "vf"), f);
  }
  void init(Rng& rng) {
    enc_.init(rng);
    null_.init(rng);
    vf_.init(rng);
  }
  S penalty() const { return vf_.penalty(); }

  StepLoss lossAndGradient(const CMatRef<S>& features, const CMatRef<S>& x1, Rng& rng,
                           const FlowTrainOptions& opt, StepCache& k) {
    const Index B = x1.cols(), Lq = columnsPerSound();
    require(features.cols() == B, "QueryFlowModel: features and parameters disagree on the batch size");
    require(x1.rows() == paramDim(), "QueryFlowModel: parameters have " + std::to_string(x1.rows()) +
                                         " rows, expected " + std::to_string(paramDim()));
    enc_.forward(features, k.z, k.enc);
    k.drop = opt.dropMask(B, rng);
    expandMask(k.drop, Lq, k.dropColumns);
    null_.forward(k.z, k.dropColumns, k.zc);

    const StepLoss out = detail::flowMatchingStep<S>(vf_, x1, rng, opt, k);
    null_.backward(k.dropColumns, k.dzc, k.dz);
    enc_.backward(k.enc, k.dz, nullptr);
    return out;
  }

  /// z: dz x (B Lq).
  void embed(const CMatRef<S>& features, Mat<S>& z) const {
    typename Encoder::Cache c;
    enc_.forward(features, z, c);
  }

  /// One parameter set per sound of z (dz x (B Lq)); as FlowModel::sample.
  template <class Solver = flow::Rk4Solver<S>>
  void sample(const CMatRef<S>& z, int steps, S w, Rng& rng, Mat<S>& x) const {
    const Index Lq = columnsPerSound(), BL = z.cols(), B = BL / Lq, P = paramDim();
    require(BL % Lq == 0, "QueryFlowModel::sample: conditioning columns are not a multiple of the queries");
    x.resize(P, B);
    rng.fillNormal(x.data(), x.data() + x.size());
    Mat<S> zz;
    if (w != S(1)) {
      zz.resize(z.rows(), 2 * BL);
      zz.leftCols(BL) = null_.value().replicate(1, BL);
      zz.rightCols(BL) = z;
    } else {
      zz = z;
    }
    typename VF::Cache cache;
    Vec<S> tv;
    auto model = [&](const Mat<S>& xin, S t, Mat<S>& v) {
      tv.setConstant(xin.cols(), t);
      vf_.forward(xin, tv, zz, v, cache);
    };
    auto velocity = flow::guided<S>(model, w);
    Solver solver;
    solver.integrate(velocity, x, steps);
  }

  static void expandMask(const std::vector<bool>& perSound, Index Lq, std::vector<bool>& perColumn) {
    perColumn.assign(perSound.size() * size_t(Lq), false);
    for (size_t b = 0; b < perSound.size(); ++b)
      for (Index l = 0; l < Lq; ++l) perColumn[b * size_t(Lq) + size_t(l)] = perSound[b];
  }

 private:
  Encoder enc_;
  nn::NullConditioning<S> null_;
  VF vf_;
};

// ---------------------------------------------------------------------------------------------
// Runtime interface

/// Runtime interface over the surge-simple models (float).
class SurgeModel {
 public:
  explicit SurgeModel(const SurgeModelConfig& c) : cfg_(c) {}
  virtual ~SurgeModel() = default;
  const SurgeModelConfig& config() const { return cfg_; }
  ParamStore<float>& store() { return store_; }
  /// Every tensor (trainable and buffers, including encoder.input_norm.*), PyTorch-style names.
  virtual std::vector<TensorRef<float>> tensors() = 0;
  /// Initializes every weight from rng (the input statistics are left as they are).
  virtual void init(Rng& rng) = 0;
  /// The AST's per-band input standardizer (set it with measureSurgeInputStatistics).
  virtual nn::BandStandardizer<float>& inputNorm() = 0;
  /// Forward + backward on one batch (features (M F) x B, x1 93 x B); gradients ADDED.
  virtual StepLoss step(const Mat<float>& features, const Mat<float>& x1, Rng& rng, const FlowTrainOptions& o) = 0;
  /// One parameter set per column of features (a posterior sample for flows).
  virtual void predict(const Mat<float>& features, const SampleOptions& so, Rng& rng, Mat<float>& x) = 0;
  /// cnf-param2tok: a copy of the learned assignment A (tokens x 93); others: nullopt.
  virtual std::optional<Mat<float>> param2TokAssignment() const { return std::nullopt; }
  /// cnf-param2tok: the L1 penalty's weight becomes scale x the config's (a penalty warm-up,
  /// TrainOptions::penaltyWarmup); other models: nothing.
  virtual void setPenaltyScale(double scale) { (void)scale; }
  /// cnf-param2tok: every DiT block's attention branch is scaled by `scale` (a training
  /// schedule, TrainOptions::attnOff); true. Other models: nothing, false.
  virtual bool setAttentionScale(double scale) {
    (void)scale;
    return false;
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    for (auto t : tensors()) {
      t.name = joinName(prefix, t.name);
      f(t);
    }
  }

 protected:
  SurgeModelConfig cfg_;
  ParamStore<float> store_;
};

namespace surge_detail {

template <class Net>
class SurgeNet : public SurgeModel {
 public:
  /// maxWeights >= 0: refuse (before allocating) a net with more weights, see makeSurgeModel.
  SurgeNet(const SurgeModelConfig& c, Net net, Index maxWeights = -1) : SurgeModel(c), net_(std::move(net)) {
    if (maxWeights >= 0 && net_.numParams() > maxWeights)
      throw Error("the model config describes " + std::to_string(net_.numParams()) + " weights, more than the " +
                  std::to_string(maxWeights) + " the file can hold (damaged or forged config)");
    store_.attach(net_);
  }
  Net& net() { return net_; }
  std::vector<TensorRef<float>> tensors() override { return listTensors<float>(net_); }
  void init(Rng& rng) override { net_.init(rng); }
  nn::BandStandardizer<float>& inputNorm() override { return net_.encoder().inputNorm(); }

 protected:
  Net net_;
};

using Ast = nn::AstEncoder<float>;
using P2tField = DitVectorField<float, nn::Param2Tok<float>>;

class SurgeParam2Tok final : public SurgeNet<QueryFlowModel<float, Ast, P2tField>> {
 public:
  using SurgeNet::SurgeNet;
  StepLoss step(const Mat<float>& f, const Mat<float>& x1, Rng& rng, const FlowTrainOptions& o) override {
    return net_.lossAndGradient(f, x1, rng, o, cache_);
  }
  void predict(const Mat<float>& f, const SampleOptions& so, Rng& rng, Mat<float>& x) override {
    sampleFlow(net_, f, so, rng, x);
  }
  std::optional<Mat<float>> param2TokAssignment() const override {
    return Mat<float>(net_.vectorField().tokenizer().assignT().transpose());
  }
  void setPenaltyScale(double scale) override {
    net_.vectorField().tokenizer().setPenaltyWeight(cfg_.penaltyWeight * scale);
  }
  bool setAttentionScale(double scale) override {
    net_.vectorField().setAttentionScale(float(scale));
    return true;
  }

 private:
  QueryFlowModel<float, Ast, P2tField>::StepCache cache_;
};

class SurgeMlpFlow final : public SurgeNet<FlowModel<float, Ast, MlpVectorField<float>>> {
 public:
  using SurgeNet::SurgeNet;
  StepLoss step(const Mat<float>& f, const Mat<float>& x1, Rng& rng, const FlowTrainOptions& o) override {
    return net_.lossAndGradient(f, x1, rng, o, cache_);
  }
  void predict(const Mat<float>& f, const SampleOptions& so, Rng& rng, Mat<float>& x) override {
    sampleFlow(net_, f, so, rng, x);
  }

 private:
  FlowModel<float, Ast, MlpVectorField<float>>::StepCache cache_;
};

class SurgeFfn final : public SurgeNet<RegressionModel<float, Ast>> {
 public:
  using SurgeNet::SurgeNet;
  StepLoss step(const Mat<float>& f, const Mat<float>& x1, Rng&, const FlowTrainOptions&) override {
    return net_.lossAndGradient(f, x1, cache_);
  }
  void predict(const Mat<float>& f, const SampleOptions&, Rng&, Mat<float>& x) override { net_.predict(f, x); }

 private:
  RegressionModel<float, Ast>::StepCache cache_;
};

}  // namespace surge_detail

/// Builds the model the config describes; initializes its weights from rng when given.
/// maxWeights >= 0 refuses, before allocating them, a model with more weights (a loader passes
/// what the file can hold, so a damaged or forged config cannot make it allocate gigabytes).
inline std::unique_ptr<SurgeModel> makeSurgeModel(const SurgeModelConfig& c, Rng* rng = nullptr,
                                                  Index maxWeights = -1) {
  c.validate();
  using namespace surge_detail;
  const Index P = c.paramDim(), dz = c.embedDim();
  Ast enc(c.astConfig());
  std::unique_ptr<SurgeModel> m;
  switch (c.kind) {
    case SurgeModelKind::CnfParam2Tok: {
      const DitConfig dit = c.ditConfig();
      P2tField vf(nn::Param2Tok<float>(P, c.tokens, dit.width, c.penaltyWeight), dit, "p2t");
      m = std::make_unique<SurgeParam2Tok>(c, QueryFlowModel<float, Ast, P2tField>(std::move(enc), std::move(vf)),
                                           maxWeights);
      break;
    }
    case SurgeModelKind::CnfMlp: {
      MlpVectorField<float>::Config mc;
      mc.width = c.mlpWidth;
      mc.blocks = c.mlpBlocks;
      mc.condDim = dz;
      mc.timeDim = c.dit.timeDim;
      m = std::make_unique<SurgeMlpFlow>(
          c, FlowModel<float, Ast, MlpVectorField<float>>(std::move(enc), MlpVectorField<float>(P, mc), dz), maxWeights);
      break;
    }
    case SurgeModelKind::Ffn: {
      RegressionModel<float, Ast> net(std::move(enc), dz, P, c.head, RegressionLoss::Mse, 1, 1, {});
      m = std::make_unique<SurgeFfn>(c, std::move(net), maxWeights);
      break;
    }
  }
  if (rng) m->init(*rng);
  return m;
}

/// Measures the per-band statistics of the log-mel feature on `sounds` random training sounds
/// (SurgeSynth::sampleRandom from Rng(seed), rendered `batch` at a time). Deterministic.
inline nn::BandStatistics measureSurgeInputStatistics(const SurgeModelConfig& c, Index sounds, std::uint64_t seed,
                                                      Index batch = 64) {
  require(sounds > 0 && batch > 0, "measureSurgeInputStatistics: need a positive number of sounds and batch size");
  synth::SurgeSynth synth(c.synthConfig());
  SurgeFeatures features(c.feature, c.sampleRate);
  nn::BandStatistics stats(c.feature.mels);
  Rng rng(seed);
  Mat<float> f;
  for (Index done = 0; done < sounds; done += batch) {
    const auto r = synth.sampleRandom(rng, std::min(batch, sounds - done));
    features.compute(r.audio, f);
    stats.add(f);
  }
  return stats;
}

/// One training batch: features (M F) x B, params 93 x B.
struct SurgeBatch {
  Mat<float> features, params;
};

/// Renders training batch `step` of a stream: B random patches, sound g from its own generator
/// Rng(seed).fork(kDataDomain).fork(step).fork(g) (SurgeSynth::sampleRandom, loudness floor),
/// their sounds and log-mel features. A function of (seed, step, g) only, so any range of the
/// batch can be rendered alone (a data-parallel shard). Holds a synth and an STFT
/// plan: one renderer per thread (e.g. inside a train::BatchProducer's render function).
class SurgeBatchRenderer {
 public:
  static constexpr std::uint64_t kDataDomain = 0x5375726765446174ull;  // "SurgeDat"
  explicit SurgeBatchRenderer(const SurgeModelConfig& c)
      : synth_(c.synthConfig()), features_(c.feature, c.sampleRate) {}
  SurgeBatch render(std::uint64_t seed, std::int64_t step, Index B) { return render(seed, step, 0, B); }
  /// Sounds [first, last) of batch `step` (the same sounds whatever range they are rendered in).
  SurgeBatch render(std::uint64_t seed, std::int64_t step, Index first, Index last) {
    require(0 <= first && first <= last, "SurgeBatchRenderer: bad sound range");
    const Rng base = Rng(seed).fork(kDataDomain).fork(std::uint64_t(step));
    std::vector<Rng> rngs;
    rngs.reserve(std::size_t(last - first));
    for (Index g = first; g < last; ++g) rngs.push_back(base.fork(std::uint64_t(g)));
    auto r = synth_.sampleRandom(rngs);
    SurgeBatch b;
    features_.compute(r.audio, b.features);
    b.params = std::move(r.params);
    return b;
  }

 private:
  synth::SurgeSynth synth_;
  SurgeFeatures features_;
};

/// The held-out test set of surge-simple: a fixed list of seeds the training stream never
/// draws. Sound m is column m % 16 of block m / 16, and block j is
/// SurgeSynth::sampleRandom(Rng(kTestSeed).fork(kTestDomain).fork(j), 16) (loudness floor
/// included); the training stream forks its generators off Rng(seed).fork(kDataDomain), a
/// different domain, so whatever the training seed the two never share a generator state.
/// sounds(first, n) gives the same sound m for every (first, n) that covers it.
class SurgeTestSet {
 public:
  static constexpr std::uint64_t kTestSeed = 0x7375726765ull;         // "surge"
  static constexpr std::uint64_t kTestDomain = 0x53757267655465ull;   // "SurgeTe"
  static constexpr Index kBlock = 16;
  explicit SurgeTestSet(const SurgeModelConfig& c) : synth_(c.synthConfig()) {}
  /// Test sounds [first, first + n): params 93 x n (model units), their noise seeds and audio
  /// numSamples x n (redraws: 0).
  synth::SurgeRandomBatch sounds(Index first, Index n) const {
    require(first >= 0 && n >= 0, "SurgeTestSet: negative range");
    synth::SurgeRandomBatch out;
    out.params.resize(synth::SurgeSynth::kNumParams, n);
    out.audio.resize(synth_.numSamples(), n);
    out.seeds.resize(std::size_t(n));
    Index j = -1;
    synth::SurgeRandomBatch block;
    for (Index m = first; m < first + n; ++m) {
      if (m / kBlock != j) {
        j = m / kBlock;
        Rng rng = Rng(kTestSeed).fork(kTestDomain).fork(std::uint64_t(j));
        block = synth_.sampleRandom(rng, kBlock);
      }
      out.params.col(m - first) = block.params.col(m % kBlock);
      out.audio.col(m - first) = block.audio.col(m % kBlock);
      out.seeds[std::size_t(m - first)] = block.seeds[std::size_t(m % kBlock)];
    }
    return out;
  }

 private:
  synth::SurgeSynth synth_;
};

}  // namespace symflow::models
