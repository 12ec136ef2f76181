// symflow/viz/heatmap.hpp - a matrix drawn as a grid of coloured cells (e.g. the Param2Tok
// assignment matrix A, tokens x parameters: one row of cells per token, one column per parameter).
//
// Input:    matrix M (rows x cols >= 1 x 1, float or double, all finite); image width >= cols and
//           height >= rows (at least one pixel per cell).
// Cells:    cell (i, j) spans x in [floor(j W / cols), floor((j + 1) W / cols)) and
//           y in [floor(i H / rows), floor((i + 1) H / rows)); row i = 0 at the top. Cells after
//           the first of each row / column give up their first `gap` pixels to the gap colour
//           (thin separating lines; no border around the grid), unless the cell is too small
//           (<= gap pixels), in which case it is drawn without a gap.
// Colours:  sequential (default): viridis((v - lo) / (hi - lo)), lo = options.lo or min(M),
//           hi = options.hi or max(M); 0.5 when hi == lo. So the largest entry is yellow.
//           diverging: blueWhiteRed(0.5 + 0.5 v / m), m = max(|options.lo|, |options.hi|) when
//           given, else max|M|; 0 is near-white, +m red, -m blue (0.5 when m == 0).
//           Values outside the range are clamped to the ends of the map.
#pragma once
#include <algorithm>
#include <cmath>
#include <optional>

#include "symflow/viz/colormap.hpp"

namespace symflow::viz {

struct HeatmapOptions {
  bool diverging = false;          ///< signed values: blue - white - red with 0 in the middle
  Index gap = 1;                   ///< pixels of gap colour between neighbouring cells
  Rgb gapColor = rgbHex(0xFFFFFF);
  std::optional<double> lo, hi;    ///< fixed value range (share one scale across pictures)
};

template <class Derived>
Image heatmap(const Eigen::MatrixBase<Derived>& matrix, Index width, Index height, const HeatmapOptions& options = {}) {
  const Mat<double> m = matrix.template cast<double>();
  const Index rows = m.rows(), cols = m.cols();
  require(rows > 0 && cols > 0, "heatmap: empty matrix");
  require(m.allFinite(), "heatmap: matrix has non-finite entries");
  require(width >= cols && height >= rows,
          "heatmap: image of " + std::to_string(width) + " x " + std::to_string(height) + " pixels is too small for " +
              std::to_string(rows) + " x " + std::to_string(cols) + " cells (need width >= cols, height >= rows)");
  require(options.gap >= 0, "heatmap: gap must be >= 0");
  require((!options.lo || std::isfinite(*options.lo)) && (!options.hi || std::isfinite(*options.hi)),
          "heatmap: value range must be finite");

  const double lo = options.lo ? *options.lo : m.minCoeff();
  const double hi = options.hi ? *options.hi : m.maxCoeff();
  double limit = 0;
  if (options.diverging)
    limit = (options.lo || options.hi) ? std::max(std::abs(lo), std::abs(hi)) : m.cwiseAbs().maxCoeff();
  const auto colourOf = [&](double v) {
    if (options.diverging) return blueWhiteRed(limit > 0 ? 0.5 + 0.5 * v / limit : 0.5);
    return viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5);
  };
  // [begin, end) of cell k of n along a side of `size` pixels, without its leading gap.
  const auto span = [&](Index k, Index n, Index size) {
    const Index begin = k * size / n, end = (k + 1) * size / n;
    const Index skip = (k > 0 && end - begin > options.gap) ? options.gap : 0;
    return std::pair<Index, Index>(begin + skip, end);
  };

  Image image(width, height, options.gapColor);
  for (Index i = 0; i < rows; ++i) {
    const auto ys = span(i, rows, height);
    for (Index j = 0; j < cols; ++j) {
      const auto xs = span(j, cols, width);
      image.fillRect(xs.first, ys.first, xs.second, ys.second, colourOf(m(i, j)));
    }
  }
  return image;
}

}  // namespace symflow::viz
