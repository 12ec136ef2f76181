// symflow/core/gemm.hpp - the GEMMs of a layer over a batch of tokens, threaded by splitting
// the token dimension.
//
//   affineOverTokens(y, A, bias, x)    y = A x (+ bias on every column)   x: k x N, y: m x N
//   productOverTokens(y, A, x)         y = A x
//   addGradientOverTokens(gT, gb, x, dy, scratch)
//                                      gT += x dy^T,  gb += rowsum(dy)     dy: m x N, gT: k x m
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

#include "symflow/core/parallel.hpp"
#include "symflow/core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace symflow {

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
        yr.noalias() += a * x.middleCols(j, len);
      } else {
        yr.noalias() = a * x.middleCols(j, len);
      }
    });
  });
}

template <class Y, class A, class X>
void productOverTokens(Y&& y, const A& a, const X& x, Index minPerThread = 0) {
  if (minPerThread <= 0) minPerThread = gemmColumnsPerThread(a.rows(), a.cols());
  parallelRanges(x.cols(), minPerThread, [&](Index lo, Index hi) {
    forChunks(lo, hi, kGemmChunkColumns,
              [&](Index j, Index len) { y.middleCols(j, len).noalias() = a * x.middleCols(j, len); });
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
      g.noalias() += x.middleCols(j, len) * dy.middleCols(j, len).transpose();
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
