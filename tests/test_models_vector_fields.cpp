#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "symflow/models/vector_fields.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

namespace {

// Probe: loss = sum(R . v) + penalty; checks dxt, dz and a sample of parameter gradients.
template <class VF>
void checkVectorField(VF& vf, ParamStore<double>& store, Index P, Index B, Index dz, Rng& rng) {
  Mat<double> xt = testing::randomMatrix<double>(P, B, rng), z = testing::randomMatrix<double>(dz, B, rng);
  Vec<double> t(B);
  rng.fillUniform(t.data(), t.data() + B);
  typename VF::Cache cache;
  Mat<double> v, dxt, ddz;
  vf.forward(xt, t, z, v, cache);
  const Mat<double> R = testing::randomMatrix<double>(v.rows(), v.cols(), rng);
  store.zeroGrad();
  vf.backward(cache, R, dxt, ddz);
  const Vec<double> g = store.grads();
  auto loss = [&] {
    typename VF::Cache c;
    Mat<double> vv;
    vf.forward(xt, t, z, vv, c);
    return (vv.array() * R.array()).sum() + vf.penalty();
  };
  testing::GradCheckOptions opt;
  opt.maxEntries = 160;
  auto rx = testing::checkGradient(loss, xt.data(), xt.size(), dxt.data(), rng, opt, "dxt");
  auto rz = testing::checkGradient(loss, z.data(), z.size(), ddz.data(), rng, opt, "dz");
  auto rp = testing::checkGradient(loss, store.weights().data(), store.size(), g.data(), rng, opt, "params");
  INFO(rx.summary());
  INFO(rz.summary());
  INFO(rp.summary());
  CHECK(rx.ok);
  CHECK(rz.ok);
  CHECK(rp.ok);
}

models::DitConfig smallDit() {
  models::DitConfig c;
  c.width = 8;
  c.heads = 2;
  c.ffDim = 12;
  c.layers = 2;
  c.condDim = 5;
  return c;
}

}  // namespace

TEST_CASE("DiT vector field with fixed tokens: gradients") {
  Rng rng(31);
  const Index k = 3;
  using VF = models::DitVectorField<double, nn::FixedTokenizer<double>>;
  VF vf(nn::FixedTokenizer<double>(nn::GroupLayout::parameterMajor(k, 3), 8), smallDit(), "tokenizer");
  ParamStore<double> store(vf);
  vf.init(rng);
  checkVectorField(vf, store, 3 * k, 4, 5, rng);
}

TEST_CASE("DiT vector field with Param2Tok (sinusoidal time): gradients incl. the L1 penalty") {
  Rng rng(32);
  const Index P = 6;
  using VF = models::DitVectorField<double, nn::Param2Tok<double>>;
  VF::Config cfg;
  cfg.width = 8;
  cfg.heads = 2;
  cfg.ffDim = 12;
  cfg.layers = 2;
  cfg.condDim = 5;
  cfg.timeDim = 4;
  VF vf(nn::Param2Tok<double>(P, 3, 8), cfg, "p2t");
  ParamStore<double> store(vf);
  vf.init(rng);
  checkVectorField(vf, store, P, 3, 5, rng);
}

TEST_CASE("MLP vector field: gradients") {
  Rng rng(33);
  models::MlpVectorField<double>::Config cfg;
  cfg.width = 10;
  cfg.blocks = 2;
  cfg.condDim = 5;
  models::MlpVectorField<double> vf(9, cfg);
  ParamStore<double> store(vf);
  vf.init(rng);
  checkVectorField(vf, store, 9, 4, 5, rng);
}

TEST_CASE("DiT vector field with fixed tokens is equivariant to oscillator permutations") {
  Rng rng(34);
  const Index k = 4, B = 3;
  using VF = models::DitVectorField<double, nn::FixedTokenizer<double>>;
  VF vf(nn::FixedTokenizer<double>(nn::GroupLayout::parameterMajor(k, 3), 8), smallDit(), "tokenizer");
  ParamStore<double> store(vf);
  vf.init(rng);
  Mat<double> x = testing::randomMatrix<double>(3 * k, B, rng), z = testing::randomMatrix<double>(5, B, rng);
  Vec<double> t(B);
  rng.fillUniform(t.data(), t.data() + B);
  VF::Cache c;
  Mat<double> v, vp;
  vf.forward(x, t, z, v, c);
  std::vector<Index> perm(k);
  for (int trial = 0; trial < 5; ++trial) {
    std::iota(perm.begin(), perm.end(), 0);
    for (Index i = k - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(rng.below(uint64_t(i + 1)))]);
    auto permute = [&](const Mat<double>& a) {  // oscillator i <- oscillator perm[i], parameter-major rows
      Mat<double> out(a.rows(), a.cols());
      for (Index i = 0; i < k; ++i)
        for (Index s = 0; s < 3; ++s) out.row(s * k + i) = a.row(s * k + perm[size_t(i)]);
      return out;
    };
    vf.forward(permute(x), t, z, vp, c);
    CHECK((vp - permute(v)).cwiseAbs().maxCoeff() < 1e-12);
  }
  // Param2Tok with random (non-symmetric) weights is not equivariant: the check above can fail.
  using VP = models::DitVectorField<double, nn::Param2Tok<double>>;
  VP::Config cfg = smallDit();
  VP vp2(nn::Param2Tok<double>(3 * k, k, 8), cfg, "p2t");
  ParamStore<double> s2(vp2);
  vp2.tokenizer().initRandom(rng);
  VP::Cache c2;
  Mat<double> w, wp;
  vp2.forward(x, t, z, w, c2);
  Mat<double> xp = x;
  xp.row(0).swap(xp.row(1));
  xp.row(k).swap(xp.row(k + 1));
  xp.row(2 * k).swap(xp.row(2 * k + 1));
  vp2.forward(xp, t, z, wp, c2);
  Mat<double> wpp = wp;
  wpp.row(0).swap(wpp.row(1));
  wpp.row(k).swap(wpp.row(k + 1));
  wpp.row(2 * k).swap(wpp.row(2 * k + 1));
  CHECK((wpp - w).cwiseAbs().maxCoeff() > 1e-6);
}
