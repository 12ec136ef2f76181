// symflow/nn/adaln.hpp - adaptive layer norm ("basic adaLN" of DiT, no zero init).
//
// Three pieces, composed by DiTBlock (nn/dit_block.hpp). B samples of n tokens each: token
// column j belongs to sample b = j / n, and every per-sample vector (a column of a d x B
// matrix) is broadcast over that sample's n tokens.
//
// AdaLNModulation (conditioning c -> 6 modulation vectors per sample):
//   Shapes:   c: dc x B  ->  mod: (chunks * d) x B   (chunks = 6 in a DiT block)
//   Forward:  mod = W GELU(c) + b;  chunk i = rows [i d, (i+1) d) (PyTorch's chunk(6, -1)):
//             (gamma1, beta1, alpha1, gamma2, beta2, alpha2)
//   Backward: dg = W^T dmod;  dc = dg * GELU'(c);  dW += dmod GELU(c)^T;  db += rowsum(dmod).
//             Reads its cached copies of c and GELU(c) (c is small: the caller may free it).
//   Params:   nn.Sequential(GELU(), Linear(dc, chunks d)) names "1.weight", "1.bias".
//             Init: PyTorch's default Linear init (no zero init).
//
// ModulatedLayerNorm (LayerNorm, optionally affine, then per-sample scale and shift):
//   Shapes:   x: d x (B n), gamma, beta: d x B  ->  y: d x (B n)
//   Forward:  xhat = (x - mean) / sqrt(var + eps) per column (biased var, eps 1e-5),
//             ln = w * xhat + v  (w, v: the LayerNorm's own weight and bias; w = 1, v = 0
//             when affine = false),   y_j = gamma_b * ln_j + beta_b.
//             Evaluated as y_j = A_b * xhat_j + C_b with A_b = gamma_b w, C_b = gamma_b v + beta_b.
//   Backward: with Sx_b = sum_{j in b} dy_j xhat_j and Sd_b = sum_{j in b} dy_j:
//             dgamma_b = w Sx_b + v Sd_b,  dbeta_b = Sd_b,
//             dw += sum_b gamma_b Sx_b,  dv += sum_b gamma_b Sd_b,
//             g = A_b dy_j,  dx_j = rstd_j (g - mean(g) - xhat_j mean(g xhat_j)).
//             Reads xhat, rstd and a copy of gamma from the cache (keeps no view of its inputs).
//   Params:   "weight" (d) init 1, "bias" (d) init 0 when affine (as nn.LayerNorm(d)).
//
// Gated residual (free functions):  y_j = x_j + alpha_b * f_j;
//   backward: dx = dy (the caller adds it), df_j = alpha_b dy_j, dalpha_b = sum_{j in b} dy_j f_j.
#pragma once
#include <cmath>
#include <string>

#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/activations.hpp"
#include "symflow/nn/linear.hpp"

namespace symflow::nn {

namespace detail {
/// Checks that x has B n columns for a d x B per-sample matrix with B = cols / n.
inline Index samplesOf(Index tokenCols, Index n, const char* who) {
  if (n <= 0) throw Error(std::string(who) + ": tokens per sample must be positive");
  if (tokenCols % n != 0) throw Error(std::string(who) + ": " + std::to_string(tokenCols) +
                                  " token columns are not a multiple of " + std::to_string(n) +
                                  " tokens per sample");
  return tokenCols / n;
}
}  // namespace detail

template <class S>
class AdaLNModulation {
 public:
  struct Cache {
    Mat<S> c;   // a copy of the conditioning (dc x B)
    Mat<S> gc;  // GELU(c), the Linear's input
    typename Linear<S>::Cache lin;
    mutable Mat<S> dgc;  // backward scratch
  };

  AdaLNModulation() = default;
  /// condDim = dc, d = model width; the output has chunks * d rows.
  AdaLNModulation(Index condDim, Index d, Index chunks = 6)
      : d_(d), chunks_(chunks), lin_(condDim, chunks * d) {
    if (!(d > 0 && chunks > 0)) throw Error("AdaLNModulation: sizes must be positive");
  }
  Index condDim() const { return lin_.inFeatures(); }
  Index width() const { return d_; }
  Index chunks() const { return chunks_; }
  Index numParams() const { return lin_.numParams(); }
  void bind(ParamCursor<S>& c) { lin_.bind(c); }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    lin_.visitParams(joinName(prefix, "1"), f);
  }
  void init(Rng& rng) { lin_.init(rng); }
  S penalty() const { return S(0); }
  const Linear<S>& linear() const { return lin_; }

  void forward(const CMatRef<S>& c, Mat<S>& mod, Cache& k) const {
    if (c.rows() != condDim()) throw Error("AdaLNModulation: conditioning has " +
                                       std::to_string(c.rows()) + " rows, expected " +
                                       std::to_string(condDim()));
    k.c = c;
    k.gc.resize(c.rows(), c.cols());
    geluForward(k.c.data(), k.gc.data(), k.c.size());
    lin_.forward(k.gc, mod, k.lin);
  }
  /// Writes dc (dc x B) from dmod ((chunks d) x B); adds into the Linear's gradients.
  void backward(const Cache& k, const CMatRef<S>& dmod, Mat<S>& dc) const {
    if (!(dmod.rows() == chunks_ * d_ && dmod.cols() == k.gc.cols()))
      throw Error("AdaLNModulation: gradient shape mismatch");
    lin_.backward(k.lin, dmod, k.dgc);
    dc.resize(k.c.rows(), k.c.cols());
    geluBackward(k.c.data(), k.dgc.data(), dc.data(), dc.size());
  }

 private:
  Index d_ = 0, chunks_ = 6;
  Linear<S> lin_;
};

template <class S>
class ModulatedLayerNorm {
 public:
  struct Cache {
    Mat<S> xhat;  // d x (B n)
    Vec<S> rstd;  // B n
    Mat<S> scale, shift;  // A = gamma w, C = gamma v + beta (d x B)
    Mat<S> gamma;         // a copy of gamma (d x B)
    Index n = 0;
    mutable Mat<S> sx, sd;  // backward scratch: per-sample sums (d x B)
  };

  ModulatedLayerNorm() = default;
  explicit ModulatedLayerNorm(Index d, bool affine = true, double eps = 1e-5)
      : d_(d), affine_(affine), eps_(eps) {
    if (d <= 0) throw Error("ModulatedLayerNorm: size must be positive");
  }
  Index size() const { return d_; }
  bool affine() const { return affine_; }
  Index numParams() const { return affine_ ? 2 * d_ : 0; }
  void bind(ParamCursor<S>& c) {
    if (!affine_) return;
    w_ = c.take(d_);
    v_ = c.take(d_);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    if (!affine_) return;
    f(TensorRef<S>{joinName(prefix, "weight"), {d_}, w_.w, w_.g, true});
    f(TensorRef<S>{joinName(prefix, "bias"), {d_}, v_.w, v_.g, true});
  }
  void init(Rng&) {
    if (!affine_) return;
    w_.wvec().setOnes();
    v_.wvec().setZero();
  }
  S penalty() const { return S(0); }

  /// x: d x (B n); gamma, beta: d x B (e.g. row blocks of the modulation matrix).
  void forward(const CMatRef<S>& x, const CMatRef<S>& gamma, const CMatRef<S>& beta, Index n,
               Mat<S>& y, Cache& k) const {
    const Index B = detail::samplesOf(x.cols(), n, "ModulatedLayerNorm");
    if (x.rows() != d_) throw Error("ModulatedLayerNorm: input has " + std::to_string(x.rows()) +
                                " rows, expected " + std::to_string(d_));
    if (!(gamma.rows() == d_ && gamma.cols() == B && beta.rows() == d_ && beta.cols() == B))
      throw Error("ModulatedLayerNorm: gamma and beta must be d x B (one column per sample)");
    const Index N = x.cols();
    k.n = n;
    k.gamma = gamma;
    k.xhat.resize(d_, N);
    k.rstd.resize(N);
    k.scale.resize(d_, B);
    k.shift.resize(d_, B);
    if (affine_) {
      k.scale = gamma.array().colwise() * w_.wvec().array();
      k.shift = (gamma.array().colwise() * v_.wvec().array()) + beta.array();
    } else {
      k.scale = gamma;
      k.shift = beta;
    }
    y.resize(d_, N);
    const S invd = S(1) / S(d_);
    const S eps = S(eps_);
    parallelRanges(N, itemsPerThread(4 * d_), [&](Index lo, Index hi) {
      for (Index j = lo; j < hi; ++j) {
        const Index b = j / n;
        const auto xc = x.col(j);
        const S mu = xc.sum() * invd;
        auto xh = k.xhat.col(j);
        xh.array() = xc.array() - mu;
        const S rstd = S(1) / std::sqrt(xh.squaredNorm() * invd + eps);
        k.rstd[j] = rstd;
        xh *= rstd;
        y.col(j).array() = k.scale.col(b).array() * xh.array() + k.shift.col(b).array();
      }
    });
  }

  /// Writes dx = (addend, when given) + the input gradient, so a residual branch's gradient
  /// is summed in the same pass (addend may be dx itself, or dy); writes dgamma and dbeta
  /// (d x B; may be row blocks of a larger matrix); adds into the LayerNorm's own gradients.
  void backward(const Cache& k, const CMatRef<S>& dy, Mat<S>& dx, MatRef<S> dgamma,
                MatRef<S> dbeta, const CMatRef<S>* addend = nullptr) const {
    const Index N = k.xhat.cols(), B = k.scale.cols(), n = k.n;
    if (!(dy.rows() == d_ && dy.cols() == N)) throw Error("ModulatedLayerNorm: gradient shape mismatch");
    if (!(dgamma.rows() == d_ && dgamma.cols() == B && dbeta.rows() == d_ && dbeta.cols() == B))
      throw Error("ModulatedLayerNorm: dgamma and dbeta must be d x B");
    if (!(!addend || (addend->rows() == d_ && addend->cols() == N)))
      throw Error("ModulatedLayerNorm: addend has the wrong shape");
    if (!addend || addend->data() != dx.data()) dx.resize(d_, N);
    k.sx.resize(d_, B);
    k.sd.resize(d_, B);
    const S invd = S(1) / S(d_);
    parallelRanges(B, itemsPerThread(6 * n * d_), [&](Index lo, Index hi) {
      for (Index b = lo; b < hi; ++b) {
        auto sx = k.sx.col(b);
        auto sd = k.sd.col(b);
        sx.setZero();
        sd.setZero();
        const auto A = k.scale.col(b);
        for (Index j = b * n; j < (b + 1) * n; ++j) {
          const auto g = dy.col(j);
          const auto xh = k.xhat.col(j);
          sx.array() += g.array() * xh.array();
          sd += g;
          // dxhat = A dy, then the LayerNorm backward of one column.
          const S mg = A.dot(g) * invd;
          const S mgx = (A.array() * g.array() * xh.array()).sum() * invd;
          const S r = k.rstd[j];
          if (addend)
            dx.col(j).array() =
                addend->col(j).array() + r * (A.array() * g.array() - mg - xh.array() * mgx);
          else
            dx.col(j).array() = r * (A.array() * g.array() - mg - xh.array() * mgx);
        }
        if (affine_) {
          dgamma.col(b).array() = w_.wvec().array() * sx.array() + v_.wvec().array() * sd.array();
        } else {
          dgamma.col(b) = sx;
        }
        dbeta.col(b) = sd;
      }
    });
    if (affine_) {
      w_.gvec() += (k.gamma.array() * k.sx.array()).rowwise().sum().matrix();
      v_.gvec() += (k.gamma.array() * k.sd.array()).rowwise().sum().matrix();
    }
  }

 private:
  Index d_ = 0;
  bool affine_ = true;
  double eps_ = 1e-5;
  ParamSlot<S> w_, v_;
};

/// y_j = x_j + alpha_b f_j (x, f, y: d x (B n); alpha: d x B). y may alias x.
template <class S>
void gatedResidualForward(const CMatRef<S>& x, const CMatRef<S>& f, const CMatRef<S>& alpha,
                          Index n, MatRef<S> y) {
  const Index B = detail::samplesOf(x.cols(), n, "gatedResidual");
  if (!(f.rows() == x.rows() && f.cols() == x.cols() && alpha.rows() == x.rows() &&
              alpha.cols() == B && y.rows() == x.rows() && y.cols() == x.cols())) throw Error("gatedResidual: shape mismatch");
  parallelRanges(x.cols(), itemsPerThread(2 * x.rows()), [&](Index lo, Index hi) {
    for (Index j = lo; j < hi; ++j)
      y.col(j).array() = x.col(j).array() + alpha.col(j / n).array() * f.col(j).array();
  });
}

/// df_j = alpha_b dy_j;  dalpha_b = sum_{j in b} dy_j f_j  (the residual's dx = dy is the
/// caller's). dalpha may be a row block of a larger matrix.
template <class S>
void gatedResidualBackward(const CMatRef<S>& dy, const CMatRef<S>& f, const CMatRef<S>& alpha,
                           Index n, Mat<S>& df, MatRef<S> dalpha) {
  const Index B = detail::samplesOf(dy.cols(), n, "gatedResidual");
  if (!(f.rows() == dy.rows() && f.cols() == dy.cols() && alpha.rows() == dy.rows() &&
              alpha.cols() == B && dalpha.rows() == dy.rows() && dalpha.cols() == B)) throw Error("gatedResidual: shape mismatch");
  df.resize(dy.rows(), dy.cols());
  parallelRanges(B, itemsPerThread(3 * n * dy.rows()), [&](Index lo, Index hi) {
    for (Index b = lo; b < hi; ++b) {
      auto da = dalpha.col(b);
      da.setZero();
      for (Index j = b * n; j < (b + 1) * n; ++j) {
        da.array() += dy.col(j).array() * f.col(j).array();
        df.col(j).array() = alpha.col(b).array() * dy.col(j).array();
      }
    }
  });
}

}  // namespace symflow::nn
