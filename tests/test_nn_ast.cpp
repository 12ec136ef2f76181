// The AST encoder and its parts: PatchEmbed (im2col + one GEMM + positional embedding),
// TransformerEncoderBlock (pre-LN), BandStandardizer (per-band input statistics) and
// AstEncoder (patches + learned queries + blocks + final LN). Gradient checks in double with
// central differences (gradcheck defaults: eps 1e-6, rtol 1e-5, atol 1e-7), every entry.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "symflow/io/checkpoint.hpp"
#include "symflow/nn/ast_encoder.hpp"
#include "symflow/nn/band_standardizer.hpp"
#include "symflow/nn/encoder_block.hpp"
#include "symflow/nn/patch_embed.hpp"
#include "symflow/testing/gradcheck.hpp"
#include "transformer_testing.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace symflow;

namespace {

testing::GradCheckOptions allEntries() {
  testing::GradCheckOptions opt;
  opt.maxEntries = 1 << 20;
  return opt;
}

/// Moves every parameter away from its init (zero biases and unit LN weights hide terms).
void randomizeParams(ParamStore<double>& store, Rng& rng, double stddev = 0.4) {
  rng.fillNormal(store.weights().data(), store.weights().data() + store.size(), 0.0, stddev);
}

/// A small encoder: 12 bands x 14 frames, patch 4 stride 3 -> 3 x 4 = 12 patches, 3 queries.
nn::AstEncoderConfig smallConfig(bool pooled = false) {
  nn::AstEncoderConfig cfg;
  cfg.mels = 12;
  cfg.frames = 14;
  cfg.patch = 4;
  cfg.stride = 3;
  cfg.width = 8;
  cfg.heads = 2;
  cfg.layers = 2;
  cfg.ffDim = 12;
  cfg.queries = 3;
  cfg.pooled = pooled;
  return cfg;
}

/// Spectrogram-like input: per-band offsets and scales (so the standardizer matters) + noise.
Mat<double> spectrograms(Index M, Index F, Index B, Rng& rng) {
  Mat<double> x(M * F, B);
  for (Index b = 0; b < B; ++b)
    for (Index f = 0; f < F; ++f)
      for (Index m = 0; m < M; ++m) x(f * M + m, b) = -3.0 + 0.5 * double(m) + (1.0 + 0.2 * double(m)) * rng.normal();
  return x;
}

/// Gradient check of a model with forward(x, y, cache) / backward(cache, dy, dx): the input and
/// every trainable tensor separately (all entries), so a failure names its tensor.
template <class Model>
std::vector<testing::GradCheckResult> checkEveryTensor(Model& model, ParamStore<double>& store, Mat<double> x,
                                                        Rng& rng) {
  typename Model::Cache cache;
  Mat<double> y, dx;
  model.forward(x, y, cache);
  const Mat<double> R = testing::randomMatrix<double>(y.rows(), y.cols(), rng);
  auto loss = [&]() {
    Mat<double> yy;
    typename Model::Cache cc;
    model.forward(x, yy, cc);
    return (yy.array() * R.array()).sum();
  };
  store.zeroGrad();
  model.backward(cache, R, dx);
  const Vec<double> g = store.grads();
  std::vector<testing::GradCheckResult> out;
  out.push_back(testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng, allEntries(), "input"));
  model.visitParams("", [&](const TensorRef<double>& t) {
    if (!t.trainable) return;
    const Index offset = t.value - store.weights().data();
    out.push_back(testing::checkGradient(loss, t.value, t.size(), g.data() + offset, rng, allEntries(), t.name));
  });
  return out;
}

void requireAllOk(const std::vector<testing::GradCheckResult>& results) {
  for (const auto& r : results) {
    INFO(r.summary());
    CHECK(r.ok);
    CHECK(r.checked > 0);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PatchEmbed

TEST_CASE("number of patches: floor((X - p) / s) + 1 per axis") {
  using PE = nn::PatchEmbed<float>;
  CHECK(PE::patchesAlong(64, 16, 10) == 5);    // 0,10,20,30,40 (+16 = 56 <= 64; 50+16 > 64)
  CHECK(PE::patchesAlong(201, 16, 10) == 19);  // last patch starts at 180, ends at 196
  CHECK(PE::patchesAlong(128, 16, 10) == 12);  // the paper's 128 mel bands
  CHECK(PE::patchesAlong(16, 16, 10) == 1);
  CHECK(PE::patchesAlong(26, 16, 10) == 2);    // exact fit: 10 + 16 = 26
  CHECK(PE::patchesAlong(25, 16, 10) == 1);
  CHECK(PE::patchesAlong(10, 3, 3) == 3);      // stride = patch: no overlap
  CHECK_THROWS_AS(PE::patchesAlong(15, 16, 10), Error);

  nn::PatchEmbed<float> pe(64, 201, 16, 10, 32);
  CHECK(pe.patchesPerMelAxis() == 5);
  CHECK(pe.patchesPerTimeAxis() == 19);
  CHECK(pe.numPatches() == 95);
  ParamStore<float> store(pe);
  CHECK(store.size() == 16 * 16 * 32 + 32 + 95 * 32);
  Rng rng(1);
  pe.init(rng);
  Mat<float> x = Mat<float>::Random(64 * 201, 3), y;
  nn::PatchEmbed<float>::Cache c;
  pe.forward(x, y, c);
  CHECK(y.rows() == 32);
  CHECK(y.cols() == 3 * 95);

  CHECK_THROWS_AS(nn::PatchEmbed<float>(64, 201, 16, 17, 32), Error);  // stride > patch
  CHECK_THROWS_AS(nn::PatchEmbed<float>(12, 201, 16, 10, 32), Error);  // patch > mels
  CHECK_THROWS_AS(nn::PatchEmbed<float>(64, 201, 16, 10, 0), Error);
  CHECK_THROWS_AS(pe.forward(Mat<float>::Zero(64 * 200, 2), y, c), Error);  // wrong frame count
}

TEST_CASE("PatchEmbed: im2col + one GEMM + pos_embed equals a naive loop over patches") {
  const Index M = 11, F = 14, p = 4, s = 3, d = 5, B = 3;
  Rng rng(2);
  nn::PatchEmbed<double> pe(M, F, p, s, d);
  ParamStore<double> store(pe);
  pe.init(rng);
  randomizeParams(store, rng);
  const Index nM = (M - p) / s + 1, nT = (F - p) / s + 1, T = nM * nT;
  REQUIRE(pe.numPatches() == T);
  auto t = listTensors<double>(pe, "patch_embed");
  REQUIRE(t.size() == 3);
  CHECK(t[0].name == "patch_embed.proj.weight");
  CHECK(t[0].shape == std::vector<Index>{d, p * p});
  CHECK(t[1].name == "patch_embed.proj.bias");
  CHECK(t[2].name == "patch_embed.pos_embed");
  CHECK(t[2].shape == std::vector<Index>{T, d});
  CHECK(t[1].value == t[0].value + d * p * p);  // consecutive slices of the flat buffer
  CHECK(t[2].value == t[1].value + d);
  const double* W = t[0].value;    // row-major (d, p p): W[o p^2 + i p + j]
  const double* bias = t[1].value;
  const double* pos = t[2].value;  // row-major (T, d): pos[t d + o]

  const Mat<double> x = testing::randomMatrix<double>(M * F, B, rng);
  Mat<double> y;
  nn::PatchEmbed<double>::Cache c;
  pe.forward(x, y, c);
  REQUIRE(y.rows() == d);
  REQUIRE(y.cols() == B * T);
  double worst = 0;
  for (Index b = 0; b < B; ++b)
    for (Index pt = 0; pt < nT; ++pt)
      for (Index pm = 0; pm < nM; ++pm) {
        const Index tok = pt * nM + pm;
        for (Index o = 0; o < d; ++o) {
          double acc = bias[o] + pos[tok * d + o];
          for (Index i = 0; i < p; ++i)      // frame offset
            for (Index j = 0; j < p; ++j) {  // band offset
              const Index frame = pt * s + i, band = pm * s + j;
              acc += W[o * p * p + i * p + j] * x(frame * M + band, b);
            }
          worst = std::max(worst, std::abs(acc - y(o, b * T + tok)));
        }
      }
  CHECK(worst < 1e-13);

  // col2im is the adjoint of im2col: <im2col(x), C> = <x, col2im(C)>
  Mat<double> cols, back;
  pe.im2col(x, cols);
  const Mat<double> C = testing::randomMatrix<double>(cols.rows(), cols.cols(), rng);
  pe.col2im(C, back);
  CHECK(std::abs((cols.array() * C.array()).sum() - (x.array() * back.array()).sum()) < 1e-11);
  // overlap: a cell covered by 2 x 2 patches (band 3, frame 3 with p 4, s 3) receives 4 terms
  Mat<double> ones = Mat<double>::Ones(cols.rows(), cols.cols());
  pe.col2im(ones, back);
  CHECK(back(3 * M + 3, 0) == 4.0);
  CHECK(back(0, 0) == 1.0);
  CHECK(back((F - 1) * M + M - 1, 0) == 0.0);  // frame 13, band 10: past the last whole patch
}

TEST_CASE("PatchEmbed gradients: input, projection and positional embedding") {
  const Index M = 9, F = 11, p = 4, s = 3, d = 5, B = 2;
  Rng rng(3);
  nn::PatchEmbed<double> pe(M, F, p, s, d);
  ParamStore<double> store(pe);
  pe.init(rng);
  randomizeParams(store, rng);
  requireAllOk(checkEveryTensor(pe, store, testing::randomMatrix<double>(M * F, B, rng), rng));

  // backwardParams gives the same parameter gradients as backward
  const Mat<double> x = testing::randomMatrix<double>(M * F, B, rng);
  Mat<double> y, dx;
  nn::PatchEmbed<double>::Cache c;
  pe.forward(x, y, c);
  const Mat<double> dy = testing::randomMatrix<double>(y.rows(), y.cols(), rng);
  store.zeroGrad();
  pe.backward(c, dy, dx);
  const Vec<double> g1 = store.grads();
  store.zeroGrad();
  pe.backwardParams(c, dy);
  CHECK((store.grads() - g1).cwiseAbs().maxCoeff() == 0.0);
  // pos_embed's gradient is the sum over the batch of dy
  const Mat<double> dposExpected = dy.middleCols(0, pe.numPatches()) + dy.middleCols(pe.numPatches(), pe.numPatches());
  CHECK((pe.posEmbedGrad() - dposExpected).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("gradient check catches a broken PatchEmbed backward") {
  // The probe of the previous test with one overlapping input cell's gradient perturbed by
  // 1e-3: the check must flag it (the tests above can fail).
  const Index M = 9, F = 11, p = 4, s = 3, d = 5, B = 2;
  Rng rng(4);
  nn::PatchEmbed<double> pe(M, F, p, s, d);
  ParamStore<double> store(pe);
  pe.init(rng);
  Mat<double> x = testing::randomMatrix<double>(M * F, B, rng), y, dx;
  nn::PatchEmbed<double>::Cache c;
  pe.forward(x, y, c);
  const Mat<double> R = testing::randomMatrix<double>(y.rows(), y.cols(), rng);
  pe.backward(c, R, dx);
  auto loss = [&]() {
    Mat<double> yy;
    nn::PatchEmbed<double>::Cache cc;
    pe.forward(x, yy, cc);
    return (yy.array() * R.array()).sum();
  };
  CHECK(testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng, allEntries()).ok);
  dx(3 * M + 3, 1) += 1e-3;
  const auto r = testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng, allEntries());
  CHECK_FALSE(r.ok);
  CHECK(r.failures == 1);
}

// ---------------------------------------------------------------------------------------------
// TransformerEncoderBlock

TEST_CASE("TransformerEncoderBlock = x1 = x + MHA(LN1 x); y = x1 + FFN(LN2 x1), DiT names") {
  const Index d = 6, h = 2, ff = 10, n = 5, B = 3;
  Rng rng(10);
  nn::TransformerEncoderBlock<double> blk(d, h, ff);
  ParamStore<double> store(blk);
  blk.init(rng);
  randomizeParams(store, rng);
  auto t = listTensors<double>(blk, "blocks.0");
  std::vector<std::string> names;
  for (auto& e : t) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"blocks.0.norm1.weight", "blocks.0.norm1.bias",
                                          "blocks.0.attn.in_proj_weight", "blocks.0.attn.in_proj_bias",
                                          "blocks.0.attn.out_proj.weight", "blocks.0.attn.out_proj.bias",
                                          "blocks.0.norm2.weight", "blocks.0.norm2.bias",
                                          "blocks.0.ff.0.weight", "blocks.0.ff.0.bias",
                                          "blocks.0.ff.2.weight", "blocks.0.ff.2.bias"});
  CHECK(store.size() == 4 * d * d + 2 * d * ff + 9 * d + ff);

  // the same computation from the block's own parts, run separately
  const Mat<double> x = testing::randomMatrix<double>(d, B * n, rng);
  Mat<double> y, h1, a, x1, h2, f;
  nn::TransformerEncoderBlock<double>::Cache k;
  blk.forward(x, n, y, k);
  nn::LayerNorm<double>::Cache c1, c2;
  nn::MultiheadAttention<double>::Cache ca;
  nn::Mlp<double>::Cache cf;
  blk.norm1().forward(x, h1, c1);
  blk.attn().forward(h1, n, a, ca);
  x1 = x + a;
  blk.norm2().forward(x1, h2, c2);
  blk.ff().forward(h2, f, cf);
  CHECK((y - (x1 + f)).cwiseAbs().maxCoeff() < 1e-14);
  CHECK_THROWS_AS(blk.forward(x, 4, y, k), Error);  // 15 columns are not a multiple of 4
}

TEST_CASE("TransformerEncoderBlock gradients (input and every parameter)") {
  const Index d = 6, h = 2, ff = 10, n = 4, B = 2;
  Rng rng(11);
  nn::TransformerEncoderBlock<double> blk(d, h, ff);
  ParamStore<double> store(blk);
  blk.init(rng);
  randomizeParams(store, rng);
  test::FixedTokens<nn::TransformerEncoderBlock<double>> layer{blk, n};
  auto r = testing::checkLayerGradients(layer, store, testing::randomMatrix<double>(d, B * n, rng), rng,
                                        allEntries());
  INFO(r.summary());
  CHECK(r.ok());
  CHECK(r.params.checked == store.size());
  CHECK(r.input.checked == d * B * n);
}

// ---------------------------------------------------------------------------------------------
// BandStandardizer

TEST_CASE("BandStatistics merges batches into the per-band mean and variance of all values") {
  const Index M = 5, F = 7;
  Rng rng(20);
  const Mat<double> a = spectrograms(M, F, 3, rng), b = spectrograms(M, F, 4, rng);
  nn::BandStatistics st(M);
  st.add(a);
  st.add(b);
  st.add(Mat<float>(b.cast<float>()).leftCols(0));  // an empty batch changes nothing
  CHECK(st.count() == double(F * 7));
  for (Index m = 0; m < M; ++m) {
    std::vector<double> v;
    for (const Mat<double>* x : {&a, &b})
      for (Index j = 0; j < x->cols(); ++j)
        for (Index f = 0; f < F; ++f) v.push_back((*x)(f * M + m, j));
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    double var = 0;
    for (double e : v) var += (e - mean) * (e - mean);
    var /= double(v.size());
    CHECK(st.mean()[m] == doctest::Approx(mean).epsilon(1e-12));
    CHECK(st.variance()[m] == doctest::Approx(var).epsilon(1e-12));
  }
  CHECK_THROWS_AS(st.add(Mat<double>::Zero(M * F + 1, 2)), Error);
}

TEST_CASE("BandStandardizer: measured statistics standardize each band; buffers are not trained") {
  const Index M = 6, F = 9, B = 5;
  Rng rng(21);
  const Mat<double> x = spectrograms(M, F, B, rng);
  nn::BandStandardizer<double> norm(M);
  ParamStore<double> store(norm);
  CHECK(store.size() == 0);
  CHECK_FALSE(norm.measured());
  auto t = listTensors<double>(norm, "input_norm");
  REQUIRE(t.size() == 3);
  CHECK(t[0].name == "input_norm.mean");
  CHECK(t[1].name == "input_norm.var");
  CHECK(t[2].name == "input_norm.count");
  CHECK(t[2].shape.empty());
  for (auto& e : t) {
    CHECK_FALSE(e.trainable);
    CHECK(e.grad == nullptr);
  }

  nn::BandStatistics st(M);
  st.add(x);
  norm.setStatistics(st);
  CHECK(norm.measured());
  CHECK(norm.count() == double(F * B));
  Rng initRng(1);
  norm.init(initRng);  // does not reset the statistics
  CHECK(norm.measured());
  Mat<double> y, dx;
  nn::BandStandardizer<double>::Cache c;
  norm.forward(x, y, c);
  nn::BandStatistics after(M);
  after.add(y);
  for (Index m = 0; m < M; ++m) {
    CHECK(std::abs(after.mean()[m]) < 1e-12);
    CHECK(after.variance()[m] == doctest::Approx(1.0).epsilon(1e-4));  // var / (var + eps)
  }
  // backward: dx = dy * rstd; the gradient check (no parameters)
  auto r = testing::checkLayerGradients(norm, store, x, rng, allEntries());
  INFO(r.summary());
  CHECK(r.ok());
  CHECK_THROWS_AS(norm.forward(Mat<double>::Zero(M * F + 1, 1), y, c), Error);
  norm.resetStatistics();
  CHECK_FALSE(norm.measured());
}

// ---------------------------------------------------------------------------------------------
// AstEncoder

TEST_CASE("AstEncoderConfig: validation, number of patches, numParams") {
  nn::AstEncoderConfig cfg;  // the defaults: 64 bands x 201 frames, patch 16 stride 10
  CHECK(cfg.numPatches() == 5 * 19);
  CHECK(cfg.tokensPerSound() == 95 + 5);
  nn::AstEncoder<float> enc(cfg);
  ParamStore<float> store(enc);
  CHECK(store.size() == cfg.numParams());
  CHECK(enc.numParams() == cfg.numParams());

  auto bad = [](auto edit) {
    nn::AstEncoderConfig c = smallConfig();
    edit(c);
    return c;
  };
  CHECK_THROWS_AS(nn::AstEncoder<float>(bad([](auto& c) { c.heads = 3; })), Error);  // 3 does not divide 8
  CHECK_THROWS_AS(nn::AstEncoder<float>(bad([](auto& c) { c.stride = 5; })), Error);  // stride > patch
  CHECK_THROWS_AS(nn::AstEncoder<float>(bad([](auto& c) { c.patch = 13; })), Error);  // patch > mels
  CHECK_THROWS_AS(nn::AstEncoder<float>(bad([](auto& c) { c.frames = 3; })), Error);
  CHECK_THROWS_AS(nn::AstEncoder<float>(bad([](auto& c) { c.layers = 0; })), Error);
  CHECK_THROWS_AS(nn::AstEncoder<float>(bad([](auto& c) { c.queries = 0; })), Error);
  CHECK_THROWS_AS(nn::AstEncoder<float>(bad([](auto& c) { c.ffDim = 0; })), Error);
  try {
    nn::AstEncoder<float>(bad([](auto& c) { c.heads = 3; }));
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("heads") != std::string::npos);
  }
}

TEST_CASE("AstEncoder tensors: names, PyTorch order, consecutive slices, buffers") {
  const auto cfg = smallConfig();
  nn::AstEncoder<double> enc(cfg);
  ParamStore<double> store(enc);
  auto t = listTensors<double>(enc, "encoder");
  std::vector<std::string> names;
  for (auto& e : t) names.push_back(e.name);
  REQUIRE(names.size() == 3 + 3 + 1 + 2 * 12 + 2);
  CHECK(names[0] == "encoder.input_norm.mean");
  CHECK(names[3] == "encoder.patch_embed.proj.weight");
  CHECK(names[5] == "encoder.patch_embed.pos_embed");
  CHECK(names[6] == "encoder.queries");
  CHECK(names[7] == "encoder.blocks.0.norm1.weight");
  CHECK(names[19] == "encoder.blocks.1.norm1.weight");
  CHECK(names[31] == "encoder.norm.weight");
  CHECK(names[32] == "encoder.norm.bias");
  CHECK(t[6].shape == std::vector<Index>{cfg.queries, cfg.width});
  const double* next = store.weights().data();
  Index trainable = 0;
  for (auto& e : t) {
    if (!e.trainable) continue;
    CHECK(e.value == next);  // the trainable tensors tile the flat buffer in visiting order
    next += e.size();
    trainable += e.size();
  }
  CHECK(trainable == store.size());
}

TEST_CASE("AstEncoder gradients: every weight and the input, query outputs (d x (B L))") {
  const auto cfg = smallConfig(false);
  const Index B = 2;
  Rng rng(30);
  nn::AstEncoder<double> enc(cfg);
  ParamStore<double> store(enc);
  enc.init(rng);
  randomizeParams(store, rng);
  nn::BandStatistics st(cfg.mels);
  st.add(spectrograms(cfg.mels, cfg.frames, 4, rng));
  enc.inputNorm().setStatistics(st);
  const Mat<double> x = spectrograms(cfg.mels, cfg.frames, B, rng);
  Mat<double> y;
  nn::AstEncoder<double>::Cache c;
  enc.forward(x, y, c);
  CHECK(y.rows() == cfg.width);
  CHECK(y.cols() == B * cfg.queries);
  const auto results = checkEveryTensor(enc, store, x, rng);
  CHECK(results.size() == 1 + 3 + 1 + 2 * 12 + 2);  // input + every trainable tensor
  requireAllOk(results);
}

TEST_CASE("AstEncoder gradients, pooled output (mean of the queries, d x B)") {
  const auto cfg = smallConfig(true);
  const Index B = 3;
  Rng rng(31);
  nn::AstEncoder<double> enc(cfg);
  ParamStore<double> store(enc);
  enc.init(rng);
  randomizeParams(store, rng);
  const Mat<double> x = spectrograms(cfg.mels, cfg.frames, B, rng);
  Mat<double> y;
  nn::AstEncoder<double>::Cache c;
  enc.forward(x, y, c);
  REQUIRE(y.rows() == cfg.width);
  REQUIRE(y.cols() == B);
  for (Index b = 0; b < B; ++b)  // pooled = mean of that sound's query outputs
    CHECK((y.col(b) - c.queries.middleCols(b * cfg.queries, cfg.queries).rowwise().mean()).cwiseAbs().maxCoeff() <
          1e-15);
  requireAllOk(checkEveryTensor(enc, store, x, rng));
}

TEST_CASE("AstEncoder backwardParams gives the same parameter gradients as backward") {
  const auto cfg = smallConfig();
  Rng rng(32);
  nn::AstEncoder<double> enc(cfg);
  ParamStore<double> store(enc);
  enc.init(rng);
  const Mat<double> x = spectrograms(cfg.mels, cfg.frames, 2, rng);
  Mat<double> y, dx;
  nn::AstEncoder<double>::Cache c;
  enc.forward(x, y, c);
  const Mat<double> dy = testing::randomMatrix<double>(y.rows(), y.cols(), rng);
  enc.backward(c, dy, dx);
  const Vec<double> g = store.grads();
  store.zeroGrad();
  enc.backwardParams(c, dy);
  CHECK((store.grads() - g).cwiseAbs().maxCoeff() == 0.0);
  CHECK(enc.queryTokensGrad().cwiseAbs().maxCoeff() > 0.0);
  CHECK_THROWS_AS(enc.backward(c, Mat<double>::Zero(cfg.width, 5), dx), Error);
}

TEST_CASE("AstEncoder query outputs depend on the input, differ between queries, and sounds do not mix") {
  const auto cfg = smallConfig();
  const Index B = 3, L = cfg.queries;
  Rng rng(33);
  nn::AstEncoder<double> enc(cfg);
  ParamStore<double> store(enc);
  enc.init(rng);  // the real init (pos_embed and queries N(0, 0.02^2))
  Mat<double> x = spectrograms(cfg.mels, cfg.frames, B, rng), y, y2;
  nn::AstEncoder<double>::Cache c;
  enc.forward(x, y, c);
  CHECK(y.allFinite());
  // different sounds give clearly different conditioning vectors (LN output: O(1) entries)
  for (Index l = 0; l < L; ++l) {
    CHECK((y.col(0 * L + l) - y.col(1 * L + l)).norm() > 0.1);
    CHECK((y.col(1 * L + l) - y.col(2 * L + l)).norm() > 0.1);
  }
  // the L queries of one sound are distinct vectors (one per DiT layer)
  CHECK((y.col(0) - y.col(1)).norm() > 0.1);
  CHECK((y.col(1) - y.col(2)).norm() > 0.1);
  // changing sound 1 changes its outputs only
  Mat<double> x2 = x;
  x2.col(1) = spectrograms(cfg.mels, cfg.frames, 1, rng);
  enc.forward(x2, y2, c);
  CHECK((y2.middleCols(0, L) - y.middleCols(0, L)).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((y2.middleCols(2 * L, L) - y.middleCols(2 * L, L)).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((y2.middleCols(L, L) - y.middleCols(L, L)).norm() > 0.1);
  // a change in one patch region only (band 0..3, frame 0..3) moves every query of that sound
  Mat<double> x3 = x;
  for (Index f = 0; f < 4; ++f)
    for (Index m = 0; m < 4; ++m) x3(f * cfg.mels + m, 0) += 2.0;
  enc.forward(x3, y2, c);
  for (Index l = 0; l < L; ++l) CHECK((y2.col(l) - y.col(l)).norm() > 1e-3);

  // queryColumns(y, L, l) is the d x B conditioning of layer l
  const Mat<double> cond1 = nn::queryColumns(y, L, 1);
  REQUIRE(cond1.cols() == B);
  for (Index b = 0; b < B; ++b) CHECK(cond1.col(b) == y.col(b * L + 1));
  const CMatRef<double> view = nn::queryColumns(y, L, 2);  // binds without a copy
  CHECK(view.data() == y.data() + 2 * cfg.width);
  CHECK(view.outerStride() == L * cfg.width);
  Mat<double> dq = Mat<double>::Zero(cfg.width, B * L);
  nn::queryColumns(dq, L, 2) = cond1;  // scatter a layer's gradient
  CHECK(dq.col(2) == cond1.col(0));
  CHECK(dq.col(L + 2) == cond1.col(1));
  CHECK(dq.col(L + 1).isZero());
}

TEST_CASE("AstEncoder: a permutation of the batch permutes the outputs") {
  for (bool pooled : {false, true}) {
    CAPTURE(pooled);
    const auto cfg = smallConfig(pooled);
    const Index B = 4, per = pooled ? 1 : cfg.queries;
    Rng rng(34);
    nn::AstEncoder<double> enc(cfg);
    ParamStore<double> store(enc);
    enc.init(rng);
    randomizeParams(store, rng, 0.2);
    const Mat<double> x = spectrograms(cfg.mels, cfg.frames, B, rng);
    const std::vector<Index> perm{2, 0, 3, 1};  // sound b of xp is sound perm[b] of x
    Mat<double> xp(x.rows(), B);
    for (Index b = 0; b < B; ++b) xp.col(b) = x.col(perm[size_t(b)]);
    Mat<double> y, yp;
    nn::AstEncoder<double>::Cache c;
    enc.forward(x, y, c);
    enc.forward(xp, yp, c);
    double worst = 0;
    for (Index b = 0; b < B; ++b)
      worst = std::max(worst, (yp.middleCols(b * per, per) - y.middleCols(perm[size_t(b)] * per, per))
                                  .cwiseAbs()
                                  .maxCoeff());
    CHECK(worst < 1e-13);
    INFO("output scale " << y.cwiseAbs().maxCoeff());
    CHECK((yp - y).cwiseAbs().maxCoeff() > 0.05 * y.cwiseAbs().maxCoeff());  // outputs did move
  }
}

TEST_CASE("AstEncoder in float agrees with double") {
  const auto cfg = smallConfig();
  Rng rng(35);
  nn::AstEncoder<double> encD(cfg);
  nn::AstEncoder<float> encF(cfg);
  ParamStore<double> sd(encD);
  ParamStore<float> sf(encF);
  encD.init(rng);
  sf.weights() = sd.weights().cast<float>();
  const Mat<double> x = spectrograms(cfg.mels, cfg.frames, 2, rng);
  Mat<double> yd;
  Mat<float> yf;
  nn::AstEncoder<double>::Cache cd;
  nn::AstEncoder<float>::Cache cf;
  encD.forward(x, yd, cd);
  const Mat<float> xf = x.cast<float>();
  encF.forward(xf, yf, cf);
  CHECK((yf.cast<double>() - yd).cwiseAbs().maxCoeff() < 1e-4);
}

TEST_CASE("AstEncoder: two threads give the outputs and gradients of one") {
#ifdef _OPENMP
  // Large enough that im2col / col2im / the positional add and the GEMMs split the batch.
  nn::AstEncoderConfig cfg;
  cfg.mels = 32;
  cfg.frames = 60;
  cfg.patch = 8;
  cfg.stride = 6;  // 5 x 9 = 45 patches
  cfg.width = 16;
  cfg.heads = 2;
  cfg.layers = 1;
  cfg.ffDim = 32;
  cfg.queries = 2;
  const Index B = 24;
  Rng rng(36);
  nn::AstEncoder<double> enc(cfg);
  ParamStore<double> store(enc);
  enc.init(rng);
  const Mat<double> x = spectrograms(cfg.mels, cfg.frames, B, rng);
  const Mat<double> dy = testing::randomMatrix<double>(cfg.width, B * cfg.queries, rng);
  auto run = [&](int threads, Mat<double>& y, Mat<double>& dx, Vec<double>& g) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    nn::AstEncoder<double>::Cache c;
    enc.forward(x, y, c);
    store.zeroGrad();
    enc.backward(c, dy, dx);
    g = store.grads();
    omp_set_num_threads(saved);
  };
  Mat<double> y1, y2, dx1, dx2;
  Vec<double> g1, g2;
  run(1, y1, dx1, g1);
  run(2, y2, dx2, g2);
  CHECK((y1 - y2).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((dx1 - dx2).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((g1 - g2).cwiseAbs().maxCoeff() < 1e-10 * std::max(1.0, g1.cwiseAbs().maxCoeff()));
#else
  MESSAGE("built without OpenMP: nothing to compare");
#endif
}

TEST_CASE("AstEncoder checkpoint round trip keeps the measured input statistics") {
  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / "symflow-ast-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  const std::string path = dir + "/ast.safetensors";
  const auto cfg = smallConfig();
  Rng rng(37);
  nn::AstEncoder<float> enc(cfg), loaded(cfg);
  ParamStore<float> store(enc), store2(loaded);
  enc.init(rng);
  nn::BandStatistics st(cfg.mels);
  st.add(spectrograms(cfg.mels, cfg.frames, 3, rng));
  enc.inputNorm().setStatistics(st);
  io::saveCheckpoint<float>(path, enc, nullptr);
  CHECK_FALSE(loaded.inputNorm().measured());
  io::loadCheckpoint<float>(path, loaded, nullptr);
  CHECK(loaded.inputNorm().measured());
  CHECK(loaded.inputNorm().count() == enc.inputNorm().count());
  CHECK(loaded.inputNorm().mean() == enc.inputNorm().mean());
  CHECK(loaded.inputNorm().var() == enc.inputNorm().var());
  CHECK(store2.weights() == store.weights());
  const Mat<float> x = spectrograms(cfg.mels, cfg.frames, 2, rng).cast<float>();
  Mat<float> y1, y2;
  nn::AstEncoder<float>::Cache c1, c2;
  enc.forward(x, y1, c1);
  loaded.forward(x, y2, c2);
  CHECK(y1 == y2);
  fs::remove_all(dir);
}
