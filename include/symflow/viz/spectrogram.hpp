// symflow/viz/spectrogram.hpp - a spectrogram picture (time left to right, frequency bottom to
// top, level in dB through the viridis colour map).
//
// Input:    signal, a vector (L x 1 or 1 x L, float or double, L >= 1, all finite), sampleRate Hz.
// Analysis: audio::Stft<double> power spectrogram, periodic Hann window of nFft samples, centred
//           frames (zero padding), hop = options.hop or, when 0, max(1, floor(L / width)) so there
//           is about one frame per pixel column. Bin k is at k * sampleRate / nFft Hz.
// Time:     pixel column x shows frame round((x + 0.5) L / width / hop) (clamped), the frame
//           centred nearest to the middle of the column's stretch of signal.
// Frequency: FrequencyAxis splits [lo, hi] into `height` bands, band r counted from the bottom
//           (image row y = height - 1 - r):
//             Linear: lo = 0, band r = [hi r / height, hi (r + 1) / height)
//             Log:    lo = minHz, band r = [lo (hi/lo)^(r/height), lo (hi/lo)^((r+1)/height))
//           hi = maxHz (default: the Nyquist frequency sampleRate / 2). A pixel's power is the
//           max power of the bins whose frequency lies in its band (the top band includes hi);
//           a band that holds no bin (narrower than a bin) takes the power linearly interpolated
//           between the two bins around its centre (arithmetic centre for Linear, geometric for
//           Log). So a pure tone lights the row whose band contains its frequency.
// Level:    dB = 10 log10(max(P, 1e-30) / ref), ref = options.refPower or, when 0, the largest
//           pixel power of this picture (1 for silence); the colour is
//           viridis(clamp((dB + range) / range, 0, 1)), range = options.dynamicRangeDb: 0 dB is
//           yellow, -range dB and below dark purple. Pass the same refPower to pictures that
//           must share a level scale (a target and its resynthesis).
// Shared scale: spectrogramPixelPower(...) returns the pixel powers (height x width) and
//           levelImage(power, range, ref) colours them; spectrogram() is the two in a row. For a
//           target and its resynthesis, take ref = spectrogramPixelPower(target, ...).maxCoeff().
// Cost:     one FFT of nFft per frame (about width frames), then width * height look-ups.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "symflow/audio/stft.hpp"
#include "symflow/viz/colormap.hpp"

namespace symflow::viz {

enum class FrequencyScale { Linear, Log };

struct SpectrogramOptions {
  Index nFft = 1024;
  Index hop = 0;                               ///< 0: max(1, L / width)
  FrequencyScale scale = FrequencyScale::Log;
  double minHz = 40.0;                         ///< bottom of a Log axis (a Linear axis starts at 0)
  double maxHz = 0.0;                          ///< top of the axis; 0: sampleRate / 2
  double dynamicRangeDb = 80.0;                ///< levels below -range dB (re ref) are clipped
  double refPower = 0.0;                       ///< power drawn as 0 dB; 0: the picture's max
};

/// The frequency bands of the image rows (see the header comment).
class FrequencyAxis {
 public:
  FrequencyAxis(Index height, FrequencyScale scale, double lowHz, double highHz)
      : height_(height), scale_(scale), low_(scale == FrequencyScale::Linear ? 0.0 : lowHz), high_(highHz) {
    require(height > 0, "FrequencyAxis: height must be positive");
    require(std::isfinite(highHz) && highHz > 0, "FrequencyAxis: top frequency must be positive");
    require(scale == FrequencyScale::Linear || (std::isfinite(lowHz) && lowHz > 0 && lowHz < highHz),
            "FrequencyAxis: a log axis needs 0 < minHz < maxHz, got minHz = " + std::to_string(lowHz) +
                ", maxHz = " + std::to_string(highHz));
  }
  Index height() const { return height_; }
  /// Lower edge of band r (r = 0 .. height; r = height gives the top frequency).
  double edgeHz(Index r) const {
    const double u = double(r) / double(height_);
    return scale_ == FrequencyScale::Linear ? high_ * u : low_ * std::pow(high_ / low_, u);
  }
  /// Image row y (0 = top) whose band contains hz (clamped to the axis).
  Index rowOfHz(double hz) const {
    double u = 0;
    if (scale_ == FrequencyScale::Linear)
      u = hz / high_;
    else
      u = hz > 0 ? std::log(hz / low_) / std::log(high_ / low_) : 0.0;
    const Index r = std::clamp<Index>(Index(std::floor(u * double(height_))), 0, height_ - 1);
    return height_ - 1 - r;
  }
  /// Centre of the band of image row y (arithmetic for Linear, geometric for Log).
  double centreHz(Index y) const {
    const Index r = height_ - 1 - y;
    const double lo = edgeHz(r), hi = edgeHz(r + 1);
    return scale_ == FrequencyScale::Linear ? 0.5 * (lo + hi) : std::sqrt(lo * hi);
  }

 private:
  Index height_;
  FrequencyScale scale_;
  double low_, high_;
};

/// The axis spectrogram() uses for these arguments.
inline FrequencyAxis spectrogramAxis(double sampleRate, Index height, const SpectrogramOptions& options = {}) {
  require(sampleRate > 0 && std::isfinite(sampleRate), "spectrogram: sample rate must be positive");
  const double top = options.maxHz > 0 ? options.maxHz : 0.5 * sampleRate;
  require(top <= 0.5 * sampleRate * (1 + 1e-12),
          "spectrogram: maxHz = " + std::to_string(top) + " is above the Nyquist frequency " +
              std::to_string(0.5 * sampleRate));
  return FrequencyAxis(height, options.scale, options.minHz, top);
}

/// The power behind each pixel (height x width, row 0 = top = highest frequency), before the
/// dB scale: spectrogram() = levelImage(spectrogramPixelPower(...)). Its maxCoeff() is the
/// refPower that gives this picture's peak 0 dB (use it for pictures that share a scale).
template <class Derived>
Mat<double> spectrogramPixelPower(const Eigen::MatrixBase<Derived>& signal, double sampleRate, Index width,
                                  Index height, const SpectrogramOptions& options = {}) {
  require(signal.rows() == 1 || signal.cols() == 1,
          "spectrogram: signal must be a vector, got " + std::to_string(signal.rows()) + " x " +
              std::to_string(signal.cols()));
  const Vec<double> x = signal.template cast<double>().reshaped();
  const Index L = x.size();
  require(L > 0, "spectrogram: empty signal");
  require(x.allFinite(), "spectrogram: signal has non-finite samples");
  require(width > 0 && height > 0, "spectrogram: image size must be positive, got " + std::to_string(width) +
                                       " x " + std::to_string(height));
  require(options.nFft > 0, "spectrogram: nFft must be positive");
  require(options.hop >= 0, "spectrogram: hop must be >= 0 (0 = automatic)");
  const FrequencyAxis axis = spectrogramAxis(sampleRate, height, options);

  const Index hop = options.hop > 0 ? options.hop : std::max<Index>(1, L / width);
  audio::Stft<double> stft(options.nFft, hop);
  Mat<double> power;
  stft.power(x, power);  // bins x T
  const Index bins = power.rows(), frames = power.cols();
  const double binHz = sampleRate / double(options.nFft);

  // Per image row: the bins [first, last) inside its band, or (first = last) the bin pair
  // (lower, lower + 1) and weight to interpolate at the band centre.
  struct RowBins {
    Index first = 0, last = 0, lower = 0;
    double weight = 0;
  };
  std::vector<RowBins> rowBins(static_cast<std::size_t>(height));
  for (Index y = 0; y < height; ++y) {
    const Index r = height - 1 - y;
    const double lo = axis.edgeHz(r), hi = axis.edgeHz(r + 1);
    RowBins& rb = rowBins[std::size_t(y)];
    rb.first = std::min(bins, Index(std::ceil(lo / binHz - 1e-9)));
    rb.last = r == height - 1 ? Index(std::floor(hi / binHz + 1e-9)) + 1 : Index(std::ceil(hi / binHz - 1e-9));
    rb.last = std::clamp(rb.last, rb.first, bins);
    if (rb.first == rb.last) {
      const double k = std::min(axis.centreHz(y) / binHz, double(bins - 1));
      rb.lower = std::min(Index(std::floor(k)), std::max<Index>(bins - 2, 0));
      rb.weight = bins > 1 ? k - double(rb.lower) : 0.0;
    }
  }

  Mat<double> pixelPower(height, width);
  for (Index col = 0; col < width; ++col) {
    const double centreSample = (double(col) + 0.5) * double(L) / double(width);
    const Index t = std::clamp<Index>(Index(std::lround(centreSample / double(hop))), 0, frames - 1);
    const auto frame = power.col(t);
    for (Index y = 0; y < height; ++y) {
      const RowBins& rb = rowBins[std::size_t(y)];
      if (rb.first < rb.last) {
        pixelPower(y, col) = frame.segment(rb.first, rb.last - rb.first).maxCoeff();
      } else {
        const double a = frame[rb.lower], b = bins > 1 ? frame[rb.lower + 1] : a;
        pixelPower(y, col) = a + rb.weight * (b - a);
      }
    }
  }

  return pixelPower;
}

/// Colours a pixel power grid (rows top to bottom) on the dB scale of the header comment:
/// viridis(clamp((dB + range) / range, 0, 1)), dB = 10 log10(max(P, 1e-30) / ref), ref = refPower
/// or, when 0, max(P) (1 if that is 0).
inline Image levelImage(const Mat<double>& pixelPower, double dynamicRangeDb, double refPower = 0) {
  require(pixelPower.rows() > 0 && pixelPower.cols() > 0, "levelImage: empty power grid");
  require(dynamicRangeDb > 0 && std::isfinite(dynamicRangeDb),
          "spectrogram: dynamic range must be a positive number of dB");
  require(refPower >= 0 && std::isfinite(refPower), "spectrogram: refPower must be >= 0");
  double ref = refPower > 0 ? refPower : pixelPower.maxCoeff();
  if (!(ref > 0)) ref = 1.0;
  Image image(pixelPower.cols(), pixelPower.rows());
  for (Index y = 0; y < pixelPower.rows(); ++y)
    for (Index col = 0; col < pixelPower.cols(); ++col) {
      const double db = 10.0 * std::log10(std::max(pixelPower(y, col), 1e-30) / ref);
      image.setPixel(col, y, viridis(std::clamp((db + dynamicRangeDb) / dynamicRangeDb, 0.0, 1.0)));
    }
  return image;
}

template <class Derived>
Image spectrogram(const Eigen::MatrixBase<Derived>& signal, double sampleRate, Index width, Index height,
                  const SpectrogramOptions& options = {}) {
  // Level options checked first: a bad range fails before the STFT runs.
  require(options.dynamicRangeDb > 0 && std::isfinite(options.dynamicRangeDb),
          "spectrogram: dynamic range must be a positive number of dB");
  require(options.refPower >= 0 && std::isfinite(options.refPower), "spectrogram: refPower must be >= 0");
  return levelImage(spectrogramPixelPower(signal, sampleRate, width, height, options), options.dynamicRangeDb,
                    options.refPower);
}

}  // namespace symflow::viz
