// The figures of the performance issue, one benchmark each, on the paper's k-osc model
// (cnf-param2tok, CNN encoder, DiT 5 x 128, default KOscModelConfig), measured side by side
// with the PyTorch peer (../shared/peer/torch_kosc_bench.py):
//
//   BM_TrainStep/k            full training step at batch 1024: render + features + encoder +
//                             vector field + backward + OT coupling + clip + Adam
//   BM_VectorFieldStep/k      the same without rendering (loss + gradient of a fixed batch)
//   BM_SampleRk4Cfg/k         RK4, 50 steps, guidance 2, batch 1024 (items: sounds)
//   BM_InvertOne              one sound alone: batch 1, RK4 100 steps, guidance 2, k = 4
//   BM_GemmCeiling            Eigen float GEMM 1024^3: the machine's achievable GEMM rate
//
//   OMP_NUM_THREADS=2 build/bench/bench_train --benchmark_filter=TrainStep
//
// Counters: items_per_second (sounds/s), and "GFLOP/s" for the GEMM ceiling. Run on a quiet
// machine: timings in docs/performance.md say under which load they were taken.
#include <benchmark/benchmark.h>

#include "symflow/models/kosc_model.hpp"
#include "symflow/optim/adam.hpp"
#include "symflow/optim/clip.hpp"
#include "symflow/synth/kosc.hpp"

using namespace symflow;

namespace {

constexpr Index kBatch = 1024;

std::unique_ptr<models::KOscModel> paperModel(Index k) {
  models::KOscModelConfig c;
  c.k = k;
  c.kind = models::ModelKind::CnfParam2Tok;
  c.encoder = models::EncoderKind::Cnn;
  Rng rng(0);
  return models::makeKOscModel(c, &rng);
}

void trainStep(benchmark::State& state, bool render) {
  const Index k = state.range(0);
  auto model = paperModel(k);
  optim::Adam<float> adam(model->store(), optim::AdamConfig{});
  synth::KOscStream<float> stream(k, synth::KOscVariant::Symmetric, 0);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  auto batch = stream.batch(0, kBatch);
  Mat<float> features;
  models::kOscFeatures<float>(batch.signals, fft, features);
  models::FlowTrainOptions o;
  std::uint64_t step = 0;
  for (auto _ : state) {
    if (render) {
      batch = stream.batch(step, kBatch);
      models::kOscFeatures<float>(batch.signals, fft, features);
    }
    Rng rng = Rng(1).fork(step++);
    model->store().zeroGrad();
    const auto loss = model->step(features, batch.params, rng, o);
    optim::clipGradNorm(model->store(), 1.0);
    adam.step(model->store(), 1e-4);
    benchmark::DoNotOptimize(loss);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_TrainStep(benchmark::State& state) { trainStep(state, true); }
void BM_VectorFieldStep(benchmark::State& state) { trainStep(state, false); }
BENCHMARK(BM_TrainStep)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VectorFieldStep)->Arg(4)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond)->UseRealTime();

void sample(benchmark::State& state, Index k, Index batch, int steps) {
  auto model = paperModel(k);
  synth::KOscStream<float> stream(k, synth::KOscVariant::Symmetric, 0);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  const auto b = stream.testSounds(0, batch);
  Mat<float> features, x;
  models::kOscFeatures<float>(b.signals, fft, features);
  models::SampleOptions so;
  so.steps = steps;
  so.guidance = 2.0;
  so.solver = models::SolverKind::Rk4;
  Rng rng(2);
  for (auto _ : state) {
    model->predict(features, so, rng, x);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_SampleRk4Cfg(benchmark::State& state) { sample(state, state.range(0), kBatch, 50); }
void BM_InvertOne(benchmark::State& state) { sample(state, 4, 1, 100); }
BENCHMARK(BM_SampleRk4Cfg)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_InvertOne)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GemmCeiling(benchmark::State& state) {
  const Index n = state.range(0);
  Rng rng(3);
  Mat<float> a = Mat<float>::Random(n, n), b = Mat<float>::Random(n, n), c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(n) * double(n) * double(n) * double(state.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GemmCeiling)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
