#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "symflow/nn/batchnorm.hpp"
#include "symflow/nn/conv1d.hpp"
#include "symflow/testing/gradcheck.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace symflow;

namespace {

struct ConvCase {
  Index cin, cout, k, s, p, L, B;
};
// Pointwise fast path, same-padding k3 / k7, the encoder's downsampling k6 s3 p1, a stride that
// leaves input positions unused, a strided 1x1 (general path) and padding that lengthens.
const std::vector<ConvCase> kCases = {{3, 4, 1, 1, 0, 5, 2}, {2, 3, 3, 1, 1, 7, 3}, {1, 4, 7, 1, 3, 9, 3},
                                      {3, 2, 6, 3, 1, 14, 2}, {2, 2, 4, 2, 0, 9, 2}, {3, 3, 1, 2, 0, 8, 2},
                                      {2, 3, 5, 1, 4, 4, 2}};

/// Direct-loop reference of PyTorch's conv1d (weight (out, in, k) row-major, zero padding).
Mat<double> convReference(const ConvCase& cc, const double* w, const double* bias, const Mat<double>& x) {
  const Index Lout = (cc.L + 2 * cc.p - cc.k) / cc.s + 1;
  Mat<double> y(cc.cout, cc.B * Lout);
  for (Index b = 0; b < cc.B; ++b)
    for (Index o = 0; o < cc.cout; ++o)
      for (Index lo = 0; lo < Lout; ++lo) {
        double acc = bias ? bias[o] : 0.0;
        for (Index i = 0; i < cc.cin; ++i)
          for (Index j = 0; j < cc.k; ++j) {
            const Index pos = lo * cc.s - cc.p + j;
            if (pos >= 0 && pos < cc.L) acc += w[(o * cc.cin + i) * cc.k + j] * x(i, b * cc.L + pos);
          }
        y(o, b * Lout + lo) = acc;
      }
  return y;
}

}  // namespace

TEST_CASE("Conv1d forward equals the direct loop (PyTorch layout and output length)") {
  for (const auto& cc : kCases) {
    for (bool bias : {true, false}) {
      CAPTURE(cc.k);
      CAPTURE(cc.s);
      CAPTURE(cc.p);
      Rng rng(10);
      nn::Conv1d<double> conv(cc.cin, cc.cout, cc.k, cc.s, cc.p, bias);
      conv.setInputLength(cc.L);
      ParamStore<double> store(conv);
      conv.init(rng);
      const Index Lout = (cc.L + 2 * cc.p - cc.k) / cc.s + 1;
      CHECK(conv.outputLength() == Lout);
      Mat<double> x = testing::randomMatrix<double>(cc.cin, cc.B * cc.L, rng);
      const Mat<double> ref = convReference(cc, store.weights().data(),
                                            bias ? store.weights().data() + cc.cout * cc.cin * cc.k : nullptr, x);
      for (Index chunk : {Index(1), Index(1) << 18}) {  // one sample per chunk, and one chunk
        conv.setChunkElements(chunk);
        Mat<double> y;
        nn::Conv1d<double>::Cache c;
        conv.forward(x, y, c);
        REQUIRE(y.rows() == cc.cout);
        REQUIRE(y.cols() == cc.B * Lout);
        CHECK((y - ref).cwiseAbs().maxCoeff() < 1e-12);
      }
    }
  }
}

TEST_CASE("Conv1d tensors: names, PyTorch shapes, default init bounds") {
  Rng rng(11);
  nn::Conv1d<float> conv(4, 6, 5, 2, 1);
  ParamStore<float> store(conv);
  conv.init(rng);
  auto t = listTensors<float>(conv);
  REQUIRE(t.size() == 2);
  CHECK(t[0].name == "weight");
  CHECK(t[0].shape == std::vector<Index>{6, 4, 5});
  CHECK(t[1].name == "bias");
  CHECK(t[1].shape == std::vector<Index>{6});
  const float bound = 1.0f / std::sqrt(20.0f);
  CHECK(store.weights().cwiseAbs().maxCoeff() <= bound);
  CHECK(store.weights().cwiseAbs().maxCoeff() > 0.8f * bound);
  CHECK(conv.numParams() == 6 * 4 * 5 + 6);
}

TEST_CASE("Conv1d gradients (central differences, double, every entry)") {
  for (const auto& cc : kCases) {
    for (bool bias : {true, false}) {
      CAPTURE(cc.k);
      CAPTURE(cc.s);
      CAPTURE(cc.p);
      Rng rng(12);
      nn::Conv1d<double> conv(cc.cin, cc.cout, cc.k, cc.s, cc.p, bias);
      conv.setInputLength(cc.L);
      conv.setChunkElements(cc.cin * cc.k * 5);  // several chunks per thread
      ParamStore<double> store(conv);
      conv.init(rng);
      testing::GradCheckOptions opt;
      opt.maxEntries = 100000;
      auto r = testing::checkLayerGradients(conv, store, testing::randomMatrix<double>(cc.cin, cc.B * cc.L, rng),
                                            rng, opt);
      INFO(r.summary());
      CHECK(r.ok());
    }
  }
}

TEST_CASE("Conv1d: backward accumulates into the parameter gradients; backwardParams matches") {
  Rng rng(13);
  nn::Conv1d<double> conv(2, 3, 3, 1, 1);
  conv.setInputLength(6);
  ParamStore<double> store(conv);
  conv.init(rng);
  Mat<double> x = testing::randomMatrix<double>(2, 12, rng), y, dx;
  nn::Conv1d<double>::Cache c;
  conv.forward(x, y, c);
  Mat<double> dy = testing::randomMatrix<double>(3, 12, rng);
  store.zeroGrad();
  conv.backward(c, dy, dx);
  const Vec<double> once = store.grads();
  conv.backwardParams(c, dy);
  CHECK((store.grads() - 2 * once).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("Conv1d fusion hooks: the epilogue sees every output column once, the prologue replaces dy") {
  for (const auto& cc : {ConvCase{3, 4, 1, 1, 0, 5, 6}, ConvCase{3, 2, 6, 3, 1, 14, 5}}) {
    CAPTURE(cc.k);
    Rng rng(15);
    nn::Conv1d<double> conv(cc.cin, cc.cout, cc.k, cc.s, cc.p);
    conv.setInputLength(cc.L);
    conv.setChunkElements(1);     // one sample per chunk
    conv.setMinMacsPerThread(1);  // and all threads
    ParamStore<double> store(conv);
    conv.init(rng);
    const Mat<double> x = testing::randomMatrix<double>(cc.cin, cc.B * cc.L, rng);
    Mat<double> y, y2, dx, dx2;
    nn::Conv1d<double>::Cache c, c2;
    conv.forward(x, y, c);
    std::vector<int> seen(size_t(y.cols()), 0);
    conv.forward(x, y2, c2, [&](Index col0, Index n) {
      for (Index j = col0; j < col0 + n; ++j) ++seen[size_t(j)];  // distinct columns per thread
      y2.middleCols(col0, n) *= 2.0;
    });
    CHECK(std::count(seen.begin(), seen.end(), 1) == Index(seen.size()));
    CHECK((y2 - 2.0 * y).cwiseAbs().maxCoeff() < 1e-12);
    const Mat<double> dy = testing::randomMatrix<double>(y.rows(), y.cols(), rng);
    store.zeroGrad();
    conv.backward(c, dy, dx);
    const Vec<double> g = store.grads();
    store.zeroGrad();
    conv.backward(c2, Mat<double>::Zero(y.rows(), y.cols()), dx2, [&](Index col0, Index n, double* out) {
      Eigen::Map<Mat<double>>(out, dy.rows(), n) = 3.0 * dy.middleCols(col0, n);
    });
    CHECK((dx2 - 3.0 * dx).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((store.grads() - 3.0 * g).cwiseAbs().maxCoeff() < 1e-12);
  }
}

#ifdef _OPENMP
TEST_CASE("Conv1d: one thread and all threads give the same result") {
  Rng rng(14);
  nn::Conv1d<double> conv(3, 5, 6, 3, 1);
  conv.setInputLength(20);
  conv.setMinMacsPerThread(1);  // split even this small batch
  ParamStore<double> store(conv);
  conv.init(rng);
  Mat<double> x = testing::randomMatrix<double>(3, 7 * 20, rng);
  Mat<double> dy = testing::randomMatrix<double>(5, 7 * conv.outputLength(), rng);
  auto run = [&](int threads, Mat<double>& y, Mat<double>& dx, Vec<double>& g) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    nn::Conv1d<double>::Cache c;
    conv.forward(x, y, c);
    store.zeroGrad();
    conv.backward(c, dy, dx);
    g = store.grads();
    omp_set_num_threads(saved);
  };
  Mat<double> y1, dx1, y2, dx2;
  Vec<double> g1, g2;
  run(1, y1, dx1, g1);
  run(2, y2, dx2, g2);
  CHECK((y1 - y2).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((dx1 - dx2).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((g1 - g2).cwiseAbs().maxCoeff() < 1e-12);
}
#endif

TEST_CASE("Conv1d refuses bad configurations and inputs") {
  CHECK_THROWS_AS(nn::Conv1d<float>(0, 2, 3), Error);
  CHECK_THROWS_AS(nn::Conv1d<float>(2, 2, 3, 0), Error);
  CHECK_THROWS_AS(nn::Conv1d<float>(2, 2, 3, 1, 3), Error);  // padding >= kernel
  nn::Conv1d<float> conv(2, 2, 5);
  CHECK_THROWS_AS(conv.setInputLength(4), Error);  // shorter than the kernel
  ParamStore<float> store(conv);
  Mat<float> x(2, 10), y;
  nn::Conv1d<float>::Cache c;
  CHECK_THROWS_AS(conv.forward(x, y, c), Error);  // length not set
  conv.setInputLength(6);
  CHECK_THROWS_AS(conv.forward(x, y, c), Error);  // 10 columns is not a multiple of 6
  Mat<float> x3(3, 12);
  CHECK_THROWS_AS(conv.forward(x3, y, c), Error);  // 3 channels
}

// ----------------------------------------------------------------------------- BatchNorm1d

namespace {
Mat<double> shiftedRandom(Index rows, Index cols, Rng& rng) {
  Mat<double> x = testing::randomMatrix<double>(rows, cols, rng, 2.0);
  for (Index i = 0; i < rows; ++i) x.row(i).array() += double(i) - 1.0;  // distinct channel means
  return x;
}
}  // namespace

TEST_CASE("BatchNorm1d training mode normalizes each channel over all columns") {
  Rng rng(20);
  nn::BatchNorm1d<double> bn(3);
  ParamStore<double> store(bn);
  bn.init(rng);
  store.weights() << 2.0, 0.5, -1.0, 0.3, -0.2, 1.5;  // gamma, beta
  Mat<double> x = shiftedRandom(3, 40, rng), y;
  nn::BatchNorm1d<double>::Cache c;
  bn.forward(x, y, c);
  for (Index i = 0; i < 3; ++i) {
    const double mean = y.row(i).mean();
    const double var = (y.row(i).array() - mean).square().mean();
    const double xmean = x.row(i).mean();
    const double xvar = (x.row(i).array() - xmean).square().mean();
    CHECK(mean == doctest::Approx(store.weights()[3 + i]).epsilon(1e-12));
    // var(y) = gamma^2 var / (var + eps)
    const double g = store.weights()[i];
    CHECK(var == doctest::Approx(g * g * xvar / (xvar + 1e-5)).epsilon(1e-12));
  }
}

TEST_CASE("BatchNorm1d running statistics: momentum 0.1, unbiased variance, count") {
  Rng rng(21);
  nn::BatchNorm1d<double> bn(2);
  ParamStore<double> store(bn);
  bn.init(rng);
  CHECK(bn.runningMean() == Vec<double>::Zero(2));
  CHECK(bn.runningVar() == Vec<double>::Ones(2));
  Vec<double> rm = Vec<double>::Zero(2), rv = Vec<double>::Ones(2);
  for (int step = 0; step < 3; ++step) {
    const Index N = 7 + step;
    Mat<double> x = shiftedRandom(2, N, rng), y;
    nn::BatchNorm1d<double>::Cache c;
    bn.forward(x, y, c);
    bn.updateRunningStats(c);
    for (Index i = 0; i < 2; ++i) {
      const double mean = x.row(i).mean();
      const double unbiased = (x.row(i).array() - mean).square().sum() / double(N - 1);
      rm[i] = 0.9 * rm[i] + 0.1 * mean;
      rv[i] = 0.9 * rv[i] + 0.1 * unbiased;
    }
    CHECK((bn.runningMean() - rm).cwiseAbs().maxCoeff() < 1e-14);
    CHECK((bn.runningVar() - rv).cwiseAbs().maxCoeff() < 1e-14);
    CHECK(bn.numBatchesTracked() == double(step + 1));
  }
}

TEST_CASE("BatchNorm1d eval mode uses the running statistics (and is per column)") {
  Rng rng(22);
  nn::BatchNorm1d<double> bn(2);
  ParamStore<double> store(bn);
  bn.init(rng);
  store.weights() << 1.5, -0.5, 0.25, 2.0;
  bn.runningMean() << 0.5, -1.0;
  bn.runningVar() << 4.0, 0.25;
  bn.setTraining(false);
  Mat<double> x = shiftedRandom(2, 5, rng), y;
  nn::BatchNorm1d<double>::Cache c;
  bn.forward(x, y, c);
  for (Index j = 0; j < 5; ++j) {
    CHECK(y(0, j) == doctest::Approx(1.5 * (x(0, j) - 0.5) / std::sqrt(4.0 + 1e-5) + 0.25).epsilon(1e-13));
    CHECK(y(1, j) == doctest::Approx(-0.5 * (x(1, j) + 1.0) / std::sqrt(0.25 + 1e-5) + 2.0).epsilon(1e-13));
  }
  CHECK_THROWS_AS(bn.updateRunningStats(c), Error);  // not a training-mode cache
}

TEST_CASE("BatchNorm1d gradients (central differences, double): training and eval mode") {
  for (bool training : {true, false}) {
    CAPTURE(training);
    Rng rng(23);
    nn::BatchNorm1d<double> bn(4);
    ParamStore<double> store(bn);
    bn.init(rng);
    rng.fillNormal(store.weights().data(), store.weights().data() + store.size());
    bn.runningMean() << 0.1, -0.3, 0.7, 0.0;
    bn.runningVar() << 0.5, 2.0, 1.0, 3.0;
    bn.setTraining(training);
    testing::GradCheckOptions opt;
    opt.maxEntries = 100000;
    auto r = testing::checkLayerGradients(bn, store, shiftedRandom(4, 9, rng), rng, opt);
    INFO(r.summary());
    CHECK(r.ok());
  }
}

TEST_CASE("BatchNorm1d gradients over many columns (blocked, threaded sums)") {
  Rng rng(24);
  nn::BatchNorm1d<double> bn(3);
  ParamStore<double> store(bn);
  bn.init(rng);
  rng.fillNormal(store.weights().data(), store.weights().data() + store.size());
  // The loss sums 27000 terms: rounding in f (~1e-12) over 2 eps must stay below the tolerance,
  // so a larger step (truncation error O(eps^2) is still ~1e-9 here).
  testing::GradCheckOptions opt;
  opt.eps = 1e-4;
  auto r = testing::checkLayerGradients(bn, store, shiftedRandom(3, 9000, rng), rng, opt);
  INFO(r.summary());
  CHECK(r.ok());
}

TEST_CASE("BatchNorm1d tensors: trainable weight/bias, non-trainable buffers in the layer") {
  nn::BatchNorm1d<float> bn(5);
  ParamStore<float> store(bn);
  CHECK(store.size() == 10);
  auto t = listTensors<float>(bn, "bn1");
  REQUIRE(t.size() == 5);
  const char* names[] = {"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                         "bn1.num_batches_tracked"};
  for (size_t i = 0; i < 5; ++i) {
    CHECK(t[i].name == names[i]);
    CHECK(t[i].trainable == (i < 2));
    CHECK((t[i].grad == nullptr) == (i >= 2));
  }
  CHECK(t[2].value == bn.runningMean().data());
  CHECK(t[3].shape == std::vector<Index>{5});
  CHECK(t[4].shape.empty());
  CHECK(t[4].size() == 1);
  Mat<float> x(4, 3), y;
  nn::BatchNorm1d<float>::Cache c;
  CHECK_THROWS_AS(bn.forward(x, y, c), Error);
  Mat<float> one(5, 1);
  CHECK_THROWS_AS(bn.forward(one, y, c), Error);  // training mode needs N > 1
}

TEST_CASE("BatchNorm1d float statistics stay accurate for a large mean (no cancellation)") {
  Rng rng(25);
  const Index N = 20000;
  Mat<double> xd = testing::randomMatrix<double>(2, N, rng);
  xd.row(0).array() += 1000.0;
  xd.row(1).array() = xd.row(1).array() * 0.01 - 50.0;
  const Mat<float> x = xd.cast<float>();
  nn::BatchNorm1d<float> bn(2);
  ParamStore<float> store(bn);
  bn.init(rng);
  Mat<float> y;
  nn::BatchNorm1d<float>::Cache c;
  bn.forward(x, y, c);
  for (Index i = 0; i < 2; ++i) {
    const Vec<double> xi = x.row(i).transpose().cast<double>();  // the float data, exactly
    const double mean = xi.mean();
    const double var = (xi.array() - mean).square().sum() / double(N - 1);
    CHECK(double(c.mean[i]) == doctest::Approx(mean).epsilon(1e-6));
    CHECK(double(c.varUnbiased[i]) == doctest::Approx(var).epsilon(1e-4));
  }
}

TEST_CASE("BatchNorm1d: a strided input or gradient gives the same result as a contiguous one") {
  Rng rng(26);
  nn::BatchNorm1d<double> bn(5);
  ParamStore<double> store(bn);
  bn.init(rng);
  rng.fillNormal(store.weights().data(), store.weights().data() + store.size());
  const Mat<double> big = shiftedRandom(8, 11, rng), dbig = testing::randomMatrix<double>(8, 11, rng);
  const Mat<double> x = big.topRows(5), dy = dbig.topRows(5);
  Mat<double> y1, y2, dx1, dx2;
  nn::BatchNorm1d<double>::Cache c1, c2;
  store.zeroGrad();
  bn.forward(x, y1, c1);
  bn.backward(c1, dy, dx1);
  const Vec<double> g1 = store.grads();
  store.zeroGrad();
  bn.forward(big.topRows(5), y2, c2);  // outer stride 8
  bn.backward(c2, dbig.topRows(5), dx2);
  CHECK((y1 - y2).cwiseAbs().maxCoeff() < 1e-14);
  CHECK((dx1 - dx2).cwiseAbs().maxCoeff() < 1e-14);
  CHECK((store.grads() - g1).cwiseAbs().maxCoeff() < 1e-14);
}
