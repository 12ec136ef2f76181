// Real FFT (Eigen FFT: kissfft, or FFTW3 when built with SYMFLOW_USE_FFTW), windows and the STFT.
#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <string>

#include "symflow/audio/fft.hpp"
#include "symflow/audio/stft.hpp"
#include "symflow/audio/window.hpp"
#include "symflow/core/rng.hpp"

using namespace symflow;
using namespace symflow::audio;

namespace {

const double kPi = 3.141592653589793238462643;

template <class S> Mat<S> randomSignals(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Mat<S> x(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) x(i, j) = S(rng.uniform(-1.0, 1.0));
  return x;
}

// Direct DFT in long double: X[k] = sum_t x[t] exp(-2 pi i k t / n), k <= n/2.
template <class S> std::complex<long double> directDft(const S* x, Index n, Index k) {
  std::complex<long double> acc(0, 0);
  for (Index t = 0; t < n; ++t) {
    const long double ph = -2.0L * 3.141592653589793238462643383279L * (long double)((k * t) % n) / n;
    acc += (long double)x[t] * std::complex<long double>(std::cos(ph), std::sin(ph));
  }
  return acc;
}

template <class S> void checkAgainstDft(Index n, double tol) {
  const Index K = 3;
  Mat<S> x = randomSignals<S>(n, K, 100 + std::uint64_t(n));
  RealFft<S> fft(n);
  CMat<S> X;
  fft.forward(x, X);
  REQUIRE(X.rows() == n / 2 + 1);
  REQUIRE(X.cols() == K);
  double maxErr = 0;
  for (Index j = 0; j < K; ++j)
    for (Index k = 0; k <= n / 2; ++k) {
      const auto ref = directDft(x.col(j).data(), n, k);
      const double err = std::abs(std::complex<double>(double(ref.real()) - double(X(k, j).real()),
                                                       double(ref.imag()) - double(X(k, j).imag())));
      maxErr = std::max(maxErr, err / std::sqrt(double(n)));  // |x| ~ sqrt(n)
    }
  INFO("n = " << n << ", max error / sqrt(n) = " << maxErr);
  CHECK(maxErr < tol);
}

}  // namespace

TEST_CASE("the FFT backend is the one the build asked for") {
#ifdef SYMFLOW_USE_FFTW
  CHECK(std::string(defaultFftBackend()) == "fftw3");
#else
  CHECK(std::string(defaultFftBackend()) == "kissfft");
#endif
}

TEST_CASE("RealFft matches a direct DFT for every size 1..40 and a few larger ones, float and double") {
  INFO("backend: " << defaultFftBackend());
  for (Index n = 1; n <= 40; ++n) {
    checkAgainstDft<double>(n, 1e-13);
    checkAgainstDft<float>(n, 2e-6);
  }
  for (Index n : {64, 100, 220, 441, 1102}) {
    checkAgainstDft<double>(n, 1e-13);
    checkAgainstDft<float>(n, 1e-5);
  }
}

TEST_CASE("RealFft power equals |X|^2, copies plan independently, low-level buffers agree") {
  const Index n = 30;
  Mat<double> x = randomSignals<double>(n, 4, 7);
  RealFft<double> fft(n);
  RealFft<double> copy = fft;  // own plan and buffers
  CMat<double> X;
  Mat<double> P;
  fft.forward(x, X);
  copy.power(x, P);
  CHECK((P - X.cwiseAbs2()).cwiseAbs().maxCoeff() < 1e-12);
  Eigen::Map<Vec<double>>(fft.input(), n) = x.col(2);
  fft.execute();
  for (Index k = 0; k < fft.bins(); ++k) CHECK(std::abs(fft.output()[k] - X(k, 2)) < 1e-12);
}

TEST_CASE("RealFft refuses bad sizes and inputs") {
  CHECK_THROWS_AS(RealFft<float>(0), Error);
  CHECK_THROWS_AS(RealFft<double>(-4), Error);
  RealFft<double> fft(8);
  CMat<double> X;
  Mat<double> x(7, 2);
  x.setZero();
  CHECK_THROWS_AS(fft.forward(x, X), Error);
}

TEST_CASE("windows: periodic and symmetric Hann, padCenter, ms -> samples") {
  Vec<double> w = hannWindow<double>(4);  // periodic: 0.5 - 0.5 cos(2 pi i / 4)
  CHECK(w[0] == doctest::Approx(0.0));
  CHECK(w[1] == doctest::Approx(0.5));
  CHECK(w[2] == doctest::Approx(1.0));
  CHECK(w[3] == doctest::Approx(0.5));
  Vec<double> s = hannWindow<double>(5, false);  // symmetric: 0, .5, 1, .5, 0
  CHECK(s[0] == doctest::Approx(0.0).epsilon(1e-15));
  CHECK(s[2] == doctest::Approx(1.0));
  CHECK(s[4] == doctest::Approx(0.0).scale(1.0));
  // A periodic Hann of n is the first n samples of a symmetric Hann of n + 1.
  Vec<double> p7 = hannWindow<double>(7), s8 = hannWindow<double>(8, false);
  CHECK((p7 - s8.head(7)).cwiseAbs().maxCoeff() < 1e-15);
  Vec<double> padded = padCenter<double>(Vec<double>::Ones(3), 8);  // left pad (8-3)/2 = 2
  CHECK(padded.sum() == 3.0);
  CHECK(padded[1] == 0.0);
  CHECK(padded[2] == 1.0);
  CHECK(padded[4] == 1.0);
  CHECK(padded[5] == 0.0);
  CHECK_THROWS_AS(padCenter<double>(Vec<double>::Ones(9), 8), Error);
  CHECK_THROWS_AS(hannWindow<float>(0), Error);
  // paper.md: 5 ms -> 220, 25 ms -> 1102, 50 ms -> 2205 at 44.1 kHz (truncation)
  CHECK(msToSamples(44100, 5) == 220);
  CHECK(msToSamples(44100, 10) == 441);
  CHECK(msToSamples(44100, 20) == 882);
  CHECK(msToSamples(44100, 25) == 1102);
  CHECK(msToSamples(44100, 50) == 2205);
  CHECK(msToSamples(44100, 100) == 4410);
  CHECK(msToSamples(16000, 25) == 400);
  CHECK(msToSamples(22050, 5) == 110);
}

TEST_CASE("STFT frame count and layout follow the centred zero-padding convention") {
  Stft<double> even(8, 3);  // pad 4 per side
  CHECK(even.bins() == 5);
  CHECK(even.numFrames(1) == 1);
  CHECK(even.numFrames(10) == 1 + (10 + 8 - 8) / 3);
  Stft<double> odd(9, 4);  // pad 4 per side, padded length L + 8
  CHECK(odd.bins() == 5);
  CHECK(odd.numFrames(37) == 1 + (37 + 8 - 9) / 4);
  Stft<double> noCenter(StftConfig{8, 2, 0, false});
  CHECK(noCenter.numFrames(8) == 1);
  CHECK(noCenter.numFrames(13) == 3);
  CHECK_THROWS_AS(noCenter.numFrames(7), Error);
}

TEST_CASE("STFT matches reference numbers (numpy rfft, periodic Hann, zero padding), odd n_fft") {
  // tests/audio_reference.py: x[i] = sin(0.3 i) + 0.1 i / 37, i < 37; n_fft 15, hop 4.
  Vec<double> x(37);
  for (Index i = 0; i < 37; ++i) x[i] = std::sin(0.3 * double(i)) + 0.1 * double(i) / 37.0;
  Stft<double> stft(15, 4);
  Mat<double> P;
  stft.power(x, P);
  REQUIRE(P.rows() == 8);
  REQUIRE(P.cols() == 10);
  const double ref0[8] = {6.1309420109782122e+00, 4.1281658484203660e+00, 1.1235580793831321e+00,
                          8.3085530079169093e-02, 2.4999876832670669e-02, 1.0493745020676546e-02,
                          7.8452521005589054e-03, 5.9781408928545141e-03};
  for (Index k = 0; k < 8; ++k) CHECK(P(k, 0) == doctest::Approx(ref0[k]).epsilon(1e-12));
  CHECK(P(3, 5) == doctest::Approx(0.013586589528864622).epsilon(1e-12));
  Mat<double> M;
  stft.magnitude(x, M);
  CHECK((M.array().square() - P.array()).abs().maxCoeff() < 1e-12);
  CMat<double> Z;
  stft.complexSpectrum(x, Z);
  CHECK((Z.cwiseAbs2() - P).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("STFT of a sinusoid peaks at its bin (even and odd n_fft, float and double)") {
  const double sr = 16000;
  for (Index nFft : {512, 441, 400}) {
    for (Index k0 : {7, 40, 101}) {
      const double f = double(k0) * sr / double(nFft);
      Vec<float> x(4000);
      for (Index i = 0; i < x.size(); ++i) x[i] = float(std::sin(2 * kPi * f * double(i) / sr + 0.3));
      Stft<float> stft(nFft, nFft / 4);
      Mat<float> P;
      stft.power(x, P);
      const Index T = stft.numFrames(x.size());
      for (Index t = 2; t < T - 2; ++t) {  // frames fully inside the signal
        Index argmax;
        P.col(t).maxCoeff(&argmax);
        CHECK(argmax == k0);
      }
      // Periodic Hann on a bin-centred sinusoid: |X[k0]| = n/4, neighbours n/8, others ~0.
      const Index mid = T / 2;
      CHECK(std::sqrt(P(k0, mid)) == doctest::Approx(double(nFft) / 4).epsilon(1e-3));
      if (nFft % 2 == 0) CHECK(std::sqrt(P(k0 + 1, mid)) == doctest::Approx(double(nFft) / 8).epsilon(1e-3));
    }
  }
}

TEST_CASE("STFT batched over columns equals one column at a time; window of winLength < nFft") {
  Mat<double> X = randomSignals<double>(300, 3, 11);
  Stft<double> stft(StftConfig{64, 16, 48, true});
  CHECK(stft.window()[0] == 0.0);
  CHECK(stft.window()[8] == 0.0);                      // (64 - 48) / 2 = 8 zeros on the left
  CHECK(stft.window()[8 + 24] == doctest::Approx(1.0));  // centre of the 48-sample Hann
  Mat<double> all, one;
  stft.power(X, all);
  const Index T = stft.numFrames(300);
  REQUIRE(all.cols() == 3 * T);
  for (Index c = 0; c < 3; ++c) {
    stft.power(X.col(c), one);
    CHECK((all.middleCols(c * T, T) - one).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("STFT refuses bad arguments") {
  CHECK_THROWS_AS(Stft<double>(0, 4), Error);
  CHECK_THROWS_AS(Stft<double>(-8, 4), Error);
  CHECK_THROWS_AS(Stft<double>(8, 0), Error);
  CHECK_THROWS_AS(Stft<double>(8, 2, 9), Error);
  CHECK_THROWS_AS(Stft<double>(StftConfig{8, 2, 0, true}, Vec<double>::Ones(7)), Error);
  Stft<double> stft(8, 2);
  Mat<double> empty(0, 1), P;
  CHECK_THROWS_AS(stft.power(empty, P), Error);
}
