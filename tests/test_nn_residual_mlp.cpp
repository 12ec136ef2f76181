#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "symflow/nn/residual_mlp.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

namespace {
/// Random LayerNorm affine parameters instead of 1 / 0, so their gradients are exercised.
template <class Layer> void randomizeNorms(Layer& layer, Rng& rng) {
  layer.visitParams("", [&](const TensorRef<double>& t) {
    if (t.name.find("norm.") != std::string::npos)
      for (Index i = 0; i < t.size(); ++i) t.value[i] = rng.normal(t.name.find("weight") != std::string::npos ? 1.0 : 0.0, 0.5);
  });
}
}  // namespace

TEST_CASE("ResMlpBlock forward = fc2(GELU(fc1(LayerNorm(x)))) + residual") {
  for (auto kind : {nn::ResidualKind::Identity, nn::ResidualKind::Linear}) {
    Rng rng(30);
    nn::ResMlpBlock<double> blk(4, 6, 4, kind);
    ParamStore<double> store(blk);
    blk.init(rng);
    randomizeNorms(blk, rng);
    Mat<double> x = testing::randomMatrix<double>(4, 3, rng), y;
    nn::ResMlpBlock<double>::Cache c;
    blk.forward(x, y, c);
    // Reference from the named tensors (PyTorch layouts).
    auto t = listTensors<double>(blk);
    auto find = [&](const std::string& n) {
      for (auto& e : t)
        if (e.name == n) return e.value;
      FAIL("missing tensor " << n);
      return static_cast<double*>(nullptr);
    };
    for (Index j = 0; j < 3; ++j) {
      Vec<double> v = x.col(j);
      const double mu = v.mean(), var = (v.array() - mu).square().mean();
      Vec<double> n = (v.array() - mu) / std::sqrt(var + 1e-5);
      n = n.cwiseProduct(Eigen::Map<Vec<double>>(find("norm.weight"), 4)) + Eigen::Map<Vec<double>>(find("norm.bias"), 4);
      // Row-major (out, in) weight = transpose of a column-major (in, out) map.
      Vec<double> h = Eigen::Map<Mat<double>>(find("fc1.weight"), 4, 6).transpose() * n +
                      Eigen::Map<Vec<double>>(find("fc1.bias"), 6);
      for (Index i = 0; i < 6; ++i) h[i] = 0.5 * h[i] * (1 + std::erf(h[i] / std::sqrt(2.0)));
      Vec<double> o = Eigen::Map<Mat<double>>(find("fc2.weight"), 6, 4).transpose() * h +
                      Eigen::Map<Vec<double>>(find("fc2.bias"), 4);
      if (kind == nn::ResidualKind::Linear)
        o += Eigen::Map<Mat<double>>(find("res.weight"), 4, 4).transpose() * v;
      else
        o += v;
      CHECK((o - y.col(j)).cwiseAbs().maxCoeff() < 1e-12);
    }
  }
}

TEST_CASE("ResMlpBlock tensor names mirror the peer's ResMLP (norm, fc1, fc2, res)") {
  nn::ResMlpBlock<float> blk(512, 512, 128);  // the encoder head: Linear residual by default
  CHECK(blk.residualKind() == nn::ResidualKind::Linear);
  ParamStore<float> store(blk);
  auto t = listTensors<float>(blk, "mlp");
  std::vector<std::string> names;
  for (auto& e : t) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"mlp.norm.weight", "mlp.norm.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                                          "mlp.fc2.weight", "mlp.fc2.bias", "mlp.res.weight"});
  CHECK(t[4].shape == std::vector<Index>{128, 512});
  CHECK(t[6].shape == std::vector<Index>{128, 512});
  CHECK(store.size() == 2 * 512 + 512 * 512 + 512 + 512 * 128 + 128 + 512 * 128);
  CHECK(nn::ResMlpBlock<float>(8, 16, 8).residualKind() == nn::ResidualKind::Identity);
  CHECK_THROWS_AS(nn::ResMlpBlock<float>(8, 16, 4, nn::ResidualKind::Identity), Error);
}

TEST_CASE("ResMlpBlock gradients (central differences, double): identity and Linear residual") {
  struct Case {
    Index din, dh, dout;
    nn::ResidualKind kind;
  };
  for (const Case& k : {Case{5, 7, 5, nn::ResidualKind::Identity}, Case{5, 7, 5, nn::ResidualKind::Linear},
                        Case{6, 4, 3, nn::ResidualKind::Linear}}) {
    Rng rng(31);
    nn::ResMlpBlock<double> blk(k.din, k.dh, k.dout, k.kind);
    ParamStore<double> store(blk);
    blk.init(rng);
    randomizeNorms(blk, rng);
    testing::GradCheckOptions opt;
    opt.maxEntries = 100000;
    auto r = testing::checkLayerGradients(blk, store, testing::randomMatrix<double>(k.din, 4, rng), rng, opt);
    INFO(r.summary());
    CHECK(r.ok());
  }
}

TEST_CASE("ResMlp stack: names, sizes and gradients (with and without the final norm)") {
  for (bool finalNorm : {true, false}) {
    Rng rng(32);
    nn::ResMlp<double> mlp(6, 8, 3, 4, 10, finalNorm);
    ParamStore<double> store(mlp);
    mlp.init(rng);
    randomizeNorms(mlp, rng);
    auto t = listTensors<double>(mlp);
    CHECK(t.front().name == "input.weight");
    CHECK(t[2].name == "blocks.0.norm.weight");
    CHECK(t[4].name == "blocks.0.fc1.weight");
    CHECK(t[4].shape == std::vector<Index>{10, 8});
    CHECK(t.back().name == "output.bias");
    CHECK((t[t.size() - 3].name == "norm.bias") == finalNorm);
    const Index perBlock = 2 * 8 + 8 * 10 + 10 + 10 * 8 + 8;
    CHECK(store.size() == 6 * 8 + 8 + 3 * perBlock + (finalNorm ? 16 : 0) + 8 * 4 + 4);
    testing::GradCheckOptions opt;
    opt.maxEntries = 100000;
    auto r = testing::checkLayerGradients(mlp, store, testing::randomMatrix<double>(6, 5, rng), rng, opt);
    INFO(r.summary());
    CHECK(r.ok());
  }
}

TEST_CASE("ResMlp at the CNF (MLP) size: 7 blocks of width 192, sampled gradient check") {
  Rng rng(33);
  nn::ResMlp<double> mlp(12 + 1 + 128, 192, 7, 12);
  ParamStore<double> store(mlp);
  mlp.init(rng);
  auto r = testing::checkLayerGradients(mlp, store, testing::randomMatrix<double>(141, 3, rng), rng);
  INFO(r.summary());
  CHECK(r.ok());
}
