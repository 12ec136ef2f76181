// symflow/flow/path.hpp - the rectified-flow probability path and the conditional
// flow-matching loss.
//
// Shapes: x0 (noise), x1 (data), xt, ut: P x B (one sample per column); t: B (one time per
// sample).
//   xt = (1 - t) x0 + t x1,    ut = x1 - x0   (the target velocity, independent of t)
//   CFM loss = mean over all P*B entries of (v - ut)^2     (PyTorch's F.mse_loss)
//   dLoss/dv = 2 (v - ut) / (P B)
// The model's own penalty (e.g. Param2Tok's L1 on A) is added by the caller: it is the
// model's penalty(), and its gradient is added by the model's backward.
#pragma once
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::flow {

template <class S>
struct PathSample {
  Mat<S> x0, x1, xt, ut;
  Vec<S> t;
};

struct RectifiedPath {
  /// Fills s.xt and s.ut from s.x0, s.x1 and s.t (which the caller sets).
  template <class S> static void sample(PathSample<S>& s) {
    if (!(s.x0.rows() == s.x1.rows() && s.x0.cols() == s.x1.cols()))
      throw Error("RectifiedPath: x0 and x1 shapes differ");
    if (s.t.size() != s.x1.cols()) throw Error("RectifiedPath: need one time per sample");
    s.ut = s.x1 - s.x0;
    s.xt.resize(s.x1.rows(), s.x1.cols());
    s.xt.noalias() = s.x0 + s.ut * s.t.asDiagonal();
  }
  /// Convenience: x0 ~ N(0, I) and t ~ U(0, 1) drawn from rng, then sample().
  template <class S> static void sample(const CMatRef<S>& x1, Rng& rng, PathSample<S>& s) {
    s.x1 = x1;
    s.x0.resize(x1.rows(), x1.cols());
    rng.fillNormal(s.x0.data(), s.x0.data() + s.x0.size());
    s.t.resize(x1.cols());
    rng.fillUniform(s.t.data(), s.t.data() + s.t.size());
    sample(s);
  }
};

/// Mean squared velocity error; writes dLoss/dv into dv.
template <class S>
S cfmLoss(const CMatRef<S>& v, const CMatRef<S>& ut, Mat<S>& dv) {
  if (!(v.rows() == ut.rows() && v.cols() == ut.cols())) throw Error("cfmLoss: v and ut shapes differ");
  const S inv = S(1) / S(v.size());
  dv = v - ut;
  const S loss = dv.squaredNorm() * inv;
  dv *= S(2) * inv;
  return loss;
}

}  // namespace symflow::flow
