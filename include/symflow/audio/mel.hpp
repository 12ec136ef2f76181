// symflow/audio/mel.hpp - mel scale, mel filterbank, power -> dB, batched mel spectrogram.
//
// Mel scale (default Slaney, as librosa's htk=False; Auditory Toolbox):
//   mel(f) = f / (200/3)                                    for f <  1000 Hz,
//   mel(f) = 15 + ln(f / 1000) / (ln(6.4) / 27)             for f >= 1000 Hz.
//   Htk:  mel(f) = 2595 log10(1 + f / 700).
// Filterbank (librosa.filters.mel):  nMels + 2 points f_0 .. f_{nMels+1} equally spaced in mel
//   between fmin (default 0) and fmax (default sr/2); FFT bin k at f = k sr / nFft,
//   k = 0 .. nFft/2; row m is the triangle rising from f_m to f_{m+1}, falling to f_{m+2}:
//     W[m, k] = max(0, min((f - f_m) / (f_{m+1} - f_m), (f_{m+2} - f) / (f_{m+2} - f_{m+1}))).
//   Slaney ("area") normalization multiplies row m by 2 / (f_{m+2} - f_m): the triangle's peak
//   becomes 2 / (f_{m+2} - f_m), so its area over frequency, (f_{m+2} - f_m)/2 * peak, is 1
//   (the row's sum times the bin spacing sr / nFft approximates 1). MelNorm::None keeps peak 1.
//   Shape nMels x (nFft/2 + 1), computed in double.
// Mel spectrogram:  M = W P,  P the POWER spectrogram (Stft::power), one GEMM over all
//   frames of all signals: signals L x K -> M nMels x (K*T) (frames of a signal contiguous).
// dB (librosa.power_to_db):  dB = 10 log10(max(amin, x)) - 10 log10(max(amin, ref)),
//   then, when topDb >= 0, dB = max(dB, max over the block of dB - topDb); ref is either a
//   fixed value or the block's own maximum (refIsPeak, librosa's ref=np.max).
#pragma once
#include <algorithm>
#include <cmath>
#include <string>

#include "symflow/audio/stft.hpp"
#include "symflow/core/types.hpp"

namespace symflow::audio {

enum class MelScale { Slaney, Htk };
enum class MelNorm { Slaney, None };

inline double hzToMel(double hz, MelScale scale = MelScale::Slaney) {
  if (scale == MelScale::Htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  const double fsp = 200.0 / 3.0, minLogHz = 1000.0, minLogMel = minLogHz / fsp;
  const double logStep = std::log(6.4) / 27.0;
  return hz >= minLogHz ? minLogMel + std::log(hz / minLogHz) / logStep : hz / fsp;
}

inline double melToHz(double mel, MelScale scale = MelScale::Slaney) {
  if (scale == MelScale::Htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  const double fsp = 200.0 / 3.0, minLogHz = 1000.0, minLogMel = minLogHz / fsp;
  const double logStep = std::log(6.4) / 27.0;
  return mel >= minLogMel ? minLogHz * std::exp(logStep * (mel - minLogMel)) : mel * fsp;
}

/// n frequencies (Hz) equally spaced on the mel scale from fmin to fmax (librosa.mel_frequencies).
inline Vec<double> melFrequencies(Index n, double fmin, double fmax,
                                  MelScale scale = MelScale::Slaney) {
  require(n >= 2, "melFrequencies: need at least 2 points");
  require(fmin >= 0 && fmax > fmin, "melFrequencies: need 0 <= fmin < fmax");
  const double lo = hzToMel(fmin, scale), hi = hzToMel(fmax, scale);
  Vec<double> f(n);
  for (Index i = 0; i < n; ++i) f[i] = melToHz(lo + (hi - lo) * double(i) / double(n - 1), scale);
  return f;
}

struct MelFilterbankConfig {
  double sampleRate = 44100.0;
  Index nFft = 2048;
  Index nMels = 128;
  double fmin = 0.0;
  double fmax = -1.0;  ///< < 0 means sampleRate / 2
  MelScale scale = MelScale::Slaney;
  MelNorm norm = MelNorm::Slaney;
};

/// nMels x (nFft/2 + 1) mel filterbank (see the header comment), cast to S at the end.
template <class S> Mat<S> melFilterbank(const MelFilterbankConfig& c) {
  require(c.sampleRate > 0, "melFilterbank: sample rate must be positive");
  require(c.nFft > 0, "melFilterbank: nFft must be positive, got " + std::to_string(c.nFft));
  require(c.nMels > 0, "melFilterbank: nMels must be positive, got " + std::to_string(c.nMels));
  const double fmax = c.fmax < 0 ? c.sampleRate / 2 : c.fmax;
  const Index nb = c.nFft / 2 + 1;
  const Vec<double> fm = melFrequencies(c.nMels + 2, c.fmin, fmax, c.scale);
  Mat<double> W(c.nMels, nb);
  for (Index m = 0; m < c.nMels; ++m) {
    const double lowWidth = fm[m + 1] - fm[m], highWidth = fm[m + 2] - fm[m + 1];
    const double scale = c.norm == MelNorm::Slaney ? 2.0 / (fm[m + 2] - fm[m]) : 1.0;
    for (Index k = 0; k < nb; ++k) {
      const double f = double(k) * c.sampleRate / double(c.nFft);
      const double rise = (f - fm[m]) / lowWidth, fall = (fm[m + 2] - f) / highWidth;
      W(m, k) = scale * std::max(0.0, std::min(rise, fall));
    }
  }
  return W.cast<S>();
}
template <class S>
Mat<S> melFilterbank(double sampleRate, Index nFft, Index nMels, double fmin = 0.0,
                     double fmax = -1.0) {
  return melFilterbank<S>(MelFilterbankConfig{sampleRate, nFft, nMels, fmin, fmax});
}

struct DbConfig {
  double ref = 1.0;
  bool refIsPeak = false;  ///< true: ref = the block's own maximum (librosa ref=np.max)
  double amin = 1e-10;
  double topDb = 80.0;  ///< < 0: no floor
};

/// In-place power -> dB over one block (all of x is one "signal" for the peak and topDb).
template <class S> void powerToDbInPlace(MatRef<S> x, const DbConfig& c) {
  require(c.amin > 0, "powerToDb: amin must be positive");
  require(x.size() > 0, "powerToDb: empty input");
  const double ref = c.refIsPeak ? double(x.maxCoeff()) : c.ref;
  const S offset = S(10.0 * std::log10(std::max(c.amin, ref)));
  x = (x.array().max(S(c.amin)).log10() * S(10) - offset).matrix();
  if (c.topDb >= 0) {
    const S floor = x.maxCoeff() - S(c.topDb);
    x = x.array().max(floor).matrix();
  }
}

struct MelConfig {
  double sampleRate = 44100.0;
  Index nFft = 2048;
  Index hop = 512;
  Index winLength = 0;  ///< 0 means nFft
  Index nMels = 128;
  double fmin = 0.0;
  double fmax = -1.0;  ///< < 0 means sampleRate / 2
  bool center = true;
  MelScale scale = MelScale::Slaney;
  MelNorm norm = MelNorm::Slaney;
};

/// Batched mel power spectrogram: signals L x K -> nMels x (K*T). Holds the STFT plan and
/// the filterbank (built once). Not thread-safe: one object per thread.
template <class S, class Impl = Eigen::default_fft_impl<S>>
class MelSpectrogram {
 public:
  explicit MelSpectrogram(const MelConfig& c)
      : cfg_(c),
        stft_(StftConfig{c.nFft, c.hop, c.winLength, c.center}),
        fb_(melFilterbank<S>(
            MelFilterbankConfig{c.sampleRate, c.nFft, c.nMels, c.fmin, c.fmax, c.scale, c.norm})) {}

  const MelConfig& config() const { return cfg_; }
  Index nMels() const { return cfg_.nMels; }
  Index numFrames(Index numSamples) const { return stft_.numFrames(numSamples); }
  const Mat<S>& filterbank() const { return fb_; }
  Stft<S, Impl>& stft() { return stft_; }

  /// Mel power: out = W |STFT|^2, nMels x (K*T).
  void power(const CMatRef<S>& signals, Mat<S>& out) {
    stft_.power(signals, spec_);
    out.resize(fb_.rows(), spec_.cols());
    out.noalias() = fb_ * spec_;
  }

 private:
  MelConfig cfg_;
  Stft<S, Impl> stft_;
  Mat<S> fb_;
  Mat<S> spec_;  // scratch: power spectrogram
};

}  // namespace symflow::audio
