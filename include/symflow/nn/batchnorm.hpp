// symflow/nn/batchnorm.hpp - batch normalization over channels (PyTorch nn.BatchNorm1d).
//
// Shapes:   x: C x N  ->  y: C x N. One row per channel; the N columns are every (sample,
//           position) of the batch (the Conv1d layout C x (B*L), or C x B for flat vectors),
//           so the statistics run over batch and length together, as in PyTorch.
// Forward:  training mode: mu_c = mean_n x[c, n], var_c = mean_n (x[c, n] - mu_c)^2 (biased),
//           eval mode: mu = running_mean, var = running_var;
//           rstd = 1 / sqrt(var + eps), xhat = (x - mu) rstd, y = gamma xhat + beta  (eps 1e-5).
// Backward: training mode (mu and var depend on x), per channel with g = gamma rstd:
//             dx = g (dy - mean_n(dy) - xhat mean_n(dy xhat));
//           eval mode: dx = g dy;
//           both: dgamma += sum_n(dy xhat), dbeta += sum_n(dy).
//           Reads the cached input view (x must stay alive until backward) and the cached
//           mu / rstd; xhat is recomputed, not stored.
// Mode:     set on the layer: setTraining(true) (the default, as in PyTorch) or false (eval).
//           forward() is const and never changes the layer: in training mode it leaves the
//           batch mean and UNBIASED variance var * N / (N - 1) in the cache, and
//           updateRunningStats(cache) applies PyTorch's update with momentum m = 0.1:
//             running_mean = (1 - m) running_mean + m mu,
//             running_var  = (1 - m) running_var  + m var_unbiased,  num_batches_tracked += 1.
//           A training step calls it once after forward (composites forward the call to every
//           BatchNorm they contain), so one layer can serve several threads' forwards.
// Params:   "weight" (C) = gamma, init 1; "bias" (C) = beta, init 0 (trainable, flat buffers).
// Buffers:  "running_mean" (C) init 0, "running_var" (C) init 1, "num_batches_tracked" (shape
//           {}, a count kept as a Scalar; PyTorch stores int64): non-trainable, visited with
//           grad == nullptr and trainable == false, stored in the layer object.
// Kernels:  the C x N data is walked linearly (a non-contiguous input is first copied into the
//           cache): element k of a run of columns belongs to channel k % C, so per-channel
//           scale / shift / mean vectors are replicated to P = lcm(C, SIMD width) numbers and
//           every loop runs on whole SIMD packets (xsimd), whatever C is. Per-channel sums
//           are taken per block of columns that stays in L1 (in Scalar), the blocks merged in
//           double (Chan's formula for the variance: one pass over x, no cancellation).
//           Thread ranges of columns run in parallel (OpenMP); a reused cache never allocates.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <xsimd/xsimd.hpp>

#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::nn {

namespace detail {

/// Per-channel loops over a contiguous run of columns of a C x N column-major matrix, with
/// per-channel vectors given as patterns of length P (a multiple of C and of the SIMD width):
/// element k of the run uses pattern entry k % P. len (elements) need not be a multiple of P.
template <class S>
struct ChannelPattern {
  using B = xsimd::batch<S>;
  static constexpr Index W = Index(B::size);

  static Index length(Index C) {
    Index a = C, b = W;
    while (b) {
      const Index t = a % b;
      a = b;
      b = t;
    }
    return C / a * W;
  }
  /// out[0..P) = v[k % C]
  static void replicate(const S* v, Index C, Index P, S* out) {
    for (Index k = 0; k < P; ++k) out[k] = v[k % C];
  }
  /// out[i] = sum over r of acc[r C + i] (P / C copies)
  static void fold(const S* acc, Index C, Index P, S* out) {
    for (Index i = 0; i < C; ++i) out[i] = acc[i];
    for (Index r = 1; r < P / C; ++r)
      for (Index i = 0; i < C; ++i) out[i] += acc[r * C + i];
  }
  /// acc += x
  static void sum(const S* x, Index len, Index P, S* acc) {
    Index k = 0;
    for (; k + P <= len; k += P)
      for (Index q = 0; q < P; q += W)
        (B::load_unaligned(acc + q) + B::load_unaligned(x + k + q)).store_unaligned(acc + q);
    for (Index q = 0; k + q < len; ++q) acc[q] += x[k + q];
  }
  /// acc += (x - m)^2
  static void sqdev(const S* x, Index len, Index P, const S* m, S* acc) {
    Index k = 0;
    for (; k + P <= len; k += P)
      for (Index q = 0; q < P; q += W) {
        const B d = B::load_unaligned(x + k + q) - B::load_unaligned(m + q);
        xsimd::fma(d, d, B::load_unaligned(acc + q)).store_unaligned(acc + q);
      }
    for (Index q = 0; k + q < len; ++q) acc[q] += (x[k + q] - m[q]) * (x[k + q] - m[q]);
  }
  /// acc1 += dy, acc2 += dy (x - m)
  static void sumProd(const S* dy, const S* x, Index len, Index P, const S* m, S* acc1, S* acc2) {
    Index k = 0;
    for (; k + P <= len; k += P)
      for (Index q = 0; q < P; q += W) {
        const B g = B::load_unaligned(dy + k + q);
        (B::load_unaligned(acc1 + q) + g).store_unaligned(acc1 + q);
        xsimd::fma(g, B::load_unaligned(x + k + q) - B::load_unaligned(m + q), B::load_unaligned(acc2 + q))
            .store_unaligned(acc2 + q);
      }
    for (Index q = 0; k + q < len; ++q) {
      acc1[q] += dy[k + q];
      acc2[q] += dy[k + q] * (x[k + q] - m[q]);
    }
  }
  /// y = x a + c
  static void affine(const S* x, Index len, Index P, const S* a, const S* c, S* y) {
    Index k = 0;
    for (; k + P <= len; k += P)
      for (Index q = 0; q < P; q += W)
        xsimd::fma(B::load_unaligned(x + k + q), B::load_unaligned(a + q), B::load_unaligned(c + q))
            .store_unaligned(y + k + q);
    for (Index q = 0; k + q < len; ++q) y[k + q] = x[k + q] * a[q] + c[q];
  }
  /// y = u a + v b + c
  static void affine2(const S* u, const S* v, Index len, Index P, const S* a, const S* b, const S* c, S* y) {
    Index k = 0;
    for (; k + P <= len; k += P)
      for (Index q = 0; q < P; q += W)
        xsimd::fma(B::load_unaligned(u + k + q), B::load_unaligned(a + q),
                   xsimd::fma(B::load_unaligned(v + k + q), B::load_unaligned(b + q), B::load_unaligned(c + q)))
            .store_unaligned(y + k + q);
    for (Index q = 0; k + q < len; ++q) y[k + q] = u[k + q] * a[q] + v[k + q] * b[q] + c[q];
  }
};

}  // namespace detail

template <class S>
class BatchNorm1d {
  using Pattern = detail::ChannelPattern<S>;

 public:
  struct Cache {
    InputView<S> x;
    bool training = true;
    Vec<S> mean, rstd;    // statistics used to normalize
    Vec<S> varUnbiased;   // batch variance * N / (N - 1) (training mode), for the running update
    Mat<S> xcopy;         // contiguous copy of a strided input (else unused)
    // Scratch, kept so that a reused cache does not allocate: patterns (P x 3), per-range
    // accumulators (P x 2 per range), per-range block results (C x 2 per range) and totals
    // in double (C x 2 per range).
    mutable Mat<S> pat, acc, blk;
    mutable Mat<double> tot;
    mutable Mat<S> dycopy;
    mutable Vec<S> varScratch;  // backward: per-channel a, b, c0
  };

  BatchNorm1d() = default;
  explicit BatchNorm1d(Index channels, double eps = 1e-5, double momentum = 0.1)
      : c_(channels), eps_(eps), momentum_(momentum) {
    if (channels <= 0) throw Error("BatchNorm1d: channel count must be positive");
    if (eps <= 0) throw Error("BatchNorm1d: eps must be positive");
    if (!(momentum >= 0 && momentum <= 1)) throw Error("BatchNorm1d: momentum must be in [0, 1]");
    runningMean_.setZero(channels);
    runningVar_.setOnes(channels);
  }

  Index channels() const { return c_; }
  void setTraining(bool training) { training_ = training; }
  bool training() const { return training_; }

  Index numParams() const { return 2 * c_; }
  void bind(ParamCursor<S>& c) {
    gamma_ = c.take(c_);
    beta_ = c.take(c_);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    f(TensorRef<S>{joinName(prefix, "weight"), {c_}, gamma_.w, gamma_.g, true});
    f(TensorRef<S>{joinName(prefix, "bias"), {c_}, beta_.w, beta_.g, true});
    f(TensorRef<S>{joinName(prefix, "running_mean"), {c_}, runningMean_.data(), nullptr, false});
    f(TensorRef<S>{joinName(prefix, "running_var"), {c_}, runningVar_.data(), nullptr, false});
    f(TensorRef<S>{joinName(prefix, "num_batches_tracked"), {}, &numBatchesTracked_, nullptr, false});
  }
  /// gamma = 1, beta = 0 and fresh running statistics (mean 0, var 1, count 0).
  void init(Rng&) {
    gamma_.wvec().setOnes();
    beta_.wvec().setZero();
    resetRunningStats();
  }
  void resetRunningStats() {
    runningMean_.setZero(c_);
    runningVar_.setOnes(c_);
    numBatchesTracked_ = S(0);
  }
  S penalty() const { return S(0); }

  VecMap<S> weight() const { return gamma_.wvec(); }
  VecMap<S> bias() const { return beta_.wvec(); }
  Vec<S>& runningMean() { return runningMean_; }
  const Vec<S>& runningMean() const { return runningMean_; }
  Vec<S>& runningVar() { return runningVar_; }
  const Vec<S>& runningVar() const { return runningVar_; }
  S numBatchesTracked() const { return numBatchesTracked_; }

  void forward(const CMatRef<S>& xin, Mat<S>& y, Cache& c) const {
    if (xin.rows() != c_) throw Error("BatchNorm1d: input has " + std::to_string(xin.rows()) +
                                  " channels (rows), expected " + std::to_string(c_));
    const Index N = xin.cols();
    if (xin.outerStride() == xin.rows()) {
      c.x = InputView<S>(xin);
    } else {
      c.xcopy = xin;
      c.x = InputView<S>(c.xcopy);
    }
    c.training = training_;
    c.mean.resize(c_);
    c.rstd.resize(c_);
    c.varUnbiased.resize(c_);
    const Index P = Pattern::length(c_);
    c.pat.resize(P, 3);
    if (training_) {
      if (N <= 1) throw Error("BatchNorm1d: training mode needs more than one value per channel");
      batchStatistics(c);
    } else {
      c.mean = runningMean_;
      for (Index i = 0; i < c_; ++i) c.rstd[i] = S(1.0 / std::sqrt(double(runningVar_[i]) + eps_));
      c.varUnbiased.setZero();
    }
    // y = x scale + shift, scale = gamma rstd, shift = beta - mu scale (patterns in pat)
    for (Index k = 0; k < P; ++k) {
      const Index i = k % c_;
      const S scale = gamma_.w[i] * c.rstd[i];
      c.pat(k, 0) = scale;
      c.pat(k, 1) = beta_.w[i] - c.mean[i] * scale;
    }
    y.resize(c_, N);
    const S* x = c.x.data;
    parallelRanges(N, kMinColumnsPerThread, [&](Index j0, Index j1) {
      Pattern::affine(x + j0 * c_, (j1 - j0) * c_, P, c.pat.col(0).data(), c.pat.col(1).data(), y.data() + j0 * c_);
    });
  }

  void backward(const Cache& c, const CMatRef<S>& dyin, Mat<S>& dx) const {
    const Index N = c.x.cols;
    if (!(dyin.rows() == c_ && dyin.cols() == N)) throw Error("BatchNorm1d: gradient shape mismatch");
    const S* dy = dyin.data();
    if (dyin.outerStride() != dyin.rows()) {
      c.dycopy = dyin;
      dy = c.dycopy.data();
    }
    const S* x = c.x.data;
    const Index P = Pattern::length(c_), R = numRanges(N), nb = blockColumns();
    c.pat.resize(P, 3);
    Pattern::replicate(c.mean.data(), c_, P, c.pat.col(2).data());  // mean pattern
    // Per channel: sum(dy) and sum(dy (x - mu)), one pass over dy and x.
    c.acc.resize(P, 2 * R);
    c.blk.resize(c_, 2 * R);
    c.tot.setZero(c_, 2 * R);
    parallelRanges(R, 1, [&](Index t0, Index t1) {
      for (Index t = t0; t < t1; ++t) {
        const Index j0 = N * t / R, j1 = N * (t + 1) / R;
        S* a1 = c.acc.col(2 * t).data();
        S* a2 = c.acc.col(2 * t + 1).data();
        for (Index jb = j0; jb < j1; jb += nb) {
          const Index len = std::min(nb, j1 - jb) * c_;
          std::fill(a1, a1 + P, S(0));
          std::fill(a2, a2 + P, S(0));
          Pattern::sumProd(dy + jb * c_, x + jb * c_, len, P, c.pat.col(2).data(), a1, a2);
          Pattern::fold(a1, c_, P, c.blk.col(2 * t).data());
          Pattern::fold(a2, c_, P, c.blk.col(2 * t + 1).data());
          c.tot.col(2 * t) += c.blk.col(2 * t).template cast<double>();
          c.tot.col(2 * t + 1) += c.blk.col(2 * t + 1).template cast<double>();
        }
      }
    });
    // dx = a dy + b x + c0 per channel (patterns in pat columns 0..2).
    Vec<S>& scratch = c.varScratch;
    scratch.resize(3 * c_);
    for (Index i = 0; i < c_; ++i) {
      double sumDy = 0, sumDyXc = 0;
      for (Index t = 0; t < R; ++t) {
        sumDy += c.tot(i, 2 * t);
        sumDyXc += c.tot(i, 2 * t + 1);
      }
      const double rstd = double(c.rstd[i]);
      const double sumDyXhat = sumDyXc * rstd;
      gamma_.g[i] += S(sumDyXhat);
      beta_.g[i] += S(sumDy);
      const double g = double(gamma_.w[i]) * rstd;
      if (c.training) {
        const double m1 = sumDy / double(N), m2 = sumDyXhat / double(N);
        scratch[i] = S(g);
        scratch[c_ + i] = S(-g * rstd * m2);
        scratch[2 * c_ + i] = S(-g * m1 + g * rstd * m2 * double(c.mean[i]));
      } else {
        scratch[i] = S(g);
        scratch[c_ + i] = S(0);
        scratch[2 * c_ + i] = S(0);
      }
    }
    for (Index j = 0; j < 3; ++j) Pattern::replicate(scratch.data() + j * c_, c_, P, c.pat.col(j).data());
    dx.resize(c_, N);
    parallelRanges(N, kMinColumnsPerThread, [&](Index j0, Index j1) {
      Pattern::affine2(dy + j0 * c_, x + j0 * c_, (j1 - j0) * c_, P, c.pat.col(0).data(), c.pat.col(1).data(),
                       c.pat.col(2).data(), dx.data() + j0 * c_);
    });
  }

  /// Momentum update of the running statistics from a training-mode forward's cache.
  void updateRunningStats(const Cache& c) {
    if (!(c.training && c.varUnbiased.size() == c_))
      throw Error("BatchNorm1d: updateRunningStats needs the cache of a training-mode forward");
    const S m = S(momentum_);
    runningMean_ = (S(1) - m) * runningMean_ + m * c.mean;
    runningVar_ = (S(1) - m) * runningVar_ + m * c.varUnbiased;
    numBatchesTracked_ += S(1);
  }

 private:
  static constexpr Index kBlockElements = 8192;        // a block of columns stays in L1
  static constexpr Index kMinColumnsPerThread = 4096;  // below this, one thread

  Index blockColumns() const { return std::max<Index>(1, kBlockElements / c_); }
  Index numRanges(Index N) const {
    return std::min<Index>(Index(std::max(1, availableThreads())), std::max<Index>(1, N / kMinColumnsPerThread));
  }

  /// Mean and biased variance per channel in one pass over x: per block of columns (in L1)
  /// the block mean and centred sum of squares in Scalar, merged across blocks and thread
  /// ranges in double with Chan's formula (n = na + nb, d = mean_b - mean_a:
  /// mean = mean_a + d nb / n, M2 = M2_a + M2_b + d^2 na nb / n). No cancellation.
  void batchStatistics(Cache& c) const {
    const S* x = c.x.data;
    const Index N = c.x.cols, P = Pattern::length(c_), R = numRanges(N), nb = blockColumns();
    c.acc.resize(P, 2 * R);     // per range: pattern sums, then the mean pattern
    c.blk.resize(c_, 2 * R);    // per range: block mean, block M2
    c.tot.setZero(c_, 2 * R);   // per range: running mean, running M2 (double)
    auto merge = [this](double na, double* meanA, double* m2A, double nbd, const auto& meanB, const auto& m2B) {
      const double n = na + nbd;
      for (Index i = 0; i < c_; ++i) {
        const double d = double(meanB[i]) - meanA[i];
        meanA[i] += d * nbd / n;
        m2A[i] += double(m2B[i]) + d * d * na * nbd / n;
      }
    };
    parallelRanges(R, 1, [&](Index t0, Index t1) {
      for (Index t = t0; t < t1; ++t) {
        const Index j0 = N * t / R, j1 = N * (t + 1) / R;
        S* acc = c.acc.col(2 * t).data();
        S* mpat = c.acc.col(2 * t + 1).data();
        S* bmean = c.blk.col(2 * t).data();
        S* bm2 = c.blk.col(2 * t + 1).data();
        double count = 0;
        for (Index jb = j0; jb < j1; jb += nb) {
          const Index n = std::min(nb, j1 - jb), len = n * c_;
          const S* xb = x + jb * c_;
          std::fill(acc, acc + P, S(0));
          Pattern::sum(xb, len, P, acc);
          Pattern::fold(acc, c_, P, bmean);
          for (Index i = 0; i < c_; ++i) bmean[i] /= S(n);
          Pattern::replicate(bmean, c_, P, mpat);
          std::fill(acc, acc + P, S(0));
          Pattern::sqdev(xb, len, P, mpat, acc);
          Pattern::fold(acc, c_, P, bm2);
          merge(count, c.tot.col(2 * t).data(), c.tot.col(2 * t + 1).data(), double(n), bmean, bm2);
          count += double(n);
        }
      }
    });
    for (Index t = 1; t < R; ++t) {
      const double na = double(N * t / R), nbd = double(N * (t + 1) / R - N * t / R);
      merge(na, c.tot.col(0).data(), c.tot.col(1).data(), nbd, c.tot.col(2 * t).data(), c.tot.col(2 * t + 1).data());
    }
    for (Index i = 0; i < c_; ++i) {
      const double m2 = c.tot(i, 1);
      c.mean[i] = S(c.tot(i, 0));
      c.rstd[i] = S(1.0 / std::sqrt(m2 / double(N) + eps_));
      c.varUnbiased[i] = S(m2 / double(N - 1));
    }
  }

  Index c_ = 0;
  double eps_ = 1e-5, momentum_ = 0.1;
  bool training_ = true;
  ParamSlot<S> gamma_, beta_;
  Vec<S> runningMean_, runningVar_;
  S numBatchesTracked_ = S(0);
};

}  // namespace symflow::nn
