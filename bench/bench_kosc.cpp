// k-osc data generation and the exact assignment solver (one thread).
//
//   build-*/bench/bench_kosc --benchmark_filter=Render        signals/s at batch 1024
//   build-*/bench/bench_kosc --benchmark_filter=Assignment    minibatch OT at n = 256, 1024
//   build-*/bench/bench_kosc --benchmark_filter=TrainData     a training batch: synth vs features
//
// items_per_second is signals/s for the render and stream benchmarks, problems/s for the
// assignment ones. Figures and the comparison with the numpy peer are in docs/kosc.md.
#include <benchmark/benchmark.h>

#include <vector>

#include "symflow/core/assignment.hpp"
#include "symflow/audio/fft.hpp"
#include "symflow/metrics/kosc.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/synth/kosc.hpp"

using namespace symflow;

namespace {

constexpr Index kBatch = 1024;

// --- k-osc rendering -------------------------------------------------------------------

template <class S> void BM_KOscRender(benchmark::State& state) {
  const Index k = state.range(0);
  const auto variant =
      state.range(1) ? synth::KOscVariant::Asymmetric : synth::KOscVariant::Symmetric;
  Rng rng(1);
  const Mat<S> params = synth::sampleUniformParams<S>(k, kBatch, rng);
  const synth::KOsc<S> synth(k, variant);
  Mat<S> signals(synth::KOscConstants::numSamples, kBatch);
  for (auto _ : state) {
    synth.render(params, signals);
    benchmark::DoNotOptimize(signals.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  // Speed-up over the numpy peer (8.6k signals/s at k = 4, 1.1k at k = 32, one core); shown
  // by Google Benchmark as a rate ("/s"), the number is the ratio.
  if (k == 4 || k == 32)
    state.counters["vs_numpy"] =
        benchmark::Counter(double(state.iterations() * kBatch) / (k == 4 ? 8.6e3 : 1.1e3),
                           benchmark::Counter::kIsRate);
}
BENCHMARK_TEMPLATE(BM_KOscRender, float)
    ->ArgsProduct({{4, 8, 16, 32}, {0, 1}})
    ->ArgNames({"k", "asym"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_KOscRender, double)
    ->ArgsProduct({{4, 32}, {0}})
    ->ArgNames({"k", "asym"})
    ->Unit(benchmark::kMillisecond);

// A whole training batch from the stream: sampling (one Rng fork per sound) + rendering.
void BM_KOscStreamBatch(benchmark::State& state) {
  const Index k = state.range(0);
  const synth::KOscStream<float> stream(k, synth::KOscVariant::Symmetric, 7);
  std::uint64_t i = 0;
  for (auto _ : state) {
    auto b = stream.batch(i++, kBatch);
    benchmark::DoNotOptimize(b.signals.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_KOscStreamBatch)->Arg(4)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond);

// Where a k-osc training batch's time goes (issue 21, point 6), at the batch of the small
// regression runs (256 sounds, k = 4): part 0 the stream (sampling + synth), part 1 the
// features alone (kOscFeatures: one 1024-point real FFT and |X| / n per sound, on signals
// rendered once), part 2 both, as train::KOscTask::Renderer::render makes a batch.
void BM_KOscTrainData(benchmark::State& state) {
  const Index B = state.range(0);
  const int part = int(state.range(1));
  const synth::KOscStream<float> stream(4, synth::KOscVariant::Symmetric, 7);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  const auto fixed = stream.trainSounds(0, B);
  Mat<float> features;
  std::uint64_t i = 0;
  for (auto _ : state) {
    if (part == 1) {
      models::kOscFeatures<float>(fixed.signals, fft, features);
      benchmark::DoNotOptimize(features.data());
      continue;
    }
    auto b = stream.trainSounds(std::uint64_t(B) * i++, B);
    if (part == 2) models::kOscFeatures<float>(b.signals, fft, features);
    benchmark::DoNotOptimize(b.signals.data());
    benchmark::DoNotOptimize(features.data());
  }
  state.SetItemsProcessed(state.iterations() * B);
}
BENCHMARK(BM_KOscTrainData)->ArgsProduct({{256}, {0, 1, 2}})->ArgNames({"B", "part"})->Unit(benchmark::kMillisecond);

// --- exact assignment (minibatch OT coupling) -------------------------------------------

// Euclidean distances between n standard Gaussian points x0 (noise) and n points x1 in
// dimension d; data = 0: x1 Gaussian too, data = 1: x1 uniform in [-1, 1]^d (k-osc params).
template <class S> Mat<S> otCost(Index n, Index d, int data, std::uint64_t seed) {
  Rng rng(seed);
  Mat<double> x0(d, n), x1(d, n);
  rng.fillNormal(x0.data(), x0.data() + x0.size());
  if (data == 0)
    rng.fillNormal(x1.data(), x1.data() + x1.size());
  else
    rng.fillUniform(x1.data(), x1.data() + x1.size(), -1.0, 1.0);
  Mat<double> g = x0.transpose() * x1;  // one GEMM, then ||a||^2 + ||b||^2 - 2 a.b
  const Vec<double> a2 = x0.colwise().squaredNorm().transpose();
  const Vec<double> b2 = x1.colwise().squaredNorm().transpose();
  Mat<S> C(n, n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < n; ++i)
      C(i, j) = S(std::sqrt(std::max(0.0, a2(i) + b2(j) - 2 * g(i, j))));
  return C;
}

template <class S> void BM_Assignment(benchmark::State& state) {
  const Index n = state.range(0), d = state.range(1);
  const int data = int(state.range(2));
  // A few different problems, cycled, so one lucky matrix does not decide the figure.
  std::vector<Mat<S>> costs;
  for (std::uint64_t s = 0; s < 4; ++s) costs.push_back(otCost<S>(n, d, data, 100 + s));
  AssignmentSolver<S> solver;
  Assignment a;
  size_t q = 0;
  double identity = 0, optimal = 0;
  for (auto _ : state) {
    const Mat<S>& C = costs[q++ % costs.size()];
    solver.solve(C, a);
    // (Not DoNotOptimize(a.cost): with it, the summed cost below read 0 with this GCC and
    // Google Benchmark version.)
    benchmark::DoNotOptimize(a.colOfRow.data());
    identity += double(C.trace());
    optimal += a.cost;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["cost_vs_identity"] = optimal / identity;
}
BENCHMARK_TEMPLATE(BM_Assignment, float)
    ->ArgsProduct({{256, 1024}, {12, 24, 48, 96}, {0, 1}})
    ->ArgNames({"n", "d", "unif"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Assignment, double)
    ->ArgsProduct({{256, 1024}, {12, 96}, {0}})
    ->ArgNames({"n", "d", "unif"})
    ->Unit(benchmark::kMillisecond);

// Building the 1024 x 1024 Euclidean cost matrix itself (GEMM + sqrt), for scale.
void BM_OtCostMatrix(benchmark::State& state) {
  const Index n = state.range(0), d = state.range(1);
  Rng rng(3);
  Mat<float> x0(d, n), x1(d, n), C(n, n);
  rng.fillNormal(x0.data(), x0.data() + x0.size());
  rng.fillNormal(x1.data(), x1.data() + x1.size());
  for (auto _ : state) {
    C.noalias() = x0.transpose() * x1;
    const Vec<float> a2 = x0.colwise().squaredNorm().transpose();
    const RowVec<float> b2 = x1.colwise().squaredNorm();
    C = ((-2.f * C).colwise() + a2).rowwise() + b2;
    C = C.cwiseMax(0.f).cwiseSqrt();
    benchmark::DoNotOptimize(C.data());
  }
}
BENCHMARK(BM_OtCostMatrix)
    ->Args({1024, 12})
    ->Args({1024, 96})
    ->ArgNames({"n", "d"})
    ->Unit(benchmark::kMillisecond);

// --- metrics -----------------------------------------------------------------------------

void BM_KOscMetrics(benchmark::State& state) {
  const Index k = state.range(0);
  const Index B = 1024;
  const synth::KOscStream<float> stream(k, synth::KOscVariant::Symmetric, 1);
  const auto truth = stream.testSounds(0, B);
  Rng rng(2);
  const Mat<float> pred = synth::sampleUniformParams<float>(k, B, rng);
  for (auto _ : state) {
    auto s = metrics::evaluateKOsc<float>(stream.synth(), pred, truth.params, truth.signals);
    benchmark::DoNotOptimize(s.lsd.data());
  }
  state.SetItemsProcessed(state.iterations() * B);
}
BENCHMARK(BM_KOscMetrics)->Arg(4)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond);

}  // namespace
