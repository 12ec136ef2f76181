// symflow/metrics/token_groups.hpp - the groups a learned k-osc Param2Tok assignment implies
// (`symflow inspect`, and the grouping columns of the training log; tests/test_cli_inspect.cpp).
//
// A is n x P (tokens x flat k-osc parameters, P = 3k, parameter-major layout: oscillator i is
// rows i, k+i, 2k+i). The rules:
//   reads(t, p)   token t reads parameter p  <=>  |A(t, p)| >= threshold * max_q |A(t, q)|
//                 and that maximum is > 0 (row-relative; a zero row reads nothing)
//   ownToken[i]   the first token that reads all three parameters of oscillator i and no
//                 parameter of another oscillator; -1 when there is none
// At the near-invariant init every entry of A is about equal, so every token reads every
// parameter and no oscillator has a token of its own; the k-osc symmetry is "discovered" when
// every oscillator has one.
//
// kOscGrouping(A, k): the numbers the trainer logs while a cnf-param2tok model learns:
//   own          ownToken count at threshold 0.1 (0..k; k = the oscillator grouping found)
//   separation,  metrics::symmetryScore of A with the oscillator blocks {f_i, a_i, w_i}
//   equivariance (symmetry.hpp): the graded purity in [0, 1] of the grouping (1 = every token
//   score        reads one oscillator only and the oscillators' tokens mirror each other; 0 at the
//                near-invariant init). The same blocks are scored in the asymmetric variant, where
//                they are no symmetry but still the grouping a good tokenizer would find.
//                k = 1: own counts, the graded parts are 1 when the token reads the oscillator.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "symflow/core/types.hpp"
#include "symflow/metrics/symmetry.hpp"
#include "symflow/synth/kosc.hpp"

namespace symflow::metrics {

struct TokenGroups {
  std::vector<std::vector<bool>> reads;  // n x P
  std::vector<Index> ownToken;           // k entries: token of oscillator i alone, or -1
  Index numOwn() const {
    Index c = 0;
    for (Index t : ownToken) c += t >= 0;
    return c;
  }
};

inline TokenGroups tokenGroups(const Mat<float>& A, Index k, double threshold) {
  require(threshold > 0 && threshold <= 1, "token groups: threshold must be in (0, 1]");
  require(k > 0 && A.cols() == 3 * k, "token groups: the assignment has " + std::to_string(A.cols()) +
                                          " columns, expected 3k = " + std::to_string(3 * k));
  const Index n = A.rows(), P = A.cols();
  TokenGroups g;
  g.reads.assign(size_t(n), std::vector<bool>(size_t(P), false));
  for (Index t = 0; t < n; ++t) {
    const double rowMax = n > 0 && P > 0 ? double(A.row(t).cwiseAbs().maxCoeff()) : 0.0;
    for (Index p = 0; p < P; ++p)
      g.reads[size_t(t)][size_t(p)] = rowMax > 0 && std::abs(double(A(t, p))) >= threshold * rowMax;
  }
  const synth::KOscLayout layout(k);
  g.ownToken.assign(size_t(k), -1);
  for (Index i = 0; i < k; ++i) {
    for (Index t = 0; t < n && g.ownToken[size_t(i)] < 0; ++t) {
      bool alone = true;
      for (Index p = 0; p < P && alone; ++p)
        alone = g.reads[size_t(t)][size_t(p)] == (layout.oscillatorOf(p) == i);
      if (alone) g.ownToken[size_t(i)] = t;
    }
  }
  return g;
}

struct KOscGrouping {
  Index own = 0;  // oscillators with a token of their own (threshold 0.1)
  double separation = 0, equivariance = 0, score = 0;
};

inline KOscGrouping kOscGrouping(const Mat<float>& A, Index k) {
  KOscGrouping g;
  g.own = tokenGroups(A, k, 0.1).numOwn();
  if (k < 2) {
    g.separation = g.equivariance = g.score = A.cwiseAbs().sum() > 0 ? 1.0 : 0.0;
    return g;
  }
  const synth::KOscLayout layout(k);
  synth::Symmetry oscs{"oscillators", {}};
  for (Index i = 0; i < k; ++i)
    oscs.blocks.push_back({layout.frequencyIndex(i), layout.amplitudeIndex(i), layout.shapeIndex(i)});
  const SymmetryScore s = symmetryScore(A, oscs);
  g.separation = s.separation;
  g.equivariance = s.equivariance;
  g.score = s.score;
  return g;
}

}  // namespace symflow::metrics
