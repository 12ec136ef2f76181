// symflow/core/gemm.hpp - the GEMMs of a layer over a batch of tokens, threaded by splitting
// the token dimension.
//
//   affineOverTokens(y, A, bias, x)    y = A x (+ bias on every column)   x: k x N, y: m x N
//   productOverTokens(y, A, x)         y = A x
//   addGradientOverTokens(gT, gb, x, dy, scratch)
//                                      gT += x dy^T,  gb += rowsum(dy)     dy: m x N, gT: k x m
//   gemm(dst, lhs, rhs, accumulate, use)
//                                      dst = lhs rhs (dst += lhs rhs when accumulate): one serial
//                                      product, without heap allocation in steady state
//
// Precision (core/precision.hpp): when the process-wide setting is bf16 (only possible in builds
// with SYMFLOW_USE_DNNL), float products with at least kBf16GemmMinWork multiply-adds and more
// than kGemmLazyMaxColumns columns round both inputs to bfloat16 and multiply them with oneDNN,
// accumulating in float32 (core/gemm_bf16.hpp); the OverTokens functions below get this through
// gemm(). bfloat16 has 8 significant bits, unit roundoff u = 2^-8; a product term of two rounded
// inputs is off by at most 2u + u^2 relative, so per entry |bf16 - exact| <= (2u + u^2 + float32
// accumulation) sum_p |lhs(i, p) rhs(p, j)|, about 2^-7 of that sum (tests/test_core_precision.cpp
// states the bound exactly and checks it). use = GemmUse::fp32 keeps one
// product in float32 whatever the setting (the OT cost matrix, whose ||x||^2 + ||y||^2 - 2 x.y
// cancels). double products never change. The default setting is fp32: Eigen, as before.
//
// gemm(): Eigen's blocked GEMM (the same kernels as dst.noalias() = lhs * rhs) driven with
// packing buffers that belong to the calling thread and only grow, instead of buffers that
// Eigen allocates per product. Per product those were 100-500 kB, above glibc's mmap and trim
// thresholds, so a training step at batch 1024 allocated about 2 GB in 40k calls and took
// 100k-340k page faults (measured with bench_train). lhs and rhs must be directly addressable
// (Matrix, Map, Block, Ref, or the transpose of one: inner stride 1); dst a column-major
// block with inner stride 1. Products with at most kGemmLazyMaxColumns columns (or one row)
// are evaluated coefficient-wise (Eigen's lazyProduct, which does not allocate). Serial:
// never opens a parallel region. With EIGEN_USE_BLAS (CMake option SYMFLOW_USE_BLAS) Eigen's product kernel is its
// BLAS one, so gemm() calls sgemm_ / dgemm_ (the packing buffers are then unused).
//
// A is small (a weight, possibly a transposed view); N (tokens or samples) is large. N is split
// into one contiguous range per thread (parallelRanges), and each thread runs one serial Eigen
// GEMM on its columns, with no synchronization inside the product. For the weight gradient the
// ranges split the inner dimension: thread 0 adds into gT (and gb), thread t > 0 writes its
// partial sums into block t - 1 of `scratch` ((k + 1) x m (threads - 1), owned by the caller's
// cache so that steady state allocates nothing), and the partials are added in thread order
// afterwards, so results are deterministic for a given thread count.
//
// Why not Eigen's own threaded GEMM: it synchronizes its threads inside every product (shared
// packed panels, spin waits); here a product costs one barrier. Measured on the 2-core dev
// machine with another process on one core, the weight-gradient product ran at 17-134 GFLOP/s
// split this way against 1-4 GFLOP/s in Eigen's threading (libgomp default wait policy).
// Within its range a thread multiplies kGemmChunkColumns columns at a time: Eigen's blocking
// runs 10-20% faster on such panels than on one very wide product (measured at d = 128).
// Each thread gets at least gemmColumnsPerThread(k, m) columns (kMinGemmWorkPerThread
// multiply-adds, never fewer than kMinTokensPerThread columns); below twice that, everything is
// one plain Eigen product. minPerThread overrides it (tests use it to force the split).
#pragma once
#include <algorithm>
#include <type_traits>

#include "symflow/core/gemm_bf16.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/core/precision.hpp"
#include "symflow/core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace symflow {

namespace detail {
/// Grow-only packing buffers of the calling thread (one pair per scalar type).
template <class S>
struct GemmPackingBuffers {
  S* a = nullptr;
  S* b = nullptr;
  Index sizeA = 0, sizeB = 0;
  GemmPackingBuffers() = default;
  GemmPackingBuffers(const GemmPackingBuffers&) = delete;
  GemmPackingBuffers& operator=(const GemmPackingBuffers&) = delete;
  ~GemmPackingBuffers() {
    Eigen::internal::aligned_free(a);
    Eigen::internal::aligned_free(b);
  }
  static S* grow(S*& p, Index& have, Index need) {
    if (need > have) {
      Eigen::internal::aligned_free(p);
      p = static_cast<S*>(Eigen::internal::aligned_malloc(size_t(need) * sizeof(S)));
      have = need;
    }
    return p;
  }
};
template <class S> GemmPackingBuffers<S>& gemmPackingBuffers() {
  static thread_local GemmPackingBuffers<S> buffers;
  return buffers;
}

/// Eigen's blocking for a col-major rows x cols x depth product, on the thread's buffers.
template <class S>
class ThreadGemmBlocking : public Eigen::internal::level3_blocking<S, S> {
 public:
  ThreadGemmBlocking(Index rows, Index cols, Index depth) {
    this->m_mc = rows;
    this->m_nc = cols;
    this->m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<S, S, 1, Index>(this->m_kc, this->m_mc, this->m_nc, 1);
    auto& w = gemmPackingBuffers<S>();
    this->m_blockA = GemmPackingBuffers<S>::grow(w.a, w.sizeA, this->m_mc * this->m_kc);
    this->m_blockB = GemmPackingBuffers<S>::grow(w.b, w.sizeB, this->m_kc * this->m_nc);
  }
};
}  // namespace detail

/// Up to this many result columns gemm() evaluates coefficient-wise (measured on the dev
/// machine: 2x faster than the packed GEMM for d x 128 weights at 2 columns, slower from 8).
constexpr Index kGemmLazyMaxColumns = 4;

/// Fewest multiply-adds of a float product that takes the bf16 path when the precision is bf16.
constexpr Index kBf16GemmMinWork = Index(1) << 16;

/// Whether a product follows the process-wide precision setting or always runs in float32.
enum class GemmUse { followSetting, fp32 };

/// dst = lhs rhs, or dst += lhs rhs when accumulate (see the header comment).
template <class Dst, class Lhs, class Rhs>
void gemm(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate = false,
          GemmUse use = GemmUse::followSetting) {
  using S = typename std::decay_t<Dst>::Scalar;
  using LhsTraits = Eigen::internal::blas_traits<Lhs>;
  using RhsTraits = Eigen::internal::blas_traits<Rhs>;
  using LhsPlain = typename Eigen::internal::remove_all<typename LhsTraits::DirectLinearAccessType>::type;
  using RhsPlain = typename Eigen::internal::remove_all<typename RhsTraits::DirectLinearAccessType>::type;
  static_assert(bool(LhsTraits::HasUsableDirectAccess) && bool(RhsTraits::HasUsableDirectAccess),
                "symflow::gemm: operands must be directly addressable (a matrix, map, block, or transpose)");
  static_assert(!(std::decay_t<Dst>::Flags & Eigen::RowMajorBit), "symflow::gemm: destination must be column-major");
  const Index m = dst.rows(), n = dst.cols(), k = lhs.cols();
  eigen_assert(lhs.rows() == m && rhs.rows() == k && rhs.cols() == n);
  if (m == 0 || n == 0) return;
  if (n <= kGemmLazyMaxColumns || m == 1 || k == 0 || dst.innerStride() != 1) {
    // a few columns (e.g. one sound and its CFG twin): packing the weight would cost more
    // than the products, so evaluate coefficient-wise (Eigen's lazyProduct)
    if (accumulate)
      dst.noalias() += lhs.lazyProduct(rhs);
    else
      dst.noalias() = lhs.lazyProduct(rhs);
    return;
  }
  const auto& l = LhsTraits::extract(lhs);
  const auto& r = RhsTraits::extract(rhs);
  constexpr int lhsOrder = (LhsPlain::Flags & Eigen::RowMajorBit) ? Eigen::RowMajor : Eigen::ColMajor;
  constexpr int rhsOrder = (RhsPlain::Flags & Eigen::RowMajorBit) ? Eigen::RowMajor : Eigen::ColMajor;
#ifdef SYMFLOW_USE_DNNL
  if constexpr (std::is_same_v<S, float>) {
    if (use == GemmUse::followSetting && m * n * k >= kBf16GemmMinWork && gemmPrecision() == Precision::bf16) {
      const Index lo = l.outerStride(), ro = r.outerStride();
      detail::dnnlGemm(dst.data(), dst.outerStride(), m, n, k, l.data(), lhsOrder == Eigen::RowMajor ? lo : 1,
                       lhsOrder == Eigen::RowMajor ? 1 : lo, r.data(), rhsOrder == Eigen::RowMajor ? ro : 1,
                       rhsOrder == Eigen::RowMajor ? 1 : ro, accumulate, detail::DnnlGemmType::bf16);
      return;
    }
  }
#endif
  if (!accumulate) dst.setZero();
  detail::ThreadGemmBlocking<S> blocking(m, n, k);
  Eigen::internal::general_matrix_matrix_product<Index, S, lhsOrder, false, S, rhsOrder, false, Eigen::ColMajor,
                                                 1>::run(m, n, k, l.data(), l.outerStride(), r.data(),
                                                         r.outerStride(), dst.data(), 1, dst.outerStride(),
                                                         S(1), blocking, nullptr);
}

/// Fewest columns, and fewest multiply-adds, per thread worth a separate GEMM.
constexpr Index kMinTokensPerThread = 128;
constexpr Index kMinGemmWorkPerThread = Index(1) << 19;

/// Columns per thread for a product whose every column costs k m multiply-adds.
inline Index gemmColumnsPerThread(Index k, Index m) {
  return std::max(kMinTokensPerThread, itemsPerThread(k * m, kMinGemmWorkPerThread));
}

/// Columns per Eigen product inside a thread's range.
constexpr Index kGemmChunkColumns = 2048;

/// Calls f(begin, length) for consecutive chunks of at most `chunk` columns of [lo, hi).
template <class F> void forChunks(Index lo, Index hi, Index chunk, F&& f) {
  for (Index j = lo; j < hi; j += chunk) f(j, std::min(chunk, hi - j));
}

/// y = a x (+ bias broadcast over the columns, when bias is not null). y must have x's columns.
template <class S, class Y, class A, class X>
void affineOverTokens(Y&& y, const A& a, const S* bias, const X& x, Index minPerThread = 0) {
  if (minPerThread <= 0) minPerThread = gemmColumnsPerThread(a.rows(), a.cols());
  parallelRanges(x.cols(), minPerThread, [&](Index lo, Index hi) {
    forChunks(lo, hi, kGemmChunkColumns, [&](Index j, Index len) {
      auto yr = y.middleCols(j, len);
      if (bias) {
        yr.colwise() = CVecMap<S>(bias, yr.rows());  // start from the bias: no extra pass
        gemm(yr, a, x.middleCols(j, len), true);
      } else {
        gemm(yr, a, x.middleCols(j, len));
      }
    });
  });
}

template <class Y, class A, class X>
void productOverTokens(Y&& y, const A& a, const X& x, Index minPerThread = 0) {
  if (minPerThread <= 0) minPerThread = gemmColumnsPerThread(a.rows(), a.cols());
  parallelRanges(x.cols(), minPerThread, [&](Index lo, Index hi) {
    forChunks(lo, hi, kGemmChunkColumns,
              [&](Index j, Index len) { gemm(y.middleCols(j, len), a, x.middleCols(j, len)); });
  });
}

/// gT += x dy^T and, when gb is not null, gb[0, m) += rowsum(dy).
template <class S, class GT, class X, class DY>
void addGradientOverTokens(GT&& gT, S* gb, const X& x, const DY& dy, Mat<S>& scratch,
                           Index minPerThread = 0) {
  const Index N = x.cols(), k = gT.rows(), m = gT.cols();
  if (minPerThread <= 0) minPerThread = gemmColumnsPerThread(k, m);
  const Index threads = std::min<Index>(Index(availableThreads()), N / minPerThread);
  // adds x dy^T over columns [lo, hi) into g (k x m) and rowsum(dy) into gbias (when given)
  auto accumulate = [&](auto&& g, auto&& gbias, Index lo, Index hi) {
    forChunks(lo, hi, kGemmChunkColumns, [&](Index j, Index len) {
      gemm(g, x.middleCols(j, len), dy.middleCols(j, len).transpose(), true);
    });
    if (gb) gbias += dy.middleCols(lo, hi - lo).rowwise().sum();
  };
  if (threads <= 1) {
    accumulate(gT, VecMap<S>(gb, gb ? m : 0), 0, N);
    return;
  }
#ifdef _OPENMP
  scratch.resize(k + 1, m * (threads - 1));
  Index used = threads;
#pragma omp parallel num_threads(int(threads))
  {
    const Index t = omp_get_thread_num(), nt = omp_get_num_threads();
    const Index lo = N * t / nt, hi = N * (t + 1) / nt;
    if (t == 0) {
      used = nt;
      accumulate(gT, VecMap<S>(gb, gb ? m : 0), lo, hi);
    } else {
      auto part = scratch.middleCols((t - 1) * m, m);
      part.setZero();
      accumulate(part.topRows(k), part.row(k).transpose(), lo, hi);
    }
  }
  for (Index t = 1; t < used; ++t) {
    const auto part = scratch.middleCols((t - 1) * m, m);
    gT += part.topRows(k);
    if (gb) VecMap<S>(gb, m) += part.row(k).transpose();
  }
#endif
}

}  // namespace symflow
