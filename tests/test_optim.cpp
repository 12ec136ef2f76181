// Adam / AdamW against hand-computed values, gradient clipping, cosine schedule.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "symflow/core/rng.hpp"
#include "symflow/optim/adam.hpp"
#include "symflow/optim/clip.hpp"
#include "symflow/optim/schedule.hpp"

using namespace symflow;

namespace {

const double kW0[5] = {0.5, -1.0, 2.0, 0.0, 3.0};
const double kGrads[3][5] = {{0.1, -0.2, 0.3, -0.4, 0.5}, {-0.3, 0.1, 0.2, 0.05, -0.6}, {0.2, 0.2, -0.1, 0.0, 0.4}};

// Expected weights after steps 1, 2, 3 with lr 0.1, betas (0.9, 0.999), eps 1e-8, computed
// in double from the textbook formula (PyTorch's documented algorithm):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
// AdamW first multiplies w by (1 - lr wd); Adam-L2 first adds wd w to g (wd = 0.1).
const double kExpectedPlain[3][5] = {
    {0.40000000999999896, -0.90000000499999977, 1.9000000033333333, 0.099999997500000076, 2.9000000020000001},
    {0.44941899112006539, -0.87336630271867577, 1.8029647943301033, 0.1572534530637876, 2.9142944748065678},
    {0.4475402217659345, -0.90063598023893265, 1.7477756072113189, 0.20151053980345188, 2.8949918109014607}};
const double kExpectedAdamW[3][5] = {
    {0.39500000999999896, -0.89000000499999976, 1.8800000033333333, 0.099999997500000076, 2.8700000019999998},
    {0.44046899102006537, -0.85446630266867574, 1.76416479429677, 0.1562534530887876, 2.8555944747865674},
    {0.43418553175573382, -0.87319131716224585, 1.6913339592350178, 0.19894800529756401, 2.8077358661335943}};
const double kExpectedL2[3][5] = {
    {0.40000000666666624, -0.90000000333333319, 1.9000000020000001, 0.099999997500000076, 2.90000000125},
    {0.43099236502164129, -0.83551173082732988, 1.8013947411825142, 0.15521980130014512, 2.8644240011948687},
    {0.40938517493460441, -0.81216789510908383, 1.7177590349677896, 0.19542130550040968, 2.8030268746337437}};

template <class S>
void checkAdamAgainst(const double (&expected)[3][5], optim::WeightDecay decay, double wd, double tol) {
  optim::AdamConfig cfg;
  cfg.lr = 0.1;
  cfg.weightDecay = wd;
  cfg.decay = decay;
  optim::Adam<S> adam(5, cfg);
  std::vector<S> w(kW0, kW0 + 5);
  for (int t = 0; t < 3; ++t) {
    std::vector<S> g(kGrads[t], kGrads[t] + 5);
    const std::vector<S> gBefore = g;
    adam.step(w.data(), g.data(), 5, cfg.lr);
    CHECK(adam.stepCount() == t + 1);
    CHECK(g == gBefore);  // gradients are read only
    for (int i = 0; i < 5; ++i) {
      INFO("step " << t + 1 << " entry " << i);
      CHECK(std::abs(double(w[i]) - expected[t][i]) <= tol);
    }
  }
}

// Independent scalar reference in long double (textbook form) for long vectors.
void referenceAdam(std::vector<long double>& w, std::vector<long double>& m, std::vector<long double>& v,
                   const std::vector<double>& g, int t, double lr) {
  const long double b1 = 0.9L, b2 = 0.999L;
  for (std::size_t i = 0; i < w.size(); ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    const long double mh = m[i] / (1 - std::pow(b1, (long double)t));
    const long double vh = v[i] / (1 - std::pow(b2, (long double)t));
    w[i] -= lr * mh / (std::sqrt(vh) + 1e-8L);
  }
}

}  // namespace

TEST_CASE("Adam matches hand-computed PyTorch values (no weight decay)") {
  checkAdamAgainst<double>(kExpectedPlain, optim::WeightDecay::Decoupled, 0.0, 1e-13);
  checkAdamAgainst<float>(kExpectedPlain, optim::WeightDecay::Decoupled, 0.0, 2e-6);
}

TEST_CASE("AdamW (decoupled weight decay) matches hand-computed values") {
  checkAdamAgainst<double>(kExpectedAdamW, optim::WeightDecay::Decoupled, 0.1, 1e-13);
  checkAdamAgainst<float>(kExpectedAdamW, optim::WeightDecay::Decoupled, 0.1, 2e-6);
}

TEST_CASE("Adam with classic L2 weight decay matches hand-computed values") {
  checkAdamAgainst<double>(kExpectedL2, optim::WeightDecay::L2, 0.1, 1e-13);
  checkAdamAgainst<float>(kExpectedL2, optim::WeightDecay::L2, 0.1, 2e-6);
}

TEST_CASE("Adam's first step moves each weight by lr * sign(g) (bias correction)") {
  optim::Adam<double> adam(3);
  std::vector<double> w{1.0, 1.0, 1.0}, g{1e-3, -5.0, 1e3};
  adam.step(w.data(), g.data(), 3, 0.01);
  CHECK(w[0] == doctest::Approx(0.99).epsilon(1e-7));
  CHECK(w[1] == doctest::Approx(1.01).epsilon(1e-9));
  CHECK(w[2] == doctest::Approx(0.99).epsilon(1e-9));
}

TEST_CASE("Adam SIMD body and scalar tail agree with a long-double reference on odd lengths") {
  for (Index n : {1, 7, 37, 64, 101}) {
    Rng rng(11 + std::uint64_t(n));
    std::vector<double> w(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(n));
    rng.fillNormal(w.begin(), w.end());
    std::vector<long double> wr(w.begin(), w.end()), mr(w.size(), 0), vr(w.size(), 0);
    optim::Adam<double> adam(n);
    for (int t = 1; t <= 5; ++t) {
      rng.fillNormal(g.begin(), g.end(), 0.0, 0.5);
      adam.step(w.data(), g.data(), n, 1e-2);
      referenceAdam(wr, mr, vr, g, t, 1e-2);
    }
    double maxErr = 0;
    for (std::size_t i = 0; i < w.size(); ++i) maxErr = std::max(maxErr, double(std::abs(w[i] - wr[i])));
    INFO("n = " << n);
    CHECK(maxErr < 1e-12);
  }
}

TEST_CASE("Adam state round trip continues bit-exactly; size and argument checks") {
  Rng rng(3);
  const Index n = 23;
  optim::AdamConfig cfg;
  cfg.weightDecay = 0.01;
  optim::Adam<float> a(n, cfg);
  std::vector<float> wa(n), g(n);
  rng.fillNormal(wa.begin(), wa.end());
  for (int t = 0; t < 4; ++t) {
    rng.fillNormal(g.begin(), g.end());
    a.step(wa.data(), g.data(), n, 1e-3);
  }
  optim::Adam<float> b(n, cfg);
  b.setState(a.stepCount(), a.firstMoment(), a.secondMoment());
  std::vector<float> wb = wa;
  for (int t = 0; t < 3; ++t) {
    rng.fillNormal(g.begin(), g.end());
    a.step(wa.data(), g.data(), n, 1e-3);
    b.step(wb.data(), g.data(), n, 1e-3);
  }
  CHECK(std::memcmp(wa.data(), wb.data(), sizeof(float) * std::size_t(n)) == 0);
  CHECK(b.stepCount() == 7);

  CHECK_THROWS_AS(a.step(wa.data(), g.data(), n - 1, 1e-3), Error);
  CHECK_THROWS_AS(a.step(wa.data(), g.data(), n, -1.0), Error);
  CHECK_THROWS_AS(b.setState(1, Vec<float>::Zero(n - 1), Vec<float>::Zero(n)), Error);
  CHECK_THROWS_AS(b.setState(-1, Vec<float>::Zero(n), Vec<float>::Zero(n)), Error);
  optim::AdamConfig bad;
  bad.beta1 = 1.0;
  CHECK_THROWS_AS(optim::Adam<float>(3, bad), Error);
  a.reset();
  CHECK(a.stepCount() == 0);
  CHECK(a.firstMoment().isZero(0));
}

TEST_CASE("Adam steps a ParamStore with the configured lr") {
  struct Flat {  // a minimal "layer": one slice of 5 parameters
    ParamSlot<double> s;
    Index numParams() const { return 5; }
    void bind(ParamCursor<double>& c) { s = c.take(5); }
  } layer;
  ParamStore<double> store(layer);
  for (int i = 0; i < 5; ++i) store.weights()[i] = kW0[i];
  optim::AdamConfig cfg;
  cfg.lr = 0.1;
  optim::Adam<double> adam(store, cfg);
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < 5; ++i) store.grads()[i] = kGrads[t][i];
    adam.step(store);
  }
  for (int i = 0; i < 5; ++i) CHECK(std::abs(store.weights()[i] - kExpectedPlain[2][i]) < 1e-13);
}

TEST_CASE("clipGradNorm follows torch.nn.utils.clip_grad_norm_") {
  SUBCASE("above the limit: scaled by maxNorm / (norm + 1e-6), returns the old norm") {
    std::vector<double> g{3.0, 4.0};
    const double norm = optim::clipGradNorm(g.data(), 2, 1.0);
    CHECK(norm == 5.0);
    const double coef = 1.0 / (5.0 + 1e-6);
    CHECK(g[0] == 3.0 * coef);
    CHECK(g[1] == 4.0 * coef);
    CHECK(optim::gradNorm(g.data(), 2) < 1.0);
    CHECK(optim::gradNorm(g.data(), 2) == doctest::Approx(1.0).epsilon(1e-6));
  }
  SUBCASE("below the limit: untouched") {
    std::vector<float> g{0.3f, -0.4f};
    const std::vector<float> before = g;
    CHECK(optim::clipGradNorm(g.data(), 2, 1.0) == doctest::Approx(0.5).epsilon(1e-7));
    CHECK(g == before);
  }
  SUBCASE("norm of a long float vector is accumulated accurately") {
    const Index n = 100003;
    Rng rng(5);
    std::vector<float> g(n);
    rng.fillNormal(g.begin(), g.end());
    long double ref = 0;
    for (float x : g) ref += (long double)x * x;
    ref = std::sqrt(ref);
    const double norm = optim::clipGradNorm(g.data(), n, 10.0);
    CHECK(norm == doctest::Approx(double(ref)).epsilon(1e-6));
    CHECK(optim::gradNorm(g.data(), n) == doctest::Approx(10.0).epsilon(1e-5));
  }
  SUBCASE("non-finite norm: gradients left as they are, NaN/Inf returned") {
    std::vector<double> g{1.0, std::numeric_limits<double>::infinity(), 2.0};
    CHECK(std::isinf(optim::clipGradNorm(g.data(), 3, 1.0)));
    CHECK(g[0] == 1.0);
    g[1] = std::nan("");
    CHECK(std::isnan(optim::clipGradNorm(g.data(), 3, 1.0)));
    CHECK(g[2] == 2.0);
  }
  SUBCASE("bad maxNorm refused") {
    std::vector<double> g{1.0};
    CHECK_THROWS_AS(optim::clipGradNorm(g.data(), 1, 0.0), Error);
    CHECK_THROWS_AS(optim::clipGradNorm(g.data(), 1, -1.0), Error);
  }
}

TEST_CASE("cosine schedule: endpoints, midpoint, monotonicity") {
  const double peak = 1e-3, floor = 1e-5;
  const std::int64_t W = 10, T = 110;
  optim::CosineSchedule s(peak, W, T, floor);
  CHECK(s.lr(0) == doctest::Approx(peak / W));
  CHECK(s.lr(W - 1) == doctest::Approx(peak));
  CHECK(s.lr(W) == doctest::Approx(peak));
  CHECK(s.lr(W + (T - W) / 2) == doctest::Approx((peak + floor) / 2));
  CHECK(s.lr(T) == floor);
  CHECK(s.lr(T + 1000) == floor);
  for (std::int64_t k = 1; k < W; ++k) CHECK(s.lr(k) > s.lr(k - 1));
  for (std::int64_t k = W + 1; k <= T; ++k) CHECK(s.lr(k) < s.lr(k - 1));
  for (std::int64_t k = 0; k <= T + 5; ++k) {
    CHECK(s.lr(k) >= floor);
    CHECK(s.lr(k) <= peak);
  }
  CHECK(s(3) == s.lr(3));

  optim::CosineSchedule noWarmup(2.0, 0, 4);
  CHECK(noWarmup.lr(0) == 2.0);
  CHECK(noWarmup.lr(2) == doctest::Approx(1.0));
  CHECK(noWarmup.lr(4) == 0.0);

  CHECK_THROWS_AS(optim::CosineSchedule(1.0, 10, 5), Error);        // total < warm-up
  CHECK_THROWS_AS(optim::CosineSchedule(1.0, -1, 5), Error);        // negative warm-up
  CHECK_THROWS_AS(optim::CosineSchedule(1.0, 0, 5, 2.0), Error);    // floor above peak
  CHECK_THROWS_AS(s.lr(-1), Error);
  CHECK(optim::ConstantSchedule(0.5).lr(12345) == 0.5);
}

TEST_CASE("Adam learning-rate segments: each range moves as an Adam at factor x lr") {
  const Index n = 37;
  Rng rng(21);
  Vec<float> w0(n), g(n);
  for (Index i = 0; i < n; ++i) w0[i] = float(rng.normal()), g[i] = float(rng.normal());
  optim::Adam<float> grouped(n), plain(n), fast(n);
  grouped.setLrMultipliers({{20, 9, 10.0}, {3, 5, 0.0}});  // unsorted on purpose
  Vec<float> wg = w0, wp = w0, wf = w0;
  for (int s = 0; s < 3; ++s) {
    grouped.step(wg.data(), g.data(), n, 1e-3);
    plain.step(wp.data(), g.data(), n, 1e-3);
    fast.step(wf.data(), g.data(), n, 1e-2);
  }
  for (Index i = 0; i < n; ++i) {
    CAPTURE(i);
    if (i >= 3 && i < 8)
      CHECK(wg[i] == w0[i]);  // factor 0: frozen
    else if (i >= 20 && i < 29)
      CHECK(wg[i] == doctest::Approx(wf[i]).epsilon(1e-6));
    else
      CHECK(wg[i] == wp[i]);
  }
  CHECK_THROWS_AS(grouped.setLrMultipliers({{0, 10, 1.0}, {5, 10, 2.0}}), Error);  // overlap
  CHECK_THROWS_AS(grouped.setLrMultipliers({{30, 10, 1.0}}), Error);               // past the end
  CHECK_THROWS_AS(grouped.setLrMultipliers({{0, 1, -1.0}}), Error);
}
