// symflow/viz/colormap.hpp - colour maps from [0, 1] to RGB, by piecewise-linear interpolation
// (in sRGB byte values) between a small table of anchor colours.
//
// interpolateAnchors(anchors, n, t): with s = clamp(t, 0, 1) * (n - 1), i = min(floor(s), n - 2),
//   f = s - i, each channel is round(anchor[i] + f * (anchor[i + 1] - anchor[i])). t = 0 gives the
//   first anchor, t = 1 the last, exactly. t must be finite (Error otherwise).
// viridis(t): sequential, dark purple (t = 0) -> blue -> green -> yellow (t = 1). Anchors are the
//   9 evenly spaced colours of the viridis map (matplotlib / viridisLite, CC0): #440154 #472D7B
//   #3B528B #2C728E #21908C #27AD81 #5DC863 #AADC32 #FDE725. Their luma rises monotonically, so
//   brighter always means larger, also in grey print.
// blueWhiteRed(t): diverging, for signed values mapped as t = 0.5 + 0.5 v / max|v|: blue (t = 0)
//   -> near-white #F7F7F7 (t = 0.5, the value 0) -> red (t = 1). Anchors: the 7-class ColorBrewer
//   RdBu scheme reversed: #2166AC #67A9CF #D1E5F0 #F7F7F7 #FDDBC7 #EF8A62 #B2182B.
// luma(c) = 0.2126 r + 0.7152 g + 0.0722 b (Rec. 709 weights on the byte values): a brightness
//   measure used by the tests and handy for picking a readable text colour.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

#include "symflow/viz/image.hpp"

namespace symflow::viz {

inline Rgb interpolateAnchors(const Rgb* anchors, std::size_t n, double t) {
  // Plain ifs, not require(): this runs once per pixel and require() would build its message.
  if (n < 2) throw Error("colormap: needs at least 2 anchor colours");
  if (!std::isfinite(t)) throw Error("colormap: value is not finite");
  const double s = std::clamp(t, 0.0, 1.0) * double(n - 1);
  const std::size_t i = std::min(std::size_t(s), n - 2);
  const double f = s - double(i);
  const auto mix = [f](std::uint8_t a, std::uint8_t b) {
    return std::uint8_t(std::lround(double(a) + f * (double(b) - double(a))));
  };
  const Rgb& a = anchors[i];
  const Rgb& b = anchors[i + 1];
  return Rgb{mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

inline const std::array<Rgb, 9>& viridisAnchors() {
  static const std::array<Rgb, 9> anchors = {rgbHex(0x440154), rgbHex(0x472D7B), rgbHex(0x3B528B),
                                             rgbHex(0x2C728E), rgbHex(0x21908C), rgbHex(0x27AD81),
                                             rgbHex(0x5DC863), rgbHex(0xAADC32), rgbHex(0xFDE725)};
  return anchors;
}

inline const std::array<Rgb, 7>& blueWhiteRedAnchors() {
  static const std::array<Rgb, 7> anchors = {rgbHex(0x2166AC), rgbHex(0x67A9CF), rgbHex(0xD1E5F0),
                                             rgbHex(0xF7F7F7), rgbHex(0xFDDBC7), rgbHex(0xEF8A62),
                                             rgbHex(0xB2182B)};
  return anchors;
}

/// Sequential map, t in [0, 1] (clamped).
inline Rgb viridis(double t) { return interpolateAnchors(viridisAnchors().data(), viridisAnchors().size(), t); }

/// Diverging map, t in [0, 1] (clamped); t = 0.5 is the neutral middle.
inline Rgb blueWhiteRed(double t) {
  return interpolateAnchors(blueWhiteRedAnchors().data(), blueWhiteRedAnchors().size(), t);
}

inline double luma(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

}  // namespace symflow::viz
