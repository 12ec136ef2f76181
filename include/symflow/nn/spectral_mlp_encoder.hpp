// symflow/nn/spectral_mlp_encoder.hpp - a cheap audio encoder: |rFFT| -> residual MLP.
//
// Shapes:   spectrum: nBins x B magnitudes (|rFFT|, >= 0; 513 bins for 1024 samples)
//           -> y: dOut x B.
// Forward:  u = log(spectrum + logEps) when logCompress (the default; logEps 1e-5), else
//           u = spectrum; when inputNorm (default) u is standardized per sound by a LayerNorm
//           over the bins without affine parameters (raw log magnitudes sit near -10 with a
//           sound-dependent offset; unnormalized, the first Linear learned ~30x slower);
//           y = ResMlp(nBins -> width, nBlocks identity-residual blocks of
//           hidden size width, final LayerNorm, -> dOut)(u)  (see residual_mlp.hpp).
// Backward: the ResMlp backward, the LayerNorm backward (inputNorm), then du/dx = 1 / (x + logEps) when logCompress.
//           Reads the ResMlp cache and the cached compressed input u (and the input view).
// Params:   input.*, blocks.<i>.{norm,fc1,fc2}.*, norm.*, output.* (the ResMlp's names; the
//           log compression has none). Equivalent PyTorch module: forward(x) =
//           mlp(torch.log(x + eps)) with mlp the ResMlp structure.
// Costs about 2 * (nBins * width + nBlocks * 2 * width^2 + width * dOut) FLOPs per sample,
// i.e. about 0.85 MFLOP at the defaults (width 256, 2 blocks), vs 72 MFLOP for CnnEncoder.
#pragma once
#include <cmath>
#include <string>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/layernorm.hpp"
#include "symflow/nn/residual_mlp.hpp"

namespace symflow::nn {

template <class S>
class SpectralMlpEncoder {
 public:
  struct Config {
    Index nBins = 513, width = 256, nBlocks = 2, dOut = 128;
    bool logCompress = true;
    double logEps = 1e-5;
    bool inputNorm = true;
  };
  struct Cache {
    InputView<S> x;
    Mat<S> u;  // log(x + eps) (when logCompress)
    Mat<S> un;  // LayerNorm(u) (when inputNorm)
    typename LayerNorm<S>::Cache norm;
    typename ResMlp<S>::Cache mlp;
    mutable Mat<S> du, dun;
  };

  SpectralMlpEncoder() : SpectralMlpEncoder(Config{}) {}
  explicit SpectralMlpEncoder(const Config& cfg)
      : cfg_(cfg), inNorm_(cfg.nBins, false), mlp_(cfg.nBins, cfg.width, cfg.nBlocks, cfg.dOut, cfg.width, true) {
    require(cfg.logEps > 0, "SpectralMlpEncoder: logEps must be positive");
  }

  const Config& config() const { return cfg_; }
  Index inFeatures() const { return cfg_.nBins; }
  Index outFeatures() const { return cfg_.dOut; }
  Index numParams() const { return mlp_.numParams(); }
  void bind(ParamCursor<S>& c) { mlp_.bind(c); }
  template <class F> void visitParams(const std::string& prefix, F&& f) { mlp_.visitParams(prefix, f); }
  void init(Rng& rng) { mlp_.init(rng); }
  S penalty() const { return S(0); }
  // No BatchNorm: training and eval behave the same (kept for a uniform encoder interface).
  void setTraining(bool) {}
  void updateRunningStats(const Cache&) {}

  void forward(const CMatRef<S>& spectrum, Mat<S>& y, Cache& c) const {
    require(spectrum.rows() == cfg_.nBins, "SpectralMlpEncoder: input has " +
                                               std::to_string(spectrum.rows()) + " rows (bins), expected " +
                                               std::to_string(cfg_.nBins));
    c.x = InputView<S>(spectrum);
    const Mat<S>* u = nullptr;
    if (cfg_.logCompress) {
      require(spectrum.size() == 0 || spectrum.minCoeff() >= S(0),
              "SpectralMlpEncoder: log compression needs non-negative magnitudes");
      c.u.resize(spectrum.rows(), spectrum.cols());
      c.u.array() = (spectrum.array() + S(cfg_.logEps)).log();
      u = &c.u;
    } else {
      c.u = spectrum;
      u = &c.u;
    }
    if (cfg_.inputNorm) {
      inNorm_.forward(*u, c.un, c.norm);
      mlp_.forward(c.un, y, c.mlp);
    } else {
      mlp_.forward(*u, y, c.mlp);
    }
  }

  /// Parameter gradients and, when dx != nullptr, the gradient w.r.t. the spectrum.
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>* dx) const {
    if (cfg_.inputNorm) {
      mlp_.backward(c.mlp, dy, c.dun);
      if (!dx) return;  // no parameters below the ResMlp
      inNorm_.backward(c.norm, c.dun, c.du);
    } else {
      mlp_.backward(c.mlp, dy, c.du);
      if (!dx) return;
    }
    dx->resize(c.du.rows(), c.du.cols());
    if (cfg_.logCompress)
      dx->array() = c.du.array() / (c.x.map().array() + S(cfg_.logEps));
    else
      *dx = c.du;
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const { backward(c, dy, &dx); }
  void backwardParams(const Cache& c, const CMatRef<S>& dy) const { backward(c, dy, nullptr); }

 private:
  Config cfg_;
  LayerNorm<S> inNorm_;
  ResMlp<S> mlp_;
};

}  // namespace symflow::nn
