#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "symflow/core/gemm.hpp"
#include "symflow/core/precision.hpp"
#include "symflow/testing/gradcheck.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace symflow;

// The bf16 error bound (core/gemm.hpp). bfloat16 keeps 8 significant bits (7 stored + the
// implicit one), so rounding to nearest has unit roundoff u = 2^-8: |bf16(a) - a| <= u |a|.
// A product term of two rounded inputs is ab (1 + e1)(1 + e2), |e1|, |e2| <= u, so its relative
// error is at most 2u + u^2. oneDNN accumulates the K terms (and, with accumulate, the old value
// of C) in float32, which adds at most (K + 1) 2^-24 (1 + 2u + u^2) relative to the sum of
// absolute values (the standard recursive-summation bound; blocked summation does better). Per
// entry:  |C_bf16 - C_exact| <= ((2u + u^2) + (K + 1) 2^-24 (1 + 2u + u^2)) (|C0| + |A| |B|).
// Against the exact product of the ROUNDED inputs the bound is (K + 1) 2^-24 (1 + 2u + u^2) alone:
// that shows the inputs really were rounded to bf16 and nothing else changed.
namespace {

constexpr double kU = 1.0 / 256;          // bf16 unit roundoff, 2^-8
constexpr double kU32 = 1.0 / 16777216;   // float32 unit roundoff, 2^-24

double boundBf16(Index K) { return 2 * kU + kU * kU + double(K + 1) * kU32 * (1 + 2 * kU + kU * kU); }
double boundAccumulation(Index K) { return double(K + 1) * kU32 * (1 + 2 * kU + kU * kU); }

Mat<double> roundedToBf16(const Mat<float>& x) {
  Mat<double> r(x.rows(), x.cols());
#ifdef SYMFLOW_USE_DNNL
  for (Index j = 0; j < x.cols(); ++j)
    for (Index i = 0; i < x.rows(); ++i) r(i, j) = detail::bf16ToFloat(detail::floatToBf16(x(i, j)));
#endif
  return r;
}

/// max over entries of |got - want| / scale (scale > 0 everywhere).
double worstRatio(const Mat<float>& got, const Mat<double>& want, const Mat<double>& scale) {
  return ((got.cast<double>() - want).cwiseAbs().array() / scale.array()).maxCoeff();
}

bool bf16Runnable() {
  if (!bf16GemmCompiled()) {
    std::puts("skipped: this build has no oneDNN (SYMFLOW_USE_DNNL off), bf16 GEMMs are not available");
    MESSAGE("skipped: no oneDNN in this build");
    return false;
  }
  if (!cpuHasNativeBf16()) {
    std::puts("skipped: this CPU has no native bf16 dot products (AVX512_BF16 / AMX-BF16)");
    MESSAGE("skipped: no native bf16 on this CPU");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("precision names, parsing and resolution") {
  CHECK(parsePrecision("fp32") == Precision::fp32);
  CHECK(parsePrecision("bf16") == Precision::bf16);
  CHECK(parsePrecision("auto") == Precision::automatic);
  CHECK_THROWS_AS(parsePrecision("fp16"), Error);
  CHECK(std::string(precisionName(Precision::automatic)) == "auto");
  CHECK(gemmPrecision() == Precision::fp32);  // the default: nothing changes unless asked
  const Precision a = resolvePrecision(Precision::automatic);
  CHECK(a != Precision::automatic);
  if (!bf16GemmCompiled()) {
    CHECK(a == Precision::fp32);
    CHECK_THROWS_AS(setGemmPrecision(Precision::bf16), Error);
  } else if (!cpuHasNativeBf16()) {
    CHECK(a == Precision::fp32);
  }
  {
    ScopedGemmPrecision scope(Precision::automatic);
    CHECK(gemmPrecision() == a);
  }
  CHECK(gemmPrecision() == Precision::fp32);
  std::printf("precision: oneDNN compiled %s, CPU native bf16 %s, auto -> %s\n", bf16GemmCompiled() ? "yes" : "no",
              cpuHasNativeBf16() ? "yes" : "no", precisionName(a));
}

#ifdef SYMFLOW_USE_DNNL
TEST_CASE("float to bfloat16 rounds to nearest even within 2^-8") {
  using detail::bf16ToFloat;
  using detail::floatToBf16;
  CHECK(floatToBf16(1.0f) == 0x3f80);
  CHECK(bf16ToFloat(floatToBf16(1.0f + 1.0f / 256)) == 1.0f);               // tie: to even (down)
  CHECK(bf16ToFloat(floatToBf16(1.0f + 3.0f / 256)) == 1.0f + 4.0f / 256);  // tie: to even (up)
  CHECK(bf16ToFloat(floatToBf16(1.0f + 1.0f / 256 + 1.0f / 4096)) == 1.0f + 2.0f / 256);
  CHECK(std::isnan(bf16ToFloat(floatToBf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(bf16ToFloat(floatToBf16(-std::numeric_limits<float>::quiet_NaN()))));
  CHECK(bf16ToFloat(floatToBf16(std::numeric_limits<float>::infinity())) == std::numeric_limits<float>::infinity());
  // the vector loop agrees with the scalar one, and the relative error is at most 2^-8
  Rng rng(3);
  const Mat<float> x = testing::randomMatrix<float>(1, 4099, rng, 100.0);
  std::vector<std::uint16_t> v(size_t(x.size()));
  detail::roundToBf16(x.data(), v.data(), x.size());
  double worst = 0;
  for (Index i = 0; i < x.size(); ++i) {
    REQUIRE(v[size_t(i)] == floatToBf16(x(i)));
    worst = std::max(worst, std::abs(double(bf16ToFloat(v[size_t(i)])) - x(i)) / std::abs(double(x(i))));
  }
  CHECK(worst <= kU);
  CHECK(worst > kU / 2);  // the bound is nearly reached: it is the right bound
}
#endif

TEST_CASE("bf16 GEMMs stay within the stated bound of the exact product") {
  if (!bf16Runnable()) return;
  ScopedGemmPrecision scope(Precision::bf16);
  const Index d = 128, dff = 256;
  for (Index N : {Index(1000), Index(5000)}) {
    CAPTURE(N);
    Rng rng(5);
    const Mat<float> WT = testing::randomMatrix<float>(d, dff, rng, 0.1);  // stored k x m weight
    const Vec<float> b = testing::randomMatrix<float>(dff, 1, rng);
    const Mat<float> x = testing::randomMatrix<float>(d, N, rng);
    const Mat<float> dy = testing::randomMatrix<float>(dff, N, rng);
    const Mat<double> WTd = WT.cast<double>(), xd = x.cast<double>(), dyd = dy.cast<double>();
    const Mat<double> WTr = roundedToBf16(WT), xr = roundedToBf16(x), dyr = roundedToBf16(dy);

    // forward with bias: y = W x + b (lhs a transposed view), K = d
    Mat<float> y(dff, N);
    affineOverTokens<float>(y, WT.transpose(), b.data(), x);
    {
      const Mat<double> absSum = (WTd.transpose().cwiseAbs() * xd.cwiseAbs()).colwise() + b.cast<double>().cwiseAbs();
      const double r = worstRatio(y, (WTd.transpose() * xd).colwise() + b.cast<double>(), absSum);
      CHECK(r <= boundBf16(d));
      CHECK(r > 0);  // it did change: the bf16 path ran
      std::printf("bf16 forward, N = %ld: worst |error| / (|W||x| + |b|) = %.2e (bound %.2e)\n", long(N), r,
                  boundBf16(d));
      CHECK(worstRatio(y, (WTr.transpose() * xr).colwise() + b.cast<double>(), absSum) <= boundAccumulation(d));
    }
    // input gradient: dx = weightT dy (lhs column-major), K = dff
    Mat<float> dx(d, N);
    productOverTokens(dx, WT, dy);
    {
      const Mat<double> absSum = WTd.cwiseAbs() * dyd.cwiseAbs();
      CHECK(worstRatio(dx, WTd * dyd, absSum) <= boundBf16(dff));
      CHECK(worstRatio(dx, WTr * dyr, absSum) <= boundAccumulation(dff));
    }
    // weight gradient: gT += x dy^T, bias gradient += rowsum(dy) (float32, never rounded), K = N
    Mat<float> gT = Mat<float>::Ones(d, dff), scratch;
    Vec<float> gb = Vec<float>::Zero(dff);
    addGradientOverTokens<float>(gT, gb.data(), x, dy, scratch);
    {
      const Mat<double> absSum = (xd.cwiseAbs() * dyd.cwiseAbs().transpose()).array() + 1.0;
      CHECK(worstRatio(gT, (xd * dyd.transpose()).array() + 1.0, absSum) <= boundBf16(N));
      CHECK(worstRatio(gT, (xr * dyr.transpose()).array() + 1.0, absSum) <= boundAccumulation(N));
      const Vec<float> gbRef = dy.rowwise().sum();
      CHECK((gb - gbRef).cwiseAbs().maxCoeff() <= 1e-3f);
    }
    // 1024^3-like square product through gemm() itself
    Mat<float> c(d, d);
    gemm(c, x.leftCols(512), dy.topRows(d).leftCols(512).transpose());
    CHECK(worstRatio(c, xd.leftCols(512) * dyd.topRows(d).leftCols(512).transpose(),
                     xd.leftCols(512).cwiseAbs() * dyd.topRows(d).leftCols(512).cwiseAbs().transpose()) <=
          boundBf16(512));
  }
}

TEST_CASE("the fp32 path is unchanged by the bf16 setting's existence") {
  Rng rng(7);
  const Mat<float> WT = testing::randomMatrix<float>(128, 256, rng);
  const Mat<float> x = testing::randomMatrix<float>(128, 3000, rng);
  Mat<float> y0(256, 3000), y1(256, 3000), y2(256, 3000);
  productOverTokens(y0, WT.transpose(), x);  // default: fp32
  Mat<double> yd0(256, 3000), yd1(256, 3000);
  const Mat<double> WTd = WT.cast<double>(), xd = x.cast<double>();
  productOverTokens(yd0, WTd.transpose(), xd);
  if (bf16Runnable()) {
    ScopedGemmPrecision scope(Precision::bf16);
    productOverTokens(y1, WT.transpose(), x);
    CHECK((y1 - y0).cwiseAbs().maxCoeff() > 0);  // bf16 ran
    // GemmUse::fp32 keeps a product exact whatever the setting (the OT cost matrix)
    gemm(y2, WT.transpose(), x, false, GemmUse::fp32);
    CHECK((y2 - y0).cwiseAbs().maxCoeff() == 0.0f);
    // double products never go through bf16
    productOverTokens(yd1, WTd.transpose(), xd);
    CHECK((yd1 - yd0).cwiseAbs().maxCoeff() == 0.0);
  }
  // back to fp32: bit for bit what it was before
  productOverTokens(y2, WT.transpose(), x);
  CHECK((y2 - y0).cwiseAbs().maxCoeff() == 0.0f);
}

#ifdef _OPENMP
TEST_CASE("bf16 weight gradient split over two threads is deterministic and within the bound") {
  if (!bf16Runnable()) return;
  ScopedGemmPrecision scope(Precision::bf16);
  const int before = omp_get_max_threads();
  omp_set_num_threads(2);
  Rng rng(9);
  const Index d = 128, N = 9001;
  const Mat<float> x = testing::randomMatrix<float>(d, N, rng);
  const Mat<float> dy = testing::randomMatrix<float>(d, N, rng);
  Mat<float> g1 = Mat<float>::Zero(d, d), g2 = Mat<float>::Zero(d, d), scratch;
  addGradientOverTokens<float>(g1, static_cast<float*>(nullptr), x, dy, scratch, 1000);
  addGradientOverTokens<float>(g2, static_cast<float*>(nullptr), x, dy, scratch, 1000);
  Mat<float> y(d, N);
  productOverTokens(y, x.leftCols(d), dy, 1000);  // columns split over the threads
  omp_set_num_threads(before);
  CHECK((g1 - g2).cwiseAbs().maxCoeff() == 0.0f);
  const Mat<double> xd = x.cast<double>(), dyd = dy.cast<double>();
  // the two threads' partial sums are added in float32 afterwards: one more rounding
  CHECK(worstRatio(g1, xd * dyd.transpose(), xd.cwiseAbs() * dyd.cwiseAbs().transpose()) <= boundBf16(N) + kU32);
  CHECK(worstRatio(y, xd.leftCols(d) * dyd, xd.leftCols(d).cwiseAbs() * dyd.cwiseAbs()) <= boundBf16(d));
}
#endif

#ifdef SYMFLOW_USE_DNNL
namespace {
/// Every operand layout gemm() accepts (as tests/test_core_gemm_workspace.cpp), under bf16, against
/// the exact product with the per-entry bound; borders of a destination block stay untouched.
void checkAllLayoutsBf16(Index m, Index n, Index k) {
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  Rng rng(uint64_t(m * 1000 + n * 10 + k));
  const Mat<float> A = testing::randomMatrix<float>(m, k, rng), At = A.transpose();
  const Mat<float> B = testing::randomMatrix<float>(k, n, rng), Bt = B.transpose();
  const Mat<double> ref = A.cast<double>() * B.cast<double>();
  const Mat<double> absSum = A.cast<double>().cwiseAbs() * B.cast<double>().cwiseAbs();
  const double bound = boundBf16(k);
  Mat<float> C(m, n);
  gemm(C, A, B);
  CHECK(worstRatio(C, ref, absSum) <= bound);
  gemm(C, At.transpose(), B);
  CHECK(worstRatio(C, ref, absSum) <= bound);
  gemm(C, A, Bt.transpose());
  CHECK(worstRatio(C, ref, absSum) <= bound);
  gemm(C, At.transpose(), Bt.transpose());
  CHECK(worstRatio(C, ref, absSum) <= bound);
  Mat<float> big = Mat<float>::Ones(m + 3, n + 2);
  gemm(big.block(1, 1, m, n), A, B, true);
  CHECK(worstRatio(big.block(1, 1, m, n), ref.array() + 1.0, absSum.array() + 1.0) <= bound);
  CHECK((big.row(0).array() == 1).all());
  CHECK((big.bottomRows(2).array() == 1).all());
  CHECK((big.col(0).array() == 1).all());
  CHECK((big.col(n + 1).array() == 1).all());
  const Mat<float> Abig = testing::randomMatrix<float>(m + 5, k + 1, rng);
  gemm(C, Abig.block(2, 1, m, k), B);
  const Mat<double> Ab = Abig.block(2, 1, m, k).cast<double>();
  CHECK(worstRatio(C, Ab * B.cast<double>(), Ab.cwiseAbs() * B.cast<double>().cwiseAbs()) <= bound);
}
}  // namespace

TEST_CASE("bf16 gemm handles every operand layout") {
  if (!bf16Runnable()) return;
  ScopedGemmPrecision scope(Precision::bf16);
  for (Index n : {Index(7), Index(37), Index(300)})
    for (auto [m, k] : {std::pair<Index, Index>{130, 97}, {384, 600}, {7, 2000}}) {
      REQUIRE(m * n * k >= kBf16GemmMinWork);
      checkAllLayoutsBf16(m, n, k);
    }
}

TEST_CASE("bf16 gemm reuses its primitive and buffers in steady state") {
  if (!bf16Runnable()) return;
  ScopedGemmPrecision scope(Precision::bf16);
  Rng rng(11);
  const Mat<float> A = testing::randomMatrix<float>(256, 128, rng);
  const Mat<float> B = testing::randomMatrix<float>(128, 2048, rng);
  Mat<float> C1(256, 2048), C2(256, 2048);
  gemm(C1, A, B);
  auto& st = detail::dnnlGemmThreadState();
  const size_t entries = st.entries.size();
  const auto* pa = st.packA;
  const auto* pb = st.packB;
  gemm(C2, A, B);
  CHECK(st.entries.size() == entries);
  CHECK(st.packA == pa);
  CHECK(st.packB == pb);
  CHECK((C1 - C2).cwiseAbs().maxCoeff() == 0.0f);  // deterministic
  CHECK(detail::dnnlGemmImplementation(256, 2048, 128, detail::DnnlGemmType::bf16).find("bf16") !=
        std::string::npos);
  std::printf("bf16 gemm implementation: %s\n",
              detail::dnnlGemmImplementation(256, 2048, 128, detail::DnnlGemmType::bf16).c_str());
}
#endif
