#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "symflow/nn/activations.hpp"
#include "symflow/nn/adaln.hpp"
#include "symflow/nn/dit_block.hpp"
#include "symflow/nn/layernorm.hpp"
#include "symflow/nn/linear.hpp"
#include "symflow/nn/mlp.hpp"
#include "symflow/testing/gradcheck.hpp"
#include "transformer_testing.hpp"

using namespace symflow;

namespace {

testing::GradCheckOptions allEntries() {
  testing::GradCheckOptions opt;
  opt.maxEntries = 1 << 20;
  return opt;
}

void randomizeParams(ParamStore<double>& store, Rng& rng, double stddev = 0.5) {
  rng.fillNormal(store.weights().data(), store.weights().data() + store.size(), 0.0, stddev);
}

}  // namespace

TEST_CASE("Mlp = Linear -> GELU -> Linear, with nn.Sequential names") {
  Rng rng(1);
  nn::Mlp<double> mlp(5, 7, 3);
  ParamStore<double> store(mlp);
  mlp.init(rng);
  auto t = listTensors<double>(mlp, "ff");
  REQUIRE(t.size() == 4);
  CHECK(t[0].name == "ff.0.weight");
  CHECK(t[0].shape == std::vector<Index>{7, 5});
  CHECK(t[1].name == "ff.0.bias");
  CHECK(t[2].name == "ff.2.weight");
  CHECK(t[2].shape == std::vector<Index>{3, 7});
  CHECK(t[3].name == "ff.2.bias");

  // the same computation from the separate layers, bound to the same weights
  nn::Linear<double> l1(5, 7), l2(7, 3);
  ParamStore<double> s1(l1), s2(l2);
  s1.weights() = store.weights().head(s1.size());
  s2.weights() = store.weights().tail(s2.size());
  const Mat<double> x = testing::randomMatrix<double>(5, 9, rng);
  Mat<double> u, a, y, yref;
  nn::Linear<double>::Cache c1, c2;
  nn::Gelu<double>::Cache cg;
  l1.forward(x, u, c1);
  nn::Gelu<double>().forward(u, a, cg);
  l2.forward(a, yref, c2);
  nn::Mlp<double>::Cache c;
  mlp.forward(x, y, c);
  CHECK((y - yref).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("Mlp (FFN) gradients (central differences, double, gradcheck defaults)") {
  Rng rng(2);
  nn::Mlp<double> mlp(6, 10, 4);
  ParamStore<double> store(mlp);
  mlp.init(rng);
  auto r = testing::checkLayerGradients(mlp, store, testing::randomMatrix<double>(6, 7, rng), rng,
                                        allEntries());
  INFO(r.summary());
  CHECK(r.ok());
  CHECK(r.params.checked == store.size());
}

TEST_CASE("AdaLNModulation = Linear(GELU(c)), 6 chunks, names cond.1.*") {
  Rng rng(3);
  nn::AdaLNModulation<double> mod(5, 4);
  ParamStore<double> store(mod);
  mod.init(rng);
  auto t = listTensors<double>(mod, "cond");
  REQUIRE(t.size() == 2);
  CHECK(t[0].name == "cond.1.weight");
  CHECK(t[0].shape == std::vector<Index>{24, 5});
  CHECK(t[1].name == "cond.1.bias");
  CHECK(t[1].shape == std::vector<Index>{24});
  // not zero-initialized ("basic" adaLN): PyTorch's default Linear init
  CHECK(store.weights().cwiseAbs().maxCoeff() > 0.3);
  CHECK(store.weights().cwiseAbs().maxCoeff() <= 1.0 / std::sqrt(5.0));

  const Mat<double> c = testing::randomMatrix<double>(5, 3, rng);
  Mat<double> m;
  nn::AdaLNModulation<double>::Cache k;
  mod.forward(c, m, k);
  Mat<double> gc(5, 3);
  for (Index i = 0; i < c.size(); ++i) gc(i) = 0.5 * c(i) * (1 + std::erf(c(i) / std::sqrt(2.0)));
  const Mat<double> expected =
      (Eigen::Map<const Mat<double>>(t[0].value, 5, 24).transpose() * gc).colwise() +
      Eigen::Map<const Vec<double>>(t[1].value, 24);
  CHECK((m - expected).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("AdaLNModulation gradients (conditioning and parameters)") {
  Rng rng(4);
  nn::AdaLNModulation<double> mod(5, 3);
  ParamStore<double> store(mod);
  mod.init(rng);
  auto r = testing::checkLayerGradients(mod, store, testing::randomMatrix<double>(5, 4, rng, 1.5),
                                        rng, allEntries());
  INFO(r.summary());
  CHECK(r.ok());
}

TEST_CASE("ModulatedLayerNorm = gamma * LayerNorm(x) + beta per sample, and its gradients") {
  for (bool affine : {true, false}) {
    CAPTURE(affine);
    const Index d = 6, n = 3, B = 4;
    Rng rng(5);
    nn::ModulatedLayerNorm<double> mln(d, affine);
    ParamStore<double> store(mln);
    mln.init(rng);
    randomizeParams(store, rng);
    Mat<double> x = testing::randomMatrix<double>(d, n * B, rng, 2.0);
    x.array() += 1.0;
    Mat<double> gamma = testing::randomMatrix<double>(d, B, rng);
    Mat<double> beta = testing::randomMatrix<double>(d, B, rng);

    // forward equals the plain LayerNorm (same weights) followed by the modulation
    nn::LayerNorm<double> ln(d, affine);
    ParamStore<double> lnStore(ln);
    lnStore.weights() = store.weights();
    Mat<double> lnOut, y;
    nn::LayerNorm<double>::Cache lc;
    ln.forward(x, lnOut, lc);
    nn::ModulatedLayerNorm<double>::Cache k;
    mln.forward(x, gamma, beta, n, y, k);
    for (Index j = 0; j < n * B; ++j) {
      const Vec<double> expected = gamma.col(j / n).cwiseProduct(lnOut.col(j)) + beta.col(j / n);
      CHECK((y.col(j) - expected).cwiseAbs().maxCoeff() < 1e-13);
    }

    const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
    auto loss = [&] {
      Mat<double> yy;
      nn::ModulatedLayerNorm<double>::Cache kk;
      mln.forward(x, gamma, beta, n, yy, kk);
      return (yy.array() * R.array()).sum();
    };
    mln.forward(x, gamma, beta, n, y, k);
    store.zeroGrad();
    Mat<double> dx, dgamma(d, B), dbeta(d, B);
    mln.backward(k, R, dx, dgamma, dbeta);
    const Vec<double> g = store.grads();
    for (auto r :
         {testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng, allEntries(), "dx"),
          testing::checkGradient(loss, gamma.data(), gamma.size(), dgamma.data(), rng, allEntries(),
                                 "dgamma"),
          testing::checkGradient(loss, beta.data(), beta.size(), dbeta.data(), rng, allEntries(),
                                 "dbeta"),
          testing::checkGradient(loss, store.weights().data(), store.size(), g.data(), rng,
                                 allEntries(), "params")}) {
      INFO(r.summary());
      CHECK(r.ok);
    }
    // with an addend: dx = addend + input gradient (also in place)
    const Mat<double> ones = Mat<double>::Ones(d, n * B);
    const CMatRef<double> onesRef(ones);
    Mat<double> dxAdd;
    mln.backward(k, R, dxAdd, dgamma, dbeta, &onesRef);
    CHECK((dxAdd.array() - 1.0 - dx.array()).abs().maxCoeff() < 1e-14);
    Mat<double> dxInPlace = ones;
    const CMatRef<double> selfRef(dxInPlace);
    mln.backward(k, R, dxInPlace, dgamma, dbeta, &selfRef);
    CHECK((dxInPlace - dxAdd).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("gated residual y = x + alpha * f: gradients") {
  const Index d = 4, n = 3, B = 2;
  Rng rng(6);
  Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> f = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> alpha = testing::randomMatrix<double>(d, B, rng);
  const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
  auto loss = [&] {
    Mat<double> y(d, n * B);
    nn::gatedResidualForward<double>(x, f, alpha, n, y);
    return (y.array() * R.array()).sum();
  };
  Mat<double> df, dalpha(d, B);
  nn::gatedResidualBackward<double>(R, f, alpha, n, df, dalpha);
  auto r1 = testing::checkGradient(loss, f.data(), f.size(), df.data(), rng, allEntries(), "df");
  auto r2 = testing::checkGradient(loss, alpha.data(), alpha.size(), dalpha.data(), rng,
                                   allEntries(), "dalpha");
  auto r3 =
      testing::checkGradient(loss, x.data(), x.size(), R.data(), rng, allEntries(), "dx = dy");
  INFO(r1.summary() << "; " << r2.summary() << "; " << r3.summary());
  CHECK(r1.ok);
  CHECK(r2.ok);
  CHECK(r3.ok);
}

TEST_CASE("DiTBlock parameter names follow the peer's PyTorch DiTBlock") {
  nn::DiTBlock<float> blk(8, 2, 16);
  ParamStore<float> store(blk);
  std::vector<std::string> names;
  std::vector<std::vector<Index>> shapes;
  Index total = 0;
  const float* expectedStart = store.weights().data();
  for (const auto& t : listTensors<float>(blk, "blocks.0")) {
    names.push_back(t.name);
    shapes.push_back(t.shape);
    CHECK(t.value == expectedStart);  // visiting order = flat buffer order
    expectedStart += t.size();
    total += t.size();
  }
  const std::vector<std::string> expected = {
      "blocks.0.norm1.weight",      "blocks.0.norm1.bias",           "blocks.0.attn.in_proj_weight",
      "blocks.0.attn.in_proj_bias", "blocks.0.attn.out_proj.weight", "blocks.0.attn.out_proj.bias",
      "blocks.0.norm2.weight",      "blocks.0.norm2.bias",           "blocks.0.ff.0.weight",
      "blocks.0.ff.0.bias",         "blocks.0.ff.2.weight",          "blocks.0.ff.2.bias",
      "blocks.0.cond.1.weight",     "blocks.0.cond.1.bias"};
  CHECK(names == expected);
  CHECK(shapes[2] == std::vector<Index>{24, 8});
  CHECK(shapes[8] == std::vector<Index>{16, 8});
  CHECK(shapes[10] == std::vector<Index>{8, 16});
  CHECK(shapes[12] == std::vector<Index>{48, 8});
  CHECK(total == store.size());
}

TEST_CASE("DiTBlock matches the peer's PyTorch DiTBlock (known values)") {
  // tests/torch_ref_transformer.py: DiTBlock(d=4, heads=2, d_ff=6), n = 3, B = 2.
  const std::vector<double> expected = {
      0.41407450259251344,  0.85765476687752062,  0.36660974674746843,  -1.1600707376175152,
      -0.63932280242518069, 0.55699526442782288,  1.2208050855117294,   -0.3942414746024398,
      -1.0850182990297734,  -0.44290419570148376, 1.1044807641112333,   0.56709235755121523,
      -0.64727385212181687, -1.1201178753539667,  0.11534153293323597,  0.31014165487655765,
      0.37319393254550814,  -0.69961173931303877, -0.69934195831177448, -0.53561741269354857,
      0.74347292554183741,  0.32900163372317626,  -0.54117842305195629, -1.4761819745957239};
  nn::DiTBlock<double> blk(4, 2, 6);
  ParamStore<double> store(blk);
  REQUIRE(store.size() == 274);
  test::fillReferenceParams(store);
  const Mat<double> x =
      test::sequenceMatrix<double>(4, 6, [](double j) { return std::sin(1.3 * j + 0.5); });
  const Mat<double> c =
      test::sequenceMatrix<double>(4, 2, [](double j) { return std::cos(0.9 * j + 0.2); });
  Mat<double> y;
  nn::DiTBlock<double>::Cache k;
  blk.forward(x, c, 3, y, k);
  REQUIRE(y.size() == 24);
  for (Index i = 0; i < y.size(); ++i)
    CHECK(y.data()[i] == doctest::Approx(expected[size_t(i)]).epsilon(1e-12));
}

/// Central-difference check of a DiTBlock's dx, dc and every parameter gradient for the loss
/// sum(y .* R); returns the parameter gradient of the backward pass.
Vec<double> checkDiTBlockGradients(nn::DiTBlock<double>& blk, ParamStore<double>& store, Mat<double>& x,
                                   Mat<double>& c, Index n, const Mat<double>& R, Rng& rng, const std::string& label) {
  auto loss = [&] {
    Mat<double> yy;
    nn::DiTBlock<double>::Cache kk;
    blk.forward(x, c, n, yy, kk);
    return (yy.array() * R.array()).sum();
  };
  Mat<double> y, dx, dcond;
  nn::DiTBlock<double>::Cache k;
  blk.forward(x, c, n, y, k);
  store.zeroGrad();
  blk.backward(k, R, dx, dcond);
  const Vec<double> g = store.grads();
  for (auto r :
       {testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng, allEntries(), "dx"),
        testing::checkGradient(loss, c.data(), c.size(), dcond.data(), rng, allEntries(), "dc"),
        testing::checkGradient(loss, store.weights().data(), store.size(), g.data(), rng,
                               allEntries(), "params")}) {
    INFO(label << ": " << r.summary());
    CHECK(r.ok);
    CHECK(r.checked > 0);
  }
  return g;
}

TEST_CASE("DiTBlock gradients: dx, dc and every parameter (central differences, double)") {
  const Index d = 8, heads = 2, dff = 12, dc = 5, n = 4, B = 3;
  Rng rng(7);
  nn::DiTBlock<double> blk(d, heads, dff, dc);
  ParamStore<double> store(blk);
  blk.init(rng);
  randomizeParams(store, rng, 0.4);  // LayerNorm weights and biases away from 1 and 0
  Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> c = testing::randomMatrix<double>(dc, B, rng);
  const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
  checkDiTBlockGradients(blk, store, x, c, n, R, rng, "s = 1");
}

TEST_CASE("DiTBlock attention scale: s = 0 computes each token alone, 0 < s < 1 scales MHA; gradients") {
  const Index d = 8, heads = 2, dff = 12, dc = 5, n = 4, B = 3;
  Rng rng(17);
  nn::DiTBlock<double> blk(d, heads, dff, dc);
  ParamStore<double> store(blk);
  blk.init(rng);
  randomizeParams(store, rng, 0.4);
  Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> c = testing::randomMatrix<double>(dc, B, rng);
  const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> y1, yHalf, y0, y0b;
  nn::DiTBlock<double>::Cache k;
  blk.forward(x, c, n, y1, k);
  CHECK(blk.attentionScale() == 1.0);
  // s = 0: changing token 1 of sample 0 leaves every other token's output as it was
  blk.setAttentionScale(0.0);
  blk.forward(x, c, n, y0, k);
  Mat<double> x2 = x;
  x2.col(1) = testing::randomMatrix<double>(d, 1, rng);
  blk.forward(x2, c, n, y0b, k);
  for (Index j = 0; j < n * B; ++j) {
    const double diff = (y0b.col(j) - y0.col(j)).cwiseAbs().maxCoeff();
    if (j == 1) CHECK(diff > 1e-3);
    else CHECK(diff < 1e-14);
  }
  CHECK((y0 - y1).cwiseAbs().maxCoeff() > 1e-3);  // at s = 1 the tokens do interact
  // gradients at s = 0.5 and s = 0 (where the attention weights get none)
  for (double s : {0.5, 0.0}) {
    blk.setAttentionScale(s);
    checkDiTBlockGradients(blk, store, x, c, n, R, rng, "s = " + std::to_string(s));
    if (s == 0.0) {  // no gradient reaches the attention weights
      double attnGrad = 0;
      for (const auto& t : listTensors<double>(blk, "blk"))
        if (t.name.find(".attn.") != std::string::npos)
          for (Index i = 0; i < t.size(); ++i) attnGrad += std::abs(t.grad[i]);
      CHECK(attnGrad == 0.0);
    }
  }
  blk.setAttentionScale(1.0);
  Mat<double> yBack;
  blk.forward(x, c, n, yBack, k);
  CHECK((yBack - y1).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("DiTBlock on a wide batch (threaded paths) equals its samples one at a time") {
  // B = 256 samples of n = 8 tokens of width 32: the token-split GEMMs, the per-sample
  // attention loop and the modulation loops take their multi-thread paths when OpenMP is on;
  // each sample alone takes the serial ones. Outputs and input gradients must agree per
  // sample, and the batch's parameter gradient must be the sum of the samples' ones.
  const Index d = 32, n = 8, B = 256;
  Rng rng(13);
  nn::DiTBlock<double> blk(d, 2, 64);
  ParamStore<double> store(blk);
  blk.init(rng);
  const Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
  const Mat<double> c = testing::randomMatrix<double>(d, B, rng);
  const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> y, dx, dc, ys, dxs, dcs;
  nn::DiTBlock<double>::Cache k, ks;
  store.zeroGrad();
  blk.forward(x, c, n, y, k);
  blk.backward(k, R, dx, dc);
  const Vec<double> batchGrad = store.grads();
  store.zeroGrad();
  double worstY = 0, worstDx = 0, worstDc = 0;
  for (Index b = 0; b < B; ++b) {
    const Mat<double> xb = x.middleCols(b * n, n), cb = c.col(b), Rb = R.middleCols(b * n, n);
    blk.forward(xb, cb, n, ys, ks);
    blk.backward(ks, Rb, dxs, dcs);
    worstY = std::max(worstY, (ys - y.middleCols(b * n, n)).cwiseAbs().maxCoeff());
    worstDx = std::max(worstDx, (dxs - dx.middleCols(b * n, n)).cwiseAbs().maxCoeff());
    worstDc = std::max(worstDc, (dcs - dc.col(b)).cwiseAbs().maxCoeff());
  }
  CHECK(worstY < 1e-12);
  CHECK(worstDx < 1e-12);
  CHECK(worstDc < 1e-12);
  const double scale = 1 + batchGrad.cwiseAbs().maxCoeff();
  CHECK((store.grads() - batchGrad).cwiseAbs().maxCoeff() < 1e-11 * scale);
}

TEST_CASE("Two DiT blocks sharing c: the caller sums their dc") {
  const Index d = 4, n = 3, B = 2;
  Rng rng(8);
  nn::DiTBlock<double> b1(d, 2, 8), b2(d, 2, 8);
  ParamStore<double> s1(b1), s2(b2);
  b1.init(rng);
  b2.init(rng);
  Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> c = testing::randomMatrix<double>(d, B, rng);
  const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
  auto loss = [&] {
    Mat<double> h, y;
    nn::DiTBlock<double>::Cache k1, k2;
    b1.forward(x, c, n, h, k1);
    b2.forward(h, c, n, y, k2);
    return (y.array() * R.array()).sum();
  };
  Mat<double> h, y, dh, dx, dc1, dc2;
  nn::DiTBlock<double>::Cache k1, k2;
  b1.forward(x, c, n, h, k1);
  b2.forward(h, c, n, y, k2);
  b2.backward(k2, R, dh, dc2);
  b1.backward(k1, dh, dx, dc1);
  const Mat<double> dc = dc1 + dc2;
  auto rx = testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng, allEntries(), "dx");
  auto rc = testing::checkGradient(loss, c.data(), c.size(), dc.data(), rng, allEntries(), "dc");
  INFO(rx.summary() << "; " << rc.summary());
  CHECK(rx.ok);
  CHECK(rc.ok);
}

TEST_CASE("DiTBlock is equivariant to token permutations within each sample") {
  const Index d = 16, n = 6, B = 5;
  Rng rng(9);
  nn::DiTBlock<double> blk(d, 4, 32, 7);
  ParamStore<double> store(blk);
  blk.init(rng);
  const Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
  const Mat<double> c = testing::randomMatrix<double>(7, B, rng);
  const auto source = test::permutationWithinSamples(B, n, rng);
  const Mat<double> xp = test::permuteColumns(x, source);
  const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> y, yp, dx, dxp, dc, dcp;
  nn::DiTBlock<double>::Cache k;
  blk.forward(x, c, n, y, k);
  blk.backward(k, R, dx, dc);
  blk.forward(xp, c, n, yp, k);
  blk.backward(k, test::permuteColumns(R, source), dxp, dcp);
  CHECK((yp - test::permuteColumns(y, source)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((yp - y).cwiseAbs().maxCoeff() > 1e-3);
  CHECK((dxp - test::permuteColumns(dx, source)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((dcp - dc).cwiseAbs().maxCoeff() < 1e-12);  // the conditioning gradient is invariant
}

TEST_CASE("DiTBlock: the output of a sample depends on that sample (tokens and c) only") {
  const Index d = 8, n = 4, B = 3;
  Rng rng(10);
  nn::DiTBlock<double> blk(d, 2, 16);
  ParamStore<double> store(blk);
  blk.init(rng);
  const Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
  const Mat<double> c = testing::randomMatrix<double>(d, B, rng);
  Mat<double> y, y2, ys;
  nn::DiTBlock<double>::Cache k;
  blk.forward(x, c, n, y, k);
  Mat<double> x2 = x, c2 = c;
  x2.middleCols(n, n) = testing::randomMatrix<double>(d, n, rng);  // change sample 1 only
  c2.col(1) = testing::randomMatrix<double>(d, 1, rng);
  blk.forward(x2, c2, n, y2, k);
  CHECK((y2.middleCols(0, n) - y.middleCols(0, n)).cwiseAbs().maxCoeff() < 1e-14);
  CHECK((y2.middleCols(2 * n, n) - y.middleCols(2 * n, n)).cwiseAbs().maxCoeff() < 1e-14);
  CHECK((y2.middleCols(n, n) - y.middleCols(n, n)).cwiseAbs().maxCoeff() > 1e-3);
  for (Index b = 0; b < B; ++b) {
    blk.forward(x.middleCols(b * n, n), c.col(b), n, ys, k);
    CHECK((ys - y.middleCols(b * n, n)).cwiseAbs().maxCoeff() < 1e-13);
  }
}

TEST_CASE("DiTBlock in float agrees with double; a cache is reusable across shapes") {
  const Index d = 16;
  Rng rng(11);
  nn::DiTBlock<double> blk(d, 4, 32);
  nn::DiTBlock<float> blkf(d, 4, 32);
  ParamStore<double> store(blk);
  ParamStore<float> storef(blkf);
  blk.init(rng);
  storef.weights() = store.weights().cast<float>();
  nn::DiTBlock<float>::Cache kf;
  for (Index n : {4, 9, 2}) {
    const Index B = 3;
    const Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
    const Mat<double> c = testing::randomMatrix<double>(d, B, rng);
    Mat<double> y, dx, dc;
    Mat<float> yf, dxf, dcf;
    nn::DiTBlock<double>::Cache k;
    blk.forward(x, c, n, y, k);
    blkf.forward(x.cast<float>(), c.cast<float>(), n, yf, kf);  // the same float cache each time
    CHECK((yf.cast<double>() - y).cwiseAbs().maxCoeff() < 1e-4);
    const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
    blk.backward(k, R, dx, dc);
    blkf.backward(kf, R.cast<float>(), dxf, dcf);
    CHECK((dxf.cast<double>() - dx).cwiseAbs().maxCoeff() < 1e-3 * (1 + dx.cwiseAbs().maxCoeff()));
    CHECK((dcf.cast<double>() - dc).cwiseAbs().maxCoeff() < 1e-3 * (1 + dc.cwiseAbs().maxCoeff()));
  }
}

TEST_CASE("DiTBlock may update the token stream in place (y is x)") {
  Rng rng(12);
  nn::DiTBlock<double> blk(8, 2, 16);
  ParamStore<double> store(blk);
  blk.init(rng);
  const Mat<double> x = testing::randomMatrix<double>(8, 12, rng);
  const Mat<double> c = testing::randomMatrix<double>(8, 3, rng);
  const Mat<double> R = testing::randomMatrix<double>(8, 12, rng);
  Mat<double> y, dx, dc, h = x, dxh, dch;
  nn::DiTBlock<double>::Cache k, kh;
  blk.forward(x, c, 4, y, k);
  blk.backward(k, R, dx, dc);
  blk.forward(h, c, 4, h, kh);
  blk.backward(kh, R, dxh, dch);
  CHECK((h - y).cwiseAbs().maxCoeff() == 0.0);
  CHECK((dxh - dx).cwiseAbs().maxCoeff() == 0.0);
  CHECK((dch - dc).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("DiTBlock refuses bad shapes") {
  nn::DiTBlock<float> blk(8, 2, 16, 5);
  ParamStore<float> store(blk);
  Mat<float> y;
  nn::DiTBlock<float>::Cache k;
  CHECK_THROWS_AS(blk.forward(Mat<float>::Zero(8, 12), Mat<float>::Zero(5, 2), 4, y, k),
                  Error);  // 3 samples, 2 c
  CHECK_THROWS_AS(blk.forward(Mat<float>::Zero(8, 12), Mat<float>::Zero(8, 3), 4, y, k),
                  Error);  // c width
  CHECK_THROWS_AS(blk.forward(Mat<float>::Zero(7, 12), Mat<float>::Zero(5, 3), 4, y, k),
                  Error);  // x width
  CHECK_THROWS_AS(blk.forward(Mat<float>::Zero(8, 12), Mat<float>::Zero(5, 3), 5, y, k),
                  Error);                                  // n
  CHECK_THROWS_AS(nn::DiTBlock<float>(10, 3, 16), Error);  // heads do not divide d
  Mat<float> dx, dc;
  CHECK_THROWS_AS(blk.backward(k, Mat<float>::Zero(8, 0), dx, dc), Error);  // no forward yet
  blk.forward(Mat<float>::Zero(8, 12), Mat<float>::Zero(5, 3), 4, y, k);
  CHECK_THROWS_AS(blk.backward(k, Mat<float>::Zero(8, 8), dx, dc), Error);
}
