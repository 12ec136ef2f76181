// symflow/audio/dtw.hpp - dynamic time warping with the "symmetric2" step pattern.
//
// Frame costs:  a: d x n, b: d x m (one frame per column)  ->  cost: n x m,
//   cost(i, j) = mean_k |a(k, i) - b(k, j)|  (meanAbsCost; the wMFCC frame cost).
// Accumulation (symmetric2, no window; R dtw's default, Sakoe-Chiba's symmetric form):
//   D(0, 0) = d(0, 0)
//   D(i, j) = min( D(i-1, j-1) + 2 d(i, j),   diagonal step, weight 2
//                  D(i-1, j)   +   d(i, j),   vertical step, weight 1
//                  D(i, j-1)   +   d(i, j) )  horizontal step, weight 1
//   (terms with a negative index are absent). Every path from (0,0) to (n-1,m-1) then has
//   total weight n + m - 1 counted with d(0,0) once; the normalized distance is
//   D(n-1, m-1) / (n + m)  (as R dtw's normalizedDistance for symmetric2).
// Memory O(m) (two rows of D); time O(n m).
#pragma once
#include <algorithm>
#include <limits>
#include <string>

#include "symflow/core/types.hpp"

namespace symflow::audio {

/// cost(i, j) = mean over the d rows of |a(:, i) - b(:, j)|.
template <class S>
void meanAbsCost(const CMatRef<S>& a, const CMatRef<S>& b, Mat<S>& cost) {
  require(a.rows() == b.rows(), "meanAbsCost: frames have " + std::to_string(a.rows()) + " and " +
                                    std::to_string(b.rows()) + " features");
  require(a.rows() > 0 && a.cols() > 0 && b.cols() > 0, "meanAbsCost: empty sequence");
  cost.resize(a.cols(), b.cols());
  const S inv = S(1) / S(a.rows());
  for (Index i = 0; i < a.cols(); ++i)
    cost.row(i) = (b.colwise() - a.col(i)).cwiseAbs().colwise().sum() * inv;
}

/// Accumulated symmetric2 cost D(n-1, m-1) of an n x m cost matrix (unnormalized).
template <class S> double dtwSymmetric2Cost(const CMatRef<S>& cost) {
  const Index n = cost.rows(), m = cost.cols();
  require(n > 0 && m > 0, "dtw: empty cost matrix");
  Vec<double> prev(m), cur(m);
  const double inf = std::numeric_limits<double>::infinity();
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < m; ++j) {
      const double d = double(cost(i, j));
      if (i == 0 && j == 0) {
        cur[0] = d;
        continue;
      }
      double best = inf;
      if (i > 0 && j > 0) best = prev[j - 1] + 2.0 * d;
      if (i > 0) best = std::min(best, prev[j] + d);
      if (j > 0) best = std::min(best, cur[j - 1] + d);
      cur[j] = best;
    }
    std::swap(prev, cur);
  }
  return prev[m - 1];
}

/// Normalized symmetric2 DTW distance: D(n-1, m-1) / (n + m).
template <class S> double dtwSymmetric2(const CMatRef<S>& cost) {
  return dtwSymmetric2Cost<S>(cost) / double(cost.rows() + cost.cols());
}

/// Normalized symmetric2 DTW between two feature sequences (d x n and d x m) with the
/// mean-absolute frame cost.
template <class S> double dtwMeanAbs(const CMatRef<S>& a, const CMatRef<S>& b) {
  Mat<S> cost;
  meanAbsCost<S>(a, b, cost);
  return dtwSymmetric2<S>(cost);
}

}  // namespace symflow::audio
