// symflow/audio/window.hpp - analysis windows, window padding, ms -> samples, and the
// element-wise kernels (xsimd) the STFT uses.
//
// Windows (n samples, i = 0 .. n-1; n == 1 gives [1]):
//   Hann,    periodic:  w[i] = 0.5 - 0.5 cos(2 pi i / n)        (scipy get_window("hann", n),
//            symmetric: w[i] = 0.5 - 0.5 cos(2 pi i / (n - 1))   fftbins=True is periodic)
//   Hamming, periodic:  w[i] = 0.54 - 0.46 cos(2 pi i / n)       (symmetric: n - 1 likewise)
//   Rectangular:        w[i] = 1
// padCenter(w, n): w placed in the middle of n zeros, left padding (n - len(w)) / 2 (integer
// division), as librosa.util.pad_center.
// msToSamples(sr, ms) = floor(sr * ms / 1000) (truncation: 5 ms at 44.1 kHz -> 220 samples).
#pragma once
#include <cmath>
#include <string>
#include <xsimd/xsimd.hpp>

#include "symflow/core/types.hpp"

namespace symflow::audio {

enum class WindowType { Hann, Hamming, Rectangular };

template <class S>
Vec<S> makeWindow(WindowType type, Index n, bool periodic = true) {
  require(n > 0, "makeWindow: length must be positive, got " + std::to_string(n));
  Vec<S> w(n);
  if (type == WindowType::Rectangular || n == 1) {
    w.setOnes();
    return w;
  }
  const double a0 = type == WindowType::Hann ? 0.5 : 0.54;
  const double denom = periodic ? double(n) : double(n - 1);
  const double twoPi = 6.283185307179586476925;
  for (Index i = 0; i < n; ++i) w[i] = S(a0 - (1.0 - a0) * std::cos(twoPi * double(i) / denom));
  return w;
}

/// Periodic Hann window of length n (the STFT default).
template <class S> Vec<S> hannWindow(Index n, bool periodic = true) {
  return makeWindow<S>(WindowType::Hann, n, periodic);
}

/// w centred in n samples of zeros (left padding (n - w.size()) / 2).
template <class S> Vec<S> padCenter(const Vec<S>& w, Index n) {
  require(w.size() <= n, "padCenter: window of length " + std::to_string(w.size()) +
                             " longer than the target " + std::to_string(n));
  Vec<S> out = Vec<S>::Zero(n);
  out.segment((n - w.size()) / 2, w.size()) = w;
  return out;
}

/// floor(sampleRate * ms / 1000), the paper's ms -> samples conversion (a tiny tolerance keeps
/// exact products such as 44100 * 50 / 1000 = 2205 from rounding down).
inline Index msToSamples(double sampleRate, double ms) {
  require(sampleRate > 0 && ms >= 0, "msToSamples: sample rate must be positive, ms >= 0");
  return Index(std::floor(sampleRate * ms / 1000.0 + 1e-9));
}

namespace detail {

/// out[i] = a[i] * b[i], i < n (xsimd main loop, scalar tail). Pointers may alias out == a.
template <class S> void multiply(const S* a, const S* b, S* out, Index n) {
  using B = xsimd::batch<S>;
  constexpr Index W = Index(B::size);
  Index i = 0;
  for (; i + W <= n; i += W)
    (xsimd::load_unaligned(a + i) * xsimd::load_unaligned(b + i)).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = a[i] * b[i];
}

/// out[k] = z[2k]^2 + z[2k+1]^2 for k < n: power of n interleaved complex values.
template <class S> void interleavedAbs2(const S* z, S* out, Index n) {
  for (Index k = 0; k < n; ++k) out[k] = z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1];
}

}  // namespace detail
}  // namespace symflow::audio
