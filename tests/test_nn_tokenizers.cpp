#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "symflow/nn/tokenizers.hpp"
#include "symflow/testing/gradcheck.hpp"

using namespace symflow;

namespace {

// Layer-interface views of one direction of a tokenizer, for testing::checkLayerGradients.
template <class Tok, class S>
struct TokenizeDirection {
  using Cache = typename Tok::TokenizeCache;
  Tok& tok;
  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const { tok.tokenize(x, y, c); }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const { tok.tokenizeBackward(c, dy, dx); }
  S penalty() const { return tok.penalty(); }  // its gradient comes with tokenizeBackward
};
template <class Tok, class S>
struct DetokenizeDirection {
  using Cache = typename Tok::DetokenizeCache;
  Tok& tok;
  void forward(const CMatRef<S>& t, Mat<S>& y, Cache& c) const { tok.detokenize(t, y, c); }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dt) const { tok.detokenizeBackward(c, dy, dt); }
  S penalty() const { return S(0); }
};

template <class Tok> Mat<double> tokenize(const Tok& tok, const Mat<double>& x) {
  Mat<double> t;
  typename Tok::TokenizeCache c;
  tok.tokenize(x, t, c);
  return t;
}
template <class Tok> Mat<double> detokenize(const Tok& tok, const Mat<double>& t) {
  Mat<double> x;
  typename Tok::DetokenizeCache c;
  tok.detokenize(t, x, c);
  return x;
}

std::vector<Index> randomPermutation(Index n, Rng& rng) {
  std::vector<Index> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), Index(0));
  for (Index i = n - 1; i > 0; --i) std::swap(p[size_t(i)], p[size_t(rng.below(std::uint64_t(i + 1)))]);
  return p;
}

double gelu(double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }

// Param2Tok written out per sample and per parameter, straight from paper.md.
struct Param2TokReference {
  Mat<double> Z, A, Zp, W1, W2;
  Vec<double> b1, b2;
  explicit Param2TokReference(const nn::Param2Tok<double>& p)
      : Z(p.zT().transpose()), A(p.assignT().transpose()), Zp(p.zOut()),
        W1(p.ffn0().weightT().transpose()), W2(p.ffn2().weightT().transpose()),
        b1(p.ffn0().bias()), b2(p.ffn2().bias()) {}
  Mat<double> tokenize(const Mat<double>& x) const {
    const Index P = Z.rows(), d = Z.cols(), n = A.rows(), B = x.cols();
    Mat<double> tokens = Mat<double>::Zero(d, B * n);
    for (Index b = 0; b < B; ++b) {
      Mat<double> X0 = Mat<double>::Zero(n, d);
      for (Index p = 0; p < P; ++p) {
        const Vec<double> u = x(p, b) * Z.row(p).transpose();
        Vec<double> a = W1 * u + b1;
        for (Index i = 0; i < a.size(); ++i) a[i] = gelu(a[i]);
        const Vec<double> h = W2 * a + b2;
        X0 += A.col(p) * h.transpose();
      }
      for (Index t = 0; t < n; ++t) tokens.col(b * n + t) = X0.row(t).transpose();
    }
    return tokens;
  }
  Mat<double> detokenize(const Mat<double>& tokens) const {
    const Index P = Z.rows(), d = Z.cols(), n = A.rows(), B = tokens.cols() / n;
    Mat<double> x(P, B);
    for (Index b = 0; b < B; ++b) {
      Mat<double> X(n, d);
      for (Index t = 0; t < n; ++t) X.row(t) = tokens.col(b * n + t).transpose();
      const Mat<double> M = A.transpose() * X;  // P x d
      for (Index p = 0; p < P; ++p) x(p, b) = Zp.row(p).dot(M.row(p));
    }
    return x;
  }
};

/// max over trials of ||f(pi x) - f(x)|| / ||f(x)||, pi a random permutation of all P entries
/// (a different one per sample).
template <class F> double worstPermutationChange(F&& f, const Mat<double>& x, Rng& rng, int trials) {
  const Mat<double> fx = f(x);
  double worst = 0;
  for (int k = 0; k < trials; ++k) {
    Mat<double> xp(x.rows(), x.cols());
    for (Index b = 0; b < x.cols(); ++b) {
      const auto pi = randomPermutation(x.rows(), rng);
      for (Index p = 0; p < x.rows(); ++p) xp(p, b) = x(pi[size_t(p)], b);
    }
    worst = std::max(worst, (f(xp) - fx).norm() / fx.norm());
  }
  return worst;
}

}  // namespace

// ------------------------------------------------------------------------------- GroupLayout

TEST_CASE("GroupLayout: k-osc parameter-major layout, group-major layout, refusals") {
  const auto km = nn::GroupLayout::parameterMajor(4, 3);
  CHECK(km.size() == 12);
  for (Index i = 0; i < 4; ++i) {
    CHECK(km.at(i, 0) == i);      // f_i
    CHECK(km.at(i, 1) == 4 + i);  // a_i
    CHECK(km.at(i, 2) == 8 + i);  // w_i
  }
  const auto gm = nn::GroupLayout::groupMajor(4, 3);
  CHECK(gm.at(2, 1) == 7);
  CHECK_THROWS_AS(nn::GroupLayout(2, 2, {0, 1, 1, 3}), Error);  // index used twice
  CHECK_THROWS_AS(nn::GroupLayout(2, 2, {0, 1, 2, 4}), Error);  // out of range
  CHECK_THROWS_AS(nn::GroupLayout(2, 2, {0, 1, 2}), Error);     // wrong size
  CHECK_THROWS_AS(nn::GroupLayout(0, 2, {}), Error);
}

// ---------------------------------------------------------------------------- FixedTokenizer

TEST_CASE("FixedTokenizer forward: token i = in_proj(oscillator i), detokenize scatters back") {
  const Index k = 4, d = 5, B = 3;
  Rng rng(20);
  nn::FixedTokenizer<double> tok(nn::GroupLayout::parameterMajor(k, 3), d);
  ParamStore<double> store(tok);
  tok.init(rng);
  CHECK(tok.paramDim() == 12);
  CHECK(tok.numTokens() == k);
  const Mat<double> x = testing::randomMatrix<double>(3 * k, B, rng);
  const Mat<double> tokens = tokenize(tok, x);
  REQUIRE(tokens.rows() == d);
  REQUIRE(tokens.cols() == B * k);
  const Mat<double> Win = tok.inProj().weightT().transpose(), Wout = tok.outProj().weightT().transpose();
  for (Index b = 0; b < B; ++b)
    for (Index i = 0; i < k; ++i) {
      const Vec<double> osc = (Vec<double>(3) << x(i, b), x(k + i, b), x(2 * k + i, b)).finished();
      CHECK((tokens.col(b * k + i) - (Win * osc + tok.inProj().bias())).cwiseAbs().maxCoeff() < 1e-13);
    }
  const Mat<double> xo = detokenize(tok, tokens);
  REQUIRE(xo.rows() == 3 * k);
  for (Index b = 0; b < B; ++b)
    for (Index i = 0; i < k; ++i) {
      const Vec<double> o = Wout * tokens.col(b * k + i) + tok.outProj().bias();
      CHECK(std::abs(xo(i, b) - o[0]) < 1e-13);
      CHECK(std::abs(xo(k + i, b) - o[1]) < 1e-13);
      CHECK(std::abs(xo(2 * k + i, b) - o[2]) < 1e-13);
    }
  auto tensors = listTensors<double>(tok);
  REQUIRE(tensors.size() == 4);
  CHECK(tensors[0].name == "in_proj.weight");
  CHECK(tensors[0].shape == std::vector<Index>{d, 3});
  CHECK(tensors[2].name == "out_proj.weight");
  CHECK(tensors[2].shape == std::vector<Index>{3, d});
}

TEST_CASE("FixedTokenizer gradients, both directions (double, every entry)") {
  Rng rng(21);
  // an arbitrary (shuffled) layout as well as k-osc's
  for (bool shuffled : {false, true}) {
    const Index groups = 3, per = 2, d = 4, B = 2;
    std::vector<Index> idx = randomPermutation(groups * per, rng);
    nn::FixedTokenizer<double> tok(shuffled ? nn::GroupLayout(groups, per, idx)
                                            : nn::GroupLayout::parameterMajor(groups, per),
                                   d);
    ParamStore<double> store(tok);
    tok.init(rng);
    TokenizeDirection<nn::FixedTokenizer<double>, double> in{tok};
    auto r1 = testing::checkLayerGradients(in, store, testing::randomMatrix<double>(groups * per, B, rng), rng);
    INFO("tokenize: " << r1.summary());
    CHECK(r1.ok());
    DetokenizeDirection<nn::FixedTokenizer<double>, double> out{tok};
    auto r2 = testing::checkLayerGradients(out, store, testing::randomMatrix<double>(d, B * groups, rng), rng);
    INFO("detokenize: " << r2.summary());
    CHECK(r2.ok());
  }
}

TEST_CASE("FixedTokenizer is equivariant: permuting oscillators permutes tokens, and back") {
  const Index k = 5, d = 8, B = 4;
  Rng rng(22);
  nn::FixedTokenizer<double> tok(nn::GroupLayout::parameterMajor(k, 3), d);
  ParamStore<double> store(tok);
  tok.init(rng);
  const auto& L = tok.layout();
  const Mat<double> x = testing::randomMatrix<double>(3 * k, B, rng);
  const Mat<double> tokens = tokenize(tok, x);
  const Mat<double> xo = detokenize(tok, tokens);
  for (int trial = 0; trial < 5; ++trial) {
    const auto pi = randomPermutation(k, rng);
    // oscillator g of xp is oscillator pi[g] of x
    Mat<double> xp(3 * k, B);
    for (Index b = 0; b < B; ++b)
      for (Index g = 0; g < k; ++g)
        for (Index s = 0; s < 3; ++s) xp(L.at(g, s), b) = x(L.at(pi[size_t(g)], s), b);
    const Mat<double> tp = tokenize(tok, xp);
    double err = 0;
    for (Index b = 0; b < B; ++b)
      for (Index g = 0; g < k; ++g)
        err = std::max(err, (tp.col(b * k + g) - tokens.col(b * k + pi[size_t(g)])).cwiseAbs().maxCoeff());
    CHECK(err < 1e-12);
    const Mat<double> xpo = detokenize(tok, tp);
    double err2 = 0;
    for (Index b = 0; b < B; ++b)
      for (Index g = 0; g < k; ++g)
        for (Index s = 0; s < 3; ++s)
          err2 = std::max(err2, std::abs(xpo(L.at(g, s), b) - xo(L.at(pi[size_t(g)], s), b)));
    CHECK(err2 < 1e-12);
  }
  // Control: permuting single parameters across oscillators is not a symmetry of the tokens.
  Mat<double> xs = x;
  xs.row(0).swap(xs.row(k + 1));  // f_0 <-> a_1
  const Mat<double> ts = tokenize(tok, xs);
  CHECK((ts.leftCols(k).rowwise().sum() - tokens.leftCols(k).rowwise().sum()).cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("FixedTokenizer refuses wrong shapes") {
  nn::FixedTokenizer<float> tok(nn::GroupLayout::parameterMajor(4, 3), 8);
  ParamStore<float> store(tok);
  Mat<float> x(11, 2), t;
  nn::FixedTokenizer<float>::TokenizeCache c;
  CHECK_THROWS_AS(tok.tokenize(x, t, c), Error);
  Mat<float> tokens(8, 7), xo;
  nn::FixedTokenizer<float>::DetokenizeCache dc;
  CHECK_THROWS_AS(tok.detokenize(tokens, xo, dc), Error);
}

// --------------------------------------------------------------------------------- Param2Tok

TEST_CASE("Param2Tok tensors follow the peer module's names and shapes") {
  const Index P = 6, n = 3, d = 4;
  nn::Param2Tok<double> p2t(P, n, d);
  ParamStore<double> store(p2t);
  auto t = listTensors<double>(p2t, "p2t");
  REQUIRE(t.size() == 7);
  CHECK(t[0].name == "p2t.p_in");
  CHECK(t[0].shape == std::vector<Index>{P, d});
  CHECK(t[1].name == "p2t.assign");
  CHECK(t[1].shape == std::vector<Index>{n, P});
  CHECK(t[2].name == "p2t.p_out");
  CHECK(t[2].shape == std::vector<Index>{d, P});
  CHECK(t[3].name == "p2t.ffn.0.weight");
  CHECK(t[3].shape == std::vector<Index>{d, d});
  CHECK(t[4].name == "p2t.ffn.0.bias");
  CHECK(t[5].name == "p2t.ffn.2.weight");
  CHECK(t[6].name == "p2t.ffn.2.bias");
  Index total = 0;
  for (const auto& ten : t) {
    CHECK(ten.value == store.weights().data() + total);  // contiguous, in visiting order
    total += ten.size();
  }
  CHECK(total == p2t.numParams());
}

TEST_CASE("Param2Tok near-invariant initialization ([cfg])") {
  const Index P = 12, n = 4, d = 16;
  Rng rng(30);
  nn::Param2Tok<double> p2t(P, n, d);
  ParamStore<double> store(p2t);
  p2t.init(rng);
  auto t = listTensors<double>(p2t);
  const double* pin = t[0].value;
  const double* assign = t[1].value;
  const double* pout = t[2].value;
  // p_out = p_in^T exactly (Z' = Z)
  for (Index p = 0; p < P; ++p)
    for (Index r = 0; r < d; ++r) CHECK(pout[r * P + p] == pin[p * d + r]);
  // A = 1/sqrt(n P) + 1e-4 noise
  const double a0 = 1.0 / std::sqrt(double(n * P));
  double maxDevA = 0, meanDevA = 0;
  for (Index i = 0; i < n * P; ++i) {
    maxDevA = std::max(maxDevA, std::abs(assign[i] - a0));
    meanDevA += (assign[i] - a0) / double(n * P);
  }
  CHECK(maxDevA < 5e-4);
  CHECK(maxDevA > 1e-5);  // there is noise
  CHECK(std::abs(meanDevA) < 5e-5);
  // every row of Z is the same vector (norm about 1) up to 1e-4 noise
  const Mat<double> Z = p2t.zT().transpose();
  CHECK(Z.row(0).norm() > 0.3);
  CHECK(Z.row(0).norm() < 3.0);
  for (Index p = 1; p < P; ++p) {
    const double dev = (Z.row(p) - Z.row(0)).cwiseAbs().maxCoeff();
    CHECK(dev < 1e-3);
    CHECK(dev > 1e-6);
  }
}

TEST_CASE("Param2Tok forward matches paper.md written out per sample (double and float)") {
  const Index P = 9, n = 3, d = 6, B = 4;
  Rng rng(31);
  nn::Param2Tok<double> p2t(P, n, d);
  ParamStore<double> store(p2t);
  p2t.initRandom(rng);
  const Param2TokReference ref(p2t);
  const Mat<double> x = testing::randomMatrix<double>(P, B, rng);
  const Mat<double> tokens = tokenize(p2t, x);
  CHECK((tokens - ref.tokenize(x)).cwiseAbs().maxCoeff() < 1e-12);
  const Mat<double> tin = testing::randomMatrix<double>(d, B * n, rng);
  const Mat<double> xo = detokenize(p2t, tin);
  CHECK((xo - ref.detokenize(tin)).cwiseAbs().maxCoeff() < 1e-12);

  nn::Param2Tok<float> p2tf(P, n, d);
  ParamStore<float> storef(p2tf);
  storef.weights() = store.weights().cast<float>();
  Mat<float> tf, xf;
  nn::Param2Tok<float>::TokenizeCache cf;
  nn::Param2Tok<float>::DetokenizeCache df;
  p2tf.tokenize(x.cast<float>(), tf, cf);
  p2tf.detokenize(tin.cast<float>(), xf, df);
  CHECK((tf.cast<double>() - tokens).cwiseAbs().maxCoeff() < 1e-4 * (1 + tokens.cwiseAbs().maxCoeff()));
  CHECK((xf.cast<double>() - xo).cwiseAbs().maxCoeff() < 1e-4 * (1 + xo.cwiseAbs().maxCoeff()));
  CHECK(p2tf.penalty() == doctest::Approx(double(p2t.penalty())).epsilon(1e-5));
}

TEST_CASE("Param2Tok gradients: tokenize (with penalty) and detokenize, input and every parameter") {
  struct Size {
    Index P, n, d, B;
  };
  // the third size spans two sample chunks (kSampleChunk = 32) of the per-sample loops
  for (Size s : {Size{6, 3, 4, 3}, Size{12, 4, 16, 5}, Size{4, 2, 3, 40}}) {
    CAPTURE(s.P);
    for (bool nearInvariant : {false, true}) {
      CAPTURE(nearInvariant);
      Rng rng(32);
      nn::Param2Tok<double> p2t(s.P, s.n, s.d, /*penaltyWeight=*/0.5);
      ParamStore<double> store(p2t);
      if (nearInvariant)
        p2t.init(rng);
      else
        p2t.initRandom(rng);
      testing::GradCheckOptions opt;
      opt.maxEntries = 400;  // every entry of the small case, a sample of the larger one
      TokenizeDirection<nn::Param2Tok<double>, double> in{p2t};
      auto r1 = testing::checkLayerGradients(in, store, testing::randomMatrix<double>(s.P, s.B, rng), rng, opt);
      INFO("tokenize: " << r1.summary());
      CHECK(r1.ok());
      DetokenizeDirection<nn::Param2Tok<double>, double> out{p2t};
      auto r2 = testing::checkLayerGradients(out, store, testing::randomMatrix<double>(s.d, s.B * s.n, rng), rng, opt);
      INFO("detokenize: " << r2.summary());
      CHECK(r2.ok());
    }
  }
}

TEST_CASE("Param2Tok penalty: weight * mean|A|, gradient added once (by tokenizeBackward)") {
  const Index P = 5, n = 2, d = 3, B = 2;
  Rng rng(33);
  for (double w : {0.01, 0.3}) {
    nn::Param2Tok<double> p2t(P, n, d, w);
    ParamStore<double> store(p2t);
    p2t.initRandom(rng);
    p2t.assignT()(0, 0) = 0;  // subgradient 0 at 0
    const Mat<double> A = p2t.assignT();
    CHECK(p2t.penalty() == doctest::Approx(w * A.cwiseAbs().mean()).epsilon(1e-14));
    // With zero upstream gradient, only the penalty reaches A (and nothing else moves).
    const Mat<double> x = testing::randomMatrix<double>(P, B, rng);
    Mat<double> tokens, dx;
    nn::Param2Tok<double>::TokenizeCache c;
    p2t.tokenize(x, tokens, c);
    store.zeroGrad();
    p2t.tokenizeBackward(c, Mat<double>::Zero(d, B * n), dx);
    const Mat<double> gA = p2t.assignTGrad();
    for (Index i = 0; i < A.size(); ++i) {
      const double expect = A(i) > 0 ? w / double(n * P) : (A(i) < 0 ? -w / double(n * P) : 0.0);
      CHECK(gA(i) == doctest::Approx(expect).epsilon(1e-14));
    }
    CHECK(store.grads().cwiseAbs().sum() == doctest::Approx(gA.cwiseAbs().sum()).epsilon(1e-14));
    // detokenizeBackward does not add it
    store.zeroGrad();
    Mat<double> xo, dt;
    nn::Param2Tok<double>::DetokenizeCache dc;
    p2t.detokenize(tokens, xo, dc);
    p2t.detokenizeBackward(dc, Mat<double>::Zero(P, B), dt);
    CHECK(store.grads().cwiseAbs().maxCoeff() == 0.0);
  }
  nn::Param2Tok<double> p2t(P, n, d);
  CHECK(p2t.penaltyWeight() == 0.01);
  CHECK_THROWS_AS(nn::Param2Tok<double>(P, n, d, -1.0), Error);
}

TEST_CASE("Param2Tok at initialization is nearly invariant to any permutation of x; a strong A is not") {
  struct Size {
    Index P, n, d;
  };
  // a small case and k-osc's k = 32 (P = 96 parameters, 32 tokens, d = 128)
  for (Size s : {Size{12, 4, 16}, Size{96, 32, 128}}) {
    CAPTURE(s.P);
    Rng rng(34);
    nn::Param2Tok<double> p2t(s.P, s.n, s.d);
    ParamStore<double> store(p2t);
    p2t.init(rng);
    const Mat<double> x = testing::randomMatrix<double>(s.P, 6, rng);
    auto roundTrip = [&](const Mat<double>& xx) { return detokenize(p2t, tokenize(p2t, xx)); };
    auto tokensOf = [&](const Mat<double>& xx) { return tokenize(p2t, xx); };
    const double changeRoundTrip = worstPermutationChange(roundTrip, x, rng, 10);
    const double changeTokens = worstPermutationChange(tokensOf, x, rng, 10);
    CAPTURE(changeRoundTrip);
    CAPTURE(changeTokens);
    CHECK(changeRoundTrip < 1e-3);  // measured 1.3e-4 (small) and 2.7e-5 (k = 32)
    CHECK(changeTokens < 1e-3);
    // Perturb A strongly (N(0, 1) entries): the symmetry is broken.
    auto A = p2t.assignT();
    for (Index i = 0; i < A.size(); ++i) A(i) += rng.normal();
    const double brokenRoundTrip = worstPermutationChange(roundTrip, x, rng, 10);
    const double brokenTokens = worstPermutationChange(tokensOf, x, rng, 10);
    CAPTURE(brokenRoundTrip);
    CAPTURE(brokenTokens);
    CHECK(brokenRoundTrip > 0.1);
    CHECK(brokenTokens > 0.1);
  }
}

TEST_CASE("Param2Tok refuses wrong shapes") {
  nn::Param2Tok<float> p2t(6, 3, 4);
  ParamStore<float> store(p2t);
  Mat<float> x(5, 2), t;
  nn::Param2Tok<float>::TokenizeCache c;
  CHECK_THROWS_AS(p2t.tokenize(x, t, c), Error);
  Mat<float> tokens(4, 7), xo;
  nn::Param2Tok<float>::DetokenizeCache dc;
  CHECK_THROWS_AS(p2t.detokenize(tokens, xo, dc), Error);
  Mat<float> tokens2(3, 6);
  CHECK_THROWS_AS(p2t.detokenize(tokens2, xo, dc), Error);
  CHECK_THROWS_AS(nn::Param2Tok<float>(0, 3, 4), Error);
}

TEST_CASE("Param2Tok inits: mixed = random Z and Z' with the authors' near-uniform A; the constructor's choice runs in init()") {
  const Index P = 12, n = 4, d = 16;
  Rng rng(41);
  nn::Param2Tok<double> p2t(P, n, d, 0.01, nn::Param2TokInit::Mixed);
  ParamStore<double> store(p2t);
  CHECK((p2t.initKind() == nn::Param2TokInit::Mixed));
  p2t.init(rng);
  const double a0 = 1.0 / std::sqrt(double(n * P));
  CHECK((p2t.assignT().array() - a0).abs().maxCoeff() < 1e-3);            // near-uniform A
  const Mat<double> Zt = p2t.zT();                                          // d x P
  CHECK((Zt.col(0) - Zt.col(1)).norm() > 0.1);                             // rows of Z differ
  CHECK((p2t.zOut() - Zt.transpose()).cwiseAbs().maxCoeff() > 0.1);         // Z' is not Z
  const std::string name = nn::toString(nn::Param2TokInit::Mixed);
  CHECK(name == "mixed");
  CHECK((nn::parseParam2TokInit("mixed") == nn::Param2TokInit::Mixed));
  CHECK_THROWS_AS(nn::parseParam2TokInit("uniform"), Error);
}
