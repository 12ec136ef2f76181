// symflow/audio/metrics.hpp - the paper's four audio metrics (MSS, wMFCC, SOT, RMS).
//
// Inputs:   a pair of signals a, b: L x C (samples x channels; a vector is mono, C = 1),
//           float or double, at the metric object's sample rate (44.1 kHz by default, the
//           paper's; any other rate works: every length below is given in ms and converted
//           with msToSamples, floor(sr * ms / 1000), which gives the paper's sample counts at
//           44.1 kHz). Batched versions take A, B: L x N (N mono sounds, one per column) and
//           return one value per column. Everything is computed in double.
// Spectra:  STFT with periodic Hann window = nFft, centred frames with nFft/2 zeros per side
//           (stft.hpp); mel: Slaney scale, area normalization, fmin 0, fmax sr/2, on the POWER
//           spectrum (mel.hpp).
// MSS  (lower is better): resolutions (nFft, hop, mels) = (10 ms, 5 ms, 32), (25 ms, 10 ms, 64),
//      (100 ms, 50 ms, 128) -> (441, 220, 32), (1102, 441, 64), (4410, 2205, 128) at 44.1 kHz.
//      dB = 10 log10(max(M, 1e-10)) - 10 log10(max(peak, 1e-10)), peak = the signal's maximum
//      mel power over all channels, bands and frames; floored at -80 dB. Per resolution, the
//      mean of |dB_a - dB_b| over channels, bands and frames; MSS = mean over the three.
// wMFCC (lower is better): nFft = window 50 ms, hop 10 ms (2205, 441), 128 mels, dB with ref 1
//      (amin 1e-10, floor 80 dB below the signal's maximum over all channels), orthonormal
//      DCT-II, first 20 coefficients (c0 kept, no liftering); the channels' MFCCs stacked per
//      frame (20 C values). Frame cost = mean |x_a - x_b| over the 20 C values; DTW with the
//      symmetric2 pattern (dtw.hpp), value D / (T_a + T_b). a and b may differ in length.
// SOT  (lower is better): channels averaged; MAGNITUDE spectrum, nFft = window 50 ms, hop 20 ms
//      (2205, 882); each frame p = |X| / max(sum |X|, 1e-6); per frame
//      sum_k |CDF_a[k] - CDF_b[k]| / nBins (CDF = cumulative sum over bins, nBins = nFft/2 + 1),
//      i.e. the 1-D Wasserstein-1 distance in units of bins divided by nBins; mean over frames.
// RMS  (HIGHER is better, 1 = identical shape): channels averaged; frames of 50 ms (2205),
//      hop 25 ms (1102), frame/2 (1102) zeros padded on each side, no window;
//      e_t = sqrt(mean over the frame of x^2); value = <e_a, e_b> / (|e_a| |e_b|), defined as
//      1 when both envelopes are all zero and 0 when exactly one is.
//      Frame size (docs/audio-metrics.md, issue 17): by default 50 / 25 ms AT THE METRIC'S RATE
//      (800 / 400 samples at 16 kHz), so that RMS measures the same time scale whatever the
//      rate; the authors' script hard-codes 2205 / 1102 samples (50 / 25 ms only at 44.1 kHz).
//      AudioMetricConfig::rmsFrameSamples / rmsHopSamples > 0 fix the sizes in samples instead;
//      authorsRmsFrames(cfg) sets the authors' 2205 / 1102 (`symflow eval --rms-frames authors`).
//      The two agree at 44.1 kHz and differ by up to ~0.04 at 16 kHz.
// MSS, SOT and RMS need equal shapes; wMFCC equal channel counts. Empty signals, mismatched
// shapes and sample rates too low for a frame throw symflow::Error.
// Not thread-safe (holds FFT plans and scratch): one AudioMetrics per thread.
#pragma once
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "symflow/audio/dtw.hpp"
#include "symflow/audio/mel.hpp"
#include "symflow/audio/mfcc.hpp"
#include "symflow/audio/stft.hpp"
#include "symflow/audio/window.hpp"
#include "symflow/core/types.hpp"

namespace symflow::audio {

struct AudioMetricConfig {
  struct Resolution {
    double nFftMs, hopMs;
    Index nMels;
  };
  std::array<Resolution, 3> mss{{{10.0, 5.0, 32}, {25.0, 10.0, 64}, {100.0, 50.0, 128}}};
  double mssFloorDb = 80.0;
  double wmfccNfftMs = 50.0, wmfccHopMs = 10.0;
  Index wmfccMels = 128, wmfccCoeffs = 20;
  double sotNfftMs = 50.0, sotHopMs = 20.0;
  double rmsFrameMs = 50.0, rmsHopMs = 25.0;
  /// When > 0: RMS frame and hop in samples whatever the rate (then rmsFrameMs/HopMs are unused).
  Index rmsFrameSamples = 0, rmsHopSamples = 0;
};

/// The authors' RMS frames: 2205 / 1102 samples at any rate (their script's constants).
inline AudioMetricConfig authorsRmsFrames(AudioMetricConfig cfg = {}) {
  cfg.rmsFrameSamples = 2205;
  cfg.rmsHopSamples = 1102;
  return cfg;
}

struct AudioMetricValues {
  double mss = 0, wmfcc = 0, sot = 0, rms = 0;
};

template <class Impl = Eigen::default_fft_impl<double>>
class AudioMetrics {
 public:
  explicit AudioMetrics(double sampleRate = 44100.0, const AudioMetricConfig& cfg = {})
      : sr_(checkedRate(sampleRate)),
        cfg_(cfg),
        mssMel_(makeMssMels(sampleRate, cfg)),
        mfcc_(makeMfcc(sampleRate, cfg)),
        sotStft_(StftConfig{samples(sampleRate, cfg.sotNfftMs, "SOT nFft"),
                            samples(sampleRate, cfg.sotHopMs, "SOT hop"), 0, true}),
        rmsFrame_(cfg.rmsFrameSamples > 0 ? cfg.rmsFrameSamples : samples(sampleRate, cfg.rmsFrameMs, "RMS frame")),
        rmsHop_(cfg.rmsHopSamples > 0 ? cfg.rmsHopSamples : samples(sampleRate, cfg.rmsHopMs, "RMS hop")) {
    require(cfg.rmsFrameSamples >= 0 && cfg.rmsHopSamples >= 0 &&
                (cfg.rmsFrameSamples > 0) == (cfg.rmsHopSamples > 0),
            "AudioMetrics: rmsFrameSamples and rmsHopSamples must both be set (> 0) or both be 0");
  }
  /// RMS frame and hop in samples (from the config: ms at this rate, or samples).
  Index rmsFrameSamples() const { return rmsFrame_; }
  Index rmsHopSamples() const { return rmsHop_; }

  double sampleRate() const { return sr_; }
  const AudioMetricConfig& config() const { return cfg_; }

  // ---- pairs: a, b are L x C (samples x channels) ----
  double mss(const CMatRef<double>& a, const CMatRef<double>& b) {
    checkSame(a, b, "mss");
    double total = 0;
    for (auto& mel : mssMel_) {
      melDb(mel, a, specA_);
      melDb(mel, b, specB_);
      total += (specA_ - specB_).cwiseAbs().mean();
    }
    return total / double(mssMel_.size());
  }
  double wmfcc(const CMatRef<double>& a, const CMatRef<double>& b) {
    checkNonEmpty(a, "wmfcc");
    checkNonEmpty(b, "wmfcc");
    require(a.cols() == b.cols(), "wmfcc: signals have " + std::to_string(a.cols()) + " and " +
                                      std::to_string(b.cols()) + " channels");
    stackedMfcc(a, featA_);
    stackedMfcc(b, featB_);
    return dtwMeanAbs<double>(featA_, featB_);
  }
  double sot(const CMatRef<double>& a, const CMatRef<double>& b) {
    checkSame(a, b, "sot");
    monoA_ = a.rowwise().mean();
    monoB_ = b.rowwise().mean();
    return sotMono();
  }
  double rms(const CMatRef<double>& a, const CMatRef<double>& b) {
    checkSame(a, b, "rms");
    monoA_ = a.rowwise().mean();
    monoB_ = b.rowwise().mean();
    return rmsMono();
  }
  AudioMetricValues evaluate(const CMatRef<double>& a, const CMatRef<double>& b) {
    return {mss(a, b), wmfcc(a, b), sot(a, b), rms(a, b)};
  }

  double mss(const CMatRef<float>& a, const CMatRef<float>& b) {
    return mss(CMatRef<double>(a.cast<double>()), CMatRef<double>(b.cast<double>()));
  }
  double wmfcc(const CMatRef<float>& a, const CMatRef<float>& b) {
    return wmfcc(CMatRef<double>(a.cast<double>()), CMatRef<double>(b.cast<double>()));
  }
  double sot(const CMatRef<float>& a, const CMatRef<float>& b) {
    return sot(CMatRef<double>(a.cast<double>()), CMatRef<double>(b.cast<double>()));
  }
  double rms(const CMatRef<float>& a, const CMatRef<float>& b) {
    return rms(CMatRef<double>(a.cast<double>()), CMatRef<double>(b.cast<double>()));
  }
  AudioMetricValues evaluate(const CMatRef<float>& a, const CMatRef<float>& b) {
    const Mat<double> ad = a.cast<double>(), bd = b.cast<double>();
    return evaluate(CMatRef<double>(ad), CMatRef<double>(bd));
  }

  // ---- batches: A, B are L x N, one mono sound per column; one value per column ----
  Vec<double> mssBatch(const CMatRef<double>& A, const CMatRef<double>& B) { return batch(A, B, kMss); }
  Vec<double> mssBatch(const CMatRef<float>& A, const CMatRef<float>& B) { return batch(A, B, kMss); }
  Vec<double> wmfccBatch(const CMatRef<double>& A, const CMatRef<double>& B) { return batch(A, B, kWmfcc); }
  Vec<double> wmfccBatch(const CMatRef<float>& A, const CMatRef<float>& B) { return batch(A, B, kWmfcc); }
  Vec<double> sotBatch(const CMatRef<double>& A, const CMatRef<double>& B) { return batch(A, B, kSot); }
  Vec<double> sotBatch(const CMatRef<float>& A, const CMatRef<float>& B) { return batch(A, B, kSot); }
  Vec<double> rmsBatch(const CMatRef<double>& A, const CMatRef<double>& B) { return batch(A, B, kRms); }
  Vec<double> rmsBatch(const CMatRef<float>& A, const CMatRef<float>& B) { return batch(A, B, kRms); }
  /// All four per column: 4 x N, rows (mss, wmfcc, sot, rms).
  Mat<double> evaluateBatch(const CMatRef<double>& A, const CMatRef<double>& B) { return batchAll(A, B); }
  Mat<double> evaluateBatch(const CMatRef<float>& A, const CMatRef<float>& B) { return batchAll(A, B); }

  // ---- building blocks, exposed for tests and tools ----
  /// The MSS dB mel spectrogram of one signal at resolution r: nMels x (C*T).
  void mssSpectrogram(Index r, const CMatRef<double>& x, Mat<double>& out) {
    require(r >= 0 && r < Index(mssMel_.size()), "mssSpectrogram: resolution index out of range");
    checkNonEmpty(x, "mssSpectrogram");
    melDb(mssMel_[size_t(r)], x, out);
  }
  /// The wMFCC features of one signal: (nCoeffs * C) x T, channels stacked per frame.
  void wmfccFeatures(const CMatRef<double>& x, Mat<double>& out) {
    checkNonEmpty(x, "wmfccFeatures");
    stackedMfcc(x, out);
  }
  /// The frame RMS envelope of a mono signal.
  Vec<double> rmsEnvelope(const Eigen::Ref<const Vec<double>>& x) const {
    require(x.size() > 0, "rmsEnvelope: empty signal");
    const Index pad = rmsFrame_ / 2;
    const Index T = 1 + (x.size() + 2 * pad - rmsFrame_) / rmsHop_;
    Vec<double> e(T);
    for (Index t = 0; t < T; ++t) {
      const Index s = t * rmsHop_ - pad;
      const Index lo = std::max<Index>(0, s), hi = std::min<Index>(x.size(), s + rmsFrame_);
      const double energy = hi > lo ? x.segment(lo, hi - lo).squaredNorm() : 0.0;
      e[t] = std::sqrt(energy / double(rmsFrame_));
    }
    return e;
  }

 private:
  static double checkedRate(double sr) {
    require(sr > 0 && std::isfinite(sr), "AudioMetrics: sample rate must be positive");
    return sr;
  }
  static Index samples(double sr, double ms, const char* what) {
    const Index n = msToSamples(sr, ms);
    require(n > 0, std::string("AudioMetrics: ") + what + " of " + std::to_string(ms) +
                       " ms is zero samples at " + std::to_string(sr) + " Hz");
    return n;
  }
  static std::vector<MelSpectrogram<double, Impl>> makeMssMels(double sr,
                                                               const AudioMetricConfig& c) {
    checkedRate(sr);
    std::vector<MelSpectrogram<double, Impl>> v;
    for (const auto& r : c.mss) {
      MelConfig m;
      m.sampleRate = sr;
      m.nFft = samples(sr, r.nFftMs, "MSS nFft");
      m.hop = samples(sr, r.hopMs, "MSS hop");
      m.nMels = r.nMels;
      v.emplace_back(m);
    }
    return v;
  }
  static MfccConfig makeMfcc(double sr, const AudioMetricConfig& c) {
    MfccConfig m;
    m.mel.sampleRate = sr;
    m.mel.nFft = samples(sr, c.wmfccNfftMs, "wMFCC nFft");
    m.mel.hop = samples(sr, c.wmfccHopMs, "wMFCC hop");
    m.mel.nMels = c.wmfccMels;
    m.nMfcc = c.wmfccCoeffs;
    m.db = DbConfig{1.0, false, 1e-10, 80.0};
    return m;
  }
  static void checkNonEmpty(const CMatRef<double>& x, const char* what) {
    require(x.rows() > 0 && x.cols() > 0, std::string(what) + ": empty signal");
  }
  static void checkSame(const CMatRef<double>& a, const CMatRef<double>& b, const char* what) {
    checkNonEmpty(a, what);
    checkNonEmpty(b, what);
    require(a.rows() == b.rows() && a.cols() == b.cols(),
            std::string(what) + ": signals have shapes " + std::to_string(a.rows()) + "x" +
                std::to_string(a.cols()) + " and " + std::to_string(b.rows()) + "x" +
                std::to_string(b.cols()) + " (samples x channels), expected equal");
  }
  template <class S>
  static void checkBatch(const CMatRef<S>& A, const CMatRef<S>& B, const char* what) {
    require(A.rows() > 0 && A.cols() > 0, std::string(what) + ": empty batch");
    require(A.rows() == B.rows() && A.cols() == B.cols(),
            std::string(what) + ": batches have shapes " + std::to_string(A.rows()) + "x" +
                std::to_string(A.cols()) + " and " + std::to_string(B.rows()) + "x" +
                std::to_string(B.cols()) + ", expected equal");
  }
  enum Which { kMss, kWmfcc, kSot, kRms };
  template <class S> Vec<double> batch(const CMatRef<S>& A, const CMatRef<S>& B, Which which) {
    static const char* names[] = {"mssBatch", "wmfccBatch", "sotBatch", "rmsBatch"};
    checkBatch(A, B, names[which]);
    Vec<double> out(A.cols());
    for (Index j = 0; j < A.cols(); ++j) {
      colA_ = A.col(j).template cast<double>();
      colB_ = B.col(j).template cast<double>();
      const CMatRef<double> a(colA_), b(colB_);
      switch (which) {
        case kMss: out[j] = mss(a, b); break;
        case kWmfcc: out[j] = wmfcc(a, b); break;
        case kSot: out[j] = sot(a, b); break;
        case kRms: out[j] = rms(a, b); break;
      }
    }
    return out;
  }
  template <class S> Mat<double> batchAll(const CMatRef<S>& A, const CMatRef<S>& B) {
    checkBatch(A, B, "evaluateBatch");
    Mat<double> out(4, A.cols());
    for (Index j = 0; j < A.cols(); ++j) {
      colA_ = A.col(j).template cast<double>();
      colB_ = B.col(j).template cast<double>();
      const AudioMetricValues v = evaluate(CMatRef<double>(colA_), CMatRef<double>(colB_));
      out.col(j) << v.mss, v.wmfcc, v.sot, v.rms;
    }
    return out;
  }

  void melDb(MelSpectrogram<double, Impl>& mel, const CMatRef<double>& x, Mat<double>& out) {
    mel.power(x, out);
    powerToDbInPlace<double>(out, DbConfig{1.0, true, 1e-10, cfg_.mssFloorDb});
  }
  void stackedMfcc(const CMatRef<double>& x, Mat<double>& out) {
    mfcc_.compute(x, mfccScratch_, x.cols());
    const Index C = x.cols(), T = mfcc_.numFrames(x.rows()), nc = mfcc_.nMfcc();
    out.resize(nc * C, T);
    for (Index c = 0; c < C; ++c) out.middleRows(c * nc, nc) = mfccScratch_.middleCols(c * T, T);
  }
  double sotMono() {
    sotStft_.magnitude(monoA_, specA_);
    sotStft_.magnitude(monoB_, specB_);
    const Index nb = specA_.rows(), T = specA_.cols();
    double total = 0;
    for (Index t = 0; t < T; ++t) {
      const double sa = std::max(specA_.col(t).sum(), 1e-6);
      const double sb = std::max(specB_.col(t).sum(), 1e-6);
      double cdfA = 0, cdfB = 0, w = 0;
      for (Index k = 0; k < nb; ++k) {
        cdfA += specA_(k, t) / sa;
        cdfB += specB_(k, t) / sb;
        w += std::abs(cdfA - cdfB);
      }
      total += w / double(nb);
    }
    return total / double(T);
  }
  double rmsMono() {
    const Vec<double> ea = rmsEnvelope(monoA_), eb = rmsEnvelope(monoB_);
    const double na = ea.norm(), nb = eb.norm();
    if (na == 0 && nb == 0) return 1.0;
    if (na == 0 || nb == 0) return 0.0;
    return ea.dot(eb) / (na * nb);
  }

  double sr_;
  AudioMetricConfig cfg_;
  std::vector<MelSpectrogram<double, Impl>> mssMel_;
  Mfcc<double, Impl> mfcc_;
  Stft<double, Impl> sotStft_;
  Index rmsFrame_, rmsHop_;
  // scratch
  Mat<double> specA_, specB_, featA_, featB_, mfccScratch_;
  Vec<double> monoA_, monoB_, colA_, colB_;
};

}  // namespace symflow::audio
