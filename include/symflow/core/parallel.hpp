// symflow/core/parallel.hpp - optional OpenMP parallel loops (no dependency when off).
//
// parallelRanges(n, minPerThread, f) splits [0, n) into one contiguous range per thread and
// calls f(begin, end) once per range, so a range can set up its scratch buffers once. It
// runs serially (one call f(0, n)) when the code is compiled without OpenMP, when only one
// thread is available, when n is too small to give every thread minPerThread items, or when
// already inside a parallel region (callers that parallelize over batch shards keep control).
// itemsPerThread(work) turns a per-item cost (scalar operations) into a minPerThread that gives
// every thread at least kMinWorkPerThread operations: a parallel region costs microseconds, and
// on a busy machine a thread that waits for a descheduled sibling loses far more, so small
// loops stay serial.
// currentThread() / threadScratch() give each thread of such a region its own scratch matrix
// kept in a layer's cache, so that steady-state calls do not allocate.
// Eigen's own GEMMs are threaded the same way (when compiled with OpenMP), and run serially
// inside a parallel region, so the two never oversubscribe the cores.
#pragma once
#include <algorithm>
#include <vector>

#include "symflow/core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace symflow {

/// Number of threads parallelRanges would use at this point (1 without OpenMP).
inline int availableThreads() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

/// Index of the calling thread in the innermost parallel region (0 outside one): callers of
/// parallelRanges index per-thread scratch with it (at most availableThreads() before the call).
inline int currentThread() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/// Per-thread scratch matrices kept in a cache: scratch(v, rows, cols) returns the calling
/// thread's entry of v, sized rows x cols (v must hold availableThreads() entries, see
/// threadScratch below; sizing an already sized matrix does not allocate).
template <class M> M& threadScratch(std::vector<M>& v, Index rows, Index cols) {
  M& m = v[size_t(currentThread())];
  m.resize(rows, cols);
  return m;
}
/// Makes room for one scratch entry per available thread (call before parallelRanges).
template <class M> void reserveThreadScratch(std::vector<M>& v) {
  const size_t n = size_t(std::max(1, availableThreads()));
  if (v.size() < n) v.resize(n);
}

/// Fewest scalar operations per thread worth a parallel region (~10 microseconds).
constexpr Index kMinWorkPerThread = Index(1) << 15;

/// minPerThread for items that cost workPerItem operations each.
inline Index itemsPerThread(Index workPerItem, Index minWork = kMinWorkPerThread) {
  return std::max<Index>(1, minWork / std::max<Index>(1, workPerItem));
}

template <class F> void parallelRanges(Index n, Index minPerThread, F&& f) {
  if (n <= 0) return;
  const Index threads = std::min<Index>(Index(availableThreads()),
                                        std::max<Index>(1, n / std::max<Index>(1, minPerThread)));
  if (threads <= 1) {
    f(Index(0), n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(int(threads))
  {
    const Index t = omp_get_thread_num(), nt = omp_get_num_threads();
    const Index begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) f(begin, end);
  }
#endif
}

}  // namespace symflow
