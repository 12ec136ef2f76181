// symflow/audio/fft.hpp - real-input FFT, batched over columns (a library call, not hand-written).
//
// Shapes:   x: n x K real (one length-n frame per column)  ->  X: (n/2 + 1) x K complex
// Formula:  X[k] = sum_{t=0}^{n-1} x[t] exp(-2 pi i k t / n),  k = 0 .. n/2 (integer division),
//           unscaled (no 1/n), the non-redundant half of the spectrum; any n >= 1 (odd too).
//           Bin k is the frequency k * sampleRate / n.
// Backend:  Eigen's unsupported FFT module (<unsupported/Eigen/FFT>), which ships kissfft.
//           Define SYMFLOW_USE_FFTW before including this header (or on the command line) to
//           make FFTW3 Eigen's backend (EIGEN_FFTW_DEFAULT); then link fftw3f (float) and
//           fftw3 (double). The macro must be seen before the first <unsupported/Eigen/FFT>
//           include of the translation unit: this header refuses to compile otherwise.
//           A backend can also be chosen per object through the Impl template argument
//           (e.g. Eigen::internal::fftw_impl<S> when <fftw3.h> and ei_fftw_impl.h are included).
// Plans:    made once, in the constructor, for size n (twiddles/factorization for kissfft, an
//           FFTW_ESTIMATE plan for FFTW) on the object's own aligned buffers, which every
//           transform then reuses. Copies make their own plan. Size 1 is the identity and
//           bypasses the library (kissfft crashes on it).
// Threads:  a RealFft holds mutable work buffers (and kissfft holds scratch inside Eigen's
//           FFT object): use one object per thread (copies are cheap and independent).
#pragma once
#if defined(SYMFLOW_USE_FFTW) && !defined(EIGEN_FFTW_DEFAULT)
#define EIGEN_FFTW_DEFAULT
#endif
#include <complex>
#include <memory>
#include <string>
#include <unsupported/Eigen/FFT>

#if defined(SYMFLOW_USE_FFTW) && !defined(FFTW_FORWARD)
#error "symflow/audio/fft.hpp: SYMFLOW_USE_FFTW is defined but <unsupported/Eigen/FFT> was already included without EIGEN_FFTW_DEFAULT; define SYMFLOW_USE_FFTW before any Eigen FFT include"
#endif

#include "symflow/core/types.hpp"

namespace symflow::audio {

/// Name of the FFT backend that RealFft<S> uses by default in this translation unit.
inline const char* defaultFftBackend() {
#ifdef EIGEN_FFTW_DEFAULT
  return "fftw3";
#else
  return "kissfft";
#endif
}

template <class S> using CVec = Eigen::Matrix<std::complex<S>, Eigen::Dynamic, 1>;
template <class S> using CMat = Eigen::Matrix<std::complex<S>, Eigen::Dynamic, Eigen::Dynamic>;

template <class S, class Impl = Eigen::default_fft_impl<S>>
class RealFft {
 public:
  using Complex = std::complex<S>;
  using Engine = Eigen::FFT<S, Impl>;

  explicit RealFft(Index n) : n_(n) {
    require(n > 0, "RealFft: size must be positive, got " + std::to_string(n));
    require(n <= Index(1) << 30, "RealFft: size too large");
    plan();
  }
  RealFft(const RealFft& o) : n_(o.n_) { plan(); }
  RealFft& operator=(const RealFft& o) {
    if (this != &o) {
      n_ = o.n_;
      plan();
    }
    return *this;
  }
  RealFft(RealFft&&) noexcept = default;
  RealFft& operator=(RealFft&&) noexcept = default;

  Index size() const { return n_; }
  /// Number of output bins, n/2 + 1.
  Index bins() const { return n_ / 2 + 1; }

  /// Low-level use without copies: write n samples into input(), call execute(), read the
  /// bins() values of output(). Both buffers belong to this object (aligned, reused).
  S* input() { return in_.data(); }
  const Complex* output() const { return out_.data(); }
  void execute() {
    if (n_ == 1)
      out_[0] = Complex(in_[0], S(0));  // kissfft cannot plan size 1 (it crashes)
    else
      engine_->fwd(out_.data(), in_.data(), n_);
  }

  /// Batched transform: x is n x K, X becomes bins() x K.
  void forward(const CMatRef<S>& x, CMat<S>& X) {
    checkRows(x);
    X.resize(bins(), x.cols());
    for (Index j = 0; j < x.cols(); ++j) {
      in_ = x.col(j);
      execute();
      X.col(j) = out_;
    }
  }
  /// Batched power spectrum |X|^2: x is n x K, P becomes bins() x K.
  void power(const CMatRef<S>& x, Mat<S>& P) {
    checkRows(x);
    P.resize(bins(), x.cols());
    for (Index j = 0; j < x.cols(); ++j) {
      in_ = x.col(j);
      execute();
      powerOfOutput(P.col(j).data());
    }
  }
  /// Writes |output()[k]|^2 for k < bins() into dst.
  void powerOfOutput(S* dst) const {
    const S* z = reinterpret_cast<const S*>(out_.data());  // interleaved re, im
    const Index nb = bins();
    for (Index k = 0; k < nb; ++k) dst[k] = z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1];
  }

 private:
  void checkRows(const CMatRef<S>& x) const {
    require(x.rows() == n_, "RealFft: input has " + std::to_string(x.rows()) +
                                " rows, expected the transform size " + std::to_string(n_));
  }
  void plan() {
    engine_ = std::make_unique<Engine>();
    engine_->SetFlag(Engine::HalfSpectrum);
    in_.setZero(n_);
    out_.setZero(bins());
    execute();  // builds and caches the plan for size n on these buffers
  }

  Index n_ = 0;
  std::unique_ptr<Engine> engine_;
  Vec<S> in_;
  CVec<S> out_;
};

}  // namespace symflow::audio
