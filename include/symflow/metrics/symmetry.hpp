// symflow/metrics/symmetry.hpp - does a learned Param2Tok assignment respect a declared
// permutation symmetry of the synth? (docs/surge-model.md, "Symmetry score")
//
// Input: A, n tokens x P parameters (token t reads parameter p with weight A(t, p)), and a
//   symmetry: m blocks B_1..B_m of parameter indices, all of length L, where permuting the
//   blocks (position by position) leaves the sound unchanged (synth::Symmetry).
// An assignment respects the symmetry when permuting the blocks' columns of A can be undone by
//   permuting A's rows (tokens): then the model treats the blocks exactly alike and keeps them
//   apart. Two parts, each in [0, 1]:
//   separation   w(t, i) = sum_{p in B_i} |A(t, p)|;  s = sum_t max_i w(t, i) / sum_t sum_i w(t, i)
//                lies in [1/m, 1]: 1 when every token reads at most one block, 1/m when every
//                token reads all blocks equally (Param2Tok's near-invariant initialization);
//                rescaled: separation = (s - 1/m) / (1 - 1/m).
//   equivariance for each transposition (i j) of two blocks, A_ij = A with the columns of B_i and
//                B_j swapped position by position; the closest token permutation
//                pi = argmin sum_t |A(pi(t), .) - A_ij(t, .)|_1 (linear assignment, exact);
//                e_ij = 1 - cost(pi) / (2 sum |A|) (the cost is at most 2 sum |A|);
//                equivariance = the mean of e_ij over all pairs i < j.
//   score        separation x equivariance: 1.0 = perfectly (every token reads one block only,
//                and the blocks' tokens are mirror images of each other), 0 at the invariant
//                initialization (an invariant assignment is symmetric but cannot tell the
//                blocks apart, so it scores 0 on separation).
// An all-zero A (or all-zero on the blocks) scores 0.
#pragma once
#include <cmath>
#include <vector>

#include "symflow/core/assignment.hpp"
#include "symflow/core/types.hpp"
#include "symflow/synth/param_spec.hpp"

namespace symflow::metrics {

struct SymmetryScore {
  double separation = 0, equivariance = 0, score = 0;
};

inline SymmetryScore symmetryScore(const Mat<float>& A, const synth::Symmetry& sym) {
  const Index m = sym.order(), n = A.rows(), P = A.cols();
  require(m >= 2, "symmetryScore: a symmetry needs at least two blocks");
  const Index L = Index(sym.blocks[0].size());
  for (const auto& b : sym.blocks) {
    require(Index(b.size()) == L, "symmetryScore: blocks of different lengths");
    for (Index p : b) require(p >= 0 && p < P, "symmetryScore: block index outside the assignment's columns");
  }
  SymmetryScore r;
  const Mat<double> Ad = A.cast<double>().cwiseAbs();
  double maxSum = 0, allSum = 0;
  for (Index t = 0; t < n; ++t) {
    double best = 0;
    for (const auto& b : sym.blocks) {
      double w = 0;
      for (Index p : b) w += Ad(t, p);
      best = std::max(best, w);
      allSum += w;
    }
    maxSum += best;
  }
  if (allSum <= 0) return r;
  const double s = maxSum / allSum, floor = 1.0 / double(m);
  r.separation = std::clamp((s - floor) / (1.0 - floor), 0.0, 1.0);

  const Mat<double> Av = A.cast<double>();
  const double total = Ad.sum();
  double eq = 0;
  int pairs = 0;
  Mat<double> swapped, cost(n, n);
  for (Index i = 0; i < m; ++i)
    for (Index j = i + 1; j < m; ++j) {
      swapped = Av;
      for (Index q = 0; q < L; ++q) {
        swapped.col(sym.blocks[size_t(i)][size_t(q)]) = Av.col(sym.blocks[size_t(j)][size_t(q)]);
        swapped.col(sym.blocks[size_t(j)][size_t(q)]) = Av.col(sym.blocks[size_t(i)][size_t(q)]);
      }
      for (Index t = 0; t < n; ++t)
        for (Index u = 0; u < n; ++u) cost(t, u) = (swapped.row(t) - Av.row(u)).cwiseAbs().sum();
      const Assignment match = linearSumAssignment(cost);
      eq += 1.0 - match.cost / (2.0 * total);
      ++pairs;
    }
  r.equivariance = std::clamp(eq / double(pairs), 0.0, 1.0);
  r.score = r.separation * r.equivariance;
  return r;
}

}  // namespace symflow::metrics
