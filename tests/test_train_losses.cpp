#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "symflow/testing/gradcheck.hpp"
#include "symflow/train/losses.hpp"

using namespace symflow;

TEST_CASE("parameter-major index map") {
  auto idx = train::parameterMajorIndex(3, 2);  // rows (0,3), (1,4), (2,5)
  CHECK(idx == std::vector<Index>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("Chamfer loss: hand value, permutation invariance, gradient") {
  const Index k = 3, m = 2;
  auto idx = train::parameterMajorIndex(k, m);
  Mat<double> q(6, 1), p(6, 1), dp;
  q << 0, 1, 2, 0, 0, 0;  // true rows (0,0), (1,0), (2,0)
  p << 0, 1, 5, 0, 0, 0;  // predicted rows (0,0), (1,0), (5,0)
  // true->pred mins: 0, 0, 1 (row 2 to pred (1,0)); pred->true mins: 0, 0, 9
  CHECK(train::chamferLoss<double>(p, q, k, m, idx, dp) == doctest::Approx((1.0 + 9.0) / 3.0));

  Rng rng(11);
  Mat<double> P = testing::randomMatrix<double>(6, 5, rng), Q = testing::randomMatrix<double>(6, 5, rng);
  const double base = train::chamferLoss<double>(P, Q, k, m, idx, dp);
  // Permuting the rows of either side changes nothing.
  Mat<double> Pp = P;
  std::vector<Index> perm{2, 0, 1};
  for (Index i = 0; i < k; ++i)
    for (Index s = 0; s < m; ++s) Pp.row(idx[size_t(i * m + s)]) = P.row(idx[size_t(perm[size_t(i)] * m + s)]);
  Mat<double> scratch;
  CHECK(train::chamferLoss<double>(Pp, Q, k, m, idx, scratch) == doctest::Approx(base).epsilon(1e-14));
  // MSE, by contrast, is not invariant (so the permutation above really moved rows).
  CHECK(train::mseLoss<double>(Pp, Q, scratch) != doctest::Approx(train::mseLoss<double>(P, Q, scratch)));

  train::chamferLoss<double>(P, Q, k, m, idx, dp);
  auto r = testing::checkGradient([&] { return train::chamferLoss<double>(P, Q, k, m, idx, scratch); },
                                  P.data(), P.size(), dp.data(), rng);
  INFO(r.summary());
  CHECK(r.ok);
  Mat<double> dm;
  train::mseLoss<double>(P, Q, dm);
  auto r2 = testing::checkGradient([&] { return train::mseLoss<double>(P, Q, scratch); }, P.data(), P.size(),
                                   dm.data(), rng);
  CHECK(r2.ok);
}
