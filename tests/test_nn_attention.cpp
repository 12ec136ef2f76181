#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "symflow/nn/attention.hpp"
#include "symflow/testing/gradcheck.hpp"
#include "transformer_testing.hpp"

using namespace symflow;

TEST_CASE("MultiheadAttention parameters have PyTorch's names, shapes and order") {
  nn::MultiheadAttention<float> mha(8, 2);
  ParamStore<float> store(mha);
  auto t = listTensors<float>(mha, "attn");
  REQUIRE(t.size() == 4);
  CHECK(t[0].name == "attn.in_proj_weight");
  CHECK(t[0].shape == std::vector<Index>{24, 8});
  CHECK(t[1].name == "attn.in_proj_bias");
  CHECK(t[1].shape == std::vector<Index>{24});
  CHECK(t[2].name == "attn.out_proj.weight");
  CHECK(t[2].shape == std::vector<Index>{8, 8});
  CHECK(t[3].name == "attn.out_proj.bias");
  CHECK(t[3].shape == std::vector<Index>{8});
  CHECK(store.size() == 24 * 8 + 24 + 64 + 8);
  CHECK(t[1].value == t[0].value + 24 * 8);  // consecutive slices of the flat buffer
}

TEST_CASE("MultiheadAttention init follows PyTorch (xavier in_proj, zero biases)") {
  const Index d = 64;
  nn::MultiheadAttention<double> mha(d, 4);
  ParamStore<double> store(mha);
  Rng rng(11);
  mha.init(rng);
  auto t = listTensors<double>(mha);
  const double xavier = std::sqrt(6.0 / double(d + 3 * d)), lin = 1.0 / std::sqrt(double(d));
  const auto inW = Eigen::Map<const Vec<double>>(t[0].value, t[0].size());
  const auto outW = Eigen::Map<const Vec<double>>(t[2].value, t[2].size());
  CHECK(inW.cwiseAbs().maxCoeff() <= xavier);
  CHECK(inW.cwiseAbs().maxCoeff() > 0.95 * xavier);  // spans the range, not a smaller one
  CHECK(outW.cwiseAbs().maxCoeff() <= lin);
  CHECK(outW.cwiseAbs().maxCoeff() > 0.95 * lin);
  CHECK(Eigen::Map<const Vec<double>>(t[1].value, t[1].size()).isZero(0));
  CHECK(Eigen::Map<const Vec<double>>(t[3].value, t[3].size()).isZero(0));
}

TEST_CASE("MultiheadAttention matches PyTorch nn.MultiheadAttention (known values)") {
  // tests/torch_ref_transformer.py: MultiheadAttention(4, 2, batch_first=True), n = 3, B = 2.
  const std::vector<double> expected = {
      -0.41868066295000128, -0.022531293232495531, -0.75498832455677611, -0.25662633077514907,
      -0.38678815534981853, -0.035058259651433721, -0.763274456915501,   -0.22848460630395578,
      -0.346713786685867,   -0.062905486130792665, -0.75087226775042959, -0.22400861923365567,
      -0.57897273713099673, 0.081613799299558532,  -0.79095191608518833, -0.29300002452969415,
      -0.5995224532712673,  0.083341088236342786,  -0.77365718039497233, -0.32731828615303959,
      -0.63684849930820919, 0.10971977785436887,   -0.78604031570936739, -0.33036164228957354};
  nn::MultiheadAttention<double> mha(4, 2);
  ParamStore<double> store(mha);
  test::fillReferenceParams(store);
  const Mat<double> x =
      test::sequenceMatrix<double>(4, 6, [](double j) { return std::sin(1.3 * j + 0.5); });
  Mat<double> y;
  nn::MultiheadAttention<double>::Cache cache;
  mha.forward(x, 3, y, cache);
  REQUIRE(y.size() == Index(expected.size()));
  for (Index i = 0; i < y.size(); ++i)
    CHECK(y.data()[i] == doctest::Approx(expected[size_t(i)]).epsilon(1e-12));

  // float agrees with double to float rounding
  nn::MultiheadAttention<float> mhaf(4, 2);
  ParamStore<float> storef(mhaf);
  storef.weights() = store.weights().cast<float>();
  Mat<float> yf;
  nn::MultiheadAttention<float>::Cache cf;
  mhaf.forward(x.cast<float>(), 3, yf, cf);
  CHECK((yf.cast<double>() - y).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("MultiheadAttention gradients (central differences, double, gradcheck defaults)") {
  struct Case {
    Index d, heads, n, B;
  };
  // n = 18 takes the blocked-GEMM path of the per-head products, the others the lazy one
  for (Case k : {Case{8, 2, 5, 3}, Case{6, 3, 1, 2}, Case{4, 1, 4, 2}, Case{4, 2, 18, 2}}) {
    CAPTURE(k.d);
    CAPTURE(k.heads);
    CAPTURE(k.n);
    Rng rng(21);
    nn::MultiheadAttention<double> mha(k.d, k.heads);
    ParamStore<double> store(mha);
    mha.init(rng);
    // non-zero biases so their gradients are exercised away from the init point
    rng.fillNormal(store.weights().data(), store.weights().data() + store.size(), 0.0, 0.5);
    test::FixedTokens<nn::MultiheadAttention<double>> layer{mha, k.n};
    testing::GradCheckOptions opt;
    opt.maxEntries = 1000;  // all entries of these small layers
    auto r = testing::checkLayerGradients(
        layer, store, testing::randomMatrix<double>(k.d, k.n * k.B, rng), rng, opt);
    INFO(r.summary());
    CHECK(r.ok());
    CHECK(r.input.checked == k.d * k.n * k.B);
  }
}

TEST_CASE("gradient check catches a broken attention backward") {
  // Same probe as above, but the analytic input gradient of one entry is perturbed: the check
  // must fail (guards against a checker that cannot fail).
  Rng rng(22);
  nn::MultiheadAttention<double> mha(4, 2);
  ParamStore<double> store(mha);
  mha.init(rng);
  Mat<double> x = testing::randomMatrix<double>(4, 6, rng), y, dx;
  nn::MultiheadAttention<double>::Cache c;
  mha.forward(x, 3, y, c);
  const Mat<double> R = testing::randomMatrix<double>(4, 6, rng);
  mha.backward(c, R, dx);
  dx(2, 4) *= 1.001;
  auto loss = [&] {
    Mat<double> yy;
    nn::MultiheadAttention<double>::Cache cc;
    mha.forward(x, 3, yy, cc);
    return (yy.array() * R.array()).sum();
  };
  auto r = testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng);
  CHECK_FALSE(r.ok);
  CHECK(r.failures == 1);
}

TEST_CASE("MultiheadAttention is equivariant to token permutations within each sample") {
  for (Index n : {7, 20}) {  // lazy and blocked-GEMM paths
    CAPTURE(n);
    const Index d = 16, B = 4;
    Rng rng(31);
    nn::MultiheadAttention<double> mha(d, 4);
    ParamStore<double> store(mha);
    mha.init(rng);
    const Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
    const auto source = test::permutationWithinSamples(B, n, rng);
    // Named: the cache keeps a view of forward's input until backward (InputView's contract).
    const Mat<double> xp = test::permuteColumns(x, source);
    Mat<double> y, yp;
    nn::MultiheadAttention<double>::Cache c;
    mha.forward(x, n, y, c);
    mha.forward(xp, n, yp, c);
    const Mat<double> expected = test::permuteColumns(y, source);
    CHECK((yp - expected).cwiseAbs().maxCoeff() < 1e-13);
    CHECK((yp - y).cwiseAbs().maxCoeff() > 1e-3);  // the permutation did move tokens

    // the input gradient is equivariant too
    const Mat<double> R = testing::randomMatrix<double>(d, n * B, rng);
    Mat<double> dx, dxp;
    mha.forward(x, n, y, c);
    mha.backward(c, R, dx);
    mha.forward(xp, n, yp, c);
    mha.backward(c, test::permuteColumns(R, source), dxp);
    CHECK((dxp - test::permuteColumns(dx, source)).cwiseAbs().maxCoeff() < 1e-13);
  }
}

TEST_CASE("MultiheadAttention: the output of a sample depends on that sample only") {
  const Index d = 8, n = 5, B = 3;
  Rng rng(41);
  nn::MultiheadAttention<double> mha(d, 2);
  ParamStore<double> store(mha);
  mha.init(rng);
  const Mat<double> x = testing::randomMatrix<double>(d, n * B, rng);
  Mat<double> y, y2, ys;
  nn::MultiheadAttention<double>::Cache c;
  mha.forward(x, n, y, c);
  Mat<double> x2 = x;
  x2.middleCols(n, n) = testing::randomMatrix<double>(d, n, rng);  // change sample 1 only
  mha.forward(x2, n, y2, c);
  CHECK((y2.middleCols(0, n) - y.middleCols(0, n)).cwiseAbs().maxCoeff() < 1e-14);
  CHECK((y2.middleCols(2 * n, n) - y.middleCols(2 * n, n)).cwiseAbs().maxCoeff() < 1e-14);
  CHECK((y2.middleCols(n, n) - y.middleCols(n, n)).cwiseAbs().maxCoeff() > 1e-3);
  for (Index b = 0; b < B; ++b) {  // each sample alone gives its columns of the batch result
    mha.forward(x.middleCols(b * n, n), n, ys, c);
    CHECK((ys - y.middleCols(b * n, n)).cwiseAbs().maxCoeff() < 1e-14);
  }
}

TEST_CASE("MultiheadAttention softmax is stable for large scores") {
  Rng rng(51);
  nn::MultiheadAttention<float> mha(8, 2);
  ParamStore<float> store(mha);
  mha.init(rng);
  Mat<float> x = testing::randomMatrix<float>(8, 12, rng, 1000.0);  // scores ~ 1e5..1e6
  Mat<float> y, dx;
  nn::MultiheadAttention<float>::Cache c;
  mha.forward(x, 4, y, c);
  CHECK(y.allFinite());
  mha.backward(c, Mat<float>::Ones(8, 12), dx);
  CHECK(dx.allFinite());
  for (Index j = 0; j < c.probs.cols(); ++j)
    CHECK(c.probs.col(j).sum() == doctest::Approx(1.0).epsilon(1e-5));
}

TEST_CASE("MultiheadAttention reuses a cache across batch shapes") {
  Rng rng(61);
  nn::MultiheadAttention<double> mha(8, 2);
  ParamStore<double> store(mha);
  mha.init(rng);
  nn::MultiheadAttention<double>::Cache shared, fresh;
  Mat<double> y1, y2;
  for (Index n : {3, 6, 2}) {
    const Mat<double> x = testing::randomMatrix<double>(8, 12, rng);
    mha.forward(x, n, y1, shared);
    mha.forward(x, n, y2, fresh = {});
    CHECK((y1 - y2).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("MultiheadAttention refuses bad shapes") {
  CHECK_THROWS_AS(nn::MultiheadAttention<float>(10, 4), Error);
  nn::MultiheadAttention<float> mha(8, 2);
  ParamStore<float> store(mha);
  Mat<float> y;
  nn::MultiheadAttention<float>::Cache c;
  CHECK_THROWS_AS(mha.forward(Mat<float>::Zero(6, 8), 4, y, c), Error);   // wrong width
  CHECK_THROWS_AS(mha.forward(Mat<float>::Zero(8, 10), 4, y, c), Error);  // 10 not a multiple of 4
  CHECK_THROWS_AS(mha.forward(Mat<float>::Zero(8, 8), 0, y, c), Error);
  Mat<float> dx;
  CHECK_THROWS_AS(mha.backward(c, Mat<float>::Zero(8, 0), dx), Error);  // no forward yet
  const Mat<float> x = Mat<float>::Zero(8, 8);
  mha.forward(x, 4, y, c);
  CHECK_THROWS_AS(mha.backward(c, Mat<float>::Zero(8, 4), dx), Error);
}
