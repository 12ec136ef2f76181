// Tests of metrics/kosc.hpp: hand-computed values, zero on identical inputs, invariance of
// LAC and Chamfer to oscillator permutations of either side, brute-force LAC.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "symflow/metrics/kosc.hpp"

using namespace symflow;
using metrics::chamferPerSound;
using metrics::lacPerSound;
using metrics::lsdPerSound;
using metrics::paramMsePerSound;

namespace {
std::vector<Index> randomPermutation(Index k, Rng& rng) {
  std::vector<Index> p(static_cast<size_t>(k));
  std::iota(p.begin(), p.end(), Index(0));
  for (Index i = k - 1; i > 0; --i)
    std::swap(p[size_t(i)], p[size_t(rng.below(std::uint64_t(i + 1)))]);
  return p;
}
}  // namespace

TEST_CASE("LSD: 0 for identical sounds, 10 log10(4) for a doubled signal, the -80 dB floor") {
  Rng rng(1);
  Mat<double> x(1024, 3);
  rng.fillNormal(x.data(), x.data() + x.size());
  const Vec<double> same = lsdPerSound<double>(x, x);
  CHECK(same.size() == 3);
  CHECK(same.cwiseAbs().maxCoeff() == 0.0);
  // Doubling multiplies |X|^2 by 4 in every bin (white noise: every bin far above 1e-8).
  const Mat<double> y = 2.0 * x;
  const Vec<double> doubled = lsdPerSound<double>(y, x);
  for (Index b = 0; b < 3; ++b)
    CHECK(doubled(b) == doctest::Approx(10 * std::log10(4.0)).epsilon(1e-12));
  // Silence vs a unit cosine on bin 10: |X / 1024|^2 = 1/4 there (P = -6.02 dB), every other
  // bin is at the floor 1e-8 (-80 dB) on both sides: LSD = (80 - 6.0206) / sqrt(513).
  Mat<double> tone(1024, 1), silence = Mat<double>::Zero(1024, 1);
  for (Index n = 0; n < 1024; ++n) tone(n, 0) = std::cos(2 * M_PI * 10.0 * double(n) / 1024.0);
  const double expected = (80.0 + 10 * std::log10(0.25)) / std::sqrt(513.0);
  CHECK(lsdPerSound<double>(tone, silence)(0) == doctest::Approx(expected).epsilon(1e-9));
  CHECK(lsdPerSound<double>(silence, tone)(0) == doctest::Approx(expected).epsilon(1e-9));
  // Float signals go through the same double arithmetic.
  const Mat<float> xf = x.cast<float>();
  CHECK(lsdPerSound<float>(xf, xf).cwiseAbs().maxCoeff() == 0.0);
  CHECK_THROWS_AS(lsdPerSound<double>(Mat<double>(512, 1), Mat<double>(512, 1)), Error);
  CHECK_THROWS_AS(lsdPerSound<double>(x, x.leftCols(2)), Error);
}

TEST_CASE("LAC, Chamfer and MSE on a hand-made k = 2 example") {
  // true oscillators t0 = (0, 0, 0), t1 = (1, 0, 0); predicted p0 = (1, .3, 0), p1 = (0, 0, .4)
  // in the flat layout [f0 f1 a0 a1 w0 w1].
  Mat<double> truth(6, 2), pred(6, 2);
  truth.col(0) << 0, 1, 0, 0, 0, 0;
  pred.col(0) << 1, 0, 0.3, 0, 0, 0.4;
  // Sound 1: both predicted oscillators at t0: Chamfer's two directions differ.
  truth.col(1) << 0, 1, 0, 0, 0, 0;
  pred.col(1) << 0, 0, 0, 0, 0, 0;
  const Vec<double> lac = lacPerSound<double>(pred, truth, 2);
  CHECK(lac(0) == doctest::Approx((0.3 + 0.4) / 2));  // p0 <-> t1, p1 <-> t0 (not squared)
  CHECK(lac(1) == doctest::Approx((0.0 + 1.0) / 2));
  const Vec<double> ch = chamferPerSound<double>(pred, truth, 2);
  CHECK(ch(0) == doctest::Approx((0.16 + 0.09) / 2 + (0.09 + 0.16) / 2));
  CHECK(ch(1) == doctest::Approx((0.0 + 1.0) / 2 + (0.0 + 0.0) / 2));
  const Vec<double> mse = paramMsePerSound<double>(pred, truth);
  CHECK(mse(0) == doctest::Approx((1 + 1 + 0.09 + 0.16) / 6.0));
  CHECK(mse(1) == doctest::Approx(1.0 / 6.0));
}

TEST_CASE("LAC and Chamfer are invariant to oscillator permutations of either side") {
  Rng rng(2);
  const Index k = 5, B = 20;
  const Mat<double> pred = synth::sampleUniformParams<double>(k, B, rng);
  const Mat<double> truth = synth::sampleUniformParams<double>(k, B, rng);
  const Vec<double> lac = lacPerSound<double>(pred, truth, k);
  const Vec<double> ch = chamferPerSound<double>(pred, truth, k);
  const Vec<double> mse = paramMsePerSound<double>(pred, truth);
  for (int trial = 0; trial < 5; ++trial) {
    const auto p1 = randomPermutation(k, rng), p2 = randomPermutation(k, rng);
    const Mat<double> predP = synth::permuteOscillators<double>(pred, k, p1);
    const Mat<double> truthP = synth::permuteOscillators<double>(truth, k, p2);
    for (const auto& [a, b] :
         {std::pair{&predP, &truth}, std::pair{&pred, &truthP}, std::pair{&predP, &truthP}}) {
      CHECK((lacPerSound<double>(*a, *b, k) - lac).cwiseAbs().maxCoeff() < 1e-12);
      CHECK((chamferPerSound<double>(*a, *b, k) - ch).cwiseAbs().maxCoeff() < 1e-12);
    }
    // Plain MSE is not invariant (it is meant for the asymmetric variant).
    CHECK((paramMsePerSound<double>(predP, truth) - mse).cwiseAbs().maxCoeff() > 1e-3);
  }
}

TEST_CASE("LAC equals the brute-force minimum over oscillator permutations") {
  Rng rng(3);
  const Index k = 5, B = 30;
  const Mat<float> pred = synth::sampleUniformParams<float>(k, B, rng);
  const Mat<float> truth = synth::sampleUniformParams<float>(k, B, rng);
  const Vec<double> lac = lacPerSound<float>(pred, truth, k);
  for (Index b = 0; b < B; ++b) {
    std::vector<Index> perm(static_cast<size_t>(k));
    std::iota(perm.begin(), perm.end(), Index(0));
    double best = 1e300, identity = 0;
    bool first = true;
    do {
      double s = 0;
      for (Index i = 0; i < k; ++i) {
        double d2 = 0;
        for (Index p = 0; p < 3; ++p) {
          const double d = double(pred(p * k + i, b)) - double(truth(p * k + perm[size_t(i)], b));
          d2 += d * d;
        }
        s += std::sqrt(d2);
      }
      if (first) identity = s / double(k);
      first = false;
      best = std::min(best, s / double(k));
    } while (std::next_permutation(perm.begin(), perm.end()));
    CHECK(lac(b) == doctest::Approx(best).epsilon(1e-12));
    CHECK(lac(b) <= identity + 1e-12);
  }
}

TEST_CASE("evaluateKOsc: zero on the truth, zero LSD/LAC/Chamfer on a permuted truth") {
  const Index k = 4;
  const synth::KOscStream<float> stream(k, synth::KOscVariant::Symmetric, 5);
  const auto truth = stream.testSounds(0, 16);
  const auto exact =
      metrics::evaluateKOsc<float>(stream.synth(), truth.params, truth.params, truth.signals);
  CHECK(exact.lsd.size() == 16);
  CHECK(exact.meanLsd() == 0.0);
  CHECK(exact.meanLac() == 0.0);
  CHECK(exact.meanChamfer() == 0.0);
  CHECK(exact.meanParamMse() == 0.0);
  // A permuted prediction sounds identical in the symmetric variant.
  const Mat<float> permuted = synth::permuteOscillators<float>(truth.params, k, {2, 0, 3, 1});
  const auto perm =
      metrics::evaluateKOsc<float>(stream.synth(), permuted, truth.params, truth.signals);
  CHECK(perm.meanLsd() == 0.0);
  CHECK(perm.meanLac() == doctest::Approx(0.0).scale(1e-7));
  CHECK(perm.meanChamfer() == doctest::Approx(0.0).scale(1e-12));
  CHECK(perm.meanParamMse() > 0.1);
  // Predictions are clamped by the synth before the LSD: pushing an already-saturated
  // amplitude further out changes LAC/MSE but not the rendered sound.
  Mat<float> loud = truth.params;
  loud.row(k).setConstant(1.0f);  // a_0 = 1
  Mat<float> louder = loud;
  louder.row(k).setConstant(3.0f);
  const Mat<float> loudSignals = stream.synth().render(loud);
  const auto sat = metrics::evaluateKOsc<float>(stream.synth(), louder, loud, loudSignals);
  CHECK(sat.meanLsd() == 0.0);
  CHECK(sat.meanParamMse() == doctest::Approx(4.0 / 12.0));
  CHECK(sat.meanLac() == doctest::Approx(2.0 / 4.0));
  // A random guess is far off on every metric.
  Rng rng(9);
  const Mat<float> guess = synth::sampleUniformParams<float>(k, 16, rng);
  const auto bad = metrics::evaluateKOsc<float>(stream.synth(), guess, truth.params, truth.signals);
  CHECK(bad.meanLsd() > 1.0);
  CHECK(bad.meanLac() > 0.3);
  CHECK(bad.meanChamfer() > 0.1);
  CHECK_THROWS_AS(
      metrics::evaluateKOsc<float>(stream.synth(), guess.topRows(9), truth.params, truth.signals),
      Error);
  CHECK_THROWS_AS(lacPerSound<float>(guess, truth.params.leftCols(3), k), Error);
}
