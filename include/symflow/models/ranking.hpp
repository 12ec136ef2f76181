// symflow/models/ranking.hpp - best-of-N ranking shared by the tasks' inversions
// (kosc_inversion.hpp, surge_inversion.hpp).
//
// Input: B sounds x n candidates, column b n + j = candidate j of sound b: params P x (B n),
// their renderings L x (B n), distance to the sound (B n). Output: the same columns reordered
// within each sound by ascending distance (stable: ties keep the draw order), and each sound's
// first draw's distance (what one unranked sample gives).
#pragma once
#include <algorithm>
#include <numeric>
#include <vector>

#include "symflow/core/types.hpp"

namespace symflow::models {

struct RankedColumns {
  Mat<float> params, audio;
  Vec<double> distance;       // B n, ascending within each sound
  Vec<double> firstDistance;  // B
};

inline RankedColumns rankWithinSounds(const Mat<float>& params, const Mat<float>& audio, const Vec<double>& distance,
                                      Index B, Index n) {
  require(n >= 1 && params.cols() == B * n && audio.cols() == B * n && distance.size() == B * n,
          "rankWithinSounds: need B n columns of params, audio and distances");
  RankedColumns r;
  r.params.resize(params.rows(), B * n);
  r.audio.resize(audio.rows(), B * n);
  r.distance.resize(B * n);
  r.firstDistance.resize(B);
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index b = 0; b < B; ++b) {
    std::iota(order.begin(), order.end(), b * n);
    std::stable_sort(order.begin(), order.end(), [&](Index x, Index y) { return distance(x) < distance(y); });
    for (Index j = 0; j < n; ++j) {
      const Index c = order[std::size_t(j)];
      r.params.col(b * n + j) = params.col(c);
      r.audio.col(b * n + j) = audio.col(c);
      r.distance(b * n + j) = distance(c);
    }
    r.firstDistance(b) = distance(b * n);
  }
  return r;
}

}  // namespace symflow::models
