// symflow/metrics/coupling.hpp - which parameters a trained flow couples: the mean absolute
// Jacobian of its vector field, and the k-osc oscillators that coupling pairs up
// (`symflow inspect --coupling N`; tests/test_metrics_coupling.cpp).
//
// velocityCoupling(v, x1, times, rng):
//   C(p, q) = mean over sounds b and times t of |dv_p / dx_q| at x_t = (1 - t) x0 + t x1,
//   x0 ~ N(0, I) (the training path of paper.md, one x0 per t), by central differences with
//   step eps. v(xt, t, out) evaluates the conditional vector field for the sounds of x1's
//   columns (KOscModel::velocityField). 2 P evaluations per time.
//   Why: a flow must couple the parameters whose posterior values depend on each other (in
//   k-osc, an oscillator's amplitude and shape follow the spectral peak its frequency heads
//   for), whatever tokens its tokenizer made. Measured on k = 4 models, C shows the oscillator
//   grouping long before (and even when never) Param2Tok's assignment does (docs/results.md).
//
// kOscCouplingMatch(C, k): the pairing itself; kOscRegroupedAssignment(A, C, k): A re-formed
//   from it (token t reads f_t and its matched amplitude and shape; `symflow train --p2t-regroup`).
// kOscCouplingPairs(C, k): the symmetrized coupling S = C + C^T between parameter types:
//   each frequency f_i is matched to one amplitude and one shape by maximum total coupling
//   (kOscCouplingMatch: the amplitude by f_i, the shape by f_i and that amplitude together;
//   before session 8 the shape by f_i alone); `amplitude`/`shape` count the matches to oscillator i's own,
//   `oscillators` those where both are; `ratio` = mean S over pairs of different types of one
//   oscillator / mean S over pairs of different types of different oscillators (1: no grouping
//   in the coupling; k = 1: ratio 0, nothing to compare).
#pragma once
#include <cmath>
#include <vector>

#include "symflow/core/assignment.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::metrics {

template <class VelocityFn>
Mat<double> velocityCoupling(VelocityFn&& v, const Mat<float>& x1, const std::vector<float>& times, Rng& rng,
                             float eps = 1e-2f) {
  const Index P = x1.rows(), B = x1.cols();
  require(P > 0 && B > 0, "velocity coupling: no parameters or no sounds");
  require(!times.empty(), "velocity coupling: no times");
  require(eps > 0, "velocity coupling: eps must be positive");
  Mat<double> C = Mat<double>::Zero(P, P);
  Mat<float> x0(P, B), xt, xp, vp, vm;
  for (float t : times) {
    require(t >= 0 && t <= 1, "velocity coupling: times must be in [0, 1]");
    rng.fillNormal(x0.data(), x0.data() + x0.size());
    xt = (1 - t) * x0 + t * x1;
    for (Index q = 0; q < P; ++q) {
      xp = xt;
      xp.row(q).array() += eps;
      v(xp, t, vp);
      xp.row(q).array() -= 2 * eps;
      v(xp, t, vm);
      require(vp.rows() == P && vp.cols() == B && vm.rows() == P && vm.cols() == B,
              "velocity coupling: the vector field returned the wrong shape");
      C.col(q) += (vp - vm).cast<double>().cwiseAbs().rowwise().sum() /
                  (2.0 * double(eps) * double(B) * double(times.size()));
    }
  }
  return C;
}

/// The k-osc pairing the coupling implies: amplitude[i] / shape[i] = the oscillator whose
/// amplitude / shape is matched to frequency f_i. S = C + C^T. Amplitudes: linear assignment on
/// -S(f_i, a_j). Shapes, jointly with that pair: linear assignment on -(S(f_i, s_l) +
/// S(a_amplitude[i], s_l)); a shape couples to its oscillator's frequency and amplitude alike,
/// and the frequency alone swaps shapes where that coupling is weak (the asymmetric variant at
/// 3,000 steps, docs/results.md), the joint rule does not.
struct KOscCouplingMatch {
  std::vector<Index> amplitude, shape;
};

inline KOscCouplingMatch kOscCouplingMatch(const Mat<double>& C, Index k) {
  require(k > 0 && C.rows() == 3 * k && C.cols() == 3 * k,
          "coupling pairs: the coupling matrix is not 3k x 3k for k = " + std::to_string(k));
  const Mat<double> S = C + C.transpose();
  KOscCouplingMatch m;
  Mat<double> cost(k, k);
  for (Index i = 0; i < k; ++i)
    for (Index j = 0; j < k; ++j) cost(i, j) = -S(i, k + j);
  m.amplitude = linearSumAssignment(cost).colOfRow;
  for (Index i = 0; i < k; ++i)
    for (Index l = 0; l < k; ++l) cost(i, l) = -(S(i, 2 * k + l) + S(k + m.amplitude[size_t(i)], 2 * k + l));
  m.shape = linearSumAssignment(cost).colOfRow;
  return m;
}

/// A (n x 3k, n >= k) regrouped from the coupling (scripts/p2t_regroup.py, `--p2t-regroup`):
/// token t < k reads f_t, the amplitude and the shape matched to f_t, each with weight
/// sum|A| / P (the old mass spread over the read entries); every other entry is 0.
inline Mat<float> kOscRegroupedAssignment(const Mat<float>& A, const Mat<double>& C, Index k) {
  require(A.cols() == 3 * k && A.rows() >= k, "regroup: the assignment is " + std::to_string(A.rows()) + " x " +
                                                  std::to_string(A.cols()) + ", need 3k columns and >= k rows");
  const auto m = kOscCouplingMatch(C, k);
  const float w = float(double(A.cwiseAbs().sum()) / double(A.cols()));
  Mat<float> B = Mat<float>::Zero(A.rows(), A.cols());
  for (Index t = 0; t < k; ++t) {
    B(t, t) = w;
    B(t, k + m.amplitude[size_t(t)]) = w;
    B(t, 2 * k + m.shape[size_t(t)]) = w;
  }
  return B;
}

struct KOscCouplingPairs {
  Index amplitude = 0, shape = 0, oscillators = 0;  // of k
  double ratio = 0;
};

inline KOscCouplingPairs kOscCouplingPairs(const Mat<double>& C, Index k) {
  require(k > 0 && C.rows() == 3 * k && C.cols() == 3 * k,
          "coupling pairs: the coupling matrix is not 3k x 3k for k = " + std::to_string(k));
  const Mat<double> S = C + C.transpose();
  KOscCouplingPairs r;
  double same = 0, other = 0;
  Index nSame = 0, nOther = 0;
  for (Index p = 0; p < 3 * k; ++p)
    for (Index q = 0; q < 3 * k; ++q) {
      if (p / k == q / k) continue;  // the same parameter type (parameter-major layout)
      if (p % k == q % k) { same += S(p, q); ++nSame; }
      else { other += S(p, q); ++nOther; }
    }
  r.ratio = nOther > 0 && other > 0 ? (same / double(nSame)) / (other / double(nOther)) : 0.0;
  const auto match = kOscCouplingMatch(C, k);
  for (Index i = 0; i < k; ++i) {
    const bool a = match.amplitude[size_t(i)] == i, w = match.shape[size_t(i)] == i;
    r.amplitude += a;
    r.shape += w;
    r.oscillators += a && w;
  }
  return r;
}

}  // namespace symflow::metrics
