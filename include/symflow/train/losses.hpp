// symflow/train/losses.hpp - regression losses for the FFN baselines (with gradients).
//
// Predictions and targets are P x B (one parameter vector per column). Set-structured
// losses see each column as k rows ("oscillators") of m parameters through an index map:
// row i, slot s lives at flat index groupIndex[i * m + s] (k-osc's parameter-major layout:
// row i = (i, k + i, 2k + i), see parameterMajorIndex).
//
//   mseLoss:      L = mean over P*B entries of (pred - target)^2, dL/dpred = 2 (pred - target) / (P B)
//   chamferLoss:  per sample, with squared Euclidean row distances D_ij = |p_i - q_j|^2 (p
//                 predicted rows, q true rows):
//                   C = mean_j min_i D_ij + mean_i min_j D_ij
//                 L = mean over samples. Gradient: each min term sends 2 (p_i - q_j) / k to its
//                 arg-min predicted row (a subgradient at ties, which have measure zero).
#pragma once
#include <limits>
#include <vector>

#include "symflow/core/types.hpp"

namespace symflow::train {

/// Index map for a parameter-major layout of k rows of m parameters: [a_0..a_{k-1}, b_0..].
inline std::vector<Index> parameterMajorIndex(Index k, Index m) {
  std::vector<Index> idx(size_t(k * m));
  for (Index i = 0; i < k; ++i)
    for (Index s = 0; s < m; ++s) idx[size_t(i * m + s)] = s * k + i;
  return idx;
}

template <class S>
S mseLoss(const CMatRef<S>& pred, const CMatRef<S>& target, Mat<S>& dpred) {
  require(pred.rows() == target.rows() && pred.cols() == target.cols(), "mseLoss: shapes differ");
  const S inv = S(1) / S(pred.size());
  dpred = pred - target;
  const S loss = dpred.squaredNorm() * inv;
  dpred *= S(2) * inv;
  return loss;
}

template <class S>
S chamferLoss(const CMatRef<S>& pred, const CMatRef<S>& target, Index k, Index m,
              const std::vector<Index>& groupIndex, Mat<S>& dpred) {
  require(pred.rows() == target.rows() && pred.cols() == target.cols(), "chamferLoss: shapes differ");
  require(k > 0 && m > 0 && Index(groupIndex.size()) == k * m, "chamferLoss: bad group layout");
  for (Index f : groupIndex) require(f >= 0 && f < pred.rows(), "chamferLoss: group index out of range");
  const Index B = pred.cols();
  dpred.setZero(pred.rows(), B);
  Mat<S> D(k, k);  // D(i, j) = |p_i - q_j|^2
  double total = 0;
  const S w = S(2) / (S(k) * S(B));
  for (Index b = 0; b < B; ++b) {
    for (Index i = 0; i < k; ++i)
      for (Index j = 0; j < k; ++j) {
        S d = 0;
        for (Index s = 0; s < m; ++s) {
          const Index f = groupIndex[size_t(i * m + s)], g = groupIndex[size_t(j * m + s)];
          const S e = pred(f, b) - target(g, b);
          d += e * e;
        }
        D(i, j) = d;
      }
    auto addGrad = [&](Index i, Index j) {
      for (Index s = 0; s < m; ++s) {
        const Index f = groupIndex[size_t(i * m + s)], g = groupIndex[size_t(j * m + s)];
        dpred(f, b) += w * (pred(f, b) - target(g, b));
      }
    };
    double c = 0;
    for (Index j = 0; j < k; ++j) {  // each true row -> nearest predicted row
      Index best;
      c += double(D.col(j).minCoeff(&best));
      addGrad(best, j);
    }
    for (Index i = 0; i < k; ++i) {  // each predicted row -> nearest true row
      Index best;
      c += double(D.row(i).minCoeff(&best));
      addGrad(i, best);
    }
    total += c / double(k);
  }
  return S(total / double(B));
}

}  // namespace symflow::train
