// symflow/nn/layernorm.hpp - layer normalization over the feature dimension of each column.
//
// Shapes:   x: d x N  ->  y: d x N     (normalizes each column (token) separately)
// Forward:  mu = mean(x_col), var = mean((x_col - mu)^2) (biased), rstd = 1/sqrt(var + eps),
//           xhat = (x - mu) rstd,  y = gamma * xhat + beta    (eps = 1e-5, as PyTorch)
// Backward: g = dy * gamma;  dx = rstd (g - mean(g) - xhat mean(g * xhat))   per column;
//           dgamma += sum_cols(dy * xhat);  dbeta += sum_cols(dy).
//           Reads xhat and rstd from the cache (the input itself is not kept).
// Params:   "weight" (d) = gamma, init 1; "bias" (d) = beta, init 0 (when affine; adaLN
//           uses affine = false and modulates xhat itself).
#pragma once
#include <cmath>
#include <string>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::nn {

template <class S>
class LayerNorm {
 public:
  struct Cache {
    Mat<S> xhat;
    Vec<S> rstd;
  };

  LayerNorm() = default;
  explicit LayerNorm(Index d, bool affine = true, double eps = 1e-5)
      : d_(d), affine_(affine), eps_(eps) {
    if (d <= 0) throw Error("LayerNorm: size must be positive");
  }
  Index size() const { return d_; }
  bool affine() const { return affine_; }
  Index numParams() const { return affine_ ? 2 * d_ : 0; }
  void bind(ParamCursor<S>& c) {
    if (!affine_) return;
    gamma_ = c.take(d_);
    beta_ = c.take(d_);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    if (!affine_) return;
    f(TensorRef<S>{joinName(prefix, "weight"), {d_}, gamma_.w, gamma_.g, true});
    f(TensorRef<S>{joinName(prefix, "bias"), {d_}, beta_.w, beta_.g, true});
  }
  void init(Rng&) {
    if (!affine_) return;
    gamma_.wvec().setOnes();
    beta_.wvec().setZero();
  }
  S penalty() const { return S(0); }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    if (x.rows() != d_) throw Error("LayerNorm: input has " + std::to_string(x.rows()) +
                                " rows, expected " + std::to_string(d_));
    const Index n = x.cols();
    c.xhat.resize(d_, n);
    c.rstd.resize(n);
    y.resize(d_, n);
    const S invd = S(1) / S(d_);
    for (Index j = 0; j < n; ++j) {
      const auto xc = x.col(j);
      const S mu = xc.sum() * invd;
      const S var = (xc.array() - mu).square().sum() * invd;
      const S rstd = S(1) / std::sqrt(var + S(eps_));
      c.rstd[j] = rstd;
      c.xhat.col(j) = (xc.array() - mu) * rstd;
    }
    if (affine_) {
      y.array() = (c.xhat.array().colwise() * gamma_.wvec().array()).colwise() + beta_.wvec().array();
    } else {
      y = c.xhat;
    }
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    if (!(dy.rows() == d_ && dy.cols() == c.xhat.cols())) throw Error("LayerNorm: gradient shape mismatch");
    const Index n = dy.cols();
    dx.resize(d_, n);
    const S invd = S(1) / S(d_);
    if (affine_) {
      gamma_.gvec() += (dy.array() * c.xhat.array()).rowwise().sum().matrix();
      beta_.gvec() += dy.rowwise().sum();
    }
    for (Index j = 0; j < n; ++j) {
      auto g = dx.col(j);
      if (affine_)
        g = dy.col(j).cwiseProduct(gamma_.wvec());
      else
        g = dy.col(j);
      const auto xh = c.xhat.col(j);
      const S mg = g.sum() * invd;
      const S mgx = g.dot(xh) * invd;
      g = c.rstd[j] * (g.array() - mg - xh.array() * mgx).matrix();
    }
  }

 private:
  Index d_ = 0;
  bool affine_ = true;
  double eps_ = 1e-5;
  ParamSlot<S> gamma_, beta_;
};

}  // namespace symflow::nn
