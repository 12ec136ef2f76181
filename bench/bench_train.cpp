// The figures of the performance issue, one benchmark each, on the paper's k-osc model
// (cnf-param2tok, CNN encoder, DiT 5 x 128, default KOscModelConfig), measured side by side
// with the PyTorch peer (../shared/peer/torch_kosc_bench.py):
//
//   BM_TrainStep/k            full training step at batch 1024: render + features + encoder +
//                             vector field + backward + OT coupling + clip + Adam
//   BM_VectorFieldStep/k      the same without rendering (loss + gradient of a fixed batch)
//   BM_VectorFieldFwdBwd/k    the peer's "vector field fwd+bwd": the DiT vector field alone
//                             (fixed embeddings; no encoder, optimizer or OT coupling)
//   BM_SampleRk4Cfg/k         RK4, 50 steps, guidance 2, batch 1024 (items: sounds)
//   BM_InvertOne              one sound alone: batch 1, RK4 100 steps, guidance 2, k = 4
//   BM_GemmCeiling            Eigen float GEMM 1024^3: the machine's achievable GEMM rate
//   BM_Bf16*                  (builds with SYMFLOW_USE_DNNL) the same with the bf16 GEMM path
//
//   OMP_NUM_THREADS=2 build/bench/bench_train --benchmark_filter=TrainStep
//   scripts/perf_side_by_side.sh  (this program and the peer in the same run, ratio table)
//
// BM_SampleRk4Cfg/k/steps takes the number of RK4 steps as its second argument (50 is the
// issue's figure; the side-by-side script uses fewer for both programs, the cost is linear in
// the steps). Every benchmark runs one untimed warm-up iteration first (caches and
// workspaces are sized there, as in a training run after its first step).
//
// Counters: items_per_second (sounds/s); "GFLOP/s" = nominal FLOPs / time, where the nominal
// count is the peer's (torch_kosc_bench.py: 2 x forward MACs of conv/linear/attention/Param2Tok,
// training = 3 x forward), so both programs are rated on the same work; "allocs/step" and
// "MB/step" count heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc,
// operator new: all reach malloc) per timed iteration. Run on a quiet machine: timings in
// docs/performance.md say under which load they were taken.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <execinfo.h>
#include <unistd.h>

#include "symflow/core/precision.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/optim/adam.hpp"
#include "symflow/optim/clip.hpp"
#include "symflow/synth/kosc.hpp"

using namespace symflow;

// Heap allocation counter: interposes glibc's malloc family (Eigen allocates with malloc,
// operator new ends in malloc too), forwarding to glibc's own entry points.
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}
namespace {
std::atomic<long long> gAllocs{0}, gAllocBytes{0};
// Diagnostics: with SYMFLOW_BENCH_TRACE_ALLOC=<bytes>, every allocation of at least that many
// bytes inside a timed loop prints its call stack to stderr (addresses; resolve with addr2line).
std::atomic<bool> gTracing{false};
long long gTraceMin = -1;
thread_local bool tInTrace = false;
inline void countAlloc(size_t n) {
  gAllocs.fetch_add(1, std::memory_order_relaxed);
  gAllocBytes.fetch_add((long long)n, std::memory_order_relaxed);
  if (gTraceMin >= 0 && gTracing.load(std::memory_order_relaxed) && (long long)n >= gTraceMin && !tInTrace) {
    tInTrace = true;
    void* frames[24];
    const int depth = backtrace(frames, 24);
    char line[64];
    const int len = std::snprintf(line, sizeof line, "alloc %zu bytes:\n", n);
    if (write(2, line, size_t(len)) < 0) {}
    backtrace_symbols_fd(frames, depth, 2);
    tInTrace = false;
  }
}
}  // namespace
extern "C" {
void* malloc(size_t n) {
  countAlloc(n);
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  countAlloc(a * b);
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  countAlloc(n);
  return __libc_realloc(p, n);
}
void* aligned_alloc(size_t al, size_t n) {
  countAlloc(n);
  return __libc_memalign(al, n);
}
void* memalign(size_t al, size_t n) {
  countAlloc(n);
  return __libc_memalign(al, n);
}
int posix_memalign(void** out, size_t al, size_t n) {
  countAlloc(n);
  void* p = __libc_memalign(al, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
}

namespace {

/// Allocation counters over the timed loop: call start() before it, finish() after.
struct AllocCounter {
  long long a0 = 0, b0 = 0;
  void start() {
    if (gTraceMin < 0) {
      const char* e = std::getenv("SYMFLOW_BENCH_TRACE_ALLOC");
      gTraceMin = e ? std::atoll(e) : (long long)1 << 62;
    }
    gTracing = true;
    a0 = gAllocs.load();
    b0 = gAllocBytes.load();
  }
  void finish(benchmark::State& state) {
    gTracing = false;
    const double it = double(std::max<benchmark::IterationCount>(1, state.iterations()));
    state.counters["allocs/step"] = double(gAllocs.load() - a0) / it;
    state.counters["MB/step"] = double(gAllocBytes.load() - b0) / it * 1e-6;
  }
};

/// Forward multiply-adds per sound of the paper's k-osc model, counted as the peer counts them
/// (hooks on Conv1d / Linear / MultiheadAttention + Param2Tok's extra products): encoder,
/// then vector field (d = 128, 4 heads, d_ff = 256, 5 blocks, n = k tokens, P = 3k).
constexpr double kEncoderForwardMacs = 36201216.0;
double vectorFieldForwardMacs(Index k) {
  const double d = 128, ff = 256, L = 5, dc = 128, n = double(k), P = 3.0 * double(k);
  const double cond = (dc + 1) * d + d * d;
  const double block = d * 6 * d + (4 * n * d * d + 2 * n * n * d) + 2 * n * d * ff;
  const double p2t = 2 * P * d * d + (P * d + 2 * n * P * d + P * d);
  return cond + L * block + p2t;
}
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
  auto one = [&] {
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
  };
  one();  // warm-up: sizes every cache
  AllocCounter alloc;
  alloc.start();
  for (auto _ : state) one();
  alloc.finish(state);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["GFLOP/s"] = benchmark::Counter(
      3.0 * 2.0 * (kEncoderForwardMacs + vectorFieldForwardMacs(k)) * double(kBatch) * double(state.iterations()) * 1e-9,
      benchmark::Counter::kIsRate);
}

/// The peer's "vector field fwd+bwd" figure: the DiT vector field alone on a fixed batch and
/// fixed embeddings (no encoder, no optimizer, no OT coupling): x0 and t drawn, rectified path,
/// forward, CFM loss, backward into the parameter gradients.
void BM_VectorFieldFwdBwd(benchmark::State& state) {
  const Index k = state.range(0), P = 3 * k;
  using VF = models::DitVectorField<float, nn::Param2Tok<float>>;
  VF vf(nn::Param2Tok<float>(P, k, 128, 0.01), models::DitConfig{}, "p2t");
  ParamStore<float> store;
  store.attach(vf);
  Rng rng(0);
  vf.init(rng);
  synth::KOscStream<float> stream(k, synth::KOscVariant::Symmetric, 0);
  const auto batch = stream.batch(0, kBatch);
  Mat<float> z(128, kBatch), v, dv, dxt, dz;
  rng.fillNormal(z.data(), z.data() + z.size());
  flow::PathSample<float> path;
  VF::Cache cache;
  std::uint64_t step = 0;
  auto one = [&] {
    Rng r = Rng(1).fork(step++);
    store.zeroGrad();
    flow::RectifiedPath::sample<float>(batch.params, r, path);
    vf.forward(path.xt, path.t, z, v, cache);
    const float loss = flow::cfmLoss<float>(v, path.ut, dv) + vf.penalty();
    vf.backward(cache, dv, dxt, dz);
    benchmark::DoNotOptimize(loss);
  };
  one();  // warm-up
  AllocCounter alloc;
  alloc.start();
  for (auto _ : state) one();
  alloc.finish(state);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["GFLOP/s"] = benchmark::Counter(
      3.0 * 2.0 * vectorFieldForwardMacs(k) * double(kBatch) * double(state.iterations()) * 1e-9,
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VectorFieldFwdBwd)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_TrainStep(benchmark::State& state) { trainStep(state, true); }
void BM_VectorFieldStep(benchmark::State& state) { trainStep(state, false); }
BENCHMARK(BM_TrainStep)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VectorFieldStep)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond)->UseRealTime();

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
  model->predict(features, so, rng, x);  // warm-up
  AllocCounter alloc;
  alloc.start();
  for (auto _ : state) {
    model->predict(features, so, rng, x);
    benchmark::DoNotOptimize(x.data());
  }
  alloc.finish(state);
  state.SetItemsProcessed(state.iterations() * batch);
  // one encoder pass + 4 evaluations per step of the vector field on 2B columns (CFG)
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * double(batch) * (kEncoderForwardMacs + 2.0 * 4.0 * steps * vectorFieldForwardMacs(k)) *
          double(state.iterations()) * 1e-9,
      benchmark::Counter::kIsRate);
  state.counters["ms/sound"] = benchmark::Counter(
      1e-3 * double(state.iterations()) * double(batch), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_SampleRk4Cfg(benchmark::State& state) {
  sample(state, state.range(0), kBatch, state.range(1) > 0 ? int(state.range(1)) : 50);
}
void BM_InvertOne(benchmark::State& state) { sample(state, 4, 1, 100); }
BENCHMARK(BM_SampleRk4Cfg)
    ->Args({4, 50})->Args({8, 50})->Args({16, 50})->Args({32, 50})
    ->Args({4, 5})->Args({8, 5})->Args({16, 5})->Args({32, 5})
    ->Args({4, 2})->Args({8, 2})->Args({16, 2})->Args({32, 2})
    ->ArgNames({"k", "steps"})->Unit(benchmark::kMillisecond)->UseRealTime();
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

#ifdef SYMFLOW_USE_DNNL
// The same benchmarks with the bf16 GEMM path (core/precision.hpp: bfloat16 GEMM inputs, float32
// accumulation, master weights and everything else float32). Named BM_Bf16* so that the
// float32 filters of scripts/perf_side_by_side.sh do not pick them up. On a CPU without native
// bf16 oneDNN emulates it (slow) or refuses; the label says which kernel ran.
void labelBf16(benchmark::State& state) {
  state.SetLabel(cpuHasNativeBf16() ? "bf16 native" : "bf16 NOT native on this CPU");
}
void BM_Bf16TrainStep(benchmark::State& state) {
  ScopedGemmPrecision p(Precision::bf16);
  labelBf16(state);
  trainStep(state, true);
}
void BM_Bf16VectorFieldFwdBwd(benchmark::State& state) {
  ScopedGemmPrecision p(Precision::bf16);
  labelBf16(state);
  BM_VectorFieldFwdBwd(state);
}
void BM_Bf16SampleRk4Cfg(benchmark::State& state) {
  ScopedGemmPrecision p(Precision::bf16);
  labelBf16(state);
  BM_SampleRk4Cfg(state);
}
void BM_Bf16InvertOne(benchmark::State& state) {
  ScopedGemmPrecision p(Precision::bf16);
  labelBf16(state);
  BM_InvertOne(state);
}
/// The bf16 ceiling: gemm() on 1024^3 with the bf16 path (rounding of both inputs included).
void BM_Bf16GemmCeiling(benchmark::State& state) {
  ScopedGemmPrecision p(Precision::bf16);
  labelBf16(state);
  const Index n = state.range(0);
  Mat<float> a = Mat<float>::Random(n, n), b = Mat<float>::Random(n, n), c(n, n);
  for (auto _ : state) {
    gemm(c, a, b);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(n) * double(n) * double(n) * double(state.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Bf16TrainStep)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Bf16VectorFieldFwdBwd)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->ArgName("k")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Bf16SampleRk4Cfg)
    ->Args({4, 5})->Args({32, 5})->Args({4, 2})->Args({32, 2})
    ->ArgNames({"k", "steps"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Bf16InvertOne)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Bf16GemmCeiling)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

}  // namespace
