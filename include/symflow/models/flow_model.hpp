// symflow/models/flow_model.hpp - conditional flow: audio encoder + null embedding + vector
// field, with its training loss and its sampler.
//
// Shapes: features F x B (the encoder's input, e.g. |rFFT| 513 x B), x1 P x B (parameters in
// [-1, 1]), z dz x B (embedding).
//
// lossAndGradient (one training step's forward and backward, gradients ADDED to the store):
//   z = encoder(features)                         (BatchNorm in training mode)
//   zc = drop ? null_z : z                        (drop[b] ~ Bernoulli(cfgDropout))
//   x0 ~ N(0, I); x0 re-paired to x1 by the minibatch OT coupling (when enabled)
//   t ~ U(0, 1); xt = (1 - t) x0 + t x1; ut = x1 - x0
//   loss = mean (vf(xt, t, zc) - ut)^2 + vf.penalty()
//   backward: vf -> dzc -> (null_z for dropped columns, dz for the others) -> encoder.
//   Random draws, in order, from the step's Rng: drop mask, x0, t (for the global batch when
//   the step is one shard of it: FlowTrainOptions::globalBatch).
//
// sample: x0 ~ N(0, I), then integrate dx/dt = (1 - w) v(x, t, null) + w v(x, t, z) from
// t = 0 to 1 with the chosen solver (RK4 by default), both halves in one batched call.
//
// Params: "encoder.*", "null_z" (dz), "vf.*"  (the peer's KOscFlow module names).
#pragma once
#include <string>
#include <type_traits>
#include <vector>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/flow/coupling.hpp"
#include "symflow/flow/guidance.hpp"
#include "symflow/flow/path.hpp"
#include "symflow/flow/solvers.hpp"
#include "symflow/nn/conditioning.hpp"

namespace symflow::models {

struct FlowTrainOptions {
  double cfgDropout = 0.1;  // probability of replacing the embedding by null_z
  bool otCoupling = true;   // minibatch OT re-pairing of noise and data
  // Data-parallel shard (train/distributed.hpp): the step's B sounds are sounds
  // [sliceBegin, sliceBegin + B) of a global batch of globalBatch sounds (0: the batch is all
  // there is). The per-sound draws (drop mask, x0, t) are made for the whole global batch and
  // sliced, so each sound gets the same draws however the batch is split.
  Index globalBatch = 0;
  Index sliceBegin = 0;

  /// Sounds [sliceBegin, sliceBegin + B) of the global batch, checked against B.
  Index globalSize(Index B) const {
    const Index G = globalBatch > 0 ? globalBatch : B;
    require(sliceBegin >= 0 && sliceBegin + B <= G, "FlowTrainOptions: the shard [" + std::to_string(sliceBegin) +
                                                        ", " + std::to_string(sliceBegin + B) +
                                                        ") lies outside the global batch of " + std::to_string(G));
    return G;
  }
  /// drop[b] of the shard: the global batch's mask (NullConditioning::drawDropMask), sliced.
  std::vector<bool> dropMask(Index B, Rng& rng) const;
};

struct StepLoss {
  double loss = 0;     // objective (data term + penalty)
  double data = 0;     // CFM or regression term alone
  double penalty = 0;  // the model's regularizer
};

inline std::vector<bool> FlowTrainOptions::dropMask(Index B, Rng& rng) const {
  const Index G = globalSize(B);
  std::vector<bool> all = nn::NullConditioning<float>::drawDropMask(G, cfgDropout, rng);
  if (G == B) return all;
  return std::vector<bool>(all.begin() + sliceBegin, all.begin() + sliceBegin + B);
}

namespace detail {
template <class E, class = void> struct HasTrainingMode : std::false_type {};
template <class E>
struct HasTrainingMode<E, std::void_t<decltype(std::declval<E&>().setTraining(true))>> : std::true_type {};
template <class E, class C> void updateRunningStats(E& e, const C& c) {
  if constexpr (HasTrainingMode<E>::value) e.updateRunningStats(c);
}
template <class E> void setTraining(E& e, bool t) {
  if constexpr (HasTrainingMode<E>::value) e.setTraining(t);
}

/// The conditional flow-matching part of a training step, shared by every flow model
/// (FlowModel here, QueryFlowModel in surge_model.hpp): draws noise x0 ~ N(0, I), then
/// t ~ U(0, 1) per sound, from rng; re-pairs x0 with x1 by minibatch OT when asked; samples
/// the rectified path; runs the vector field on (xt, t, k.zc); returns the CFM loss + the
/// field's penalty and backpropagates into the field, leaving dLoss/dzc in k.dzc.
/// k needs members path, ot, zc, v, vf, dv, dxt, dzc.
template <class S, class VF, class Cache>
StepLoss flowMatchingStep(VF& vf, const CMatRef<S>& x1, Rng& rng, const FlowTrainOptions& opt, Cache& k) {
  const Index B = x1.cols(), G = opt.globalSize(B), P = x1.rows();
  auto& p = k.path;
  p.x1 = x1;
  if (G == B) {
    p.x0.resize(P, B);
    rng.fillNormal(p.x0.data(), p.x0.data() + p.x0.size());
    p.t.resize(B);
    rng.fillUniform(p.t.data(), p.t.data() + B);
  } else {  // a shard: draw for the global batch (columns are contiguous), keep ours
    Mat<S> x0(P, G);
    rng.fillNormal(x0.data(), x0.data() + x0.size());
    p.x0 = x0.middleCols(opt.sliceBegin, B);
    Vec<S> t(G);
    rng.fillUniform(t.data(), t.data() + G);
    p.t = t.segment(opt.sliceBegin, B);
  }
  if (opt.otCoupling) k.ot.couple(p.x0, p.x1);
  flow::RectifiedPath::sample(p);

  vf.forward(p.xt, p.t, k.zc, k.v, k.vf);
  StepLoss out;
  out.data = double(flow::cfmLoss<S>(k.v, p.ut, k.dv));
  out.penalty = double(vf.penalty());
  out.loss = out.data + out.penalty;

  vf.backward(k.vf, k.dv, k.dxt, k.dzc);
  return out;
}
}  // namespace detail

template <class S, class Encoder, class VF>
class FlowModel {
 public:
  struct StepCache {
    typename Encoder::Cache enc;
    typename VF::Cache vf;
    Mat<S> z, zc, v, dv, dxt, dzc, dz;
    std::vector<bool> drop;
    flow::PathSample<S> path;
    flow::OtCoupling<S> ot;
  };

  FlowModel() = default;
  FlowModel(Encoder encoder, VF vf, Index condDim)
      : enc_(std::move(encoder)), null_(condDim), vf_(std::move(vf)) {}

  Encoder& encoder() { return enc_; }
  VF& vectorField() { return vf_; }
  const VF& vectorField() const { return vf_; }
  Index paramDim() const { return vf_.paramDim(); }

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
  void setTraining(bool t) { detail::setTraining(enc_, t); }

  StepLoss lossAndGradient(const CMatRef<S>& features, const CMatRef<S>& x1, Rng& rng,
                           const FlowTrainOptions& opt, StepCache& k) {
    const Index B = x1.cols();
    if (features.cols() != B) throw Error("FlowModel: features and parameters disagree on the batch size");
    if (x1.rows() != paramDim()) throw Error("FlowModel: parameters have " + std::to_string(x1.rows()) +
                                         " rows, expected " + std::to_string(paramDim()));
    detail::setTraining(enc_, true);
    enc_.forward(features, k.z, k.enc);
    detail::updateRunningStats(enc_, k.enc);
    k.drop = opt.dropMask(B, rng);
    null_.forward(k.z, k.drop, k.zc);

    const StepLoss out = detail::flowMatchingStep<S>(vf_, x1, rng, opt, k);
    null_.backward(k.drop, k.dzc, k.dz);
    enc_.backward(k.enc, k.dz, nullptr);
    return out;
  }

  /// Embeddings for inference (BatchNorm on running statistics).
  void embed(const CMatRef<S>& features, Mat<S>& z) {
    detail::setTraining(enc_, false);
    typename Encoder::Cache c;
    enc_.forward(features, z, c);
  }

  /// One parameter set per column of z: x0 from rng, `steps` solver steps, guidance w.
  template <class Solver = flow::Rk4Solver<S>>
  void sample(const CMatRef<S>& z, int steps, S w, Rng& rng, Mat<S>& x) const {
    const Index B = z.cols(), P = paramDim();
    x.resize(P, B);
    rng.fillNormal(x.data(), x.data() + x.size());
    Mat<S> zz;
    if (w != S(1)) {
      zz.resize(z.rows(), 2 * B);
      zz.leftCols(B) = null_.value().replicate(1, B);
      zz.rightCols(B) = z;
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

 private:
  Encoder enc_;
  nn::NullConditioning<S> null_;
  VF vf_;
};

}  // namespace symflow::models
