#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "symflow/nn/encoders.hpp"
#include "symflow/testing/gradcheck.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace symflow;

namespace {

/// |N(0,1)|: a stand-in for |rFFT| magnitudes (non-negative, some near zero).
template <class S> Mat<S> randomSpectrum(Index bins, Index B, Rng& rng) {
  Mat<S> x = testing::randomMatrix<S>(bins, B, rng);
  return x.cwiseAbs();
}

/// Runs the gradient checks single-threaded: at these tiny batches threads only add
/// synchronization cost (and a loaded machine makes spinning OpenMP barriers very slow).
struct SingleThread {
#ifdef _OPENMP
  int saved = omp_get_max_threads();
  SingleThread() { omp_set_num_threads(1); }
  ~SingleThread() { omp_set_num_threads(saved); }
#endif
};

/// Gradient check of a model with forward(x, y, cache) / backward(cache, dy, dx): the input
/// gradient on inputSamples random entries and every trainable tensor on perTensor random
/// entries each (so no tensor goes unchecked however large the model).
template <class Model>
std::vector<testing::GradCheckResult> checkModel(Model& model, ParamStore<double>& store, Mat<double> x, Rng& rng,
                                                 Index inputSamples, Index perTensor,
                                                 const testing::GradCheckOptions& base = {}) {
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
  testing::GradCheckOptions opt = base;
  opt.maxEntries = inputSamples;
  out.push_back(testing::checkGradient(loss, x.data(), x.size(), dx.data(), rng, opt, "input"));
  opt.maxEntries = perTensor;
  model.visitParams("", [&](const TensorRef<double>& t) {
    if (!t.trainable) return;
    const Index offset = t.value - store.weights().data();
    out.push_back(testing::checkGradient(loss, t.value, t.size(), g.data() + offset, rng, opt, t.name));
  });
  return out;
}

}  // namespace

TEST_CASE("CnnEncoder structure matches the PyTorch peer's ResidualEncoder") {
  nn::CnnEncoder<float> enc;
  CHECK(enc.finalChannels() == 384);
  CHECK(enc.finalLength() == 5);
  CHECK(enc.nFlat() == 1920);
  ParamStore<float> store(enc);
  CHECK(store.size() == 2751256);  // sum(p.numel() for p in ResidualEncoder().parameters())
  std::map<std::string, TensorRef<float>> byName;
  std::vector<std::string> order;
  enc.visitParams("", [&](const TensorRef<float>& t) {
    byName[t.name] = t;
    order.push_back(t.name);
  });
  auto shape = [&](const std::string& n) {
    REQUIRE(byName.count(n) == 1);
    return byName[n].shape;
  };
  using V = std::vector<Index>;
  CHECK(order.front() == "net.0.conv1.weight");
  CHECK(order[1] == "net.0.conv1.bias");
  CHECK(order[2] == "net.0.bn1.weight");
  CHECK(order[4] == "net.0.bn1.running_mean");
  CHECK(order.back() == "mlp.res.weight");
  CHECK(shape("net.0.conv1.weight") == V{24, 1, 7});
  CHECK(shape("net.0.conv2.weight") == V{24, 24, 1});
  CHECK(shape("net.0.skip.weight") == V{24, 1, 1});
  CHECK(byName.count("net.1.skip.weight") == 0);  // identity skip
  CHECK(byName.count("net.3.skip.weight") == 0);  // 48 -> 48 after the downsampling
  CHECK(shape("net.1.conv1.weight") == V{24, 24, 7});
  CHECK(shape("net.2.bn.running_var") == V{24});
  CHECK(shape("net.2.conv.weight") == V{48, 24, 6});
  CHECK(shape("net.9.conv1.weight") == V{192, 192, 7});
  CHECK(shape("net.11.conv.weight") == V{384, 192, 6});
  CHECK(shape("net.11.conv.bias") == V{384});
  CHECK(shape("proj.weight") == V{512, 1920});
  CHECK(shape("mlp.norm.weight") == V{512});
  CHECK(shape("mlp.fc1.weight") == V{512, 512});
  CHECK(shape("mlp.fc2.weight") == V{128, 512});
  CHECK(shape("mlp.res.weight") == V{128, 512});
  CHECK_FALSE(byName["net.5.bn.num_batches_tracked"].trainable);
  Index trainable = 0, buffers = 0;
  for (auto& [n, t] : byName) (t.trainable ? trainable : buffers) += t.size();
  CHECK(trainable == store.size());
  // 5 BatchNorms per stage (bn1, bn2 of two ResBlocks, the Downsample's bn): running_mean and
  // running_var of c channels each, plus one num_batches_tracked each.
  CHECK(buffers == 2 * 5 * (24 + 48 + 96 + 192) + 20);
}

TEST_CASE("CnnEncoder flattens each sample in PyTorch's (C, L) row-major order") {
  Rng rng(40);
  nn::CnnEncoder<double> enc;
  ParamStore<double> store(enc);
  enc.init(rng);
  Mat<double> x = randomSpectrum<double>(513, 2, rng), y;
  nn::CnnEncoder<double>::Cache c;
  enc.forward(x, y, c);
  const Mat<double>& h = c.out.back();  // 384 x (B*5)
  REQUIRE(h.rows() == 384);
  REQUIRE(h.cols() == 2 * 5);
  for (Index b = 0; b < 2; ++b)
    for (Index ch = 0; ch < 384; ch += 37)
      for (Index l = 0; l < 5; ++l) CHECK(c.flat(ch * 5 + l, b) == h(ch, b * 5 + l));
  CHECK(y.rows() == 128);
  CHECK(y.cols() == 2);
  CHECK(y.allFinite());
}

TEST_CASE("CnnEncoder BatchNorm modes: batch statistics couple samples, running statistics do not") {
  Rng rng(41);
  nn::CnnEncoder<double> enc;
  ParamStore<double> store(enc);
  enc.init(rng);
  Mat<double> x = randomSpectrum<double>(513, 3, rng), y3, y1;
  nn::CnnEncoder<double>::Cache c3, c1;
  // One training step's statistics, so the running statistics differ from their init.
  enc.forward(x, y3, c3);
  enc.updateRunningStats(c3);
  auto tensors = listTensors<double>(enc);
  for (auto& t : tensors)
    if (t.name == "net.0.bn1.running_mean") CHECK(Eigen::Map<Vec<double>>(t.value, 24).cwiseAbs().maxCoeff() > 0);
    else if (t.name == "net.11.bn.num_batches_tracked") CHECK(*t.value == 1.0);
  // Training mode: sample 0's code depends on the rest of the batch.
  enc.forward(x.leftCols(1).replicate(1, 2), y1, c1);
  Mat<double> x2 = x.leftCols(2);
  enc.forward(x2, y3, c3);
  CHECK((y3.col(0) - y1.col(0)).cwiseAbs().maxCoeff() > 1e-3);
  // Eval mode: each sample is encoded alone.
  enc.setTraining(false);
  enc.forward(x, y3, c3);
  Mat<double> x0 = x.leftCols(1);
  enc.forward(x0, y1, c1);
  CHECK((y3.col(0) - y1.col(0)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK_THROWS_AS(enc.updateRunningStats(c3), Error);
}

TEST_CASE("CnnEncoder float and double agree on the same weights") {
  Rng rng(42);
  nn::CnnEncoder<double> encd;
  nn::CnnEncoder<float> encf;
  ParamStore<double> sd(encd);
  ParamStore<float> sf(encf);
  encd.init(rng);
  sf.weights() = sd.weights().cast<float>();
  Mat<double> x = randomSpectrum<double>(513, 4, rng), yd, dxd;
  Mat<float> xf = x.cast<float>(), yf, dxf;
  nn::CnnEncoder<double>::Cache cd;
  nn::CnnEncoder<float>::Cache cf;
  encd.forward(x, yd, cd);
  encf.forward(xf, yf, cf);
  CHECK((yf.cast<double>() - yd).cwiseAbs().maxCoeff() < 1e-3 * (1 + yd.cwiseAbs().maxCoeff()));
  const Mat<double> R = testing::randomMatrix<double>(128, 4, rng);
  encd.backward(cd, R, dxd);
  encf.backward(cf, R.cast<float>(), dxf);
  const double gscale = sd.grads().cwiseAbs().maxCoeff();
  CHECK((sf.grads().cast<double>() - sd.grads()).cwiseAbs().maxCoeff() < 2e-3 * gscale);
  CHECK((dxf.cast<double>() - dxd).cwiseAbs().maxCoeff() < 2e-3 * dxd.cwiseAbs().maxCoeff());
}

TEST_CASE("CnnEncoder gradients, whole model, B = 3, 513 bins (central differences, double)") {
  SingleThread single;
  Rng rng(43);
  nn::CnnEncoder<double> enc;
  ParamStore<double> store(enc);
  enc.init(rng);
  // Non-default BatchNorm / LayerNorm affine parameters, so their gradients are exercised.
  enc.visitParams("", [&](const TensorRef<double>& t) {
    if (t.trainable && t.shape.size() == 1 && (t.name.find("bn") != std::string::npos || t.name.find("norm") != std::string::npos))
      for (Index i = 0; i < t.size(); ++i) t.value[i] += rng.normal(0.0, 0.3);
  });
  // Tolerance: the default (|a - n| <= 1e-7 + 1e-5 max(|a|, |n|)), eps 1e-6.
  auto results = checkModel(enc, store, randomSpectrum<double>(513, 3, rng), rng, 24, 2);
  CHECK(results.size() == 1 + 91);  // input + every trainable tensor
  for (const auto& r : results) {
    INFO(r.summary());
    CHECK(r.ok);
  }
}

TEST_CASE("CnnEncoder backwardParams equals backward's parameter gradients") {
  Rng rng(44);
  nn::CnnEncoder<float> enc;
  ParamStore<float> store(enc);
  enc.init(rng);
  Mat<float> x = randomSpectrum<float>(513, 2, rng), y, dx;
  nn::CnnEncoder<float>::Cache c;
  enc.forward(x, y, c);
  const Mat<float> R = testing::randomMatrix<float>(128, 2, rng);
  store.zeroGrad();
  enc.backward(c, R, dx);
  CHECK(dx.rows() == 513);
  CHECK(dx.cols() == 2);
  const Vec<float> g = store.grads();
  store.zeroGrad();
  enc.backwardParams(c, R);
  CHECK(store.grads() == g);
}

TEST_CASE("CnnEncoder accepts a strided spectrum block (copied) with the same result") {
  Rng rng(47);
  nn::CnnEncoder<float> enc;
  ParamStore<float> store(enc);
  enc.init(rng);
  const Mat<float> big = randomSpectrum<float>(520, 2, rng);
  const Mat<float> x = big.topRows(513);
  Mat<float> y1, y2;
  nn::CnnEncoder<float>::Cache c1, c2;
  enc.forward(x, y1, c1);
  enc.forward(big.topRows(513), y2, c2);
  CHECK(y1 == y2);
}

TEST_CASE("CnnEncoder smaller configurations and refusals") {
  nn::CnnEncoder<double>::Config cfg;
  cfg.nBins = 65;
  cfg.base = 4;
  cfg.nStages = 2;
  cfg.dHidden = 16;
  cfg.dOut = 8;
  nn::CnnEncoder<double> enc(cfg);
  CHECK(enc.finalChannels() == 16);
  CHECK(enc.finalLength() == 6);  // 65 -> 21 -> 6
  ParamStore<double> store(enc);
  Rng rng(45);
  enc.init(rng);
  SingleThread single;
  auto results = checkModel(enc, store, randomSpectrum<double>(65, 4, rng), rng, 60, 6);
  for (const auto& r : results) {
    INFO(r.summary());
    CHECK(r.ok);
  }
  Mat<double> bad(64, 2), y;
  nn::CnnEncoder<double>::Cache c;
  CHECK_THROWS_AS(enc.forward(bad, y, c), Error);
  cfg.nBins = 10;  // too short for two downsampling stages
  CHECK_THROWS_AS(nn::CnnEncoder<double>{cfg}, Error);
}

TEST_CASE("SpectralMlpEncoder: names, log compression, input normalizations and gradients") {
  using N = nn::SpectralInputNorm;
  struct Variant {
    bool logCompress;
    N norm;
    bool finalNorm;
  };
  for (const Variant v : {Variant{true, N::PerSound, true}, Variant{false, N::PerSound, true},
                          Variant{true, N::None, true}, Variant{true, N::PerBin, false},
                          Variant{false, N::PerBin, true}}) {
    CAPTURE(v.logCompress);
    CAPTURE(nn::toString(v.norm));
    CAPTURE(v.finalNorm);
    nn::SpectralMlpEncoder<double>::Config cfg;
    cfg.inputNorm = v.norm;
    cfg.finalNorm = v.finalNorm;
    cfg.width = 32;
    cfg.nBlocks = 2;
    cfg.dOut = 16;
    cfg.logCompress = v.logCompress;
    nn::SpectralMlpEncoder<double> enc(cfg);
    ParamStore<double> store(enc);
    Rng rng(46);
    enc.init(rng);
    auto t = listTensors<double>(enc);
    CHECK(t.front().name == "input.weight");
    CHECK(t.front().shape == std::vector<Index>{32, 513});
    bool hasFinalNorm = false, hasStats = false;
    for (const auto& x : t) {
      hasFinalNorm = hasFinalNorm || x.name == "norm.weight";
      hasStats = hasStats || x.name == "input_norm.mean";
    }
    CHECK(hasFinalNorm == v.finalNorm);
    CHECK(hasStats == (v.norm == N::PerBin));
    CHECK((enc.inputStandardizer() != nullptr) == (v.norm == N::PerBin));
    Mat<double> x = randomSpectrum<double>(513, 3, rng);
    x.array() += 0.05;  // keep log(x + eps) smooth within the finite-difference step
    if (v.norm == N::PerBin) {
      // Statistics of u = log(x + eps) (or x) over a few "training" spectra: each bin's own.
      Mat<double> train = randomSpectrum<double>(513, 64, rng), u;
      train.array() += 0.05;
      enc.compressedInput(train, u);
      nn::BandStatistics st(513);
      st.add(u);
      enc.inputStandardizer()->setStatistics(st);
      CHECK(enc.inputStandardizer()->mean()[5] == doctest::Approx(u.row(5).mean()).epsilon(1e-12));
    }
    auto results = checkModel(enc, store, x, rng, 200, 20);
    for (const auto& r : results) {
      INFO(r.summary());
      CHECK(r.ok);
    }
    if (v.logCompress) {
      // The network sees log(x + eps): scaling the spectrum shifts u by a constant.
      Mat<double> y;
      nn::SpectralMlpEncoder<double>::Cache c;
      enc.forward(x, y, c);
      CHECK(c.u(7, 1) == doctest::Approx(std::log(x(7, 1) + 1e-5)).epsilon(1e-14));
      Mat<double> neg = x;
      neg(3, 0) = -0.5;
      CHECK_THROWS_AS(enc.forward(neg, y, c), Error);
      // With the per-sound LayerNorm a gain change (a constant shift of log x, up to eps) is
      // normalized away: the sound's level is lost. The per-bin training statistics and no
      // normalization keep it (k-osc's amplitudes set the level).
      Mat<double> y10;
      enc.forward(Mat<double>(1000.0 * x), y10, c);
      const double change = (y10 - y).cwiseAbs().maxCoeff();
      if (v.norm == N::PerSound)
        CHECK(change < 1e-3);
      else
        CHECK(change > 1e-2);
    }
  }
  CHECK((nn::parseSpectralInputNorm("per-bin") == N::PerBin));
  CHECK_THROWS_WITH_AS(nn::parseSpectralInputNorm("layer"), doctest::Contains("per-bin, per-sound or none"), Error);
}

TEST_CASE("SpectralMlpEncoder default size is cheap") {
  nn::SpectralMlpEncoder<float> enc;
  ParamStore<float> store(enc);
  CHECK(enc.inFeatures() == 513);
  CHECK(enc.outFeatures() == 128);
  CHECK(store.size() < 500000);
}
