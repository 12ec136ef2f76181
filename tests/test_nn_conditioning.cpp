#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "symflow/nn/conditioning.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

TEST_CASE("time encodings: scalar is t, sinusoidal is [cos(t w_k), sin(t w_k)] with w_k = 10000^(-k/half)") {
  Vec<double> t(4);
  t << 0.0, 0.25, 0.5, 1.0;
  Mat<double> e;
  nn::ScalarTimeEncoding<double> scalar;
  scalar.encode(t, e);
  CHECK(scalar.dim() == 1);
  REQUIRE(e.rows() == 1);
  REQUIRE(e.cols() == 4);
  CHECK(e(0, 2) == 0.5);

  nn::SinusoidalTimeEncoding<double> sin8(8);
  sin8.encode(t, e);
  REQUIRE(e.rows() == 8);
  REQUIRE(e.cols() == 4);
  CHECK(sin8.frequency(0) == 1.0);
  CHECK(sin8.frequency(2) == doctest::Approx(0.01).epsilon(1e-14));  // 10000^(-2/4)
  for (Index b = 0; b < 4; ++b)
    for (Index k = 0; k < 4; ++k) {
      const double w = std::pow(10000.0, -double(k) / 4.0);
      CHECK(e(k, b) == doctest::Approx(std::cos(t[b] * w)).epsilon(1e-14));
      CHECK(e(4 + k, b) == doctest::Approx(std::sin(t[b] * w)).epsilon(1e-14));
    }
  // t = 0: cos rows 1, sin rows 0
  CHECK(e.col(0).head(4).isOnes());
  CHECK(e.col(0).tail(4).isZero());
  // every column has squared norm half = dim / 2 (cos^2 + sin^2 per frequency)
  for (Index b = 0; b < 4; ++b) CHECK(e.col(b).squaredNorm() == doctest::Approx(4.0).epsilon(1e-14));
  // a different max period changes the frequencies
  nn::SinusoidalTimeEncoding<float> sin8p(8, 100.0);
  CHECK(sin8p.frequency(2) == doctest::Approx(0.1).epsilon(1e-12));
  CHECK_THROWS_AS(nn::SinusoidalTimeEncoding<double>(7), Error);
  CHECK_THROWS_AS(nn::SinusoidalTimeEncoding<double>(0), Error);
}

TEST_CASE("ConditioningMlp: z = W2 GELU(W1 [c; t] + b1) + b2, names, gradients") {
  const Index embed = 5, time = 1, d = 6, B = 4;
  Rng rng(40);
  nn::ConditioningMlp<double> mlp(embed, time, d);
  ParamStore<double> store(mlp);
  mlp.init(rng);
  auto tensors = listTensors<double>(mlp, "cond");
  REQUIRE(tensors.size() == 4);
  CHECK(tensors[0].name == "cond.0.weight");
  CHECK(tensors[0].shape == std::vector<Index>{d, embed + time});
  CHECK(tensors[2].name == "cond.2.weight");
  CHECK(tensors[2].shape == std::vector<Index>{d, d});

  const Mat<double> c = testing::randomMatrix<double>(embed, B, rng);
  Vec<double> t(B);
  t << 0.1, 0.5, 0.7, 0.9;
  Mat<double> te, z;
  nn::ScalarTimeEncoding<double>().encode(t, te);
  nn::ConditioningMlp<double>::Cache cache;
  mlp.forward(c, te, z, cache);
  const Mat<double> W1 = mlp.fc1().weightT().transpose(), W2 = mlp.fc2().weightT().transpose();
  for (Index b = 0; b < B; ++b) {
    Vec<double> in(embed + time);
    in << c.col(b), t[b];  // embedding first, then time
    Vec<double> h = W1 * in + mlp.fc1().bias();
    for (Index i = 0; i < h.size(); ++i) h[i] = 0.5 * h[i] * (1 + std::erf(h[i] / std::sqrt(2.0)));
    CHECK((z.col(b) - (W2 * h + mlp.fc2().bias())).cwiseAbs().maxCoeff() < 1e-13);
  }
  // gradients for the concatenated input and every parameter, scalar and sinusoidal time
  auto r = testing::checkLayerGradients(mlp, store, testing::randomMatrix<double>(embed + time, B, rng), rng);
  INFO(r.summary());
  CHECK(r.ok());
  nn::ConditioningMlp<double> mlpSin(embed, 8, d, 7);
  ParamStore<double> storeSin(mlpSin);
  mlpSin.init(rng);
  CHECK(mlpSin.hiddenFeatures() == 7);
  Mat<double> sinEnc;
  nn::SinusoidalTimeEncoding<double>(8).encode(t, sinEnc);
  Mat<double> input(embed + 8, B);
  input << c, sinEnc;
  auto r2 = testing::checkLayerGradients(mlpSin, storeSin, input, rng);
  INFO(r2.summary());
  CHECK(r2.ok());
  CHECK_THROWS_AS(mlp.forward(c, sinEnc, z, cache), Error);
}

TEST_CASE("NullConditioning replaces dropped columns and routes their gradient to the null vector") {
  const Index dim = 4, B = 6;
  Rng rng(41);
  nn::NullConditioning<double> nul(dim);
  ParamStore<double> store(nul);
  nul.init(rng);
  auto tensors = listTensors<double>(nul);
  REQUIRE(tensors.size() == 1);
  CHECK(tensors[0].name == "null_z");
  CHECK(tensors[0].shape == std::vector<Index>{dim});

  Mat<double> c = testing::randomMatrix<double>(dim, B, rng);
  const std::vector<bool> drop = {false, true, false, false, true, true};
  Mat<double> out;
  nul.forward(c, drop, out);
  for (Index b = 0; b < B; ++b) {
    if (drop[size_t(b)])
      CHECK(out.col(b) == nul.value());
    else
      CHECK(out.col(b) == c.col(b));
  }
  // gradient check of loss = sum(R . out) w.r.t. the null vector and c
  const Mat<double> R = testing::randomMatrix<double>(dim, B, rng);
  Mat<double> dc;
  store.zeroGrad();
  nul.backward(drop, R, dc);
  auto loss = [&] {
    Mat<double> o;
    nul.forward(c, drop, o);
    return (o.array() * R.array()).sum();
  };
  const Vec<double> gNull = store.grads();
  auto r1 = testing::checkGradient(loss, store.weights().data(), dim, gNull.data(), rng, {}, "null vector");
  INFO(r1.summary());
  CHECK(r1.ok);
  auto r2 = testing::checkGradient(loss, c.data(), c.size(), dc.data(), rng, {}, "conditioning");
  INFO(r2.summary());
  CHECK(r2.ok);
  CHECK(dc.col(1).isZero());
  CHECK((gNull - (R.col(1) + R.col(4) + R.col(5))).cwiseAbs().maxCoeff() < 1e-14);

  // inference: the unconditional batch is B copies of the null vector
  Mat<double> un;
  nul.fillNull(3, un);
  REQUIRE(un.cols() == 3);
  CHECK(un.col(2) == nul.value());
  CHECK_THROWS_AS(nul.forward(c, std::vector<bool>(3, false), out), Error);
}

TEST_CASE("drop mask: same seed same mask, rate close to p") {
  Rng a(42), b(42);
  const auto m1 = nn::NullConditioning<float>::drawDropMask(10000, 0.1, a);
  const auto m2 = nn::NullConditioning<float>::drawDropMask(10000, 0.1, b);
  CHECK(m1 == m2);
  Index dropped = 0;
  for (bool v : m1) dropped += v ? 1 : 0;
  CHECK(dropped > 900);  // binomial(10000, 0.1): mean 1000, sd 30
  CHECK(dropped < 1100);
  Rng c(1);
  const auto none = nn::NullConditioning<float>::drawDropMask(100, 0.0, c);
  for (bool v : none) CHECK_FALSE(v);
}

TEST_CASE("guidance pipeline: embedding -> null dropout -> [c; t] -> MLP, gradient reaches null_z") {
  // One model buffer for both pieces, as a vector field would hold them.
  struct Model {
    nn::NullConditioning<double> nul{3};
    nn::ConditioningMlp<double> mlp{3, 1, 4};
    Index numParams() const { return nul.numParams() + mlp.numParams(); }
    void bind(ParamCursor<double>& c) {
      nul.bind(c);
      mlp.bind(c);
    }
  } model;
  ParamStore<double> store(model);
  Rng rng(43);
  model.nul.init(rng);
  model.mlp.init(rng);
  const Index B = 5;
  Mat<double> emb = testing::randomMatrix<double>(3, B, rng);
  Vec<double> t = Vec<double>::LinSpaced(B, 0.1, 0.9);
  Mat<double> te;
  nn::ScalarTimeEncoding<double>().encode(t, te);
  const std::vector<bool> drop = {true, false, false, true, false};
  const Mat<double> R = testing::randomMatrix<double>(4, B, rng);
  auto loss = [&] {
    Mat<double> c, z;
    nn::ConditioningMlp<double>::Cache cache;
    model.nul.forward(emb, drop, c);
    model.mlp.forward(c, te, z, cache);
    return (z.array() * R.array()).sum();
  };
  Mat<double> c, z, dInput, dc, demb;
  nn::ConditioningMlp<double>::Cache cache;
  model.nul.forward(emb, drop, c);
  model.mlp.forward(c, te, z, cache);
  store.zeroGrad();
  model.mlp.backward(cache, R, dInput);
  dc = dInput.topRows(3);
  model.nul.backward(drop, dc, demb);
  const Vec<double> g = store.grads();
  auto r1 = testing::checkGradient(loss, store.weights().data(), store.size(), g.data(), rng, {}, "all parameters");
  INFO(r1.summary());
  CHECK(r1.ok);
  auto r2 = testing::checkGradient(loss, emb.data(), emb.size(), demb.data(), rng, {}, "embedding");
  INFO(r2.summary());
  CHECK(r2.ok);
  CHECK(g.head(3).cwiseAbs().maxCoeff() > 1e-3);  // the null vector does get a gradient
}
