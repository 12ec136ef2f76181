// Mel scale and filterbank, power -> dB, DCT-II / MFCC, and symmetric2 DTW.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "symflow/audio/dtw.hpp"
#include "symflow/audio/mel.hpp"
#include "symflow/audio/mfcc.hpp"
#include "symflow/core/rng.hpp"

using namespace symflow;
using namespace symflow::audio;

namespace {
const double kPi = 3.141592653589793238462643;
}

TEST_CASE("Slaney mel scale: inverse pair, breakpoint, and librosa's published mel_frequencies") {
  for (double f : {0.0, 100.0, 999.0, 1000.0, 1500.0, 8000.0, 22050.0})
    CHECK(melToHz(hzToMel(f)) == doctest::Approx(f).epsilon(1e-12));
  CHECK(hzToMel(1000.0) == doctest::Approx(15.0));
  CHECK(hzToMel(6400.0) == doctest::Approx(15.0 + 27.0));  // 27 mels per factor 6.4 above 1 kHz
  CHECK(hzToMel(500.0) == doctest::Approx(7.5));           // linear, 200/3 Hz per mel below
  CHECK(hzToMel(700.0, MelScale::Htk) == doctest::Approx(2595.0 * std::log10(2.0)));
  // librosa.mel_frequencies(n_mels=40) docs example (fmax 11025): 85.317, 1024.856, 1119.114;
  // full precision from tests/audio_reference.py.
  Vec<double> f = melFrequencies(40, 0.0, 11025.0);
  CHECK(f[0] == 0.0);
  CHECK(f[1] == doctest::Approx(85.31725552163942).epsilon(1e-13));
  CHECK(f[12] == doctest::Approx(1024.8555458780083).epsilon(1e-13));
  CHECK(f[13] == doctest::Approx(1119.1140732107585).epsilon(1e-13));
  CHECK(f[39] == doctest::Approx(11025.0).epsilon(1e-13));
}

TEST_CASE("mel filterbank matches librosa.filters.mel(sr=22050, n_fft=2048) reference values") {
  // Values published with the mel_filter crate (docs.rs), which reproduces librosa's
  // filters.mel in double precision (librosa's docs print the first as 0.016).
  Mat<double> W = melFilterbank<double>(22050, 2048, 128);
  REQUIRE(W.rows() == 128);
  REQUIRE(W.cols() == 1025);
  const double row0[6] = {0, 0.016182853208219942, 0.032365706416439884, 0.028990088037379964,
                          0.012807234829160026, 0};
  const double row1[9] = {0, 0, 0, 0.009779235793639925, 0.025962089001859864, 0.035393705451959974,
                          0.01921085224374004, 0.003027999035520103, 0};
  for (int k = 0; k < 6; ++k) CHECK(W(0, k) == doctest::Approx(row0[k]).epsilon(1e-12));
  for (int k = 0; k < 9; ++k) CHECK(W(1, k) == doctest::Approx(row1[k]).epsilon(1e-12));
  // tests/audio_reference.py: sr 44100, n_fft 2205 (odd), 128 mels.
  Mat<float> W2 = melFilterbank<float>(44100, 2205, 128);
  REQUIRE(W2.cols() == 1103);
  CHECK(W2(10, 15) == 0.0f);
  CHECK(W2(10, 16) == doctest::Approx(0.01036304818374405).epsilon(1e-6));
  CHECK(W2(10, 17) == doctest::Approx(0.03116951706381867).epsilon(1e-6));
  CHECK(W2(10, 18) == doctest::Approx(0.01253210483559671).epsilon(1e-6));
  CHECK(W2(10, 19) == 0.0f);
  CHECK(W2.row(100).cast<double>().sum() == doctest::Approx(0.04996392565751426).epsilon(1e-6));
}

TEST_CASE("mel filterbank rows integrate to 1 (Slaney area normalization), within the trapezoid bound") {
  // Row m is a triangle on [f_m, f_{m+2}] with peak h = 2 / (f_{m+2} - f_m) at f_{m+1}: its
  // integral over frequency is exactly 1. The row sum times the bin spacing df is the
  // trapezoid rule of that integral (the triangle is 0 at both ends); on a piecewise-linear
  // function its error is at most sum over kinks |slope jump| df^2 / 8, i.e.
  //   |df * sum_k W[m, k] - 1| <= (df^2 / 4) * h * (1/w1 + 1/w2),  w1, w2 the two half widths.
  struct Case { double sr; Index nFft, nMels; };
  for (Case c : {Case{44100, 2205, 128}, Case{16000, 800, 128}, Case{44100, 4410, 128}, Case{22050, 2048, 40}}) {
    Mat<double> W = melFilterbank<double>(c.sr, c.nFft, c.nMels);
    Mat<double> U = melFilterbank<double>(MelFilterbankConfig{c.sr, c.nFft, c.nMels, 0.0, -1.0,
                                                              MelScale::Slaney, MelNorm::None});
    Vec<double> fm = melFrequencies(c.nMels + 2, 0.0, c.sr / 2);
    const double df = c.sr / double(c.nFft);
    for (Index m = 0; m < c.nMels; ++m) {
      const double w1 = fm[m + 1] - fm[m], w2 = fm[m + 2] - fm[m + 1], h = 2.0 / (w1 + w2);
      const double bound = df * df / 4.0 * h * (1.0 / w1 + 1.0 / w2);
      INFO("sr " << c.sr << " nFft " << c.nFft << " row " << m);
      CHECK(std::abs(df * W.row(m).sum() - 1.0) <= bound + 1e-12);
      CHECK(W.row(m).maxCoeff() <= h * (1 + 1e-12));
      CHECK(U.row(m).maxCoeff() <= 1.0 + 1e-12);
      CHECK((W.row(m) - U.row(m) * h).cwiseAbs().maxCoeff() < 1e-15);
    }
  }
  CHECK_THROWS_AS(melFilterbank<double>(16000, 0, 40), Error);
  CHECK_THROWS_AS(melFilterbank<double>(16000, 512, 0), Error);
}

TEST_CASE("power -> dB: fixed reference, peak reference, amin and the topDb floor") {
  Mat<double> x(2, 2);
  x << 1.0, 1e-3, 1e-12, 100.0;
  Mat<double> a = x;
  powerToDbInPlace<double>(a, DbConfig{1.0, false, 1e-10, -1.0});  // no floor
  CHECK(a(0, 0) == doctest::Approx(0.0));
  CHECK(a(0, 1) == doctest::Approx(-30.0));
  CHECK(a(1, 0) == doctest::Approx(-100.0));  // amin 1e-10
  CHECK(a(1, 1) == doctest::Approx(20.0));
  Mat<double> b = x;
  powerToDbInPlace<double>(b, DbConfig{1.0, false, 1e-10, 80.0});  // floor at 20 - 80
  CHECK(b(1, 0) == doctest::Approx(-60.0));
  CHECK(b(0, 1) == doctest::Approx(-30.0));
  Mat<double> c = x;
  powerToDbInPlace<double>(c, DbConfig{1.0, true, 1e-10, 80.0});  // relative to peak 100
  CHECK(c(1, 1) == doctest::Approx(0.0));
  CHECK(c(0, 0) == doctest::Approx(-20.0));
  CHECK(c(1, 0) == doctest::Approx(-80.0));
}

TEST_CASE("DCT-II matrix is orthonormal and matches scipy.fft.dct(norm='ortho')") {
  Mat<double> D = dctMatrix<double>(128, 128);
  CHECK((D * D.transpose() - Mat<double>::Identity(128, 128)).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((D.transpose() * D - Mat<double>::Identity(128, 128)).cwiseAbs().maxCoeff() < 1e-13);
  Mat<double> D20 = dctMatrix<double>(20, 128);
  CHECK((D20 - D.topRows(20)).cwiseAbs().maxCoeff() == 0.0);
  Mat<float> Df = dctMatrix<float>(20, 128);
  CHECK((Df * Df.transpose() - Mat<float>::Identity(20, 20)).cwiseAbs().maxCoeff() < 1e-5f);
  // scipy.fft.dct([1..8], type=2, norm="ortho")[:4]
  Vec<double> v = Vec<double>::LinSpaced(8, 1.0, 8.0);
  Vec<double> y = dctMatrix<double>(4, 8) * v;
  CHECK(y[0] == doctest::Approx(12.727922061357857).epsilon(1e-14));
  CHECK(y[1] == doctest::Approx(-6.442323022705137).epsilon(1e-14));
  CHECK(std::abs(y[2]) < 1e-14);
  CHECK(y[3] == doctest::Approx(-0.6734548009039407).epsilon(1e-13));
  CHECK_THROWS_AS(dctMatrix<double>(9, 8), Error);
  CHECK_THROWS_AS(dctMatrix<double>(0, 8), Error);
}

TEST_CASE("MFCC: batched equals per column; c0 is the mean dB times sqrt(nMels); channel groups share the topDb floor") {
  const double sr = 16000;
  Mat<double> X(3200, 2);
  for (Index i = 0; i < X.rows(); ++i) {
    const double t = double(i) / sr;
    X(i, 0) = std::sin(2 * kPi * 440 * t) * std::exp(-3 * t);
    X(i, 1) = 0.3 * std::sin(2 * kPi * 1250 * t) + (t > 0.1 ? 0.2 * std::sin(2 * kPi * 3000 * t) : 0.0);
  }
  MfccConfig cfg;
  cfg.mel = MelConfig{sr, 800, 160, 0, 128};
  cfg.nMfcc = 20;
  Mfcc<double> mfcc(cfg);
  Mat<double> all, one;
  mfcc.compute(X, all);
  const Index T = mfcc.numFrames(X.rows());
  REQUIRE(all.rows() == 20);
  REQUIRE(all.cols() == 2 * T);
  for (Index c = 0; c < 2; ++c) {
    mfcc.compute(X.col(c), one);
    CHECK((all.middleCols(c * T, T) - one).cwiseAbs().maxCoeff() < 1e-10);
  }
  // c0 = sum_j dB_j / sqrt(n): recompute the dB mel spectrogram directly.
  MelSpectrogram<double> mel(cfg.mel);
  Mat<double> M;
  mel.power(X.col(0), M);
  powerToDbInPlace<double>(M, DbConfig{});
  for (Index t = 0; t < T; t += 5)
    CHECK(all(0, t) == doctest::Approx(M.col(t).sum() / std::sqrt(128.0)).epsilon(1e-10));
  // Grouping both columns as one stereo sound: the floor is 80 dB below the joint maximum.
  Mat<double> grouped;
  mfcc.compute(X, grouped, 2);
  CHECK(grouped.cols() == 2 * T);
  CHECK_THROWS_AS(mfcc.compute(X, grouped, 3), Error);
}

// ---------------------------------------------------------------------------------------------
// DTW

namespace {
// Brute force over all monotone paths: each path's symmetric2 cost (d(0,0) once, diagonal
// steps 2 d, horizontal / vertical steps d).
double bruteForceSymmetric2(const Mat<double>& d) {
  const Index n = d.rows(), m = d.cols();
  double best = std::numeric_limits<double>::infinity();
  std::function<void(Index, Index, double)> walk = [&](Index i, Index j, double acc) {
    if (i == n - 1 && j == m - 1) {
      best = std::min(best, acc);
      return;
    }
    if (i + 1 < n && j + 1 < m) walk(i + 1, j + 1, acc + 2 * d(i + 1, j + 1));
    if (i + 1 < n) walk(i + 1, j, acc + d(i + 1, j));
    if (j + 1 < m) walk(i, j + 1, acc + d(i, j + 1));
  };
  walk(0, 0, d(0, 0));
  return best;
}
}  // namespace

TEST_CASE("DTW symmetric2 equals the brute-force minimum over all paths") {
  Rng rng(5);
  for (Index n = 1; n <= 6; ++n)
    for (Index m = 1; m <= 6; ++m) {
      Mat<double> d(n, m);
      for (Index i = 0; i < d.size(); ++i) d.data()[i] = rng.uniform();
      const double ref = bruteForceSymmetric2(d);
      INFO("n " << n << " m " << m);
      CHECK(dtwSymmetric2Cost<double>(d) == doctest::Approx(ref).epsilon(1e-14));
      CHECK(dtwSymmetric2<double>(d) == doctest::Approx(ref / double(n + m)).epsilon(1e-14));
    }
  // Hand example: the diagonal costs 2 per step, so a detour through zeros can win.
  Mat<double> d(2, 2);
  d << 0, 0, 0, 1;  // path (0,0)->(1,1) costs 2; (0,0)->(0,1)->(1,1) costs 0 + 0 + 1
  CHECK(dtwSymmetric2Cost<double>(d) == doctest::Approx(1.0));
}

TEST_CASE("DTW of a sequence with its time-stretched copy is small; frame-wise distance is not") {
  // 8-dimensional smooth trajectory, 60 frames; the copy plays it 1.5x slower (90 frames).
  auto feature = [](double u, Index k) { return std::sin(2 * kPi * (k + 1) * u * 0.7 + 0.4 * k) * 3.0; };
  const Index n = 60, m = 90, dim = 8;
  Mat<double> a(dim, n), b(dim, m);
  for (Index t = 0; t < n; ++t)
    for (Index k = 0; k < dim; ++k) a(k, t) = feature(double(t) / n, k);
  for (Index t = 0; t < m; ++t)
    for (Index k = 0; k < dim; ++k) b(k, t) = feature(double(t) / m, k);
  const double warped = dtwMeanAbs<double>(a, b);
  // Frame-wise (no warping) mean |a_t - b_t| over the common frames.
  double framewise = 0;
  for (Index t = 0; t < n; ++t) framewise += (a.col(t) - b.col(t)).cwiseAbs().mean();
  framewise /= double(n);
  // An unrelated sequence (different phases) for scale.
  Mat<double> c(dim, m);
  for (Index t = 0; t < m; ++t)
    for (Index k = 0; k < dim; ++k) c(k, t) = std::sin(2 * kPi * (k + 1) * double(t) / m * 0.7 + 2.0 + 0.9 * k) * 3.0;
  const double unrelated = dtwMeanAbs<double>(a, c);
  INFO("dtw " << warped << " framewise " << framewise << " unrelated " << unrelated);
  CHECK(warped < 0.1 * framewise);
  CHECK(warped < 0.1 * unrelated);
  CHECK(framewise > 1.0);
  CHECK(dtwMeanAbs<double>(a, a) == 0.0);
}

TEST_CASE("DTW and frame costs refuse bad arguments") {
  Mat<double> a(3, 4), b(2, 4), cost;
  a.setZero();
  b.setZero();
  CHECK_THROWS_AS(meanAbsCost<double>(a, b, cost), Error);
  Mat<double> empty(3, 0);
  CHECK_THROWS_AS(meanAbsCost<double>(a, empty, cost), Error);
  CHECK_THROWS_AS(dtwSymmetric2<double>(Mat<double>(0, 3)), Error);
}
