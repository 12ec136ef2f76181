// symflow/audio/stft.hpp - batched short-time Fourier transform.
//
// Shapes:   signals: L x K (one signal or channel per column)
//           ->  spectra: bins x (K * T), bins = nFft/2 + 1, the T frames of column c in output
//               columns [c*T, (c+1)*T) (frames of one signal contiguous, design.md layout).
// Frames:   centre = true (default): the signal is padded with nFft/2 (integer division) ZEROS
//           on each side and frame t covers padded samples [t*hop, t*hop + nFft), i.e. it is
//           centred on sample t*hop;  T = 1 + (L + 2*(nFft/2) - nFft) / hop.
//           centre = false: frame t covers [t*hop, t*hop + nFft); T = 1 + (L - nFft) / hop
//           (needs L >= nFft).  Same conventions as librosa.stft(center=True, pad_mode="constant").
// Window:   periodic Hann of winLength (default nFft) samples, zero-padded to nFft in the
//           middle (padCenter); any other window may be passed instead.
// Formula:  X[k, t] = sum_{i<nFft} w[i] xpad[t*hop + i] exp(-2 pi i k i / nFft) (RealFft),
//           bin k at frequency k * sampleRate / nFft; power = |X|^2, magnitude = |X|.
// Odd nFft is allowed. Not thread-safe (owns an FFT plan and buffers): one Stft per thread.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>

#include "symflow/audio/fft.hpp"
#include "symflow/audio/window.hpp"
#include "symflow/core/types.hpp"

namespace symflow::audio {

struct StftConfig {
  Index nFft = 2048;
  Index hop = 512;
  Index winLength = 0;  ///< 0 means nFft
  bool center = true;
};

template <class S, class Impl = Eigen::default_fft_impl<S>>
class Stft {
 public:
  enum class Output { Power, Magnitude };

  explicit Stft(const StftConfig& cfg) : Stft(cfg, makeDefaultWindow(cfg)) {}
  Stft(Index nFft, Index hop, Index winLength = 0, bool center = true)
      : Stft(StftConfig{nFft, hop, winLength, center}) {}
  /// With an explicit window of nFft samples (already padded).
  Stft(const StftConfig& cfg, const Vec<S>& window)
      : cfg_(cfg), window_(window), fft_(checkedSize(cfg)) {
    require(cfg.hop > 0, "Stft: hop must be positive, got " + std::to_string(cfg.hop));
    require(window.size() == cfg.nFft, "Stft: window has " + std::to_string(window.size()) +
                                           " samples, expected nFft = " + std::to_string(cfg.nFft));
  }

  const StftConfig& config() const { return cfg_; }
  Index nFft() const { return cfg_.nFft; }
  Index hop() const { return cfg_.hop; }
  Index bins() const { return cfg_.nFft / 2 + 1; }
  const Vec<S>& window() const { return window_; }

  /// Number of frames for a signal of numSamples samples (throws if there are none).
  Index numFrames(Index numSamples) const {
    require(numSamples > 0, "Stft: empty signal");
    if (cfg_.center) return 1 + (numSamples + 2 * (cfg_.nFft / 2) - cfg_.nFft) / cfg_.hop;
    require(numSamples >= cfg_.nFft, "Stft: signal of " + std::to_string(numSamples) +
                                         " samples shorter than nFft = " + std::to_string(cfg_.nFft) +
                                         " with center = false");
    return 1 + (numSamples - cfg_.nFft) / cfg_.hop;
  }

  /// Power spectrogram |X|^2: bins x (K*T).
  void power(const CMatRef<S>& signals, Mat<S>& out) { run(signals, out, Output::Power); }
  /// Magnitude spectrogram |X|: bins x (K*T).
  void magnitude(const CMatRef<S>& signals, Mat<S>& out) { run(signals, out, Output::Magnitude); }
  /// Complex spectrogram X: bins x (K*T).
  void complexSpectrum(const CMatRef<S>& signals, CMat<S>& out) {
    const Index T = numFrames(signals.rows());
    out.resize(bins(), signals.cols() * T);
    for (Index c = 0; c < signals.cols(); ++c)
      for (Index t = 0; t < T; ++t) {
        transformFrame(signals.col(c).data(), signals.rows(), t);
        out.col(c * T + t) = Eigen::Map<const CVec<S>>(fft_.output(), bins());
      }
  }

 private:
  static Vec<S> makeDefaultWindow(const StftConfig& cfg) {
    const Index n = checkedSize(cfg);
    const Index wl = cfg.winLength == 0 ? n : cfg.winLength;
    require(wl > 0 && wl <= n, "Stft: winLength must be in 1..nFft, got " + std::to_string(wl));
    return padCenter<S>(hannWindow<S>(wl, true), n);
  }
  static Index checkedSize(const StftConfig& cfg) {
    require(cfg.nFft > 0, "Stft: nFft must be positive, got " + std::to_string(cfg.nFft));
    return cfg.nFft;
  }

  void run(const CMatRef<S>& signals, Mat<S>& out, Output what) {
    const Index T = numFrames(signals.rows());
    const Index nb = bins();
    out.resize(nb, signals.cols() * T);
    for (Index c = 0; c < signals.cols(); ++c)
      for (Index t = 0; t < T; ++t) {
        transformFrame(signals.col(c).data(), signals.rows(), t);
        S* dst = out.col(c * T + t).data();
        detail::interleavedAbs2(reinterpret_cast<const S*>(fft_.output()), dst, nb);
        if (what == Output::Magnitude) {
          auto col = out.col(c * T + t);
          col = col.cwiseSqrt();
        }
      }
  }

  /// Windowed frame t of signal x (length L) into the FFT input, then the FFT.
  void transformFrame(const S* x, Index L, Index t) {
    const Index n = cfg_.nFft;
    const Index start = t * cfg_.hop - (cfg_.center ? n / 2 : 0);  // first sample, may be < 0
    const Index lo = std::max<Index>(0, -start);                  // first in-range frame index
    const Index hi = std::min<Index>(n, L - start);               // one past the last
    S* buf = fft_.input();
    if (hi <= lo) {
      std::fill(buf, buf + n, S(0));
    } else {
      std::fill(buf, buf + lo, S(0));
      detail::multiply(x + start + lo, window_.data() + lo, buf + lo, hi - lo);
      std::fill(buf + hi, buf + n, S(0));
    }
    fft_.execute();
  }

  StftConfig cfg_;
  Vec<S> window_;
  RealFft<S, Impl> fft_;
};

}  // namespace symflow::audio
