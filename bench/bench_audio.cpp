// Audio features and metrics throughput: real FFT (kissfft vs FFTW3 through Eigen's FFT module),
// STFT, mel spectrogram, MFCC, and the four paper metrics.
//
//   cmake --build build --target bench_audio && ./build/bench/bench_audio
//
// The FFTW3 variants are compiled when bench/CMakeLists.txt finds FFTW3 (it then defines
// SYMFLOW_BENCH_FFTW and links fftw3f / fftw3); they pick the backend per object through
// RealFft's Impl template argument, so both backends run in the same program.
#include <benchmark/benchmark.h>

#include <cmath>

#include "symflow/audio/fft.hpp"
#include "symflow/audio/mel.hpp"
#include "symflow/audio/metrics.hpp"
#include "symflow/audio/mfcc.hpp"
#include "symflow/audio/stft.hpp"
#include "symflow/core/rng.hpp"

#ifdef SYMFLOW_BENCH_FFTW
#include <fftw3.h>
#include <unsupported/Eigen/src/FFT/ei_fftw_impl.h>
#endif

using namespace symflow;
using namespace symflow::audio;

namespace {

template <class S> Mat<S> noise(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Mat<S> x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = S(rng.uniform(-1.0, 1.0));
  return x;
}

// Synth-like test sounds: decaying harmonic tones with a little noise, one per column.
template <class S> Mat<S> tones(Index rows, Index cols, double sr, std::uint64_t seed) {
  Rng rng(seed);
  Mat<S> x(rows, cols);
  for (Index j = 0; j < cols; ++j) {
    const double f = rng.uniform(80.0, 800.0), decay = rng.uniform(0.5, 4.0);
    for (Index i = 0; i < rows; ++i) {
      const double t = double(i) / sr;
      double v = 0;
      for (int h = 1; h <= 6; ++h) v += std::sin(2 * 3.141592653589793 * h * f * t) / h;
      x(i, j) = S(0.3 * v * std::exp(-decay * t) + 0.01 * rng.uniform(-1.0, 1.0));
    }
  }
  return x;
}

// ---- real FFT: n x 1024 batch, one transform per column ----
template <class S, class Impl> void realFftBatch(benchmark::State& state) {
  const Index n = state.range(0), batch = 1024;
  const Mat<S> x = noise<S>(n, batch, 1);
  RealFft<S, Impl> fft(n);
  CMat<S> X;
  for (auto _ : state) {
    fft.forward(x, X);
    benchmark::DoNotOptimize(X.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);  // transforms per second
}
void BM_RealFft_kissfft_float(benchmark::State& s) { realFftBatch<float, Eigen::internal::kissfft_impl<float>>(s); }
void BM_RealFft_kissfft_double(benchmark::State& s) { realFftBatch<double, Eigen::internal::kissfft_impl<double>>(s); }
BENCHMARK(BM_RealFft_kissfft_float)->Arg(1024)->Arg(2048)->Arg(2205)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RealFft_kissfft_double)->Arg(1024)->Arg(2048)->Arg(2205)->Unit(benchmark::kMicrosecond);
#ifdef SYMFLOW_BENCH_FFTW
void BM_RealFft_fftw_float(benchmark::State& s) { realFftBatch<float, Eigen::internal::fftw_impl<float>>(s); }
void BM_RealFft_fftw_double(benchmark::State& s) { realFftBatch<double, Eigen::internal::fftw_impl<double>>(s); }
BENCHMARK(BM_RealFft_fftw_float)->Arg(1024)->Arg(2048)->Arg(2205)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RealFft_fftw_double)->Arg(1024)->Arg(2048)->Arg(2205)->Unit(benchmark::kMicrosecond);
#endif

// ---- STFT / mel / MFCC on a batch of 16 sounds of 2 s at 16 kHz (the synth's default) ----
constexpr double kSr = 16000;
constexpr Index kLen = 32000, kBatch = 16;

void BM_StftPower_float(benchmark::State& state) {
  const Mat<float> x = tones<float>(kLen, kBatch, kSr, 2);
  Stft<float> stft(state.range(0), state.range(0) / 4);
  Mat<float> P;
  for (auto _ : state) {
    stft.power(x, P);
    benchmark::DoNotOptimize(P.data());
  }
  state.SetItemsProcessed(state.iterations() * kLen * kBatch);  // audio samples per second
  state.counters["xRealTime"] = benchmark::Counter(double(state.iterations()) * kLen * kBatch / kSr,
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StftPower_float)->Arg(512)->Arg(800)->Arg(1024)->Unit(benchmark::kMillisecond);

void BM_MelSpectrogram_float(benchmark::State& state) {
  const Mat<float> x = tones<float>(kLen, kBatch, kSr, 3);
  MelConfig c;
  c.sampleRate = kSr;
  c.nFft = 800;
  c.hop = 160;
  c.nMels = 128;
  MelSpectrogram<float> mel(c);
  Mat<float> M;
  for (auto _ : state) {
    mel.power(x, M);
    benchmark::DoNotOptimize(M.data());
  }
  state.SetItemsProcessed(state.iterations() * kLen * kBatch);
  state.counters["xRealTime"] = benchmark::Counter(double(state.iterations()) * kLen * kBatch / kSr,
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MelSpectrogram_float)->Unit(benchmark::kMillisecond);

void BM_Mfcc_float(benchmark::State& state) {
  const Mat<float> x = tones<float>(kLen, kBatch, kSr, 4);
  MfccConfig c;
  c.mel.sampleRate = kSr;
  c.mel.nFft = 800;
  c.mel.hop = 160;
  c.mel.nMels = 128;
  c.nMfcc = 20;
  Mfcc<float> mfcc(c);
  Mat<float> C;
  for (auto _ : state) {
    mfcc.compute(x, C);
    benchmark::DoNotOptimize(C.data());
  }
  state.SetItemsProcessed(state.iterations() * kLen * kBatch);
  state.counters["xRealTime"] = benchmark::Counter(double(state.iterations()) * kLen * kBatch / kSr,
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Mfcc_float)->Unit(benchmark::kMillisecond);

// ---- the four metrics, per pair of sounds (double inside) ----
// Arg 0: 16 kHz, 2 s (synth default); Arg 1: 44.1 kHz, 4 s (the paper's setting).
template <class Impl> void metricsBench(benchmark::State& state, int which) {
  const bool paper = state.range(0) == 1;
  const double sr = paper ? 44100 : 16000;
  const Index L = paper ? 176400 : 32000;
  const Mat<float> A = tones<float>(L, 2, sr, 5), B = tones<float>(L, 2, sr, 6);
  AudioMetrics<Impl> metrics(sr);
  for (auto _ : state) {
    double v = 0;
    switch (which) {
      case 0: v = metrics.mssBatch(A, B).sum(); break;
      case 1: v = metrics.wmfccBatch(A, B).sum(); break;
      case 2: v = metrics.sotBatch(A, B).sum(); break;
      case 3: v = metrics.rmsBatch(A, B).sum(); break;
      default: v = metrics.evaluateBatch(A, B).sum(); break;
    }
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations() * 2);  // pairs per second
}
using KissD = Eigen::internal::kissfft_impl<double>;
void BM_Metric_MSS(benchmark::State& s) { metricsBench<KissD>(s, 0); }
void BM_Metric_wMFCC(benchmark::State& s) { metricsBench<KissD>(s, 1); }
void BM_Metric_SOT(benchmark::State& s) { metricsBench<KissD>(s, 2); }
void BM_Metric_RMS(benchmark::State& s) { metricsBench<KissD>(s, 3); }
void BM_Metrics_all_kissfft(benchmark::State& s) { metricsBench<KissD>(s, 4); }
BENCHMARK(BM_Metric_MSS)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Metric_wMFCC)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Metric_SOT)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Metric_RMS)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Metrics_all_kissfft)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
#ifdef SYMFLOW_BENCH_FFTW
void BM_Metrics_all_fftw(benchmark::State& s) { metricsBench<Eigen::internal::fftw_impl<double>>(s, 4); }
BENCHMARK(BM_Metrics_all_fftw)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
#endif

}  // namespace
