// symflow/flow/guidance.hpp - classifier-free guidance at inference.
//
//   v = (1 - w) v(x, t, null) + w v(x, t, c)           (w = 2.0 in the paper)
//
// Both halves are computed in ONE batched call of the model on 2B columns: the model
// callable  void(const Mat<S>& x2, S t, Mat<S>& v2)  sees x2 = [x, x] (P x 2B) and must use
// the null conditioning for columns [0, B) and the real conditioning for [B, 2B) (build
// that 2B conditioning batch once, outside the ODE loop). With w == 1 the unconditional half
// is skipped and the model is called on B columns with the real conditioning only, so the
// callable must then accept both widths: it receives hasNull() == false and x of B columns.
// (Training-time conditioning dropout lives with the null vector, nn/conditioning.hpp.)
#pragma once
#include "symflow/core/types.hpp"

namespace symflow::flow {

template <class S, class Model>
class GuidedVelocity {
 public:
  GuidedVelocity(Model model, S w) : model_(std::move(model)), w_(w) {}
  /// True when the model is called on [x, x] with [null, c] conditioning.
  bool hasNull() const { return w_ != S(1); }
  S weight() const { return w_; }

  void operator()(const Mat<S>& x, S t, Mat<S>& v) {
    if (!hasNull()) {
      model_(x, t, v);
      return;
    }
    const Index b = x.cols();
    x2_.resize(x.rows(), 2 * b);
    x2_.leftCols(b) = x;
    x2_.rightCols(b) = x;
    model_(x2_, t, v2_);
    if (!(v2_.rows() == x.rows() && v2_.cols() == 2 * b)) throw Error("GuidedVelocity: model output shape");
    v.resize(x.rows(), b);
    v.noalias() = (S(1) - w_) * v2_.leftCols(b) + w_ * v2_.rightCols(b);
  }

 private:
  Model model_;
  S w_;
  Mat<S> x2_, v2_;
};

template <class S, class Model> GuidedVelocity<S, Model> guided(Model model, S w) {
  return GuidedVelocity<S, Model>(std::move(model), w);
}

}  // namespace symflow::flow
