// symflow/nn/pooling.hpp - permutation-invariant pooling over the tokens of each sample.
//
// Shapes:   x: d x (B*n)  ->  y: d x B    (n tokens per sample, passed to forward; tokens of a
//           sample contiguous)
// Forward:  Mean: y_b = (1/n) sum_j x_{b,j}
//           Sum:  y_b = sum_j x_{b,j}
//           Max:  y_b(r) = max_j x_{b,j}(r)   (per feature r; ties go to the first token)
//           Any within-sample permutation of the columns leaves y unchanged.
// Backward: Mean: dx_{b,j} = dy_b / n;  Sum: dx_{b,j} = dy_b;
//           Max:  dx_{b,j}(r) = dy_b(r) if j is the cached argmax of feature r, else 0.
//           Reads only the cached shape and n (and, for Max, the argmax indices); no parameters.
#pragma once
#include <string>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/deepsets.hpp"

namespace symflow::nn {

enum class PoolMode { Mean, Sum, Max };

inline const char* poolModeName(PoolMode m) {
  switch (m) {
    case PoolMode::Mean: return "mean";
    case PoolMode::Sum: return "sum";
    case PoolMode::Max: return "max";
  }
  return "?";
}

template <class S>
class SetPool {
 public:
  struct Cache {
    Index rows = 0, batch = 0, n = 1;
    Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic> argmax;  // d x B, Max mode only
  };

  SetPool() = default;
  explicit SetPool(PoolMode mode) : mode_(mode) {}
  PoolMode mode() const { return mode_; }
  Index numParams() const { return 0; }
  void bind(ParamCursor<S>&) {}
  template <class F> void visitParams(const std::string&, F&&) {}
  void init(Rng&) {}
  S penalty() const { return S(0); }

  /// x: d x (B n), n tokens per sample.
  void forward(const CMatRef<S>& x, Index n, Mat<S>& y, Cache& c) const {
    const Index B = setBatchSize(x.cols(), n, "SetPool");
    const Index d = x.rows();
    c.rows = d;
    c.batch = B;
    c.n = n;
    y.resize(d, B);
    if (mode_ != PoolMode::Max) {
      const S scale = mode_ == PoolMode::Mean ? S(1) / S(n) : S(1);
      for (Index b = 0; b < B; ++b) y.col(b) = x.middleCols(b * n, n).rowwise().sum() * scale;
      return;
    }
    c.argmax.setZero(d, B);
    for (Index b = 0; b < B; ++b) {
      auto yb = y.col(b);
      auto ib = c.argmax.col(b);
      yb = x.col(b * n);
      for (Index j = 1; j < n; ++j) {
        const auto xj = x.col(b * n + j);
        for (Index r = 0; r < d; ++r) {
          if (xj[r] > yb[r]) {
            yb[r] = xj[r];
            ib[r] = j;
          }
        }
      }
    }
  }

  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    require(dy.rows() == c.rows && dy.cols() == c.batch, "SetPool: gradient shape mismatch");
    const Index d = c.rows, B = c.batch, n = c.n;
    if (mode_ != PoolMode::Max) {
      dx.resize(d, B * n);
      const S scale = mode_ == PoolMode::Mean ? S(1) / S(n) : S(1);
      for (Index b = 0; b < B; ++b) dx.middleCols(b * n, n).colwise() = dy.col(b) * scale;
      return;
    }
    dx.setZero(d, B * n);
    for (Index b = 0; b < B; ++b)
      for (Index r = 0; r < d; ++r) dx(r, b * n + c.argmax(r, b)) = dy(r, b);
  }

 private:
  PoolMode mode_ = PoolMode::Mean;
};

}  // namespace symflow::nn
