// symflow/audio/mfcc.hpp - orthonormal DCT-II and batched MFCCs.
//
// DCT-II, orthonormal (scipy.fft.dct(type=2, norm="ortho")), first nOut of n coefficients:
//   D[k, j] = s_k cos(pi k (2j + 1) / (2n)),  s_0 = sqrt(1/n),  s_k = sqrt(2/n) for k > 0;
//   the full n x n matrix is orthogonal (D D^T = I), its first nOut rows are returned.
// MFCC (librosa.feature.mfcc defaults, no liftering, c0 kept):
//   signals L x K  ->  mel power (mel.hpp)  ->  dB with ref 1, amin 1e-10, topDb 80 (the
//   topDb floor taken over each group of `channelsPerSound` consecutive columns, i.e. over all
//   channels of one sound)  ->  C = D dB, one GEMM:  out nMfcc x (K*T), frames of a column
//   contiguous as in the STFT.
#pragma once
#include <cmath>
#include <string>

#include "symflow/audio/mel.hpp"
#include "symflow/core/types.hpp"

namespace symflow::audio {

/// First nOut rows of the n x n orthonormal DCT-II matrix.
template <class S> Mat<S> dctMatrix(Index nOut, Index n) {
  require(n > 0 && nOut > 0 && nOut <= n,
          "dctMatrix: need 0 < nOut <= n, got nOut = " + std::to_string(nOut) + ", n = " +
              std::to_string(n));
  const double pi = 3.141592653589793238462643;
  Mat<double> D(nOut, n);
  for (Index k = 0; k < nOut; ++k) {
    const double s = std::sqrt((k == 0 ? 1.0 : 2.0) / double(n));
    for (Index j = 0; j < n; ++j) D(k, j) = s * std::cos(pi * double(k) * double(2 * j + 1) / double(2 * n));
  }
  return D.cast<S>();
}

struct MfccConfig {
  MelConfig mel;        ///< STFT and mel settings
  Index nMfcc = 20;     ///< coefficients kept (c0 included)
  DbConfig db{};        ///< ref 1, amin 1e-10, topDb 80 by default
};

template <class S, class Impl = Eigen::default_fft_impl<S>>
class Mfcc {
 public:
  explicit Mfcc(const MfccConfig& c)
      : cfg_(c), mel_(c.mel), dct_(dctMatrix<S>(c.nMfcc, c.mel.nMels)) {}

  const MfccConfig& config() const { return cfg_; }
  Index nMfcc() const { return cfg_.nMfcc; }
  Index numFrames(Index numSamples) const { return mel_.numFrames(numSamples); }
  const Mat<S>& dct() const { return dct_; }
  MelSpectrogram<S, Impl>& mel() { return mel_; }

  /// signals L x K (K = sounds * channelsPerSound, channels of a sound adjacent)
  /// -> out nMfcc x (K*T).
  void compute(const CMatRef<S>& signals, Mat<S>& out, Index channelsPerSound = 1) {
    require(channelsPerSound > 0 && signals.cols() % channelsPerSound == 0,
            "Mfcc: the number of columns is not a multiple of channelsPerSound");
    mel_.power(signals, melDb_);
    const Index T = mel_.numFrames(signals.rows());
    const Index group = T * channelsPerSound;
    for (Index g = 0; g < melDb_.cols(); g += group)
      powerToDbInPlace<S>(melDb_.middleCols(g, group), cfg_.db);
    out.resize(dct_.rows(), melDb_.cols());
    out.noalias() = dct_ * melDb_;
  }

 private:
  MfccConfig cfg_;
  MelSpectrogram<S, Impl> mel_;
  Mat<S> dct_;
  Mat<S> melDb_;  // scratch: mel power, then dB
};

}  // namespace symflow::audio
