// Rendering speed of the Surge-style synth (one thread).
//
//   items_per_second  sounds rendered per second
//   x_realtime        seconds of audio rendered per second of (one core's) time
//
// Run: build-*/bench/bench_synth_surge --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "symflow/synth/surge.hpp"

using namespace symflow;
using namespace symflow::synth;

namespace {

void renderBench(benchmark::State& state, double rate, double seconds) {
  SurgeConfig cfg;
  cfg.sampleRate = rate;
  cfg.seconds = seconds;
  const SurgeSynth synth(cfg);
  const Index B = state.range(0);
  Rng rng(1);
  const Mat<float> params = SurgeSynth::sampleUniform(rng, B);
  std::vector<std::uint64_t> seeds(std::size_t(B), 0);
  for (Index b = 0; b < B; ++b) seeds[std::size_t(b)] = std::uint64_t(b);
  Mat<float> out;
  for (auto _ : state) {
    synth.render(params, out, seeds);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * B);
  state.counters["x_realtime"] =
      benchmark::Counter(double(state.iterations()) * double(B) * seconds, benchmark::Counter::kIsRate);
}

void BM_SurgeRender16k2s(benchmark::State& state) { renderBench(state, 16000, 2); }
void BM_SurgeRender44k4s(benchmark::State& state) { renderBench(state, 44100, 4); }

/// Random patches with the loudness-floor redraw (what training on the fly pays per batch).
void BM_SurgeSampleRandom16k2s(benchmark::State& state) {
  const SurgeSynth synth;
  const Index B = state.range(0);
  Rng rng(2);
  Index redraws = 0;
  for (auto _ : state) {
    auto batch = synth.sampleRandom(rng, B);
    redraws += batch.redraws;
    benchmark::DoNotOptimize(batch.audio.data());
  }
  state.SetItemsProcessed(state.iterations() * B);
  state.counters["x_realtime"] =
      benchmark::Counter(double(state.iterations()) * double(B) * 2.0, benchmark::Counter::kIsRate);
  state.counters["redraw_frac"] = double(redraws) / double(state.iterations() * B);
}

}  // namespace

BENCHMARK(BM_SurgeRender16k2s)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SurgeRender44k4s)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SurgeSampleRandom16k2s)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);
