// symflow/nn/band_standardizer.hpp - per-mel-band standardization of spectrograms with
// statistics measured on training sounds (fixed buffers, not trained).
//
// Layout:   x: (M K) x B, one sound per column, row r belonging to band r % M (the spectrogram
//           layout of patch_embed.hpp: M bands of frame 0, then frame 1, ...; K frames).
// Forward:  y[r, b] = (x[r, b] - mean[m]) * rstd[m],  m = r % M,  rstd = 1 / sqrt(var + eps)
//           (eps 1e-5 by default: a band that is constant on the training set, e.g. one pinned
//           at a dB floor, maps to ~0 instead of dividing by zero).
// Backward: dx = dy * rstd[m] (the statistics are constants). Reads nothing from the input.
// Statistics: BandStatistics accumulates, over any number of batches of training
//           spectrograms, each band's mean and biased variance over every (sound, frame)
//           value of that band (Chan's parallel merge in double: no cancellation however many
//           frames); setStatistics() copies them into the standardizer. Until then the
//           standardizer keeps mean 0, var 1, count 0 (y = x / sqrt(1 + eps), ~identity).
// Buffers:  "mean" (M), "var" (M), "count" (shape {}, the number of values per band that the
//           statistics were measured on; 0 = not measured): non-trainable, visited with
//           grad == nullptr and trainable == false like BatchNorm's running statistics, so
//           they are saved in and loaded from the model file. No trainable parameters.
//           init() leaves the statistics alone (they are data, measured before or after the
//           weights are initialized); resetStatistics() restores mean 0, var 1, count 0.
#pragma once
#include <cmath>
#include <string>

#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::nn {

/// Running per-band mean and biased variance (double), merged batch by batch.
class BandStatistics {
 public:
  BandStatistics() = default;
  explicit BandStatistics(Index bands) : mean_(Vec<double>::Zero(bands)), m2_(Vec<double>::Zero(bands)) {
    require(bands > 0, "BandStatistics: band count must be positive");
  }
  Index bands() const { return mean_.size(); }
  /// Values seen per band.
  double count() const { return count_; }
  const Vec<double>& mean() const { return mean_; }
  /// Biased variance (over all values seen); zero before any data.
  Vec<double> variance() const {
    return count_ > 0 ? Vec<double>(m2_ / count_) : Vec<double>(Vec<double>::Zero(bands()));
  }

  /// Adds a batch x: (M K) x B (row r is band r % M).
  template <class Derived> void add(const Eigen::MatrixBase<Derived>& x) {
    const Index M = bands();
    require(M > 0, "BandStatistics: no bands (default-constructed)");
    require(x.rows() % M == 0, "BandStatistics: " + std::to_string(x.rows()) +
                                   " rows are not a multiple of " + std::to_string(M) + " bands");
    const Index K = x.rows() / M, B = x.cols();
    if (K * B == 0) return;
    const double n = double(K * B);
    Vec<double> bm = Vec<double>::Zero(M), bm2 = Vec<double>::Zero(M);
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < K; ++k)
        for (Index m = 0; m < M; ++m) bm[m] += double(x(k * M + m, b));
    bm /= n;
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < K; ++k)
        for (Index m = 0; m < M; ++m) {
          const double d = double(x(k * M + m, b)) - bm[m];
          bm2[m] += d * d;
        }
    const double total = count_ + n;
    for (Index m = 0; m < M; ++m) {  // Chan: merge (count_, mean_, m2_) with (n, bm, bm2)
      const double d = bm[m] - mean_[m];
      mean_[m] += d * n / total;
      m2_[m] += bm2[m] + d * d * count_ * n / total;
    }
    count_ = total;
  }

 private:
  Vec<double> mean_, m2_;
  double count_ = 0;
};

template <class S>
class BandStandardizer {
 public:
  struct Cache {
    Index rows = 0, cols = 0;
  };

  BandStandardizer() = default;
  explicit BandStandardizer(Index bands, double eps = 1e-5) : eps_(eps) {
    require(bands > 0, "BandStandardizer: band count must be positive");
    require(eps > 0, "BandStandardizer: eps must be positive");
    mean_.resize(bands);
    var_.resize(bands);
    resetStatistics();
  }

  Index bands() const { return mean_.size(); }
  double eps() const { return eps_; }
  Index numParams() const { return 0; }
  void bind(ParamCursor<S>&) {}
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    f(TensorRef<S>{joinName(prefix, "mean"), {bands()}, mean_.data(), nullptr, false});
    f(TensorRef<S>{joinName(prefix, "var"), {bands()}, var_.data(), nullptr, false});
    f(TensorRef<S>{joinName(prefix, "count"), {}, &count_, nullptr, false});
  }
  void init(Rng&) {}
  S penalty() const { return S(0); }

  /// Not measured: mean 0, var 1, count 0.
  void resetStatistics() {
    mean_.setZero();
    var_.setOnes();
    count_ = S(0);
  }
  void setStatistics(const BandStatistics& st) {
    require(st.bands() == bands(), "BandStandardizer: statistics have " + std::to_string(st.bands()) +
                                       " bands, expected " + std::to_string(bands()));
    require(st.count() > 0, "BandStandardizer: statistics measured on no data");
    mean_ = st.mean().cast<S>();
    var_ = st.variance().cast<S>();
    count_ = S(st.count());
  }
  const Vec<S>& mean() const { return mean_; }
  const Vec<S>& var() const { return var_; }
  S count() const { return count_; }
  bool measured() const { return count_ > S(0); }
  /// 1 / sqrt(var + eps) per band.
  Vec<S> rstd() const {
    Vec<S> r(bands());
    for (Index m = 0; m < bands(); ++m) r[m] = S(1.0 / std::sqrt(double(var_[m]) + eps_));
    return r;
  }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    const Index M = bands();
    require(M > 0 && x.rows() % M == 0, "BandStandardizer: " + std::to_string(x.rows()) +
                                            " rows are not a multiple of " + std::to_string(M) + " bands");
    const Index K = x.rows() / M;
    const Vec<S> r = rstd();
    y.resize(x.rows(), x.cols());
    parallelRanges(x.cols(), itemsPerThread(x.rows()), [&](Index lo, Index hi) {
      for (Index b = lo; b < hi; ++b)
        for (Index k = 0; k < K; ++k)
          y.col(b).segment(k * M, M).array() = (x.col(b).segment(k * M, M) - mean_).array() * r.array();
    });
    c.rows = x.rows();
    c.cols = x.cols();
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    require(c.rows > 0 && dy.rows() == c.rows && dy.cols() == c.cols, "BandStandardizer: gradient shape mismatch");
    const Index M = bands(), K = dy.rows() / M;
    const Vec<S> r = rstd();
    dx.resize(dy.rows(), dy.cols());
    for (Index b = 0; b < dy.cols(); ++b)
      for (Index k = 0; k < K; ++k) dx.col(b).segment(k * M, M) = dy.col(b).segment(k * M, M).cwiseProduct(r);
  }

 private:
  double eps_ = 1e-5;
  Vec<S> mean_, var_;
  S count_ = S(0);
};

}  // namespace symflow::nn
