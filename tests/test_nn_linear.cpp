#include <doctest/doctest.h>

#include "symflow/nn/linear.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

TEST_CASE("Linear forward matches y = W x + b in PyTorch weight layout") {
  nn::Linear<double> lin(3, 2);
  ParamStore<double> store(lin);
  // PyTorch weight (out=2, in=3) row-major, then bias (2).
  store.weights() << 1, 2, 3, 4, 5, 6, 0.5, -0.5;
  Mat<double> x(3, 2);
  x << 1, 0, 0, 1, 0, 2;
  Mat<double> y;
  nn::Linear<double>::Cache c;
  lin.forward(x, y, c);
  CHECK(y(0, 0) == doctest::Approx(1 + 0.5));
  CHECK(y(1, 0) == doctest::Approx(4 + 0.5 - 1.0));
  CHECK(y(0, 1) == doctest::Approx(2 + 6 + 0.5));
  CHECK(y(1, 1) == doctest::Approx(5 + 12 - 0.5));
  auto tensors = listTensors<double>(lin);
  REQUIRE(tensors.size() == 2);
  CHECK(tensors[0].name == "weight");
  CHECK(tensors[0].shape == std::vector<Index>{2, 3});
  CHECK(tensors[1].name == "bias");
}

TEST_CASE("Linear gradients (central differences, double)") {
  for (bool bias : {true, false}) {
    Rng rng(1);
    nn::Linear<double> lin(5, 4, bias);
    ParamStore<double> store(lin);
    lin.init(rng);
    auto r = testing::checkLayerGradients(lin, store, testing::randomMatrix<double>(5, 7, rng), rng);
    INFO(r.summary());
    CHECK(r.ok());
  }
}

TEST_CASE("gradient check detects a wrong gradient") {
  Rng rng(2);
  nn::Linear<double> lin(3, 3);
  ParamStore<double> store(lin);
  lin.init(rng);
  Mat<double> x = testing::randomMatrix<double>(3, 4, rng);
  Mat<double> y, dx;
  nn::Linear<double>::Cache c;
  lin.forward(x, y, c);
  Mat<double> R = testing::randomMatrix<double>(3, 4, rng);
  lin.backward(c, R, dx);
  dx(1, 2) += 1e-3;  // deliberately broken
  auto loss = [&] { Mat<double> yy; nn::Linear<double>::Cache cc; lin.forward(x, yy, cc); return (yy.array() * R.array()).sum(); };
  auto r = testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng);
  CHECK_FALSE(r.ok);
  CHECK(r.failures == 1);
}

TEST_CASE("Linear refuses a wrong input size") {
  nn::Linear<float> lin(3, 2);
  ParamStore<float> store(lin);
  Mat<float> x(4, 1), y;
  nn::Linear<float>::Cache c;
  CHECK_THROWS_AS(lin.forward(x, y, c), Error);
}
