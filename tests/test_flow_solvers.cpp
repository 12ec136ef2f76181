#include <doctest/doctest.h>

#include <cmath>

#include "symflow/flow/path.hpp"
#include "symflow/flow/solvers.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

namespace {
// dx/dt = -2 x + cos(t) (+ a column-dependent rate), solution known in closed form.
struct LinearOde {
  void operator()(const Mat<double>& x, double t, Mat<double>& v) const {
    v = -2.0 * x;
    v.array() += std::cos(3 * t);
  }
  static double exact(double x0, double t) {
    // x' = -2x + cos(3t): x = C e^{-2t} + (2 cos 3t + 3 sin 3t) / 13
    const double c = x0 - 2.0 / 13.0;
    return c * std::exp(-2 * t) + (2 * std::cos(3 * t) + 3 * std::sin(3 * t)) / 13.0;
  }
};

template <class Solver> double errorAt(int steps) {
  Mat<double> x(2, 3);
  x << 1, -1, 0.5, 2, 0, -0.3;
  Mat<double> x0 = x;
  Solver s;
  s.integrate(LinearOde{}, x, steps);
  double err = 0;
  for (Index i = 0; i < x.size(); ++i) err = std::max(err, std::abs(x(i) - LinearOde::exact(x0(i), 1.0)));
  return err;
}

template <class Solver> double measuredOrder() {
  const double e1 = errorAt<Solver>(16), e2 = errorAt<Solver>(32);
  return std::log2(e1 / e2);
}
}  // namespace

TEST_CASE_TEMPLATE("solvers are exact on a constant field", Solver, flow::EulerSolver<double>,
                   flow::MidpointSolver<double>, flow::HeunSolver<double>, flow::Rk4Solver<double>) {
  Mat<double> x = Mat<double>::Zero(3, 4);
  Mat<double> c(3, 4);
  for (Index i = 0; i < c.size(); ++i) c(i) = -3.0 + 0.5 * double(i);
  Solver s;
  int evals = 0;
  s.integrate([&](const Mat<double>&, double, Mat<double>& v) { v = c; ++evals; }, x, 7);
  CHECK((x - c).cwiseAbs().maxCoeff() < 1e-14);
  CHECK(evals == 7 * Solver::evalsPerStep);
}

TEST_CASE("measured convergence orders: Euler 1, midpoint 2, Heun 2, RK4 4") {
  CHECK(measuredOrder<flow::EulerSolver<double>>() == doctest::Approx(1.0).epsilon(0.1));
  CHECK(measuredOrder<flow::MidpointSolver<double>>() == doctest::Approx(2.0).epsilon(0.1));
  CHECK(measuredOrder<flow::HeunSolver<double>>() == doctest::Approx(2.0).epsilon(0.1));
  CHECK(measuredOrder<flow::Rk4Solver<double>>() == doctest::Approx(4.0).epsilon(0.1));
}

TEST_CASE("solver time grid: v sees t_i = i/steps (and midpoints)") {
  std::vector<double> ts;
  Mat<double> x = Mat<double>::Zero(1, 1);
  flow::Rk4Solver<double> s;
  s.integrate([&](const Mat<double>&, double t, Mat<double>& v) { ts.push_back(t); v.setZero(1, 1); }, x, 2);
  std::vector<double> expect{0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0};
  REQUIRE(ts.size() == expect.size());
  for (size_t i = 0; i < ts.size(); ++i) CHECK(ts[i] == doctest::Approx(expect[i]));
}

TEST_CASE("rectified path and CFM loss") {
  Rng rng(9);
  flow::PathSample<double> s;
  Mat<double> x1 = testing::randomMatrix<double>(4, 6, rng);
  flow::RectifiedPath::sample<double>(x1, rng, s);
  for (Index b = 0; b < 6; ++b) {
    CHECK(s.t[b] >= 0.0);
    CHECK(s.t[b] < 1.0);
    for (Index p = 0; p < 4; ++p) {
      CHECK(s.xt(p, b) == doctest::Approx((1 - s.t[b]) * s.x0(p, b) + s.t[b] * x1(p, b)));
      CHECK(s.ut(p, b) == doctest::Approx(x1(p, b) - s.x0(p, b)));
    }
  }
  // Loss gradient by central differences.
  Mat<double> v = testing::randomMatrix<double>(4, 6, rng), dv;
  flow::cfmLoss<double>(v, s.ut, dv);
  Mat<double> scratch;
  auto r = testing::checkGradient([&] { return flow::cfmLoss<double>(v, s.ut, scratch); }, v.data(),
                                  v.size(), dv.data(), rng);
  INFO(r.summary());
  CHECK(r.ok);
  Mat<double> zero;
  CHECK(flow::cfmLoss<double>(s.ut, s.ut, zero) == 0.0);
}

#include "symflow/flow/guidance.hpp"

TEST_CASE("classifier-free guidance combines the two halves of one batched call") {
  // Model: v = x * cond, with cond = 1 for the null half and 3 for the conditional half.
  int calls = 0;
  Index widthSeen = 0;
  auto model = [&](const Mat<double>& x, double, Mat<double>& v) {
    ++calls;
    widthSeen = x.cols();
    const Index b = x.cols() / 2;
    v = x;
    v.rightCols(b) *= 3.0;
  };
  auto g = flow::guided<double>(model, 2.0);
  Mat<double> x(2, 3), v;
  x << 1, 2, 3, 4, 5, 6;
  g(x, 0.5, v);
  CHECK(calls == 1);
  CHECK(widthSeen == 6);
  // (1 - 2) * x + 2 * 3x = 5x
  CHECK((v - 5.0 * x).cwiseAbs().maxCoeff() < 1e-14);
}
