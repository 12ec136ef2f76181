// token_groups.hpp - the groups a learned Param2Tok assignment implies (used by `symflow inspect`,
// tested in tests/test_cli_token_groups.cpp).
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
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "symflow/core/types.hpp"
#include "symflow/synth/kosc.hpp"

namespace symflow::cli {

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

}  // namespace symflow::cli
