// symflow/viz/waveform.hpp - a waveform picture: one vertical min/max bar per pixel column.
//
// Input:    signal, a vector (L x 1 or 1 x L, float or double, L >= 1, all finite).
// Scale:    value v is drawn at row y(v) = round((1 - v / A) / 2 * (height - 1)), clamped to the
//           image, so +A is the top row, -A the bottom row and 0 the middle row
//           y0 = round((height - 1) / 2). A = style.amplitude, or when that is <= 0 the signal's
//           max |x| (1 for silence).
// Columns:  the trace is the piecewise-linear curve through the samples, stretched so that sample
//           0 is at the left edge and sample L - 1 at the right edge: column x covers the
//           (fractional) sample positions [x (L - 1) / width, (x + 1) (L - 1) / width], and its
//           bar spans y(max) .. y(min) of the curve there (the samples inside plus the
//           interpolated values at both ends). Neighbouring columns share an end point, so the
//           bars always join into a continuous trace, for L > width (min/max of many samples)
//           as for L < width (a line between samples). L = 1 draws a flat line.
// Drawing:  background, then the zero line (row y0, zeroLine colour), then the bars (wave colour)
//           on top. Silence therefore colours row y0 only.
#pragma once
#include <algorithm>
#include <cmath>

#include "symflow/viz/image.hpp"

namespace symflow::viz {

struct WaveformStyle {
  Rgb background = rgbHex(0xFFFFFF);
  Rgb wave = rgbHex(0x1F4E79);
  Rgb zeroLine = rgbHex(0xC0C0C0);
  double amplitude = 1.0;  ///< value drawn at the top edge; <= 0: the signal's max |x|
};

template <class Derived>
Image waveform(const Eigen::MatrixBase<Derived>& signal, Index width, Index height,
               const WaveformStyle& style = {}) {
  require(signal.rows() == 1 || signal.cols() == 1,
          "waveform: signal must be a vector, got " + std::to_string(signal.rows()) + " x " +
              std::to_string(signal.cols()));
  const Vec<double> x = signal.template cast<double>().reshaped();
  const Index L = x.size();
  require(L > 0, "waveform: empty signal");
  require(x.allFinite(), "waveform: signal has non-finite samples");
  Image image(width, height, style.background);

  double amp = style.amplitude;
  if (!(amp > 0)) amp = x.cwiseAbs().maxCoeff();
  if (!(amp > 0)) amp = 1.0;
  const auto rowOf = [&](double v) {
    const double y = std::round((1.0 - v / amp) * 0.5 * double(height - 1));
    return Index(std::clamp(y, 0.0, double(height - 1)));
  };

  image.fillRect(0, rowOf(0.0), width, rowOf(0.0) + 1, style.zeroLine);
  const auto curveAt = [&](double t) {  // linear interpolation between samples, t in [0, L-1]
    if (L == 1) return x[0];
    const Index i = std::min<Index>(Index(t), L - 2);
    return x[i] + (t - double(i)) * (x[i + 1] - x[i]);
  };
  const double samplesPerColumn = double(L - 1) / double(width);
  for (Index col = 0; col < width; ++col) {
    const double t0 = double(col) * samplesPerColumn, t1 = double(col + 1) * samplesPerColumn;
    double lo = std::min(curveAt(t0), curveAt(t1)), hi = std::max(curveAt(t0), curveAt(t1));
    for (Index i = Index(std::floor(t0)) + 1; double(i) < t1 && i < L; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    image.fillRect(col, rowOf(hi), col + 1, rowOf(lo) + 1, style.wave);
  }
  return image;
}

}  // namespace symflow::viz
