// symflow/nn/spectral_mlp_encoder.hpp - a cheap audio encoder: |rFFT| -> residual MLP.
//
// Shapes:   spectrum: nBins x B magnitudes (|rFFT|, >= 0; 513 bins for 1024 samples)
//           -> y: dOut x B.
// Forward:  u = log(spectrum + logEps) when logCompress (the default; logEps 1e-5), else
//           u = spectrum; then the input normalization (Config::inputNorm):
//             PerBin (the default): un[i, b] = (u[i, b] - mean_i) / sqrt(var_i + 1e-5) with each
//               bin's mean and variance measured on training sounds (a BandStandardizer with
//               nBins bands, fixed buffers "input_norm.{mean,var,count}" saved with the model;
//               the trainer measures them before the first step, setInputStatistics). The
//               sound's overall level survives (k-osc's amplitudes set it); the PyTorch peer's
//               encoder (shared/peer/sameBudget) does this.
//             PerSound (models made before 2026-12): a LayerNorm over the bins of each sound,
//               without affine parameters: it removes the sound's level and spread.
//             None: un = u.
//           y = ResMlp(nBins -> width, nBlocks identity-residual blocks of hidden size width,
//           [final LayerNorm when finalNorm], -> dOut)(un)  (see residual_mlp.hpp). The peer's
//           encoder has no final LayerNorm (finalNorm = false, the default; older models: true).
// Backward: the ResMlp backward, the normalization backward, then du/dx = 1 / (x + logEps) when
//           logCompress. Reads the ResMlp cache and the cached u (and the input view).
// Params:   input.*, blocks.<i>.{norm,fc1,fc2}.*, [norm.*], output.* (the ResMlp's names), and the
//           buffers input_norm.* (PerBin). Equivalent PyTorch module: the peer's SpectralEncoder
//           (inp = input, blocks, out = output; mu, sigma = input_norm mean, sqrt(var)).
// Costs about 2 * (nBins * width + nBlocks * 2 * width^2 + width * dOut) FLOPs per sample,
// i.e. about 0.85 MFLOP at the defaults (width 256, 2 blocks), vs 72 MFLOP for CnnEncoder.
#pragma once
#include <cmath>
#include <string>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/band_standardizer.hpp"
#include "symflow/nn/layernorm.hpp"
#include "symflow/nn/residual_mlp.hpp"

namespace symflow::nn {

enum class SpectralInputNorm { None, PerSound, PerBin };
inline std::string toString(SpectralInputNorm n) {
  return n == SpectralInputNorm::PerBin ? "per-bin" : n == SpectralInputNorm::PerSound ? "per-sound" : "none";
}
inline SpectralInputNorm parseSpectralInputNorm(const std::string& s) {
  if (s == "per-bin") return SpectralInputNorm::PerBin;
  if (s == "per-sound") return SpectralInputNorm::PerSound;
  if (s == "none") return SpectralInputNorm::None;
  throw Error("unknown spectral input normalization '" + s + "' (expected per-bin, per-sound or none)");
}

template <class S>
class SpectralMlpEncoder {
 public:
  struct Config {
    Index nBins = 513, width = 256, nBlocks = 2, dOut = 128;
    bool logCompress = true;
    double logEps = 1e-5;
    SpectralInputNorm inputNorm = SpectralInputNorm::PerBin;
    bool finalNorm = false;
  };
  struct Cache {
    InputView<S> x;
    Mat<S> u;  // log(x + eps) (when logCompress)
    Mat<S> un;  // LayerNorm(u) (when inputNorm)
    typename LayerNorm<S>::Cache norm;
    typename BandStandardizer<S>::Cache std;
    typename ResMlp<S>::Cache mlp;
    mutable Mat<S> du, dun;
  };

  SpectralMlpEncoder() : SpectralMlpEncoder(Config{}) {}
  explicit SpectralMlpEncoder(const Config& cfg)
      : cfg_(cfg),
        inNorm_(cfg.nBins, false),
        binNorm_(cfg.nBins),
        mlp_(cfg.nBins, cfg.width, cfg.nBlocks, cfg.dOut, cfg.width, cfg.finalNorm) {
    require(cfg.logEps > 0, "SpectralMlpEncoder: logEps must be positive");
  }

  const Config& config() const { return cfg_; }
  Index inFeatures() const { return cfg_.nBins; }
  Index outFeatures() const { return cfg_.dOut; }
  Index numParams() const { return mlp_.numParams(); }
  void bind(ParamCursor<S>& c) { mlp_.bind(c); }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    mlp_.visitParams(prefix, f);
    if (cfg_.inputNorm == SpectralInputNorm::PerBin) binNorm_.visitParams(joinName(prefix, "input_norm"), f);
  }
  /// PerBin: the per-bin standardizer whose statistics (of u = log(spectrum + logEps)) the
  /// trainer sets; nullptr for the other normalizations.
  BandStandardizer<S>* inputStandardizer() {
    return cfg_.inputNorm == SpectralInputNorm::PerBin ? &binNorm_ : nullptr;
  }
  /// The encoder's compressed input u for a batch of spectra (what the per-bin statistics are of).
  void compressedInput(const CMatRef<S>& spectrum, Mat<S>& u) const {
    if (cfg_.logCompress)
      u = (spectrum.array() + S(cfg_.logEps)).log().matrix();
    else
      u = spectrum;
  }
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
    switch (cfg_.inputNorm) {
      case SpectralInputNorm::PerSound:
        inNorm_.forward(*u, c.un, c.norm);
        mlp_.forward(c.un, y, c.mlp);
        break;
      case SpectralInputNorm::PerBin:
        binNorm_.forward(*u, c.un, c.std);
        mlp_.forward(c.un, y, c.mlp);
        break;
      case SpectralInputNorm::None:
        mlp_.forward(*u, y, c.mlp);
        break;
    }
  }

  /// Parameter gradients and, when dx != nullptr, the gradient w.r.t. the spectrum.
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>* dx) const {
    if (cfg_.inputNorm != SpectralInputNorm::None) {
      mlp_.backward(c.mlp, dy, c.dun);
      if (!dx) return;  // no parameters below the ResMlp
      if (cfg_.inputNorm == SpectralInputNorm::PerSound)
        inNorm_.backward(c.norm, c.dun, c.du);
      else
        binNorm_.backward(c.std, c.dun, c.du);
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
  BandStandardizer<S> binNorm_;
  ResMlp<S> mlp_;
};

}  // namespace symflow::nn
