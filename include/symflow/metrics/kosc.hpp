// symflow/metrics/kosc.hpp - the k-osc metrics of the paper (paper.md "Exact definitions").
//
// Shapes: parameters 3k x B (flat k-osc layout, see synth/kosc.hpp), signals 1024 x B.
// Every function returns one value per sound (Vec<double> of length B); the reported metric
// is the mean over sounds (KOscScores::mean*). All arithmetic in double.
//
//   LSD:     X = rfft(x) / 1024 (513 bins), P = 10 log10(max(|X|^2, 1e-8));
//            lsd = sqrt(mean over bins (P_pred - P_true)^2). The prediction is the synth's
//            rendering of the predicted parameters (so they are clamped to [-1, 1]).
//   LAC:     C(i, j) = || pred row i - true row j ||_2 (Euclidean, NOT squared) between the
//            oscillator rows (f, a, w) of the token view, raw (unclamped) values;
//            lac = (1/k) * min over permutations pi of sum_i C(i, pi(i))  (exact assignment).
//   Chamfer: D(i, j) = || pred row i - true row j ||^2 (squared);
//            chamfer = mean_j min_i D(i, j) + mean_i min_j D(i, j).
//   MSE:     mean over the 3k entries of (pred - true)^2, no matching.
//
// LSD uses Eigen's unsupported FFT (kissfft) directly for now; to be switched to
// symflow/audio/fft.hpp when that lands.
#pragma once
#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <unsupported/Eigen/FFT>
#include <vector>

#include "symflow/core/assignment.hpp"
#include "symflow/core/types.hpp"
#include "symflow/synth/kosc.hpp"

namespace symflow::metrics {

/// Per-sound k-osc scores and their means over sounds.
struct KOscScores {
  Vec<double> lsd, lac, chamfer, paramMse;  // one entry per sound
  double meanLsd() const { return lsd.size() ? lsd.mean() : 0.0; }
  double meanLac() const { return lac.size() ? lac.mean() : 0.0; }
  double meanChamfer() const { return chamfer.size() ? chamfer.mean() : 0.0; }
  double meanParamMse() const { return paramMse.size() ? paramMse.mean() : 0.0; }
};

/// The dB power spectrum of the LSD: 513 x B, P = 10 log10(max(|rfft(x) / 1024|^2, 1e-8)).
template <class S> Mat<double> kOscLogPowerSpectrum(const CMatRef<S>& signals) {
  constexpr Index N = synth::KOscConstants::numSamples;
  constexpr Index bins = synth::KOscConstants::numSpectrumBins;
  require(signals.rows() == N, "k-osc LSD: signals must have 1024 rows");
  Eigen::FFT<double> fft;
  fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  std::vector<double> x(static_cast<size_t>(N));
  // Only the first `bins` entries are written (HalfSpectrum); sized N so that GCC's bounds
  // analysis of Eigen's full-spectrum branch stays quiet.
  std::vector<std::complex<double>> X(static_cast<size_t>(N));
  Mat<double> P(bins, signals.cols());
  for (Index b = 0; b < signals.cols(); ++b) {
    for (Index n = 0; n < N; ++n) x[size_t(n)] = double(signals(n, b));
    fft.fwd(X.data(), x.data(), N);
    for (Index q = 0; q < bins; ++q) {
      const double power = std::norm(X[size_t(q)]) / double(N * N);
      P(q, b) = 10.0 * std::log10(std::max(power, 1e-8));
    }
  }
  return P;
}

/// Log-spectral distance per sound between two batches of signals (1024 x B each).
template <class S>
Vec<double> lsdPerSound(const CMatRef<S>& predSignals, const CMatRef<S>& trueSignals) {
  require(predSignals.rows() == trueSignals.rows() && predSignals.cols() == trueSignals.cols(),
          "k-osc LSD: predicted and true signals differ in shape");
  const Mat<double> Pp = kOscLogPowerSpectrum<S>(predSignals);
  const Mat<double> Pt = kOscLogPowerSpectrum<S>(trueSignals);
  return ((Pp - Pt).array().square().colwise().mean().sqrt()).matrix().transpose();
}

namespace detail {
template <class S>
void checkParamShapes(const CMatRef<S>& pred, const CMatRef<S>& truth, Index k, const char* who) {
  require(k > 0, std::string(who) + ": k must be positive");
  require(pred.rows() == 3 * k && truth.rows() == 3 * k,
          std::string(who) + ": parameters must have 3k rows");
  require(pred.cols() == truth.cols(),
          std::string(who) + ": predicted and true batches differ in size");
}
/// D(i, j) = squared distance between oscillator row i of `pred` and row j of `truth`
/// (one sound, flat layout, column b).
template <class S>
void oscillatorDistances(const CMatRef<S>& pred, const CMatRef<S>& truth, Index b, Index k,
                         Mat<double>& D) {
  D.resize(k, k);
  for (Index j = 0; j < k; ++j)
    for (Index i = 0; i < k; ++i) {
      double s = 0;
      for (Index p = 0; p < 3; ++p) {
        const double d = double(pred(p * k + i, b)) - double(truth(p * k + j, b));
        s += d * d;
      }
      D(i, j) = s;
    }
}
}  // namespace detail

/// Linear assignment cost per sound: mean Euclidean distance of the best oscillator matching.
template <class S>
Vec<double> lacPerSound(const CMatRef<S>& pred, const CMatRef<S>& truth, Index k) {
  detail::checkParamShapes<S>(pred, truth, k, "k-osc LAC");
  Vec<double> out(pred.cols());
  Mat<double> D;
  AssignmentSolver<double> solver;
  Assignment a;
  for (Index b = 0; b < pred.cols(); ++b) {
    detail::oscillatorDistances<S>(pred, truth, b, k, D);
    D = D.cwiseSqrt();
    solver.solve(D, a);
    out(b) = a.cost / double(k);
  }
  return out;
}

/// Chamfer distance per sound (squared distances, both directions, each a mean over rows).
template <class S>
Vec<double> chamferPerSound(const CMatRef<S>& pred, const CMatRef<S>& truth, Index k) {
  detail::checkParamShapes<S>(pred, truth, k, "k-osc Chamfer");
  Vec<double> out(pred.cols());
  Mat<double> D;
  for (Index b = 0; b < pred.cols(); ++b) {
    detail::oscillatorDistances<S>(pred, truth, b, k, D);
    out(b) = D.colwise().minCoeff().mean() + D.rowwise().minCoeff().mean();
  }
  return out;
}

/// Plain parameter MSE per sound (no matching).
template <class S> Vec<double> paramMsePerSound(const CMatRef<S>& pred, const CMatRef<S>& truth) {
  require(pred.rows() == truth.rows() && pred.cols() == truth.cols(),
          "k-osc parameter MSE: predicted and true parameters differ in shape");
  return (pred.template cast<double>() - truth.template cast<double>())
      .array()
      .square()
      .colwise()
      .mean()
      .matrix()
      .transpose();
}

/// All four metrics. trueSignals must be the synth's rendering of trueParams (as the data
/// stream gives them); the predictions are rendered here with `synth`.
template <class S>
KOscScores evaluateKOsc(const synth::KOsc<S>& synth, const CMatRef<S>& predParams,
                        const CMatRef<S>& trueParams, const CMatRef<S>& trueSignals) {
  const Index k = synth.numOscillators();
  detail::checkParamShapes<S>(predParams, trueParams, k, "evaluateKOsc");
  require(trueSignals.cols() == trueParams.cols(),
          "evaluateKOsc: true signals and parameters differ in batch size");
  KOscScores s;
  const Mat<S> predSignals = synth.render(predParams);
  s.lsd = lsdPerSound<S>(predSignals, trueSignals);
  s.lac = lacPerSound<S>(predParams, trueParams, k);
  s.chamfer = chamferPerSound<S>(predParams, trueParams, k);
  s.paramMse = paramMsePerSound<S>(predParams, trueParams);
  return s;
}

}  // namespace symflow::metrics
