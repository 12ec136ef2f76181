#include <doctest/doctest.h>

#include <cmath>

#include "symflow/nn/activations.hpp"
#include "symflow/nn/layernorm.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

TEST_CASE("GELU and SiLU match their scalar formulas (float and double, SIMD body and tail)") {
  for (Index n : {1, 7, 16, 37}) {
    Rng rng(3);
    Mat<double> x = testing::randomMatrix<double>(n, 3, rng, 3.0);
    Mat<double> y;
    nn::Gelu<double>::Cache c;
    nn::Gelu<double>().forward(x, y, c);
    Mat<float> xf = x.cast<float>(), yf;
    nn::Gelu<float>::Cache cf;
    nn::Gelu<float>().forward(xf, yf, cf);
    Mat<double> ys;
    nn::Silu<double>::Cache cs;
    nn::Silu<double>().forward(x, ys, cs);
    for (Index i = 0; i < x.size(); ++i) {
      const double v = x(i);
      const double gelu = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      CHECK(y(i) == doctest::Approx(gelu).epsilon(1e-14));
      CHECK(yf(i) == doctest::Approx(gelu).epsilon(1e-5));
      CHECK(ys(i) == doctest::Approx(v / (1 + std::exp(-v))).epsilon(1e-14));
    }
  }
}

TEST_CASE("GELU known values (PyTorch nn.GELU())") {
  Mat<double> x(3, 1), y;
  x << -1.0, 0.5, 2.0;
  nn::Gelu<double>::Cache c;
  nn::Gelu<double>().forward(x, y, c);
  CHECK(y(0) == doctest::Approx(-0.15865525393145707).epsilon(1e-12));
  CHECK(y(1) == doctest::Approx(0.34573123063700656).epsilon(1e-12));
  CHECK(y(2) == doctest::Approx(1.9544997361036416).epsilon(1e-12));
}

TEST_CASE("activation gradients") {
  Rng rng(4);
  ParamStore<double> none;
  nn::Gelu<double> gelu;
  none.attach(gelu);
  auto r1 = testing::checkLayerGradients(gelu, none, testing::randomMatrix<double>(9, 5, rng, 2.0), rng);
  INFO(r1.summary());
  CHECK(r1.ok());
  nn::Silu<double> silu;
  none.attach(silu);
  auto r2 = testing::checkLayerGradients(silu, none, testing::randomMatrix<double>(9, 5, rng, 2.0), rng);
  INFO(r2.summary());
  CHECK(r2.ok());
}

TEST_CASE("LayerNorm normalizes each column and has correct gradients") {
  for (bool affine : {true, false}) {
    Rng rng(5);
    nn::LayerNorm<double> ln(6, affine);
    ParamStore<double> store(ln);
    ln.init(rng);
    if (affine) rng.fillNormal(store.weights().data(), store.weights().data() + store.size());
    Mat<double> x = testing::randomMatrix<double>(6, 4, rng, 2.0);
    x.array() += 3.0;
    if (!affine) {
      Mat<double> y;
      nn::LayerNorm<double>::Cache c;
      ln.forward(x, y, c);
      for (Index j = 0; j < 4; ++j) {
        CHECK(std::abs(y.col(j).mean()) < 1e-12);
        const double var = y.col(j).squaredNorm() / 6;
        CHECK(var == doctest::Approx(1.0).epsilon(1e-4));  // eps = 1e-5 shifts it slightly
      }
    }
    auto r = testing::checkLayerGradients(ln, store, x, rng);
    INFO(r.summary());
    CHECK(r.ok());
  }
}
