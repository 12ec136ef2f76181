// symflow/flow/solvers.hpp - fixed-step ODE solvers for dx/dt = v(x, t), t from 0 to 1.
//
// A velocity is any callable  void(const Mat<S>& x, S t, Mat<S>& v)  that writes v (same
// shape as x: P x B, a whole batch at once). Solvers are types with a static order and
// integrate(v, x, steps) which advances x in place over the uniform grid t_i = i / steps:
//   EulerSolver     x += h v(x, t)                                          (order 1, 1 eval)
//   MidpointSolver  x += h v(x + h/2 v(x, t), t + h/2)                      (order 2, 2 evals)
//   HeunSolver      x += h/2 (k1 + v(x + h k1, t + h))                      (order 2, 2 evals)
//   Rk4Solver       classic 4th-order Runge-Kutta                           (order 4, 4 evals)
// Workspaces live in the solver object (reuse one solver to avoid allocation per call).
#pragma once
#include "symflow/core/types.hpp"

namespace symflow::flow {

template <class S>
class EulerSolver {
 public:
  static constexpr int order = 1;
  static constexpr int evalsPerStep = 1;
  template <class V> void integrate(V&& v, Mat<S>& x, int steps, S t0 = 0, S t1 = 1) {
    if (steps <= 0) throw Error("EulerSolver: steps must be positive");
    const S h = (t1 - t0) / S(steps);
    for (int i = 0; i < steps; ++i) {
      v(x, t0 + S(i) * h, k1_);
      x += h * k1_;
    }
  }

 private:
  Mat<S> k1_;
};

template <class S>
class MidpointSolver {
 public:
  static constexpr int order = 2;
  static constexpr int evalsPerStep = 2;
  template <class V> void integrate(V&& v, Mat<S>& x, int steps, S t0 = 0, S t1 = 1) {
    if (steps <= 0) throw Error("MidpointSolver: steps must be positive");
    const S h = (t1 - t0) / S(steps);
    for (int i = 0; i < steps; ++i) {
      const S t = t0 + S(i) * h;
      v(x, t, k1_);
      xm_ = x + (h / 2) * k1_;
      v(xm_, t + h / 2, k2_);
      x += h * k2_;
    }
  }

 private:
  Mat<S> k1_, k2_, xm_;
};

template <class S>
class HeunSolver {
 public:
  static constexpr int order = 2;
  static constexpr int evalsPerStep = 2;
  template <class V> void integrate(V&& v, Mat<S>& x, int steps, S t0 = 0, S t1 = 1) {
    if (steps <= 0) throw Error("HeunSolver: steps must be positive");
    const S h = (t1 - t0) / S(steps);
    for (int i = 0; i < steps; ++i) {
      const S t = t0 + S(i) * h;
      v(x, t, k1_);
      xe_ = x + h * k1_;
      v(xe_, t + h, k2_);
      x += (h / 2) * (k1_ + k2_);
    }
  }

 private:
  Mat<S> k1_, k2_, xe_;
};

template <class S>
class Rk4Solver {
 public:
  static constexpr int order = 4;
  static constexpr int evalsPerStep = 4;
  template <class V> void integrate(V&& v, Mat<S>& x, int steps, S t0 = 0, S t1 = 1) {
    if (steps <= 0) throw Error("Rk4Solver: steps must be positive");
    const S h = (t1 - t0) / S(steps);
    for (int i = 0; i < steps; ++i) {
      const S t = t0 + S(i) * h;
      v(x, t, k1_);
      xs_ = x + (h / 2) * k1_;
      v(xs_, t + h / 2, k2_);
      acc_ = k1_ + 2 * k2_;
      xs_ = x + (h / 2) * k2_;
      v(xs_, t + h / 2, k3_);
      acc_ += 2 * k3_;
      xs_ = x + h * k3_;
      v(xs_, t + h, k4_);
      x += (h / 6) * (acc_ + k4_);
    }
  }

 private:
  Mat<S> k1_, k2_, k3_, k4_, xs_, acc_;
};

}  // namespace symflow::flow
