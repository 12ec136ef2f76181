// GEMM throughput at the model's shapes in three engines: Eigen float32 (symflow::gemm, the
// default), oneDNN float32 (matmul, f32 in and out) and oneDNN bf16 (the library's bf16 path:
// both inputs rounded to bfloat16 into packed per-thread buffers, float32 accumulation and output;
// the rounding is timed with it). One thread is the intended setting (OMP_NUM_THREADS=1): all
// three run serially on the calling thread. Items: multiply-adds; the GFLOP/s counter is
// 2 m n k per CPU second.
//
// Shapes (d = 128 token width, d_ff = 256, N = batch * k token columns, split into chunks of
// kGemmChunkColumns = 2048 columns as the OverTokens functions of core/gemm.hpp do):
//   fwd   y (m x N)  = W (m x k) x (k x N)     W a transposed view of the stored k x m weightT
//   dx    dx (k x N) = weightT (k x m) dy (m x N)
//   dW    gT (k x m) += x (k x N) dy^T (N x m) (inner dimension N)
//   sq    1024 x 1024 x 1024, one product
//   few   y (128 x n) = W (128 x 128) x (128 x n), n = 8 .. 512 columns, one product: where the
//         per-call overhead of oneDNN (and of the rounding) decides kBf16GemmMinWork
// with (m, k) = (128, 128) (Linear d -> d), (256, 128) (FFN up), (128, 256) (FFN down),
// (384, 128) (qkv projection).
//
//   cmake --build build --target bench_gemm_bf16
//   OMP_NUM_THREADS=1 build/bench/bench_gemm_bf16 --benchmark_min_time=0.2
//
// Without SYMFLOW_USE_DNNL only the Eigen rows exist. When LIBXSMM is installed (libxsmm-dev),
// xsmm_f32 / xsmm_bf16 rows time its JIT kernels on the fwd, dx, few and sq shapes (not dW:
// its transposed right operand would need another packing); see xsmmProduct.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "symflow/core/gemm.hpp"
#include "symflow/core/precision.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/testing/gradcheck.hpp"

#ifdef SYMFLOW_BENCH_XSMM
#include <libxsmm.h>
#endif

namespace {

using namespace symflow;
using S = float;

enum class Engine { eigen, dnnlF32, dnnlBf16, xsmmF32, xsmmBf16 };
enum class Op { fwd, dx, dW, sq };

const char* engineName(Engine e) {
  switch (e) {
    case Engine::eigen: return "eigen_f32";
    case Engine::dnnlF32: return "dnnl_f32";
    case Engine::dnnlBf16: return "dnnl_bf16";
    case Engine::xsmmF32: return "xsmm_f32";
    case Engine::xsmmBf16: return "xsmm_bf16";
  }
  return "?";
}

#ifdef SYMFLOW_BENCH_XSMM
/// LIBXSMM (1.17, JIT small-matrix kernels): dst = lhs rhs in tiles of 64 columns, full m and k
/// per kernel. lhs is first copied column-major (f32) or rounded and packed in LIBXSMM's VNNI
/// layout (bf16: pairs along k, the layout its bf16 kernels need); each tile of rhs is rounded
/// to bf16 with the library's vectorized loop. Overwrites dst (no accumulate).
template <class Dst, class Lhs, class Rhs>
void xsmmProduct(bool bf16, Dst&& dst, const Lhs& lhs, const Rhs& rhs) {
  const libxsmm_blasint m = dst.rows(), k = lhs.cols(), n = dst.cols(), ldc = dst.outerStride();
  const float alpha = 1, beta = 0;
  static thread_local std::vector<float> a32;
  static thread_local std::vector<libxsmm_bfloat16> a16, b16;
  constexpr Index kTile = 64;
  if (!bf16) {
    a32.resize(size_t(m * k));
    Eigen::Map<Mat<S>>(a32.data(), m, k) = lhs;
    const libxsmm_blasint lda = m, ldb = rhs.outerStride();
    const int flags = LIBXSMM_GEMM_FLAG_NONE;
    for (Index j = 0; j < n; j += kTile) {
      const libxsmm_blasint w = std::min(kTile, n - j);
      const auto f = libxsmm_smmdispatch(m, w, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
      if (!f) throw Error("libxsmm: no f32 kernel");
      f(a32.data(), rhs.data() + j * ldb, dst.data() + j * ldc);
    }
    return;
  }
  a16.resize(size_t(m * k + m));
  for (Index p = 0; p < k; ++p)
    for (Index i = 0; i < m; ++i) a16[size_t((p / 2) * m * 2 + i * 2 + (p % 2))] = detail::floatToBf16(lhs(i, p));
  b16.resize(size_t(k * kTile));
  const libxsmm_blasint lda = m, ldb = k;
  const int flags = LIBXSMM_GEMM_FLAG_VNNI_A;
  for (Index j = 0; j < n; j += kTile) {
    const libxsmm_blasint w = std::min(kTile, n - j);
    for (Index c = 0; c < w; ++c)
      detail::roundToBf16(rhs.data() + (j + c) * rhs.outerStride(), reinterpret_cast<std::uint16_t*>(b16.data()) + c * k, k);
    const auto f = libxsmm_bsmmdispatch(m, w, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
    if (!f) throw Error("libxsmm: no bf16 kernel");
    f(a16.data(), b16.data(), dst.data() + j * ldc);
  }
}
#endif

/// One product dst (+)= lhs rhs in the chosen engine. lhs / rhs are Eigen views as gemm() takes
/// them; for oneDNN float32 the strides are handed over directly.
template <class Dst, class Lhs, class Rhs>
void product(Engine e, Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate) {
#ifdef SYMFLOW_USE_DNNL
  if (e == Engine::dnnlF32) {
    using LP = typename Eigen::internal::remove_all<
        typename Eigen::internal::blas_traits<Lhs>::DirectLinearAccessType>::type;
    using RP = typename Eigen::internal::remove_all<
        typename Eigen::internal::blas_traits<Rhs>::DirectLinearAccessType>::type;
    const bool lRow = LP::Flags & Eigen::RowMajorBit, rRow = RP::Flags & Eigen::RowMajorBit;
    const Index lo = lhs.outerStride(), ro = rhs.outerStride();
    detail::dnnlGemm(dst.data(), dst.outerStride(), dst.rows(), dst.cols(), lhs.cols(), lhs.data(),
                     lRow ? lo : 1, lRow ? 1 : lo, rhs.data(), rRow ? ro : 1, rRow ? 1 : ro, accumulate,
                     detail::DnnlGemmType::f32);
    return;
  }
#endif
#ifdef SYMFLOW_BENCH_XSMM
  if (e == Engine::xsmmF32 || e == Engine::xsmmBf16) {
    xsmmProduct(e == Engine::xsmmBf16, dst, lhs, rhs);
    return;
  }
#endif
  gemm(dst, lhs, rhs, accumulate);  // Eigen or bf16, by the precision setting
}

void run(benchmark::State& st, Op op, Engine engine, Index m, Index k, Index N) {
  const Precision p = engine == Engine::dnnlBf16 ? Precision::bf16 : Precision::fp32;
  ScopedGemmPrecision scope(p);
  Rng rng(1);
  double macs = 0;
  if (op == Op::sq) {
    const Mat<S> a = testing::randomMatrix<S>(1024, 1024, rng), b = testing::randomMatrix<S>(1024, 1024, rng);
    Mat<S> c(1024, 1024);
    product(engine, c, a, b, false);
    for (auto _ : st) {
      product(engine, c, a, b, false);
      benchmark::DoNotOptimize(c.data());
    }
    macs = 1024.0 * 1024 * 1024;
  } else {
    const Mat<S> weightT = testing::randomMatrix<S>(k, m, rng);
    const Mat<S> x = testing::randomMatrix<S>(k, N, rng);
    const Mat<S> dy = testing::randomMatrix<S>(m, N, rng);
    Mat<S> y(m, N), dx(k, N), gT = Mat<S>::Zero(k, m);
    auto once = [&] {
      forChunks(0, N, kGemmChunkColumns, [&](Index j, Index len) {
        if (op == Op::fwd) product(engine, y.middleCols(j, len), weightT.transpose(), x.middleCols(j, len), false);
        if (op == Op::dx) product(engine, dx.middleCols(j, len), weightT, dy.middleCols(j, len), false);
        if (op == Op::dW) product(engine, gT, x.middleCols(j, len), dy.middleCols(j, len).transpose(), true);
      });
    };
    once();
#ifdef SYMFLOW_USE_DNNL
    if (engine == Engine::dnnlF32 || engine == Engine::dnnlBf16) {
      const Index n = op == Op::dW ? m : std::min(N, kGemmChunkColumns);
      const Index mm = op == Op::fwd ? m : k, kk = op == Op::fwd ? k : (op == Op::dx ? m : std::min(N, kGemmChunkColumns));
      st.SetLabel(detail::dnnlGemmImplementation(mm, n, kk, engine == Engine::dnnlBf16 ? detail::DnnlGemmType::bf16
                                                                                       : detail::DnnlGemmType::f32));
    }
#endif
    for (auto _ : st) {
      once();
      benchmark::DoNotOptimize(y.data());
      benchmark::DoNotOptimize(dx.data());
      benchmark::DoNotOptimize(gT.data());
    }
    macs = double(m) * double(k) * double(N);
  }
#ifdef SYMFLOW_USE_DNNL
  if (op == Op::sq && (engine == Engine::dnnlF32 || engine == Engine::dnnlBf16))
    st.SetLabel(detail::dnnlGemmImplementation(
        1024, 1024, 1024, engine == Engine::dnnlBf16 ? detail::DnnlGemmType::bf16 : detail::DnnlGemmType::f32));
#endif
  st.SetItemsProcessed(int64_t(st.iterations() * macs));
  st.counters["GFLOPs"] = benchmark::Counter(2 * macs * double(st.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

/// Time of the float -> bfloat16 rounding alone, per element (128 x N).
#ifdef SYMFLOW_USE_DNNL
void roundingBench(benchmark::State& st) {
  const Index N = st.range(0);
  Rng rng(2);
  const Mat<S> x = testing::randomMatrix<S>(128, N, rng);
  std::vector<std::uint16_t> out(size_t(128 * N));
  for (auto _ : st) {
    detail::roundToBf16(x.data(), out.data(), 128 * N);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(st.iterations() * 128 * N);
}
BENCHMARK(roundingBench)->Arg(4096)->Arg(16384);
#endif

struct Registrar {
  Registrar() {
    std::vector<Engine> engines{Engine::eigen};
#ifdef SYMFLOW_USE_DNNL
    engines.push_back(Engine::dnnlF32);
    engines.push_back(Engine::dnnlBf16);
    std::printf("oneDNN %d.%d.%d; CPU native bf16 (cpuid): %s; oneDNN ISA native bf16: %s\n", DNNL_VERSION_MAJOR,
                DNNL_VERSION_MINOR, DNNL_VERSION_PATCH, cpuHasNativeBf16() ? "yes" : "no",
                detail::dnnlHasNativeBf16() ? "yes" : "no");
#endif
    const std::pair<Index, Index> shapes[] = {{128, 128}, {256, 128}, {128, 256}, {384, 128}};
    const Index tokens[] = {256 * 4, 1024 * 4, 1024 * 16};
    const std::pair<Op, const char*> ops[] = {{Op::fwd, "fwd"}, {Op::dx, "dx"}, {Op::dW, "dW"}};
    std::vector<Engine> withXsmm = engines;
#if defined(SYMFLOW_BENCH_XSMM) && defined(SYMFLOW_USE_DNNL)
    libxsmm_init();
    withXsmm.push_back(Engine::xsmmF32);
    withXsmm.push_back(Engine::xsmmBf16);
#endif
    for (auto [op, opName] : ops)
      for (auto [m, k] : shapes)
        for (Index N : tokens)
          for (Engine e : op == Op::dW ? engines : withXsmm) {
            const std::string name = std::string(opName) + "/m" + std::to_string(m) + "_k" + std::to_string(k) +
                                     "/N" + std::to_string(N) + "/" + engineName(e);
            benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run(st, op, e, m, k, N); })
                ->Unit(benchmark::kMicrosecond);
          }
    for (Index n : {8, 16, 32, 64, 128, 512})
      for (Engine e : withXsmm)
        benchmark::RegisterBenchmark(("few/m128_k128/n" + std::to_string(n) + "/" + engineName(e)).c_str(),
                                     [=](benchmark::State& st) { run(st, Op::fwd, e, 128, 128, n); })
            ->Unit(benchmark::kMicrosecond);
    for (Engine e : withXsmm)
      benchmark::RegisterBenchmark((std::string("sq/1024^3/") + engineName(e)).c_str(),
                                   [=](benchmark::State& st) { run(st, Op::sq, e, 1024, 1024, 1024); })
          ->Unit(benchmark::kMillisecond);
  }
} registrar;

}  // namespace
