// symflow/nn/linear.hpp - fully connected layer, applied to every column (token) at once.
//
// Shapes:   x: in x N   ->   y: out x N      (N = B for flat batches, B*n for token sets)
// Forward:  y = W x + b          (one GEMM over the whole batch; threads split the columns,
//                                 core/gemm.hpp)
// Backward: dx = W^T dy;  dW += dy x^T;  db += sum over columns of dy
//           reads the cached input view (x must stay alive until backward, see InputView).
// Params:   "weight" (out, in) [PyTorch layout: stored as the column-major in x out matrix W^T],
//           "bias" (out) when enabled.  Init: PyTorch default, U(+-1/sqrt(in)) for both.
//
// This header is the reference for the layer interface every symflow layer follows
// (docs/layers.md): numParams, bind, visitParams, init, forward(x, y, cache) const,
// backward(cache, dy, dx) which writes dx and ADDS into the parameter gradients.
#pragma once
#include <string>

#include "symflow/core/gemm.hpp"
#include "symflow/core/init.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::nn {

template <class S>
class Linear {
 public:
  struct Cache {
    InputView<S> x;
    mutable Mat<S> scratch;  // per-thread partial weight gradients (core/gemm.hpp)
  };

  Linear() = default;
  Linear(Index in, Index out, bool bias = true) : in_(in), out_(out), hasBias_(bias) {
    if (!(in > 0 && out > 0)) throw Error("Linear: sizes must be positive");
  }

  Index inFeatures() const { return in_; }
  Index outFeatures() const { return out_; }
  bool hasBias() const { return hasBias_; }
  Index numParams() const { return in_ * out_ + (hasBias_ ? out_ : 0); }

  void bind(ParamCursor<S>& c) {
    w_ = c.take(in_ * out_);
    if (hasBias_) b_ = c.take(out_);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    f(TensorRef<S>{joinName(prefix, "weight"), {out_, in_}, w_.w, w_.g, true});
    if (hasBias_) f(TensorRef<S>{joinName(prefix, "bias"), {out_}, b_.w, b_.g, true});
  }
  void init(Rng& rng) {
    init::torchLinear(w_.w, w_.size, in_, rng);
    if (hasBias_) init::torchLinear(b_.w, b_.size, in_, rng);
  }

  /// W^T as an in x out column-major view (its memory is PyTorch's (out, in) weight).
  MatMap<S> weightT() const { return w_.wmat(in_, out_); }
  MatMap<S> weightTGrad() const { return w_.gmat(in_, out_); }
  VecMap<S> bias() const { return b_.wvec(); }
  VecMap<S> biasGrad() const { return b_.gvec(); }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    if (x.rows() != in_) throw Error("Linear: input has " + std::to_string(x.rows()) +
                                 " rows, expected " + std::to_string(in_));
    c.x = InputView<S>(x);
    y.resize(out_, x.cols());
    affineOverTokens<S>(y, weightT().transpose(), hasBias_ ? b_.w : nullptr, x);
  }
  /// Parameter gradients only (for a first layer whose input needs no gradient).
  void backwardParams(const Cache& c, const CMatRef<S>& dy) const {
    addGradientOverTokens<S>(weightTGrad(), hasBias_ ? b_.g : nullptr, c.x.map(), dy, c.scratch);
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    backwardParams(c, dy);
    dx.resize(in_, dy.cols());
    productOverTokens(dx, weightT(), dy);
  }
  S penalty() const { return S(0); }

 private:
  Index in_ = 0, out_ = 0;
  bool hasBias_ = true;
  ParamSlot<S> w_, b_;
};

}  // namespace symflow::nn
