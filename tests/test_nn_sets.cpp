#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "symflow/nn/deepsets.hpp"
#include "symflow/nn/pooling.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

namespace {

/// A random permutation of the n tokens inside each of the B samples, as a column index map:
/// column j of X P is column perm[j] of X.
std::vector<Index> withinSamplePermutation(Index B, Index n, Rng& rng) {
  std::vector<Index> perm(size_t(B * n));
  for (Index b = 0; b < B; ++b) {
    std::vector<Index> p(static_cast<size_t>(n));
    std::iota(p.begin(), p.end(), Index(0));
    for (Index i = n - 1; i > 0; --i) std::swap(p[size_t(i)], p[size_t(rng.below(std::uint64_t(i + 1)))]);
    for (Index i = 0; i < n; ++i) perm[size_t(b * n + i)] = b * n + p[size_t(i)];
  }
  return perm;
}

/// Presents a token layer forward(x, n, y, cache) as forward(x, y, cache) for the checker.
template <class Layer> struct WithTokens {
  using Cache = typename Layer::Cache;
  Layer& layer;
  Index n;
  template <class X, class Y> void forward(const X& x, Y& y, Cache& c) const { layer.forward(x, n, y, c); }
  template <class D, class X> void backward(const Cache& c, const D& dy, X& dx) const { layer.backward(c, dy, dx); }
  auto penalty() const { return layer.penalty(); }
};

Mat<double> permuteColumns(const Mat<double>& x, const std::vector<Index>& perm) {
  Mat<double> y(x.rows(), x.cols());
  for (Index j = 0; j < x.cols(); ++j) y.col(j) = x.col(perm[size_t(j)]);
  return y;
}

/// max |f(X P) - f(X) P| over random within-sample permutations.
template <class F> double equivarianceError(F&& f, const Mat<double>& x, Index n, Rng& rng, int trials = 5) {
  const Mat<double> fx = f(x);
  double worst = 0;
  for (int k = 0; k < trials; ++k) {
    const auto perm = withinSamplePermutation(x.cols() / n, n, rng);
    worst = std::max(worst, (f(permuteColumns(x, perm)) - permuteColumns(fx, perm)).cwiseAbs().maxCoeff());
  }
  return worst;
}

}  // namespace

TEST_CASE("DeepSets forward matches y_i = Lambda x_i + Gamma mean_j x_j + b") {
  Rng rng(10);
  const Index in = 3, out = 4, n = 5, B = 2;
  nn::DeepSets<double> ds(in, out);
  ParamStore<double> store(ds);
  ds.init(rng);
  const Mat<double> x = testing::randomMatrix<double>(in, B * n, rng);
  Mat<double> y;
  nn::DeepSets<double>::Cache c;
  ds.forward(x, n, y, c);
  const Mat<double> L = ds.lambda().weightT().transpose(), G = ds.gamma().weightT().transpose();
  const Vec<double> bias = ds.lambda().bias();
  for (Index b = 0; b < B; ++b) {
    const Vec<double> mean = x.middleCols(b * n, n).rowwise().mean();
    for (Index i = 0; i < n; ++i) {
      const Vec<double> expect = L * x.col(b * n + i) + G * mean + bias;
      CHECK((y.col(b * n + i) - expect).cwiseAbs().maxCoeff() < 1e-13);
    }
  }
  auto tensors = listTensors<double>(ds);
  REQUIRE(tensors.size() == 3);
  CHECK(tensors[0].name == "Lambda.weight");
  CHECK(tensors[0].shape == std::vector<Index>{out, in});
  CHECK(tensors[1].name == "Lambda.bias");
  CHECK(tensors[2].name == "Gamma.weight");
  CHECK(tensors[2].shape == std::vector<Index>{out, in});
}

TEST_CASE("DeepSets gradients (central differences, double, every entry)") {
  for (bool bias : {true, false}) {
    Rng rng(11);
    nn::DeepSets<double> ds(4, 3, bias);
    ParamStore<double> store(ds);
    ds.init(rng);
    WithTokens<nn::DeepSets<double>> probe{ds, 5};
    auto r = testing::checkLayerGradients(probe, store, testing::randomMatrix<double>(4, 3 * 5, rng), rng);
    INFO(r.summary());
    CHECK(r.ok());
    CHECK(r.params.checked == store.size());
  }
}

TEST_CASE("DeepSets is permutation-equivariant within each sample, and a per-position term is caught") {
  Rng rng(12);
  const Index d = 6, n = 7, B = 4;
  nn::DeepSets<double> ds(d, d);
  ParamStore<double> store(ds);
  ds.init(rng);
  auto f = [&](const Mat<double>& x) {
    Mat<double> y;
    nn::DeepSets<double>::Cache c;
    ds.forward(x, n, y, c);
    return y;
  };
  const Mat<double> x = testing::randomMatrix<double>(d, B * n, rng);
  CHECK(equivarianceError(f, x, n, rng) < 1e-12);
  // Control: the same check rejects a layer that depends on token positions.
  auto broken = [&](const Mat<double>& xx) {
    Mat<double> y = f(xx);
    for (Index j = 0; j < y.cols(); ++j) y.col(j) += 1e-3 * double(j % n) * xx.col(j);
    return y;
  };
  CHECK(equivarianceError(broken, x, n, rng) > 1e-5);
}

TEST_CASE("set pooling (mean, sum, max): values, gradients, permutation invariance") {
  const Index d = 5, n = 6, B = 3;
  for (auto mode : {nn::PoolMode::Mean, nn::PoolMode::Sum, nn::PoolMode::Max}) {
    CAPTURE(nn::poolModeName(mode));
    Rng rng(13);
    nn::SetPool<double> pool(mode);
    const Mat<double> x = testing::randomMatrix<double>(d, B * n, rng);
    Mat<double> y;
    nn::SetPool<double>::Cache c;
    pool.forward(x, n, y, c);
    REQUIRE(y.rows() == d);
    REQUIRE(y.cols() == B);
    for (Index b = 0; b < B; ++b) {
      const auto blk = x.middleCols(b * n, n);
      const Vec<double> expect = mode == nn::PoolMode::Mean  ? Vec<double>(blk.rowwise().mean())
                                 : mode == nn::PoolMode::Sum ? Vec<double>(blk.rowwise().sum())
                                                             : Vec<double>(blk.rowwise().maxCoeff());
      CHECK((y.col(b) - expect).cwiseAbs().maxCoeff() < 1e-14);
    }
    ParamStore<double> none;
    none.attach(pool);
    WithTokens<nn::SetPool<double>> probe{pool, n};
    auto r = testing::checkLayerGradients(probe, none, x, rng);
    INFO(r.summary());
    CHECK(r.ok());
    for (int k = 0; k < 5; ++k) {
      Mat<double> yp;
      const Mat<double> xp = permuteColumns(x, withinSamplePermutation(B, n, rng));
      pool.forward(xp, n, yp, c);
      CHECK((yp - y).cwiseAbs().maxCoeff() < 1e-14);
    }
    // Control: a permutation that moves tokens across samples does change the result.
    std::vector<Index> across(size_t(B * n));
    std::iota(across.begin(), across.end(), Index(0));
    std::swap(across[0], across[size_t(n)]);
    std::swap(across[1], across[size_t(2 * n)]);
    Mat<double> ya;
    const Mat<double> xa = permuteColumns(x, across);
    pool.forward(xa, n, ya, c);
    CHECK((ya - y).cwiseAbs().maxCoeff() > 1e-3);
  }
}

TEST_CASE("pooled DeepSets stack is permutation-invariant (float runs too)") {
  Rng rng(14);
  const Index d = 8, n = 5, B = 3;
  nn::DeepSets<double> ds(d, d);
  ParamStore<double> store(ds);
  ds.init(rng);
  nn::SetPool<double> pool(nn::PoolMode::Max);
  const Mat<double> x = testing::randomMatrix<double>(d, B * n, rng);
  auto f = [&](const Mat<double>& xx) {
    Mat<double> h, y;
    nn::DeepSets<double>::Cache c1;
    nn::SetPool<double>::Cache c2;
    ds.forward(xx, n, h, c1);
    pool.forward(h, n, y, c2);
    return y;
  };
  const Mat<double> y = f(x);
  CHECK((f(permuteColumns(x, withinSamplePermutation(B, n, rng))) - y).cwiseAbs().maxCoeff() < 1e-12);

  // Same weights in float give the same output to float rounding.
  nn::DeepSets<float> dsf(d, d);
  ParamStore<float> storef(dsf);
  storef.weights() = store.weights().cast<float>();
  Mat<float> hf, dxf;
  nn::DeepSets<float>::Cache cf;
  const Mat<float> xf = x.cast<float>();
  dsf.forward(xf, n, hf, cf);
  Mat<double> h;
  nn::DeepSets<double>::Cache cd;
  ds.forward(x, n, h, cd);
  CHECK((hf.cast<double>() - h).cwiseAbs().maxCoeff() < 1e-5);
  dsf.backward(cf, Mat<float>::Ones(d, B * n), dxf);
  CHECK(dxf.allFinite());
}

TEST_CASE("set layers refuse inputs that are not whole sets") {
  nn::DeepSets<float> ds(3, 3);
  ParamStore<float> store(ds);
  Mat<float> x(3, 6), y;
  nn::DeepSets<float>::Cache c;
  CHECK_THROWS_AS(ds.forward(x, 4, y, c), Error);
  CHECK_THROWS_AS(ds.forward(x, 0, y, c), Error);
  Mat<float> wrongRows(2, 8);
  CHECK_THROWS_AS(ds.forward(wrongRows, 4, y, c), Error);
  nn::SetPool<float> pool(nn::PoolMode::Sum);
  nn::SetPool<float>::Cache pc;
  CHECK_THROWS_AS(pool.forward(x, 4, y, pc), Error);
  CHECK_THROWS_AS(pool.forward(x, 0, y, pc), Error);
}
