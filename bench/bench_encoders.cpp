// Encoder benchmarks (float, batch 1024 spectra of 513 bins): the paper's CNN encoder
// (CnnEncoder, 72.4 MFLOP forward per sample) forward and forward+backward (training mode:
// batch-statistics BatchNorm, parameter gradients only, as in a training step), the
// spectral-MLP encoder, and single Conv1d layers of the CNN encoder at their real shapes.
// items/s = samples/s; "GFLOP/s" counts 2 FLOPs per multiply-add of the convolutions and
// Linear layers only (forward+backward = 3 x forward), the convention of the PyTorch peer
// (../shared/peer/torch_kosc_bench.py, which needs 1.8-2.4 s for the encoder's
// forward+backward at batch 1024 on this machine).
// Wall-clock time (OpenMP threads and Eigen's GEMMs count as the machine's time).
//
//   build-xxx/bench/bench_encoders --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/nn/conv1d.hpp"
#include "symflow/nn/encoders.hpp"
#include "symflow/testing/gradcheck.hpp"

namespace {

using namespace symflow;
using S = float;

constexpr Index kBatch = 1024;
constexpr Index kBins = 513;
constexpr double kCnnForwardFlops = 72.402432e6;  // per sample, as the peer counts it

Mat<S> spectra(Rng& rng) { return testing::randomMatrix<S>(kBins, kBatch, rng).cwiseAbs(); }

template <bool Backward> void cnnEncoderBench(benchmark::State& st) {
  Rng rng(1);
  nn::CnnEncoder<S> enc;
  ParamStore<S> store(enc);
  enc.init(rng);
  const Mat<S> x = spectra(rng);
  const Mat<S> dy = testing::randomMatrix<S>(enc.outFeatures(), kBatch, rng);
  Mat<S> y;
  nn::CnnEncoder<S>::Cache cache;
  enc.forward(x, y, cache);  // warm-up: the cache's buffers are allocated and touched once
  if (Backward) enc.backwardParams(cache, dy);
  for (auto _ : st) {
    enc.forward(x, y, cache);
    if (Backward) enc.backwardParams(cache, dy);
    benchmark::DoNotOptimize(store.grads().data());
  }
  st.SetItemsProcessed(st.iterations() * kBatch);
  st.counters["GFLOP/s"] = benchmark::Counter(double(st.iterations()) * kBatch * kCnnForwardFlops *
                                                  (Backward ? 3 : 1) / 1e9,
                                              benchmark::Counter::kIsRate);
}

template <bool Backward> void spectralMlpBench(benchmark::State& st) {
  Rng rng(2);
  nn::SpectralMlpEncoder<S> enc;
  ParamStore<S> store(enc);
  enc.init(rng);
  const Mat<S> x = spectra(rng);
  const Mat<S> dy = testing::randomMatrix<S>(enc.outFeatures(), kBatch, rng);
  Mat<S> y;
  nn::SpectralMlpEncoder<S>::Cache cache;
  enc.forward(x, y, cache);
  if (Backward) enc.backwardParams(cache, dy);
  for (auto _ : st) {
    enc.forward(x, y, cache);
    if (Backward) enc.backwardParams(cache, dy);
    benchmark::DoNotOptimize(store.grads().data());
  }
  st.SetItemsProcessed(st.iterations() * kBatch);
}

/// Conv1d alone; args: in channels, out channels, kernel, stride, padding, input length.
template <bool Backward> void conv1dBench(benchmark::State& st) {
  const Index cin = st.range(0), cout = st.range(1), k = st.range(2), s = st.range(3), p = st.range(4),
              L = st.range(5);
  Rng rng(3);
  nn::Conv1d<S> conv(cin, cout, k, s, p);
  conv.setInputLength(L);
  ParamStore<S> store(conv);
  conv.init(rng);
  const Index Lout = conv.outputLength();
  const Mat<S> x = testing::randomMatrix<S>(cin, kBatch * L, rng);
  const Mat<S> dy = testing::randomMatrix<S>(cout, kBatch * Lout, rng);
  Mat<S> y, dx;
  nn::Conv1d<S>::Cache cache;
  conv.forward(x, y, cache);
  if (Backward) conv.backward(cache, dy, dx);
  for (auto _ : st) {
    conv.forward(x, y, cache);
    if (Backward) conv.backward(cache, dy, dx);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * kBatch);
  const double flops = 2.0 * double(kBatch * Lout * cout * cin * k) * (Backward ? 3 : 1);
  st.counters["GFLOP/s"] = benchmark::Counter(double(st.iterations()) * flops / 1e9, benchmark::Counter::kIsRate);
}

void convShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"cin", "cout", "k", "s", "p", "L"});
  b->Args({24, 24, 7, 1, 3, 513});    // stage 1 conv1
  b->Args({24, 24, 1, 1, 0, 513});    // stage 1 conv2 (1x1)
  b->Args({24, 48, 6, 3, 1, 513});    // stage 1 downsampling
  b->Args({96, 96, 7, 1, 3, 56});     // stage 3 conv1
  b->Args({192, 192, 7, 1, 3, 18});   // stage 4 conv1
  b->Args({192, 384, 6, 3, 1, 18});   // stage 4 downsampling
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(cnnEncoderBench<false>)->Name("CnnEncoder/forward")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(cnnEncoderBench<true>)->Name("CnnEncoder/forward+backward")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(spectralMlpBench<false>)->Name("SpectralMlpEncoder/forward")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(spectralMlpBench<true>)
    ->Name("SpectralMlpEncoder/forward+backward")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(conv1dBench<false>)->Name("Conv1d/forward")->Apply(convShapes);
BENCHMARK(conv1dBench<true>)->Name("Conv1d/forward+backward")->Apply(convShapes);

// ---------------------------------------------------------------------------------------------
// AST encoder (nn/ast_encoder.hpp), the Surge-style task's encoder, at a CPU size: 64 mel bands
// x 201 frames (2 s at 16 kHz, 10 ms hop), patch 16 stride 10 (5 x 19 = 95 patches), 5 query
// tokens (one per DiT layer of the default DitConfig), 4 heads, 4 layers; args: width d and
// FFN width. Batch 64 (a training step's batch), float. forward+backward is a training step's
// encoder work: backwardParams (the spectrogram needs no gradient). "GFLOP/s" counts 2 FLOPs
// per multiply-add of the GEMMs and attention products (forward+backward = 3 x forward).
//
//   build-xxx/bench/bench_encoders --benchmark_filter=AstEncoder --benchmark_min_time=1
#include "symflow/nn/ast_encoder.hpp"

namespace {

constexpr Index kAstBatch = 64;

template <bool Backward> void astEncoderBench(benchmark::State& st) {
  nn::AstEncoderConfig cfg;  // 64 x 201, patch 16 / stride 10, 4 heads, 4 layers, 5 queries
  cfg.width = st.range(0);
  cfg.ffDim = st.range(1);
  Rng rng(4);
  nn::AstEncoder<S> enc(cfg);
  ParamStore<S> store(enc);
  enc.init(rng);
  const Mat<S> x = testing::randomMatrix<S>(cfg.mels * cfg.frames, kAstBatch, rng);
  Mat<S> y;
  nn::AstEncoder<S>::Cache cache;
  enc.forward(x, y, cache);  // warm-up: allocates and touches the cache once
  const Mat<S> dy = testing::randomMatrix<S>(y.rows(), y.cols(), rng);
  if (Backward) enc.backwardParams(cache, dy);
  for (auto _ : st) {
    enc.forward(x, y, cache);
    if (Backward) enc.backwardParams(cache, dy);
    benchmark::DoNotOptimize(store.grads().data());
  }
  st.SetItemsProcessed(st.iterations() * kAstBatch);
  st.counters["params"] = double(store.size());
  st.counters["GFLOP/s"] = benchmark::Counter(
      double(st.iterations()) * kAstBatch * 2.0 * cfg.forwardMultiplyAddsPerSound() * (Backward ? 3 : 1) / 1e9,
      benchmark::Counter::kIsRate);
}

void astSizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"d", "ff"});
  b->Args({128, 256});
  b->Args({128, 512});
  b->Args({192, 384});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(astEncoderBench<false>)->Name("AstEncoder/forward")->Apply(astSizes);
BENCHMARK(astEncoderBench<true>)->Name("AstEncoder/forward+backward")->Apply(astSizes);
