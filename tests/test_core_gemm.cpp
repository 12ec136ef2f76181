#include <doctest/doctest.h>

#include "symflow/core/gemm.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

// At least 100 columns per thread: the threaded split runs when OpenMP is on and more than one
// thread is available (the ranges are uneven on purpose); N = 9001 also spans several
// kGemmChunkColumns chunks per range.
TEST_CASE("token-split GEMMs equal plain products") {
  static_assert(2 * kGemmChunkColumns < 9001 / 2, "N = 9001: each of two threads has 2+ chunks");
  for (Index N : {1001, 9001}) {
    CAPTURE(N);
    Rng rng(1);
    const Index k = 7, m = 5, minPerThread = 100;
    const Mat<double> WT = testing::randomMatrix<double>(k, m, rng);
    const Vec<double> b = testing::randomMatrix<double>(m, 1, rng);
    const Mat<double> x = testing::randomMatrix<double>(k, N, rng);
    const Mat<double> dy = testing::randomMatrix<double>(m, N, rng);

    Mat<double> y(m, N), y0(m, N);
    affineOverTokens<double>(y, WT.transpose(), b.data(), x, minPerThread);
    CHECK((y - ((WT.transpose() * x).colwise() + b)).cwiseAbs().maxCoeff() < 1e-12);
    affineOverTokens<double>(y0, WT.transpose(), nullptr, x, minPerThread);
    CHECK((y0 - WT.transpose() * x).cwiseAbs().maxCoeff() < 1e-12);

    Mat<double> dx(k, N);
    productOverTokens(dx, WT, dy, minPerThread);
    CHECK((dx - WT * dy).cwiseAbs().maxCoeff() < 1e-12);

    Mat<double> gT = Mat<double>::Ones(k, m), scratch;
    Vec<double> gb = Vec<double>::Ones(m);
    addGradientOverTokens<double>(gT, gb.data(), x, dy, scratch, minPerThread);
    CHECK((gT.array() - 1 - (x * dy.transpose()).array()).abs().maxCoeff() < 1e-11);
    CHECK((gb.array() - 1 - dy.rowwise().sum().array()).abs().maxCoeff() < 1e-11);

    // deterministic: the same call again adds exactly the same amount
    Mat<double> gT2 = Mat<double>::Ones(k, m);
    Vec<double> gb2 = Vec<double>::Ones(m);
    addGradientOverTokens<double>(gT2, gb2.data(), x, dy, scratch, minPerThread);
    CHECK((gT2 - gT).cwiseAbs().maxCoeff() == 0.0);
    CHECK((gb2 - gb).cwiseAbs().maxCoeff() == 0.0);

    // without a bias gradient, and into a block of a larger matrix
    Mat<double> big = Mat<double>::Zero(k, m + 2);
    addGradientOverTokens<double>(big.middleCols(1, m), static_cast<double*>(nullptr), x, dy,
                                  scratch, minPerThread);
    CHECK((big.middleCols(1, m) - x * dy.transpose()).cwiseAbs().maxCoeff() < 1e-11);
    CHECK(big.col(0).isZero(0));
    CHECK(big.col(m + 1).isZero(0));
  }
}

TEST_CASE("thread thresholds") {
  CHECK(gemmColumnsPerThread(128, 384) == kMinTokensPerThread);     // big layers split early
  CHECK(gemmColumnsPerThread(4, 4) * 16 >= kMinGemmWorkPerThread);  // tiny ones do not
  CHECK(itemsPerThread(0) == kMinWorkPerThread);
  CHECK(itemsPerThread(kMinWorkPerThread * 4) == 1);
}
