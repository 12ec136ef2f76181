// Layer benchmarks (float, batch 1024 samples of k tokens, k = 4, 8, 16, 32): forward and
// forward+backward of Linear (128 -> 128 on every token), MultiheadAttention (d 128, 4 heads)
// and the DiT block (d 128, 4 heads, d_ff 256, conditioning 128), and the whole Param2Tok
// vector field of the paper's k-osc model. items/s = samples/s.
// Wall-clock time (OpenMP threads and Eigen's threaded GEMMs count as the machine's time),
// steady state: one untimed warm-up call allocates the caches first.
//
//   build-xxx/bench/bench_nn --benchmark_min_time=0.2
//
// Add further model benches (vector fields, encoders) below the marked section, reusing
// registerPerK() so every bench reports the same k values and units.
#include <benchmark/benchmark.h>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/models/vector_fields.hpp"
#include "symflow/nn/attention.hpp"
#include "symflow/nn/dit_block.hpp"
#include "symflow/nn/linear.hpp"
#include "symflow/testing/gradcheck.hpp"

namespace {

using namespace symflow;
using S = float;

constexpr Index kBatch = 1024;  // samples per batch
constexpr Index kWidth = 128;   // token width d
constexpr Index kHeads = 4;
constexpr Index kFF = 256;

/// Registers `fn` for k = 4, 8, 16, 32 tokens per sample, in milliseconds, wall-clock time.
void registerPerK(const char* name, void (*fn)(benchmark::State&)) {
  benchmark::RegisterBenchmark(name, fn)
      ->ArgName("k")
      ->Arg(4)
      ->Arg(8)
      ->Arg(16)
      ->Arg(32)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

void finish(benchmark::State& st) {
  st.SetItemsProcessed(st.iterations() * kBatch);
  st.counters["tokens"] = double(kBatch * st.range(0));
}

// ----------------------------------------------------------------------------- Linear

template <bool Backward> void linearBench(benchmark::State& st) {
  const Index N = kBatch * st.range(0);
  Rng rng(1);
  nn::Linear<S> lin(kWidth, kWidth);
  ParamStore<S> store(lin);
  lin.init(rng);
  const Mat<S> x = testing::randomMatrix<S>(kWidth, N, rng);
  const Mat<S> dy = testing::randomMatrix<S>(kWidth, N, rng);
  Mat<S> y, dx;
  nn::Linear<S>::Cache cache;
  lin.forward(x, y, cache);  // warm-up: steady state has its buffers allocated
  if (Backward) lin.backward(cache, dy, dx);
  for (auto _ : st) {
    lin.forward(x, y, cache);
    if (Backward) lin.backward(cache, dy, dx);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  finish(st);
}

// ----------------------------------------------------------------------------- attention

template <bool Backward> void attentionBench(benchmark::State& st) {
  const Index n = st.range(0), N = kBatch * n;
  Rng rng(2);
  nn::MultiheadAttention<S> mha(kWidth, kHeads);
  ParamStore<S> store(mha);
  mha.init(rng);
  const Mat<S> x = testing::randomMatrix<S>(kWidth, N, rng);
  const Mat<S> dy = testing::randomMatrix<S>(kWidth, N, rng);
  Mat<S> y, dx;
  nn::MultiheadAttention<S>::Cache cache;
  mha.forward(x, n, y, cache);
  if (Backward) mha.backward(cache, dy, dx);
  for (auto _ : st) {
    mha.forward(x, n, y, cache);
    if (Backward) mha.backward(cache, dy, dx);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  finish(st);
}

// ----------------------------------------------------------------------------- DiT block

template <bool Backward> void ditBlockBench(benchmark::State& st) {
  const Index n = st.range(0), N = kBatch * n;
  Rng rng(3);
  nn::DiTBlock<S> blk(kWidth, kHeads, kFF);
  ParamStore<S> store(blk);
  blk.init(rng);
  const Mat<S> x = testing::randomMatrix<S>(kWidth, N, rng);
  const Mat<S> c = testing::randomMatrix<S>(kWidth, kBatch, rng);
  const Mat<S> dy = testing::randomMatrix<S>(kWidth, N, rng);
  Mat<S> y, dx, dc;
  nn::DiTBlock<S>::Cache cache;
  blk.forward(x, c, n, y, cache);
  if (Backward) blk.backward(cache, dy, dx, dc);
  for (auto _ : st) {
    blk.forward(x, c, n, y, cache);
    if (Backward) blk.backward(cache, dy, dx, dc);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  finish(st);
}

// ----------------------------------------------------------------------------- vector field
// The paper's k-osc vector field: Param2Tok (n = k tokens, P = 3k) + conditioning MLP + 5 DiT
// blocks (d 128, 4 heads, d_ff 256, scalar time); forward+backward includes the CFM loss
// gradient's shape (dv given) and the Param2Tok penalty gradient.

template <bool Backward> void vectorFieldBench(benchmark::State& st) {
  const Index k = st.range(0), P = 3 * k;
  Rng rng(4);
  using VF = models::DitVectorField<S, nn::Param2Tok<S>>;
  models::DitConfig cfg;
  VF vf(nn::Param2Tok<S>(P, k, cfg.width), cfg, "p2t");
  ParamStore<S> store(vf);
  vf.init(rng);
  const Mat<S> xt = testing::randomMatrix<S>(P, kBatch, rng), z = testing::randomMatrix<S>(cfg.condDim, kBatch, rng);
  const Mat<S> dv = testing::randomMatrix<S>(P, kBatch, rng);
  Vec<S> t(kBatch);
  rng.fillUniform(t.data(), t.data() + kBatch);
  Mat<S> v, dxt, dz;
  VF::Cache cache;
  vf.forward(xt, t, z, v, cache);
  if (Backward) vf.backward(cache, dv, dxt, dz);
  for (auto _ : st) {
    vf.forward(xt, t, z, v, cache);
    if (Backward) vf.backward(cache, dv, dxt, dz);
    benchmark::DoNotOptimize(v.data());
    benchmark::DoNotOptimize(dxt.data());
    benchmark::ClobberMemory();
  }
  finish(st);
}

// ----------------------------------------------------------------------------- further
// benches go here, registered below.

[[maybe_unused]] const bool registered = [] {
  registerPerK("Linear128/forward", linearBench<false>);
  registerPerK("Linear128/forward_backward", linearBench<true>);
  registerPerK("MultiheadAttention/forward", attentionBench<false>);
  registerPerK("MultiheadAttention/forward_backward", attentionBench<true>);
  registerPerK("DiTBlock/forward", ditBlockBench<false>);
  registerPerK("DiTBlock/forward_backward", ditBlockBench<true>);
  registerPerK("VectorFieldParam2Tok/forward", vectorFieldBench<false>);
  registerPerK("VectorFieldParam2Tok/forward_backward", vectorFieldBench<true>);
  return true;
}();

}  // namespace
