// symflow/core/types.hpp - Eigen aliases and the library's error type.
//
// Data layout convention (used by every layer): a batch of token sets is a d x (B*n)
// column-major matrix, one token per column, the n tokens of one sample contiguous.
// A flat batch of vectors is d x B (one sample per column).
#pragma once
#include <Eigen/Core>
#include <stdexcept>
#include <string>

namespace symflow {

using Index = Eigen::Index;

template <class S> using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S> using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <class S> using RowVec = Eigen::Matrix<S, 1, Eigen::Dynamic>;
/// Read-only input argument: binds a Mat, a column block or a Map without copying.
template <class S> using CMatRef = Eigen::Ref<const Mat<S>>;
template <class S> using MatRef = Eigen::Ref<Mat<S>>;
template <class S> using MatMap = Eigen::Map<Mat<S>>;
template <class S> using CMatMap = Eigen::Map<const Mat<S>>;
template <class S> using VecMap = Eigen::Map<Vec<S>>;
template <class S> using CVecMap = Eigen::Map<const Vec<S>>;

/// Every error symflow reports (bad shapes, bad files, bad arguments) is an Error
/// whose what() names the problem.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Throws Error(msg) when cond is false. Used for argument and shape checks that stay on
/// in release builds (they are cheap: once per call, never per element).
inline void require(bool cond, const std::string& msg) {
  if (!cond) throw Error(msg);
}

/// A non-owning view of a layer's input, kept in a layer's cache between forward and
/// backward. Contract: the matrix passed to forward() must stay alive and unchanged until
/// the matching backward() has run (composite layers keep their intermediates in their own
/// caches, so only the outermost input is the caller's responsibility).
template <class S>
struct InputView {
  const S* data = nullptr;
  Index rows = 0, cols = 0, stride = 0;
  InputView() = default;
  explicit InputView(const CMatRef<S>& x)
      : data(x.data()), rows(x.rows()), cols(x.cols()), stride(x.outerStride()) {}
  Eigen::Map<const Mat<S>, 0, Eigen::OuterStride<>> map() const {
    return {data, rows, cols, Eigen::OuterStride<>(stride)};
  }
};

}  // namespace symflow
