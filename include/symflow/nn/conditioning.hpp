// symflow/nn/conditioning.hpp - time encodings, the conditioning MLP and the learned null
// conditioning vector of classifier-free guidance (paper.md "Model").
//
// Time encodings (no parameters, no backward: t is sampled, never learned):
//   ScalarTimeEncoding:      t (B)  ->  1 x B,  e = t                      (k-osc [cfg])
//   SinusoidalTimeEncoding:  t (B)  ->  dim x B (dim even), half = dim/2,
//                            w_k = maxPeriod^(-k/half), k = 0..half-1 (w_0 = 1),
//                            rows [0, half):   cos(t w_k)
//                            rows [half, dim): sin(t w_k)      ([cos, sin] order, as the
//                            authors' SinusoidalEncoding; t is used as is, no rescaling)
//
// ConditioningMlp: z = W2 GELU(W1 [c; e] + b1) + b2
//   Shapes:   c: embedDim x B (audio embedding), e: timeDim x B (time encoding)
//             -> z: d x B.   The input is the concatenation [c; e] (embedding rows first,
//             as torch.cat([z, t], -1) in the reference code), (embedDim + timeDim) x B.
//   Backward: dInput = W1^T (GELU'(pre) * (W2^T dz)) for the whole concatenated input (its
//             first embedDim rows are the embedding gradient); dW1, db1, dW2, db2 += as for
//             Linear. The MLP is an nn::Mlp (Linear -> GELU -> Linear); backward reads its
//             cache and the input view (forward(input, ...)) or the concatenation kept in the
//             cache (forward(c, e, ...)).
//   Params:   nn.Sequential(Linear(embedDim + timeDim, hidden), GELU(), Linear(hidden, d))
//             names "0.weight" (hidden, embedDim + timeDim), "0.bias", "2.weight" (d, hidden),
//             "2.bias" (the peer calls the module "cond"). hidden = d by default.
//             Init: PyTorch default Linear init.
//
// NullConditioning (classifier-free guidance):
//   Param:    "null_z" (dim), the learned null embedding. Init N(0, initStd^2) (default 1.0,
//             the authors' cfg_dropout_token; the peer benchmark uses 0.02).
//   Forward:  out(:, b) = drop[b] ? null_z : c(:, b)     (c: dim x B, drop: B flags)
//   Backward: dc(:, b) = drop[b] ? 0 : dOut(:, b);   grad(null_z) += sum_{b: drop[b]} dOut(:, b)
//             Reads only the drop mask (pass the same mask to forward and backward).
//   drawDropMask(B, p, rng): drop[b] = (uniform < p), p = 0.1 during training [cfg].
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "symflow/core/init.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/activations.hpp"
#include "symflow/nn/linear.hpp"
#include "symflow/nn/mlp.hpp"

namespace symflow::nn {

template <class S>
class ScalarTimeEncoding {
 public:
  Index dim() const { return 1; }
  void encode(const Eigen::Ref<const Vec<S>>& t, Mat<S>& out) const { out = t.transpose(); }
};

template <class S>
class SinusoidalTimeEncoding {
 public:
  explicit SinusoidalTimeEncoding(Index dim, double maxPeriod = 10000.0) : dim_(dim), maxPeriod_(maxPeriod) {
    if (!(dim >= 2 && dim % 2 == 0)) throw Error("SinusoidalTimeEncoding: dim must be even and >= 2, got " +
                                          std::to_string(dim));
    if (maxPeriod <= 1) throw Error("SinusoidalTimeEncoding: maxPeriod must be > 1");
  }
  Index dim() const { return dim_; }
  double maxPeriod() const { return maxPeriod_; }
  /// Angular frequency of row k (and of row half + k).
  double frequency(Index k) const { return std::exp(-std::log(maxPeriod_) * double(k) / double(dim_ / 2)); }

  void encode(const Eigen::Ref<const Vec<S>>& t, Mat<S>& out) const {
    const Index half = dim_ / 2, B = t.size();
    out.resize(dim_, B);
    for (Index k = 0; k < half; ++k) {
      const double w = frequency(k);
      for (Index b = 0; b < B; ++b) {
        const double a = double(t[b]) * w;
        out(k, b) = S(std::cos(a));
        out(half + k, b) = S(std::sin(a));
      }
    }
  }

 private:
  Index dim_;
  double maxPeriod_;
};

template <class S>
class ConditioningMlp {
 public:
  struct Cache {
    Mat<S> input;  // the concatenation [c; e] when forward(c, e, ...) was used
    typename Mlp<S>::Cache mlp;
  };

  ConditioningMlp() = default;
  ConditioningMlp(Index embedDim, Index timeDim, Index d, Index hidden = 0)
      : embedDim_(embedDim), timeDim_(timeDim) {
    if (!(embedDim >= 0 && timeDim >= 0 && embedDim + timeDim > 0 && d > 0))
      throw Error("ConditioningMlp: sizes must be positive");
    mlp_ = Mlp<S>(embedDim + timeDim, hidden > 0 ? hidden : d, d);
  }

  Index embedDim() const { return embedDim_; }
  Index timeDim() const { return timeDim_; }
  Index inFeatures() const { return mlp_.inFeatures(); }
  Index hiddenFeatures() const { return mlp_.hiddenFeatures(); }
  Index outFeatures() const { return mlp_.outFeatures(); }
  Index numParams() const { return mlp_.numParams(); }
  void bind(ParamCursor<S>& c) { mlp_.bind(c); }
  template <class F> void visitParams(const std::string& prefix, F&& f) { mlp_.visitParams(prefix, f); }
  void init(Rng& rng) { mlp_.init(rng); }
  S penalty() const { return S(0); }
  const Linear<S>& fc1() const { return mlp_.fc1(); }
  const Linear<S>& fc2() const { return mlp_.fc2(); }

  /// input = [c; e], (embedDim + timeDim) x B (kept as a view until backward).
  void forward(const CMatRef<S>& input, Mat<S>& z, Cache& c) const {
    if (input.rows() != inFeatures())
      throw Error("ConditioningMlp: input has " + std::to_string(input.rows()) +
                                              " rows, expected embedDim + timeDim = " +
                                              std::to_string(inFeatures()));
    mlp_.forward(input, z, c.mlp);
  }
  /// Concatenates the embedding c (embedDim x B) and the time encoding e (timeDim x B) into
  /// the cache, then runs forward on it.
  void forward(const CMatRef<S>& embedding, const CMatRef<S>& timeEnc, Mat<S>& z, Cache& c) const {
    if (!(embedding.rows() == embedDim_ && timeEnc.rows() == timeDim_))
      throw Error("ConditioningMlp: embedding has " + std::to_string(embedding.rows()) + " rows and time encoding " +
                std::to_string(timeEnc.rows()) + ", expected " + std::to_string(embedDim_) + " and " +
                std::to_string(timeDim_));
    if (embedding.cols() != timeEnc.cols())
      throw Error("ConditioningMlp: embedding and time encoding batch sizes differ");
    c.input.resize(inFeatures(), embedding.cols());
    c.input.topRows(embedDim_) = embedding;
    c.input.bottomRows(timeDim_) = timeEnc;
    forward(c.input, z, c);
  }
  /// dInput: gradient of the whole input [c; e]; its first embedDim() rows are dc.
  void backward(const Cache& c, const CMatRef<S>& dz, Mat<S>& dInput) const {
    if (!(dz.rows() == outFeatures() && dz.cols() == c.mlp.u.cols()))
      throw Error("ConditioningMlp: gradient shape mismatch");
    mlp_.backward(c.mlp, dz, dInput);
  }

 private:
  Index embedDim_ = 0, timeDim_ = 0;
  Mlp<S> mlp_;
};

template <class S>
class NullConditioning {
 public:
  NullConditioning() = default;
  explicit NullConditioning(Index dim, double initStd = 1.0) : dim_(dim), initStd_(initStd) {
    if (dim <= 0) throw Error("NullConditioning: dim must be positive");
  }
  Index dim() const { return dim_; }
  Index numParams() const { return dim_; }
  void bind(ParamCursor<S>& c) { null_ = c.take(dim_); }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    f(TensorRef<S>{joinName(prefix, "null_z"), {dim_}, null_.w, null_.g, true});
  }
  void init(Rng& rng) { init::normal(null_.w, null_.size, 0.0, initStd_, rng); }
  S penalty() const { return S(0); }
  VecMap<S> value() const { return null_.wvec(); }
  VecMap<S> grad() const { return null_.gvec(); }

  /// drop[b] = (uniform < prob), one draw per sample in order.
  static std::vector<bool> drawDropMask(Index batch, double prob, Rng& rng) {
    std::vector<bool> drop(size_t(std::max<Index>(0, batch)));
    for (size_t b = 0; b < drop.size(); ++b) drop[b] = rng.uniform() < prob;
    return drop;
  }

  /// out = c with the dropped columns replaced by the null vector.
  void forward(const CMatRef<S>& c, const std::vector<bool>& drop, Mat<S>& out) const {
    if (c.rows() != dim_) throw Error("NullConditioning: conditioning has " + std::to_string(c.rows()) +
                                  " rows, expected " + std::to_string(dim_));
    if (Index(drop.size()) != c.cols())
      throw Error("NullConditioning: drop mask has " + std::to_string(drop.size()) +
                                                " entries for a batch of " + std::to_string(c.cols()));
    out = c;
    const auto nz = value();
    for (Index b = 0; b < c.cols(); ++b)
      if (drop[size_t(b)]) out.col(b) = nz;
  }
  /// dc = dOut with the dropped columns zeroed; their sum is added to the null vector's gradient.
  void backward(const std::vector<bool>& drop, const CMatRef<S>& dOut, Mat<S>& dc) const {
    if (!(dOut.rows() == dim_ && Index(drop.size()) == dOut.cols()))
      throw Error("NullConditioning: gradient shape does not match the drop mask");
    dc = dOut;
    auto g = grad();
    for (Index b = 0; b < dOut.cols(); ++b) {
      if (!drop[size_t(b)]) continue;
      g += dOut.col(b);
      dc.col(b).setZero();
    }
  }
  /// The unconditional batch for guidance at inference: batch copies of the null vector.
  void fillNull(Index batch, Mat<S>& out) const { out = value().replicate(1, batch); }

 private:
  Index dim_ = 0;
  double initStd_ = 1.0;
  ParamSlot<S> null_;
};

}  // namespace symflow::nn
