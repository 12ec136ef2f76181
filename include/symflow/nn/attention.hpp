// symflow/nn/attention.hpp - multi-head self-attention over the tokens of each sample.
//
// No positional encoding and no mask, so the layer is equivariant to any permutation of the
// tokens within a sample; samples never mix.
//
// Shapes:   x: d x (B n) (the n tokens of sample b are columns [b n, (b+1) n))  ->  y: d x (B n)
//           h heads of width e = d / h (h must divide d).
// Forward:  [q; k; v] = W_in x + b_in                   (3d x (B n), ONE GEMM for the batch)
//           per sample b and head a, with Q, K, V the e x n blocks of rows [a e, (a+1) e):
//             S = (K^T Q) / sqrt(e)                       (n x n; column i = query i's scores)
//             P = column-wise softmax(S)                  (max subtracted first: stable)
//             O = V P                                     (e x n; rows [a e, (a+1) e) of o)
//           y = W_out o + b_out                           (one GEMM)
//           PyTorch's nn.MultiheadAttention(d, h, batch_first=True)(x, x, x) on the (B, n, d)
//           tensor whose memory is x.
// Backward: do = W_out^T dy;  dW_out += dy o^T;  db_out += rowsum(dy);  per sample and head:
//             dV = dO P^T;  dP = V^T dO;  dS_ji = P_ji (dP_ji - sum_k P_ki dP_ki)  (softmax);
//             dQ = K dS / sqrt(e);  dK = Q dS^T / sqrt(e);
//           dx = W_in^T d[q; k; v];  dW_in += d[q; k; v] x^T;  db_in += rowsum(d[q; k; v]).
//           Reads the cached view of x (x must stay alive until backward), q/k/v, P and o.
// Params:   "in_proj_weight" (3d, d), "in_proj_bias" (3d), "out_proj.weight" (d, d),
//           "out_proj.bias" (d) - PyTorch's names, shapes and order.
//           Init as PyTorch: xavier_uniform on in_proj_weight, zero in_proj_bias and
//           out_proj.bias, default Linear init (U(+-1/sqrt(d))) on out_proj.weight.
// The per-sample products are small (n is 4..48); samples are spread over the OpenMP threads,
// and the projections split their token columns over the threads (core/gemm.hpp).
#pragma once
#include <cmath>
#include <string>

#include "symflow/core/gemm.hpp"
#include "symflow/core/init.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/linear.hpp"

namespace symflow::nn {

template <class S>
class MultiheadAttention {
 public:
  struct Cache {
    InputView<S> x;
    Index n = 0;
    Mat<S> qkv;    // 3d x (B n): rows [0, d) q, [d, 2d) k, [2d, 3d) v
    Mat<S> probs;  // n x (B h n): block of (sample b, head a) = columns [(b h + a) n, +n)
    Mat<S> heads;  // d x (B n): concatenated head outputs o (the output projection's input)
    typename Linear<S>::Cache out;
    mutable Mat<S> dheads, dqkv, gradScratch;  // backward scratch, reused across calls
    mutable std::vector<Mat<S>> threadScores;  // backward: one n x n scratch per thread
  };

  MultiheadAttention() = default;
  MultiheadAttention(Index d, Index heads) : d_(d), heads_(heads), out_(d, d) {
    if (!(d > 0 && heads > 0)) throw Error("MultiheadAttention: sizes must be positive");
    if (d % heads != 0) throw Error("MultiheadAttention: " + std::to_string(heads) +
                                " heads do not divide width " + std::to_string(d));
  }
  Index width() const { return d_; }
  Index numHeads() const { return heads_; }
  Index headDim() const { return d_ / heads_; }
  Index numParams() const { return 3 * d_ * d_ + 3 * d_ + out_.numParams(); }
  void bind(ParamCursor<S>& c) {
    inW_ = c.take(3 * d_ * d_);
    inB_ = c.take(3 * d_);
    out_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    f(TensorRef<S>{joinName(prefix, "in_proj_weight"), {3 * d_, d_}, inW_.w, inW_.g, true});
    f(TensorRef<S>{joinName(prefix, "in_proj_bias"), {3 * d_}, inB_.w, inB_.g, true});
    out_.visitParams(joinName(prefix, "out_proj"), f);
  }
  void init(Rng& rng) {
    init::xavierUniform(inW_.w, inW_.size, d_, 3 * d_, rng);
    inB_.wvec().setZero();
    out_.init(rng);
    out_.bias().setZero();
  }
  S penalty() const { return S(0); }

  /// W_in^T as a d x 3d column-major view (its memory is PyTorch's (3d, d) in_proj_weight).
  MatMap<S> inWeightT() const { return inW_.wmat(d_, 3 * d_); }
  MatMap<S> inWeightTGrad() const { return inW_.gmat(d_, 3 * d_); }
  VecMap<S> inBias() const { return inB_.wvec(); }
  VecMap<S> inBiasGrad() const { return inB_.gvec(); }
  const Linear<S>& outProj() const { return out_; }

  /// x: d x (B n), n tokens per sample.
  void forward(const CMatRef<S>& x, Index n, Mat<S>& y, Cache& c) const {
    if (x.rows() != d_) throw Error("MultiheadAttention: input has " + std::to_string(x.rows()) +
                                " rows, expected " + std::to_string(d_));
    if (!(n > 0 && x.cols() % n == 0)) throw Error("MultiheadAttention: " + std::to_string(x.cols()) +
                " token columns are not a positive multiple of n = " + std::to_string(n));
    const Index N = x.cols(), B = N / n, H = heads_, d = d_;
    const S scale = S(1) / std::sqrt(S(headDim()));
    c.x = InputView<S>(x);
    c.n = n;
    c.qkv.resize(3 * d, N);
    affineOverTokens<S>(c.qkv, inWeightT().transpose(), inB_.w, x);
    c.probs.resize(n, B * H * n);
    c.heads.resize(d, N);
    if (n <= kLazyMaxTokens)
      headsForward<true>(c, B, scale);
    else
      headsForward<false>(c, B, scale);
    out_.forward(c.heads, y, c.out);
  }

  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    if (c.n <= 0) throw Error("MultiheadAttention: backward without a forward on this cache");
    if (!(dy.rows() == d_ && dy.cols() == c.heads.cols()))
      throw Error("MultiheadAttention: gradient shape mismatch");
    const Index N = dy.cols(), B = N / c.n, e = headDim(), d = d_;
    const S scale = S(1) / std::sqrt(S(e));
    out_.backward(c.out, dy, c.dheads);
    c.dqkv.resize(3 * d, N);
    if (c.n <= kLazyMaxTokens)
      headsBackward<true>(c, B, scale);
    else
      headsBackward<false>(c, B, scale);
    addGradientOverTokens<S>(inWeightTGrad(), inB_.g, c.x.map(), c.dqkv, c.gradScratch);
    dx.resize(d, N);
    productOverTokens(dx, inWeightT(), c.dqkv);
  }

 private:
  // Up to this many tokens per sample the per-head products are evaluated coefficient-wise
  // (Eigen's lazyProduct: no packing); above it Eigen's blocked GEMM is faster (measured with
  // bench_nn at d 128, 4 heads: lazy wins by ~10% at n = 4..16, loses by ~8% at n = 32).
  static constexpr Index kLazyMaxTokens = 16;

  template <bool Lazy, class Dst, class L, class R>
  static void product(Dst&& dst, const L& lhs, const R& rhs) {
    if constexpr (Lazy)
      dst.noalias() = lhs.lazyProduct(rhs);
    else
      dst.noalias() = lhs * rhs;
  }

  /// Scores, softmax and weighted values of every (sample, head), samples spread over threads.
  template <bool Lazy> void headsForward(Cache& c, Index B, S scale) const {
    const Index n = c.n, H = heads_, e = headDim(), d = d_;
    parallelRanges(B, itemsPerThread(2 * n * n * d_), [&](Index lo, Index hi) {
      for (Index b = lo; b < hi; ++b) {
        for (Index a = 0; a < H; ++a) {
          const auto Q = c.qkv.block(a * e, b * n, e, n);
          const auto K = c.qkv.block(d + a * e, b * n, e, n);
          const auto V = c.qkv.block(2 * d + a * e, b * n, e, n);
          auto P = c.probs.middleCols((b * H + a) * n, n);
          product<Lazy>(P, K.transpose(), Q);  // unscaled scores K^T Q
          for (Index i = 0; i < n; ++i) {       // P = softmax(scale K^T Q), column-wise
            auto p = P.col(i);
            p.array() = ((p.array() - p.maxCoeff()) * scale).exp();
            p *= S(1) / p.sum();
          }
          product<Lazy>(c.heads.block(a * e, b * n, e, n), V, P);
        }
      }
    });
  }

  template <bool Lazy> void headsBackward(const Cache& c, Index B, S scale) const {
    const Index n = c.n, H = heads_, e = headDim(), d = d_;
    reserveThreadScratch(c.threadScores);
    parallelRanges(B, itemsPerThread(2 * n * n * d_), [&](Index lo, Index hi) {
      Mat<S>& dP = threadScratch(c.threadScores, n, n);
      for (Index b = lo; b < hi; ++b) {
        for (Index a = 0; a < H; ++a) {
          const auto Q = c.qkv.block(a * e, b * n, e, n);
          const auto K = c.qkv.block(d + a * e, b * n, e, n);
          const auto V = c.qkv.block(2 * d + a * e, b * n, e, n);
          const auto P = c.probs.middleCols((b * H + a) * n, n);
          const auto dO = c.dheads.block(a * e, b * n, e, n);
          product<Lazy>(c.dqkv.block(2 * d + a * e, b * n, e, n), dO, P.transpose());  // dV
          product<Lazy>(dP, V.transpose(), dO);
          for (Index i = 0; i < n; ++i) {  // softmax backward, times the score scale
            const S dot = P.col(i).dot(dP.col(i));
            dP.col(i).array() = scale * P.col(i).array() * (dP.col(i).array() - dot);
          }
          product<Lazy>(c.dqkv.block(a * e, b * n, e, n), K, dP);                 // dQ
          product<Lazy>(c.dqkv.block(d + a * e, b * n, e, n), Q, dP.transpose());  // dK
        }
      }
    });
  }

  Index d_ = 0, heads_ = 1;
  ParamSlot<S> inW_, inB_;
  Linear<S> out_;
};

}  // namespace symflow::nn
