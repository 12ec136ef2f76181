// symflow/flow/coupling.hpp - minibatch optimal-transport coupling.
//
// Given a batch of noise x0 and data x1 (both P x B), find the permutation pi of the noise
// columns minimizing sum_j cost(x0_{pi(j)}, x1_j) with an exact linear-assignment solver
// (core/assignment.hpp), then reorder x0 so that column j of the result is paired with data
// column j. The data side (and its conditioning) keeps its order; only noise moves, so the
// coupling is independent of the path and of the conditioning.
//
// Cost: squared Euclidean distance by default (the W2 plan, as torchcfm's OT sampler), or
// plain Euclidean (OtCost::Euclidean). The B x B cost matrix is formed with one GEMM:
//   C(i, j) = |x0_i|^2 + |x1_j|^2 - 2 x0_i . x1_j     (clamped at 0).
// IdentityCoupling leaves the pairing as drawn (independent coupling, for comparison).
#pragma once
#include <cmath>
#include <vector>

#include "symflow/core/assignment.hpp"
#include "symflow/core/gemm.hpp"
#include "symflow/core/types.hpp"

namespace symflow::flow {

enum class OtCost { SquaredEuclidean, Euclidean };

template <class S>
class OtCoupling {
 public:
  explicit OtCoupling(OtCost cost = OtCost::SquaredEuclidean) : costKind_(cost) {}

  /// Reorders the columns of x0 in place; returns the source column of each new column.
  const std::vector<Index>& couple(Mat<S>& x0, const CMatRef<S>& x1) {
    if (!(x0.rows() == x1.rows() && x0.cols() == x1.cols()))
      throw Error("OtCoupling: x0 and x1 shapes differ");
    const Index b = x0.cols();
    n0_ = x0.colwise().squaredNorm().transpose();
    n1_ = x1.colwise().squaredNorm();
    cost_.resize(b, b);
    // serial, no allocation, always float32: ||x||^2 + ||y||^2 - 2 x.y cancels (core/gemm.hpp)
    gemm(cost_, x0.transpose(), x1, false, GemmUse::fp32);
    for (Index j = 0; j < b; ++j)
      cost_.col(j) = ((S(-2) * cost_.col(j)).array() + n0_.array() + n1_[j]).cwiseMax(S(0)).matrix();
    if (costKind_ == OtCost::Euclidean) cost_ = cost_.cwiseSqrt();
    solver_.solve(cost_, plan_);
    source_.resize(size_t(b));
    for (Index j = 0; j < b; ++j) source_[size_t(j)] = plan_.rowOfCol[size_t(j)];
    tmp_.resize(x0.rows(), b);
    for (Index j = 0; j < b; ++j) tmp_.col(j) = x0.col(source_[size_t(j)]);
    x0.swap(tmp_);
    return source_;
  }
  /// Total cost of the last plan (sum over pairs).
  double lastCost() const { return plan_.cost; }
  /// Cost of the identity pairing of the last call's input (for diagnostics).
  double identityCost() const { return double(cost_.diagonal().sum()); }

 private:
  OtCost costKind_;
  AssignmentSolver<S> solver_;
  Assignment plan_;
  Mat<S> cost_, tmp_;
  Vec<S> n0_;
  RowVec<S> n1_;
  std::vector<Index> source_;
};

struct IdentityCoupling {
  template <class S> void couple(Mat<S>&, const CMatRef<S>&) {}
};

}  // namespace symflow::flow
