// symflow/viz/image.hpp - an 8-bit RGB raster image and its PNG output.
//
// Layout:   width x height pixels, row-major, top row (y = 0) first, x = 0 at the left;
//           bytes()[3 * (y * width + x) + c] is channel c (0 = red, 1 = green, 2 = blue).
// Output:   encodePng(image) / writePng(image, path) through io/png.hpp (atomic file write).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "symflow/core/types.hpp"
#include "symflow/io/png.hpp"

namespace symflow::viz {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb& a, const Rgb& b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
  friend bool operator!=(const Rgb& a, const Rgb& b) { return !(a == b); }
};

/// Rgb from 0xRRGGBB.
constexpr Rgb rgbHex(std::uint32_t hex) {
  return Rgb{std::uint8_t((hex >> 16) & 0xFFu), std::uint8_t((hex >> 8) & 0xFFu), std::uint8_t(hex & 0xFFu)};
}

class Image {
 public:
  Image(Index width, Index height, Rgb fill = Rgb{}) : width_(width), height_(height) {
    require(width > 0 && height > 0, "Image: size must be positive, got " + std::to_string(width) + " x " +
                                         std::to_string(height));
    require(width <= io::kPngMaxSide && height <= io::kPngMaxSide, "Image: size " + std::to_string(width) +
                                                                       " x " + std::to_string(height) +
                                                                       " is too large");
    bytes_.resize(std::size_t(width) * std::size_t(height) * 3);
    fillRect(0, 0, width, height, fill);
  }

  Index width() const { return width_; }
  Index height() const { return height_; }
  /// Row-major RGB bytes, top row first (3 * width * height).
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

  /// Pixel (x, y); throws Error outside the image.
  Rgb pixel(Index x, Index y) const {
    const std::uint8_t* p = &bytes_[checkedOffset(x, y)];
    return Rgb{p[0], p[1], p[2]};
  }
  /// Sets pixel (x, y); throws Error outside the image.
  void setPixel(Index x, Index y, Rgb c) { put(checkedOffset(x, y), c); }
  /// Fills the pixels x in [x0, x1), y in [y0, y1), clipped to the image.
  void fillRect(Index x0, Index y0, Index x1, Index y1, Rgb c) {
    x0 = std::max<Index>(x0, 0), y0 = std::max<Index>(y0, 0);
    x1 = std::min(x1, width_), y1 = std::min(y1, height_);
    for (Index y = y0; y < y1; ++y)
      for (Index x = x0; x < x1; ++x) put(offset(x, y), c);
  }

 private:
  std::size_t offset(Index x, Index y) const { return 3 * (std::size_t(y) * std::size_t(width_) + std::size_t(x)); }
  std::size_t checkedOffset(Index x, Index y) const {
    if (x < 0 || x >= width_ || y < 0 || y >= height_)
      throw Error("Image: pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") outside " +
                  std::to_string(width_) + " x " + std::to_string(height_));
    return offset(x, y);
  }
  void put(std::size_t at, Rgb c) {
    bytes_[at] = c.r;
    bytes_[at + 1] = c.g;
    bytes_[at + 2] = c.b;
  }

  Index width_, height_;
  std::vector<std::uint8_t> bytes_;
};

/// The bytes of a PNG file of the image.
inline std::vector<std::uint8_t> encodePng(const Image& image) {
  return io::encodePng(image.bytes(), image.width(), image.height(), 3);
}

/// Writes the image as a PNG file (atomically: see io/atomic_file.hpp).
inline void writePng(const Image& image, const std::string& path) {
  io::writePng(path, image.bytes(), image.width(), image.height(), 3);
}

}  // namespace symflow::viz
