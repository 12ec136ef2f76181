// symflow/nn/activations.hpp - element-wise activations (any shape, applied entry-wise).
//
//   GELU (exact erf form, PyTorch's default):  y = x Phi(x) = x/2 (1 + erf(x / sqrt 2))
//        dy/dx = Phi(x) + x phi(x),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
//   SiLU:  y = x sigmoid(x),   dy/dx = s (1 + x (1 - s)),  s = sigmoid(x)
//
// Kernels on raw arrays (vectorized with xsimd) are free functions (geluForward, ...);
// Gelu<S> / Silu<S> wrap them in the layer interface (no parameters). Backward reads the
// cached input view (x must stay alive until backward).
#pragma once
#include <cmath>
#include <string>
#include <xsimd/xsimd.hpp>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::nn {

template <class S> inline void geluForward(const S* x, S* y, Index n) {
  using B = xsimd::batch<S>;
  const B rsqrt2(S(0.70710678118654752440)), half(S(0.5)), one(S(1));
  Index i = 0;
  constexpr Index W = Index(B::size);
  for (; i + W <= n; i += W) {
    const B v = B::load_unaligned(x + i);
    (half * v * (one + xsimd::erf(v * rsqrt2))).store_unaligned(y + i);
  }
  for (; i < n; ++i) y[i] = S(0.5) * x[i] * (S(1) + std::erf(x[i] * S(0.70710678118654752440)));
}
/// dx = dy * gelu'(x)
template <class S> inline void geluBackward(const S* x, const S* dy, S* dx, Index n) {
  using B = xsimd::batch<S>;
  const B rsqrt2(S(0.70710678118654752440)), half(S(0.5)), one(S(1)),
      invsqrt2pi(S(0.39894228040143267794)), mhalf(S(-0.5));
  Index i = 0;
  constexpr Index W = Index(B::size);
  for (; i + W <= n; i += W) {
    const B v = B::load_unaligned(x + i);
    const B cdf = half * (one + xsimd::erf(v * rsqrt2));
    const B pdf = invsqrt2pi * xsimd::exp(mhalf * v * v);
    (B::load_unaligned(dy + i) * (cdf + v * pdf)).store_unaligned(dx + i);
  }
  for (; i < n; ++i) {
    const S v = x[i];
    const S cdf = S(0.5) * (S(1) + std::erf(v * S(0.70710678118654752440)));
    const S pdf = S(0.39894228040143267794) * std::exp(S(-0.5) * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}
template <class S> inline void siluForward(const S* x, S* y, Index n) {
  using B = xsimd::batch<S>;
  const B one(S(1));
  Index i = 0;
  constexpr Index W = Index(B::size);
  for (; i + W <= n; i += W) {
    const B v = B::load_unaligned(x + i);
    (v / (one + xsimd::exp(-v))).store_unaligned(y + i);
  }
  for (; i < n; ++i) y[i] = x[i] / (S(1) + std::exp(-x[i]));
}
template <class S> inline void siluBackward(const S* x, const S* dy, S* dx, Index n) {
  using B = xsimd::batch<S>;
  const B one(S(1));
  Index i = 0;
  constexpr Index W = Index(B::size);
  for (; i + W <= n; i += W) {
    const B v = B::load_unaligned(x + i);
    const B s = one / (one + xsimd::exp(-v));
    (B::load_unaligned(dy + i) * s * (one + v * (one - s))).store_unaligned(dx + i);
  }
  for (; i < n; ++i) {
    const S s = S(1) / (S(1) + std::exp(-x[i]));
    dx[i] = dy[i] * s * (S(1) + x[i] * (S(1) - s));
  }
}

/// Parameter-free element-wise layer around a forward/backward kernel pair.
template <class S, void (*Fwd)(const S*, S*, Index), void (*Bwd)(const S*, const S*, S*, Index)>
class ElementwiseLayer {
 public:
  struct Cache {
    InputView<S> x;
  };
  Index numParams() const { return 0; }
  void bind(ParamCursor<S>&) {}
  template <class F> void visitParams(const std::string&, F&&) {}
  void init(Rng&) {}
  S penalty() const { return S(0); }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    if (x.outerStride() != x.rows()) throw Error("activation: input must be contiguous");
    c.x = InputView<S>(x);
    y.resize(x.rows(), x.cols());
    Fwd(x.data(), y.data(), x.size());
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    if (!(dy.rows() == c.x.rows && dy.cols() == c.x.cols && dy.outerStride() == dy.rows()))
      throw Error("activation: gradient shape differs from input shape");
    dx.resize(dy.rows(), dy.cols());
    Bwd(c.x.data, dy.data(), dx.data(), dy.size());
  }
};

template <class S> using Gelu = ElementwiseLayer<S, geluForward<S>, geluBackward<S>>;
template <class S> using Silu = ElementwiseLayer<S, siluForward<S>, siluBackward<S>>;

}  // namespace symflow::nn
