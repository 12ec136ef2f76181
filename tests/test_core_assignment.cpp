// Tests of core/assignment.hpp: brute force on every small size, ties, negative costs,
// rectangular problems, float costs, a second independent solver on larger sizes, refusals.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "symflow/core/assignment.hpp"
#include "symflow/core/rng.hpp"

using namespace symflow;

namespace {

// Minimum over all injective maps rows -> cols (n <= m) or cols -> rows (n > m), by
// enumerating permutations of the larger side and reading off the first min(n, m) entries.
double bruteForce(const Mat<double>& C) {
  const Index n = C.rows(), m = C.cols();
  const Index small = std::min(n, m), large = std::max(n, m);
  std::vector<Index> perm(static_cast<size_t>(large));
  std::iota(perm.begin(), perm.end(), Index(0));
  double best = std::numeric_limits<double>::infinity();
  do {
    double s = 0;
    for (Index i = 0; i < small; ++i) s += n <= m ? C(i, perm[size_t(i)]) : C(perm[size_t(i)], i);
    best = std::min(best, s);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

// Checks the structure of an Assignment and returns its cost recomputed from the matrix.
template <class S> double checkStructure(const Mat<S>& C, const Assignment& a) {
  const Index n = C.rows(), m = C.cols();
  REQUIRE(Index(a.colOfRow.size()) == n);
  REQUIRE(Index(a.rowOfCol.size()) == m);
  Index matched = 0;
  double total = 0;
  for (Index i = 0; i < n; ++i) {
    const Index j = a.colOfRow[size_t(i)];
    if (j < 0) continue;
    REQUIRE(j < m);
    CHECK(a.rowOfCol[size_t(j)] == i);
    total += double(C(i, j));
    ++matched;
  }
  for (Index j = 0; j < m; ++j)
    if (a.rowOfCol[size_t(j)] >= 0) CHECK(a.colOfRow[size_t(a.rowOfCol[size_t(j)])] == j);
  CHECK(matched == std::min(n, m));  // every row (n <= m) or every column (n > m) is used
  CHECK(total == doctest::Approx(a.cost).epsilon(1e-12));
  return total;
}

// Independent reference: the textbook O(n^2 m) Hungarian method with potentials (scalar,
// 1-based, rows <= cols), no shared code with the library's solver.
double hungarianReference(const Mat<double>& C) {
  const Index n = C.rows(), m = C.cols();
  const double INF = std::numeric_limits<double>::infinity();
  std::vector<double> u(size_t(n + 1), 0), v(size_t(m + 1), 0);
  std::vector<Index> p(size_t(m + 1), 0), way(size_t(m + 1), 0);
  for (Index i = 1; i <= n; ++i) {
    p[0] = i;
    Index j0 = 0;
    std::vector<double> minv(size_t(m + 1), INF);
    std::vector<char> used(size_t(m + 1), 0);
    do {
      used[size_t(j0)] = 1;
      const Index i0 = p[size_t(j0)];
      double delta = INF;
      Index j1 = 0;
      for (Index j = 1; j <= m; ++j)
        if (!used[size_t(j)]) {
          const double cur = C(i0 - 1, j - 1) - u[size_t(i0)] - v[size_t(j)];
          if (cur < minv[size_t(j)]) {
            minv[size_t(j)] = cur;
            way[size_t(j)] = j0;
          }
          if (minv[size_t(j)] < delta) {
            delta = minv[size_t(j)];
            j1 = j;
          }
        }
      for (Index j = 0; j <= m; ++j)
        if (used[size_t(j)]) {
          u[size_t(p[size_t(j)])] += delta;
          v[size_t(j)] -= delta;
        } else {
          minv[size_t(j)] -= delta;
        }
      j0 = j1;
    } while (p[size_t(j0)] != 0);
    do {
      const Index j1 = way[size_t(j0)];
      p[size_t(j0)] = p[size_t(j1)];
      j0 = j1;
    } while (j0);
  }
  double total = 0;
  for (Index j = 1; j <= m; ++j)
    if (p[size_t(j)]) total += C(p[size_t(j)] - 1, j - 1);
  return total;
}

// kind 0: continuous U(0, 1); 1: integers {0, 1, 2} (many ties); 2: U(-5, 1) (mostly
// negative); 3: large integers N(0, 1e6) rounded; 4: all equal.
Mat<double> randomCost(Index n, Index m, Rng& rng, int kind) {
  Mat<double> C(n, m);
  for (Index j = 0; j < m; ++j)
    for (Index i = 0; i < n; ++i) {
      if (kind == 0)
        C(i, j) = rng.uniform();
      else if (kind == 1)
        C(i, j) = double(rng.below(3));
      else if (kind == 2)
        C(i, j) = rng.uniform(-5.0, 1.0);
      else if (kind == 3)
        C(i, j) = std::round(rng.normal(0, 1e6));
      else
        C(i, j) = 1.0;
    }
  return C;
}

}  // namespace

TEST_CASE("assignment equals brute force on every square size n <= 7 (double)") {
  Rng rng(1);
  AssignmentSolver<double> solver;  // reused across sizes (buffers must be reset correctly)
  for (Index n = 1; n <= 7; ++n) {
    const int trials = n <= 5 ? 200 : 60;
    for (int kind = 0; kind <= 4; ++kind)
      for (int t = 0; t < trials; ++t) {
        const Mat<double> C = randomCost(n, n, rng, kind);
        const Assignment a = solver.solve(C);
        CAPTURE(n);
        CAPTURE(kind);
        // A permutation: every column exactly once.
        std::vector<Index> cols = a.colOfRow;
        std::sort(cols.begin(), cols.end());
        for (Index i = 0; i < n; ++i) REQUIRE(cols[size_t(i)] == i);
        const double total = checkStructure(C, a);
        CHECK(total == doctest::Approx(bruteForce(C)).epsilon(1e-12).scale(1.0));
      }
  }
}

TEST_CASE("assignment equals brute force on rectangular problems (both orientations)") {
  Rng rng(2);
  for (Index n = 1; n <= 6; ++n)
    for (Index m = 1; m <= 6; ++m) {
      if (n == m) continue;
      for (int kind = 0; kind <= 3; ++kind)
        for (int t = 0; t < 20; ++t) {
          const Mat<double> C = randomCost(n, m, rng, kind);
          const Assignment a = linearSumAssignment(C);
          CAPTURE(n);
          CAPTURE(m);
          CAPTURE(kind);
          const double total = checkStructure(C, a);
          CHECK(total == doctest::Approx(bruteForce(C)).epsilon(1e-12).scale(1.0));
        }
    }
}

TEST_CASE("assignment with float costs is optimal up to float rounding") {
  Rng rng(3);
  for (Index n = 1; n <= 7; ++n)
    for (int t = 0; t < 50; ++t) {
      const Mat<double> Cd = randomCost(n, n, rng, t % 3);
      const Mat<float> Cf = Cd.cast<float>();
      const Assignment a = linearSumAssignment(Cf);
      const double total = checkStructure(Cf, a);
      CHECK(total == doctest::Approx(bruteForce(Cf.cast<double>())).epsilon(1e-5).scale(1.0));
    }
}

TEST_CASE("assignment agrees with an independent Hungarian method on larger problems") {
  Rng rng(4);
  for (Index n : {8, 33, 100, 257}) {
    for (int kind = 0; kind <= 3; ++kind) {
      const Mat<double> C = randomCost(n, n, rng, kind);
      const Assignment a = linearSumAssignment(C);
      CAPTURE(n);
      CAPTURE(kind);
      const double total = checkStructure(C, a);
      CHECK(total == doctest::Approx(hungarianReference(C)).epsilon(1e-10));
    }
    // Rectangular, wide (n x 2n + 3) and tall (the transposed problem).
    const Mat<double> W = randomCost(n, 2 * n + 3, rng, 0);
    CHECK(checkStructure(W, linearSumAssignment(W)) ==
          doctest::Approx(hungarianReference(W)).epsilon(1e-10));
    const Mat<double> T = W.transpose();
    CHECK(checkStructure(T, linearSumAssignment(T)) ==
          doctest::Approx(hungarianReference(W)).epsilon(1e-10));
  }
}

TEST_CASE("Euclidean OT coupling: optimal, never worse than the identity pairing") {
  // The minibatch-OT use: cost(i, j) = || x0_i - x1_j || between Gaussian points.
  Rng rng(5);
  const Index n = 300, d = 12;
  Mat<double> x0(d, n), x1(d, n);
  rng.fillNormal(x0.data(), x0.data() + x0.size());
  rng.fillNormal(x1.data(), x1.data() + x1.size());
  Mat<double> C(n, n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < n; ++i) C(i, j) = (x0.col(i) - x1.col(j)).norm();
  const Assignment a = linearSumAssignment(C);
  const double total = checkStructure(C, a);
  CHECK(total <= C.trace());
  CHECK(total == doctest::Approx(hungarianReference(C)).epsilon(1e-10));
  // Float costs of the same problem reach the same optimum up to float rounding.
  const Mat<float> Cf = C.cast<float>();
  CHECK(checkStructure(Cf, linearSumAssignment(Cf)) == doctest::Approx(total).epsilon(1e-5));
}

TEST_CASE("assignment reads blocks with an outer stride and handles n = 1") {
  Rng rng(6);
  const Mat<double> big = randomCost(9, 9, rng, 0);
  const Mat<double> block = big.block(1, 2, 6, 6);  // copy for the reference
  AssignmentSolver<double> solver;
  const Assignment viaBlock = solver.solve(big.block(1, 2, 6, 6));
  const Assignment viaCopy = solver.solve(block);
  CHECK(viaBlock.colOfRow == viaCopy.colOfRow);
  CHECK(viaBlock.cost == doctest::Approx(bruteForce(block)));

  Mat<double> one(1, 1);
  one(0, 0) = -3.5;
  const Assignment a = linearSumAssignment(one);
  CHECK(a.colOfRow == std::vector<Index>{0});
  CHECK(a.cost == -3.5);
  const Mat<double> row = randomCost(1, 5, rng, 0);  // 1 x 5: the smallest entry
  Index argmin;
  row.row(0).minCoeff(&argmin);
  CHECK(linearSumAssignment(row).colOfRow[0] == argmin);
}

TEST_CASE("assignment refuses non-finite and empty cost matrices") {
  Mat<double> C = Mat<double>::Ones(4, 4);
  C(2, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(linearSumAssignment(C), Error);
  C(2, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(linearSumAssignment(C), Error);
  C(2, 1) = -std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(linearSumAssignment(C), Error);
  Mat<float> Cf = Mat<float>::Ones(3, 3);
  Cf(0, 0) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(linearSumAssignment(Cf), Error);
  CHECK_THROWS_AS(linearSumAssignment(Mat<double>(0, 0)), Error);
  try {
    linearSumAssignment(C);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("non-finite") != std::string::npos);
  }
}
