// The paper's four audio metrics (MSS, wMFCC, SOT, RMS): reference values, properties, errors.
#include <doctest/doctest.h>

#include <cmath>

#include "symflow/audio/metrics.hpp"

using namespace symflow;
using namespace symflow::audio;

namespace {

const double kPi = 3.141592653589793238462643;

// The two test signals of tests/audio_reference.py.
Vec<double> signalA(double sr, Index L) {
  Vec<double> x(L);
  for (Index i = 0; i < L; ++i) {
    const double t = double(i) / sr;
    x[i] = 0.6 * std::sin(2 * kPi * 440 * t) * std::exp(-4 * t) +
           0.25 * std::sin(2 * kPi * 1250 * t + 2 * std::sin(2 * kPi * 5 * t));
  }
  return x;
}
Vec<double> signalB(double sr, Index L) {
  Vec<double> x(L);
  for (Index i = 0; i < L; ++i) {
    const double t = double(i) / sr;
    x[i] = 0.5 * std::sin(2 * kPi * 470 * t) * std::exp(-2 * t) +
           (t > 0.1 ? 0.3 * std::sin(2 * kPi * 2100 * t) : 0.0);
  }
  return x;
}
Vec<double> sine(double f, double sr, Index L, double amp = 0.5) {
  Vec<double> x(L);
  for (Index i = 0; i < L; ++i) x[i] = amp * std::sin(2 * kPi * f * double(i) / sr);
  return x;
}

}  // namespace

TEST_CASE("metrics match the independent numpy reference (tests/audio_reference.py), mono") {
  struct Ref { double sr; Index L; double mss, wmfcc, sot, rms; };
  for (Ref r : {Ref{16000, 4800, 12.763841027335724, 26.578468899552718, 0.051654988114911246, 0.9816025356196328},
                Ref{44100, 8820, 10.360469993736851, 22.70503560322068, 0.019008388702108907, 0.9862073773924707}}) {
    AudioMetrics<> metrics(r.sr);
    const Vec<double> a = signalA(r.sr, r.L), b = signalB(r.sr, r.L);
    const AudioMetricValues v = metrics.evaluate(a, b);
    INFO("sr " << r.sr);
    CHECK(v.mss == doctest::Approx(r.mss).epsilon(1e-9));
    CHECK(v.wmfcc == doctest::Approx(r.wmfcc).epsilon(1e-9));
    CHECK(v.sot == doctest::Approx(r.sot).epsilon(1e-9));
    CHECK(v.rms == doctest::Approx(r.rms).epsilon(1e-12));
  }
}

TEST_CASE("metrics match the numpy reference for stereo signals and for wMFCC over unequal lengths") {
  const double sr = 16000;
  const Vec<double> a = signalA(sr, 4800), b = signalB(sr, 4800);
  Mat<double> A(4800, 2), B(4800, 2);
  A.col(0) = a;
  A.col(1) = 0.5 * b + 0.2 * a;
  B.col(0) = b;
  B.col(1) = 0.7 * a;
  AudioMetrics<> metrics(sr);
  CHECK(metrics.mss(A, B) == doctest::Approx(10.275632371390177).epsilon(1e-9));
  CHECK(metrics.wmfcc(A, B) == doctest::Approx(22.049903091489547).epsilon(1e-9));
  CHECK(metrics.sot(A, B) == doctest::Approx(0.016267255630407235).epsilon(1e-9));
  CHECK(metrics.rms(A, B) == doctest::Approx(0.9948725226346061).epsilon(1e-12));
  Mat<double> features;
  metrics.wmfccFeatures(A, features);
  CHECK(features.rows() == 40);  // 20 MFCCs per channel, stacked per frame
  // The same sound, 0.3 s vs 0.4 s: DTW absorbs the length difference.
  const Vec<double> aLong = signalA(sr, 6400);
  CHECK(metrics.wmfcc(a, aLong) == doctest::Approx(0.7433174938075204).epsilon(1e-9));
}

TEST_CASE("identical signals: MSS = wMFCC = SOT = 0 and RMS = 1 (mono, stereo, float, double)") {
  const double sr = 16000;
  AudioMetrics<> metrics(sr);
  const Vec<double> a = signalA(sr, 3000);
  AudioMetricValues v = metrics.evaluate(a, a);
  CHECK(v.mss == 0.0);
  CHECK(v.wmfcc == 0.0);
  CHECK(v.sot == 0.0);
  CHECK(v.rms == doctest::Approx(1.0).epsilon(1e-15));
  Mat<float> S(3000, 2);
  S.col(0) = a.cast<float>();
  S.col(1) = signalB(sr, 3000).cast<float>();
  v = metrics.evaluate(S, S);
  CHECK(v.mss == 0.0);
  CHECK(v.wmfcc == 0.0);
  CHECK(v.sot == 0.0);
  CHECK(v.rms == doctest::Approx(1.0).epsilon(1e-15));
  // Silence against silence: all defined, RMS = 1 by convention.
  const Vec<double> z = Vec<double>::Zero(1000);
  v = metrics.evaluate(z, z);
  CHECK(v.mss == 0.0);
  CHECK(v.sot == 0.0);
  CHECK(v.rms == 1.0);
  CHECK(metrics.rms(z, a.head(1000).eval()) == 0.0);
}

TEST_CASE("MSS, SOT and RMS are gain-invariant; wMFCC is not (absolute dB reference)") {
  const double sr = 16000;
  AudioMetrics<> metrics(sr);
  const Vec<double> a = signalA(sr, 4000);
  const Vec<double> louder = 3.0 * a;
  CHECK(metrics.mss(a, louder) < 1e-9);
  CHECK(metrics.sot(a, louder) < 1e-12);
  CHECK(metrics.rms(a, louder) == doctest::Approx(1.0).epsilon(1e-14));
  CHECK(metrics.wmfcc(a, louder) > 1.0);  // c0 shifts by 10 log10(9) sqrt(128) / 20 on average
}

TEST_CASE("SOT between two sinusoids grows with their frequency gap: gap in bins / nBins") {
  // Theory: each frame's normalized magnitude spectrum of a steady sinusoid is the window's
  // kernel centred on its frequency, so the two spectra are (nearly) translates of each other
  // and the 1-D Wasserstein-1 distance in bins is the shift g = gap / (sr / nFft). SOT divides
  // by nBins = nFft/2 + 1. At 16 kHz, nFft = 800 (50 ms): 20 Hz per bin, 401 bins.
  const double sr = 16000, f0 = 2000;
  const double binHz = sr / 800.0, nBins = 401;
  AudioMetrics<> metrics(sr);
  const Vec<double> a = sine(f0, sr, 8000);
  double previous = 0;
  for (double gap : {60.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0}) {
    const double value = metrics.sot(a, sine(f0 + gap, sr, 8000, 0.2));
    const double theory = gap / binHz / nBins;
    INFO("gap " << gap << " Hz: SOT " << value << ", theory " << theory);
    CHECK(value > previous);
    CHECK(value == doctest::Approx(theory).epsilon(0.02));
    previous = value;
  }
  // Symmetric in its arguments.
  const Vec<double> b = sine(f0 + 300, sr, 8000);
  CHECK(metrics.sot(a, b) == doctest::Approx(metrics.sot(b, a)).epsilon(1e-12));
}

TEST_CASE("RMS envelope: frame count, padding and values") {
  AudioMetrics<> metrics(44100);  // frames 2205, hop 1102, 1102 zeros per side
  const Vec<double> ones = Vec<double>::Ones(4410);
  const Vec<double> e = metrics.rmsEnvelope(ones);
  REQUIRE(e.size() == 1 + (4410 + 2 * 1102 - 2205) / 1102);
  CHECK(e[0] == doctest::Approx(std::sqrt(1103.0 / 2205.0)));  // 1102 padded zeros, 1103 ones
  CHECK(e[2] == doctest::Approx(1.0));
  // An envelope shape change lowers the similarity: a decaying vs a constant tone.
  const double sr = 16000;
  AudioMetrics<> m16(sr);
  Vec<double> steady = sine(440, sr, 16000), decaying = steady;
  for (Index i = 0; i < decaying.size(); ++i) decaying[i] *= std::exp(-5.0 * double(i) / sr);
  const double r = m16.rms(steady, decaying);
  CHECK(r < 0.8);
  CHECK(r > 0.0);
}

TEST_CASE("RMS frames: 50 / 25 ms at the task's rate by default, the authors' 2205 / 1102 samples as an option") {
  // Issue 17, point 3 (docs/audio-metrics.md "RMS frame size").
  const double sr = 16000;
  AudioMetrics<> task(sr);
  CHECK(task.rmsFrameSamples() == 800);
  CHECK(task.rmsHopSamples() == 400);
  AudioMetrics<> authors(sr, audio::authorsRmsFrames());
  CHECK(authors.rmsFrameSamples() == 2205);
  CHECK(authors.rmsHopSamples() == 1102);
  // At 44.1 kHz both conventions are the same frames.
  AudioMetrics<> a44(44100), b44(44100, audio::authorsRmsFrames());
  CHECK(a44.rmsFrameSamples() == b44.rmsFrameSamples());
  CHECK(a44.rmsHopSamples() == b44.rmsHopSamples());
  // The authors' envelope at 16 kHz, by hand: 1102 zeros per side, frames of 2205, hop 1102.
  Vec<double> steady = sine(440, sr, 16000), decaying = steady;
  for (Index i = 0; i < decaying.size(); ++i) decaying[i] *= std::exp(-5.0 * double(i) / sr);
  auto envelope = [](const Vec<double>& x) {
    const Index frame = 2205, hop = 1102, pad = 1102;
    const Index T = 1 + (x.size() + 2 * pad - frame) / hop;
    Vec<double> e(T);
    for (Index t = 0; t < T; ++t) {
      double energy = 0;
      for (Index j = t * hop - pad; j < t * hop - pad + frame; ++j)
        if (j >= 0 && j < x.size()) energy += x[j] * x[j];
      e[t] = std::sqrt(energy / double(frame));
    }
    return e;
  };
  const Vec<double> ea = envelope(steady), eb = envelope(decaying);
  const double expected = ea.dot(eb) / (ea.norm() * eb.norm());
  CHECK(authors.rms(steady, decaying) == doctest::Approx(expected).epsilon(1e-12));
  CHECK(authors.rmsEnvelope(steady).size() == ea.size());
  // The two conventions measure different time scales at 16 kHz.
  CHECK(std::abs(authors.rms(steady, decaying) - task.rms(steady, decaying)) > 1e-3);
  AudioMetricConfig bad;
  bad.rmsFrameSamples = 100;  // hop missing
  CHECK_THROWS_AS(AudioMetrics<>(sr, bad), Error);
}

TEST_CASE("batched metrics equal the pair versions, per column") {
  const double sr = 16000;
  const Index L = 3200, N = 3;
  Mat<float> A(L, N), B(L, N);
  A.col(0) = signalA(sr, L).cast<float>();
  B.col(0) = signalB(sr, L).cast<float>();
  A.col(1) = sine(300, sr, L).cast<float>();
  B.col(1) = sine(350, sr, L).cast<float>();
  A.col(2) = signalB(sr, L).cast<float>();
  B.col(2) = A.col(2);
  AudioMetrics<> metrics(sr);
  const Vec<double> mss = metrics.mssBatch(A, B), wm = metrics.wmfccBatch(A, B);
  const Vec<double> sot = metrics.sotBatch(A, B), rms = metrics.rmsBatch(A, B);
  const Mat<double> all = metrics.evaluateBatch(A, B);
  REQUIRE(all.rows() == 4);
  REQUIRE(all.cols() == N);
  for (Index j = 0; j < N; ++j) {
    const Vec<float> a = A.col(j), b = B.col(j);
    const AudioMetricValues v = metrics.evaluate(a, b);
    CHECK(mss[j] == v.mss);
    CHECK(wm[j] == v.wmfcc);
    CHECK(sot[j] == v.sot);
    CHECK(rms[j] == v.rms);
    CHECK(all(0, j) == v.mss);
    CHECK(all(1, j) == v.wmfcc);
    CHECK(all(2, j) == v.sot);
    CHECK(all(3, j) == v.rms);
  }
  CHECK(all(0, 2) == 0.0);
  CHECK(all(3, 2) == doctest::Approx(1.0));
  // Float input rounds only the samples: close to the double computation.
  const Vec<double> a0 = signalA(sr, L), b0 = signalB(sr, L);
  CHECK(mss[0] == doctest::Approx(metrics.mss(a0, b0)).epsilon(1e-4));
}

TEST_CASE("metrics refuse bad arguments") {
  AudioMetrics<> metrics(16000);
  const Vec<double> a = Vec<double>::Ones(1000), shorter = Vec<double>::Ones(999), empty(0);
  Mat<double> stereo = Mat<double>::Ones(1000, 2);
  CHECK_THROWS_AS(metrics.mss(a, empty), Error);
  CHECK_THROWS_AS(metrics.wmfcc(empty, a), Error);
  CHECK_THROWS_AS(metrics.sot(empty, empty), Error);
  CHECK_THROWS_AS(metrics.rms(a, empty), Error);
  CHECK_THROWS_AS(metrics.mss(a, shorter), Error);
  CHECK_THROWS_AS(metrics.sot(a, shorter), Error);
  CHECK_THROWS_AS(metrics.rms(a, shorter), Error);
  CHECK_NOTHROW(metrics.wmfcc(a, shorter));  // DTW takes unequal lengths
  CHECK_THROWS_AS(metrics.mss(a, stereo), Error);
  CHECK_THROWS_AS(metrics.wmfcc(a, stereo), Error);
  Mat<double> A = Mat<double>::Ones(1000, 3), B = Mat<double>::Ones(1000, 2);
  CHECK_THROWS_AS(metrics.mssBatch(A, B), Error);
  CHECK_THROWS_AS(metrics.evaluateBatch(A, Mat<double>::Ones(999, 3)), Error);
  CHECK_THROWS_AS(AudioMetrics<>(0.0), Error);
  CHECK_THROWS_AS(AudioMetrics<>(100.0), Error);  // 5 ms at 100 Hz is zero samples
}
