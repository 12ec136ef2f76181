#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "symflow/flow/coupling.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

namespace {
double pairedCost(const Mat<double>& a, const Mat<double>& b) { return (a - b).colwise().squaredNorm().sum(); }
}  // namespace

TEST_CASE("OT coupling: optimal over all permutations on small batches, a true permutation") {
  Rng rng(21);
  for (int trial = 0; trial < 20; ++trial) {
    const Index B = 6;
    Mat<double> x0 = testing::randomMatrix<double>(3, B, rng), x1 = testing::randomMatrix<double>(3, B, rng);
    Mat<double> orig = x0;
    flow::OtCoupling<double> ot;
    auto src = ot.couple(x0, x1);
    std::vector<Index> sorted = src;
    std::sort(sorted.begin(), sorted.end());
    for (Index i = 0; i < B; ++i) CHECK(sorted[size_t(i)] == i);
    for (Index j = 0; j < B; ++j) CHECK((x0.col(j) - orig.col(src[size_t(j)])).norm() == 0.0);
    // Brute force over all 720 permutations.
    std::vector<Index> p(static_cast<size_t>(B), 0);
    std::iota(p.begin(), p.end(), 0);
    double best = 1e300;
    do {
      Mat<double> perm(3, B);
      for (Index j = 0; j < B; ++j) perm.col(j) = orig.col(p[size_t(j)]);
      best = std::min(best, pairedCost(perm, x1));
    } while (std::next_permutation(p.begin(), p.end()));
    CHECK(pairedCost(x0, x1) == doctest::Approx(best).epsilon(1e-12));
    CHECK(ot.lastCost() == doctest::Approx(best).epsilon(1e-9));
    CHECK(ot.lastCost() <= ot.identityCost() + 1e-12);  // never worse than the pairing as drawn
  }
}

TEST_CASE("OT coupling shortens the pairing of a larger batch") {
  Rng rng(22);
  Mat<float> x0 = testing::randomMatrix<float>(12, 256, rng), x1 = testing::randomMatrix<float>(12, 256, rng);
  const double before = (x0 - x1).colwise().squaredNorm().sum();
  flow::OtCoupling<float> ot;
  ot.couple(x0, x1);
  const double after = (x0 - x1).colwise().squaredNorm().sum();
  CHECK(after < 0.8 * before);
  CHECK(ot.lastCost() <= ot.identityCost());
  CHECK(ot.identityCost() == doctest::Approx(before).epsilon(1e-4));
}
