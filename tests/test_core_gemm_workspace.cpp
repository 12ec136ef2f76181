// symflow::gemm (core/gemm.hpp): Eigen's blocked GEMM on per-thread packing buffers, and the
// coefficient-wise path for a few columns, against plain Eigen products; no allocation once
// the buffers have grown; per-thread scratch (core/parallel.hpp).
#include <doctest/doctest.h>

#include "symflow/core/gemm.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

namespace {
template <class S>
void checkAllLayouts(Index m, Index n, Index k, double tol) {
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  Rng rng(uint64_t(m * 1000 + n * 10 + k));
  const Mat<S> A = testing::randomMatrix<S>(m, k, rng), At = A.transpose();
  const Mat<S> B = testing::randomMatrix<S>(k, n, rng), Bt = B.transpose();
  const Mat<S> ref = A * B;
  Mat<S> C(m, n);
  gemm(C, A, B);
  CHECK((C - ref).cwiseAbs().maxCoeff() < tol);
  gemm(C, At.transpose(), B);
  CHECK((C - ref).cwiseAbs().maxCoeff() < tol);
  gemm(C, A, Bt.transpose());
  CHECK((C - ref).cwiseAbs().maxCoeff() < tol);
  gemm(C, At.transpose(), Bt.transpose());
  CHECK((C - ref).cwiseAbs().maxCoeff() < tol);
  // accumulate into a block of a larger matrix (outer stride != rows), borders untouched
  Mat<S> big = Mat<S>::Ones(m + 3, n + 2);
  gemm(big.block(1, 1, m, n), A, B, true);
  CHECK((big.block(1, 1, m, n).array() - 1 - ref.array()).abs().maxCoeff() < tol);
  CHECK((big.row(0).array() == 1).all());
  CHECK((big.bottomRows(2).array() == 1).all());
  CHECK((big.col(0).array() == 1).all());
  CHECK((big.col(n + 1).array() == 1).all());
  // operands that are blocks of larger matrices
  const Mat<S> Abig = testing::randomMatrix<S>(m + 5, k + 1, rng);
  gemm(C, Abig.block(2, 1, m, k), B);
  CHECK((C - Abig.block(2, 1, m, k) * B).cwiseAbs().maxCoeff() < tol);
}
}  // namespace

TEST_CASE("gemm equals Eigen's product for every operand layout") {
  // a few columns (coefficient-wise path), small and large blocked products, odd sizes that
  // leave partial register blocks and several depth (kc) panels
  for (Index n : {Index(1), Index(2), Index(4), Index(5), Index(37), Index(300)})
    for (auto [m, k] : {std::pair<Index, Index>{1, 3}, {7, 5}, {130, 97}, {384, 600}}) {
      checkAllLayouts<double>(m, n, k, 1e-11);
      checkAllLayouts<float>(m, n, k, 2e-3);
    }
}

TEST_CASE("gemm is deterministic and reuses its packing buffers") {
  Rng rng(7);
  const Mat<float> A = testing::randomMatrix<float>(256, 300, rng);
  const Mat<float> B = testing::randomMatrix<float>(300, 500, rng);
  Mat<float> C1(256, 500), C2(256, 500);
  gemm(C1, A, B);
  auto& buffers = detail::gemmPackingBuffers<float>();
  const float* a = buffers.a;
  const float* b = buffers.b;
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  gemm(C2, A, B);
  CHECK(buffers.a == a);  // same (no smaller or equal product reallocates)
  CHECK(buffers.b == b);
  CHECK((C1 - C2).cwiseAbs().maxCoeff() == 0.0f);
}

TEST_CASE("per-thread scratch") {
  std::vector<Mat<double>> scratch;
  reserveThreadScratch(scratch);
  REQUIRE(scratch.size() >= size_t(availableThreads()));
  const Index n = 4096;
  Vec<double> sums = Vec<double>::Zero(n);
  parallelRanges(n, 64, [&](Index lo, Index hi) {
    Mat<double>& s = threadScratch(scratch, 3, 2);
    for (Index i = lo; i < hi; ++i) {
      s.setConstant(double(i));
      sums[i] = s.sum();
    }
  });
  for (Index i = 0; i < n; ++i) CHECK(sums[i] == 6.0 * double(i));
}
