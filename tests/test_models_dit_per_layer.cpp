// DiT vector field with per-layer conditioning (DitConfig::perLayerCond): layer l reads the
// conditioning columns b L + l. Gradient check in double, agreement with the single-
// conditioning mode when every layer gets the same column, and the column-count check.
#include <doctest/doctest.h>

#include "symflow/models/vector_fields.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

namespace {

models::DitConfig smallPerLayerDit(Index timeDim) {
  models::DitConfig c;
  c.width = 8;
  c.heads = 2;
  c.ffDim = 12;
  c.layers = 3;
  c.condDim = 5;
  c.timeDim = timeDim;
  c.perLayerCond = true;
  return c;
}

}  // namespace

TEST_CASE("per-layer DiT vector field (Param2Tok, sinusoidal time): gradients of xt, z and parameters") {
  Rng rng(41);
  const Index P = 6, B = 3, L = 3, dz = 5;
  using VF = models::DitVectorField<double, nn::Param2Tok<double>>;
  VF vf(nn::Param2Tok<double>(P, 4, 8), smallPerLayerDit(4), "p2t");
  ParamStore<double> store(vf);
  vf.init(rng);
  CHECK(vf.condColumnsPerSample() == L);
  Mat<double> xt = testing::randomMatrix<double>(P, B, rng), z = testing::randomMatrix<double>(dz, B * L, rng);
  Vec<double> t(B);
  rng.fillUniform(t.data(), t.data() + B);
  VF::Cache cache;
  Mat<double> v, dxt, ddz;
  vf.forward(xt, t, z, v, cache);
  REQUIRE(v.rows() == P);
  REQUIRE(v.cols() == B);
  const Mat<double> R = testing::randomMatrix<double>(P, B, rng);
  store.zeroGrad();
  vf.backward(cache, R, dxt, ddz);
  REQUIRE(ddz.rows() == dz);
  REQUIRE(ddz.cols() == B * L);
  const Vec<double> g = store.grads();
  auto loss = [&] {
    VF::Cache c;
    Mat<double> vv;
    vf.forward(xt, t, z, vv, c);
    return (vv.array() * R.array()).sum() + vf.penalty();
  };
  testing::GradCheckOptions opt;
  opt.maxEntries = 200;
  auto rx = testing::checkGradient(loss, xt.data(), xt.size(), dxt.data(), rng, opt, "dxt");
  auto rz = testing::checkGradient(loss, z.data(), z.size(), ddz.data(), rng, opt, "dz");
  auto rp = testing::checkGradient(loss, store.weights().data(), store.size(), g.data(), rng, opt, "params");
  INFO(rx.summary());
  INFO(rz.summary());
  INFO(rp.summary());
  CHECK(rx.ok);
  CHECK(rz.ok);
  CHECK(rp.ok);
  // Every layer's columns carry a gradient (each layer reads its own block).
  for (Index l = 0; l < L; ++l) CHECK(nn::queryColumns<double>(ddz, L, l).norm() > 0);
}

TEST_CASE("per-layer DiT with the same column for every layer equals the single-conditioning DiT") {
  Rng rng(42);
  const Index P = 6, B = 4, L = 3, dz = 5;
  using VF = models::DitVectorField<double, nn::Param2Tok<double>>;
  models::DitConfig cfgPer = smallPerLayerDit(0), cfgOne = cfgPer;
  cfgOne.perLayerCond = false;
  VF per(nn::Param2Tok<double>(P, 4, 8), cfgPer, "p2t"), one(nn::Param2Tok<double>(P, 4, 8), cfgOne, "p2t");
  ParamStore<double> sPer(per), sOne(one);
  per.init(rng);
  sOne.weights() = sPer.weights();
  const Mat<double> xt = testing::randomMatrix<double>(P, B, rng), z = testing::randomMatrix<double>(dz, B, rng);
  Vec<double> t(B);
  rng.fillUniform(t.data(), t.data() + B);
  Mat<double> zRep(dz, B * L);
  for (Index b = 0; b < B; ++b) zRep.middleCols(b * L, L).colwise() = z.col(b);
  VF::Cache cPer, cOne;
  Mat<double> vPer, vOne;
  per.forward(xt, t, zRep, vPer, cPer);
  one.forward(xt, t, z, vOne, cOne);
  CHECK((vPer - vOne).cwiseAbs().maxCoeff() < 1e-12);
  // The gradient of z in the single mode is the sum over layers of the per-layer gradients.
  const Mat<double> R = testing::randomMatrix<double>(P, B, rng);
  Mat<double> dxPer, dxOne, dzPer, dzOne;
  sPer.zeroGrad();
  sOne.zeroGrad();
  per.backward(cPer, R, dxPer, dzPer);
  one.backward(cOne, R, dxOne, dzOne);
  CHECK((dxPer - dxOne).cwiseAbs().maxCoeff() < 1e-12);
  Mat<double> dzSum = Mat<double>::Zero(dz, B);
  for (Index l = 0; l < L; ++l) dzSum += nn::queryColumns<double>(dzPer, L, l);
  CHECK((dzSum - dzOne).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((sPer.grads() - sOne.grads()).cwiseAbs().maxCoeff() < 1e-12);
  // Different columns per layer change the output (the layers do read their own columns).
  Mat<double> zDiff = zRep;
  nn::queryColumns<double>(zDiff, L, 1).array() += 0.5;
  Mat<double> vDiff;
  per.forward(xt, t, zDiff, vDiff, cPer);
  CHECK((vDiff - vPer).cwiseAbs().maxCoeff() > 1e-6);
}

TEST_CASE("per-layer DiT refuses a conditioning with one column per sound") {
  Rng rng(43);
  using VF = models::DitVectorField<double, nn::Param2Tok<double>>;
  VF vf(nn::Param2Tok<double>(6, 4, 8), smallPerLayerDit(0), "p2t");
  ParamStore<double> store(vf);
  vf.init(rng);
  const Mat<double> xt = testing::randomMatrix<double>(6, 2, rng), z = testing::randomMatrix<double>(5, 2, rng);
  Vec<double> t = Vec<double>::Constant(2, 0.5);
  VF::Cache c;
  Mat<double> v;
  CHECK_THROWS_WITH_AS(vf.forward(xt, t, z, v, c), doctest::Contains("per-layer"), Error);
}
