// Tests of the image renderers (symflow/viz/): colour maps, waveform, spectrogram, heat map.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "symflow/core/rng.hpp"
#include "symflow/viz/colormap.hpp"
#include "symflow/viz/heatmap.hpp"
#include "symflow/viz/image.hpp"
#include "symflow/viz/spectrogram.hpp"
#include "symflow/viz/waveform.hpp"

using namespace symflow;
using viz::Rgb;
using viz::rgbHex;

namespace {

constexpr double kPi = 3.14159265358979323846;

Vec<double> sine(double hz, double sampleRate, Index n, double amp = 0.8) {
  Vec<double> x(n);
  for (Index i = 0; i < n; ++i) x[i] = amp * std::sin(2 * kPi * hz * double(i) / sampleRate);
  return x;
}

/// Row whose pixels have the largest summed luma.
Index brightestRow(const viz::Image& im) {
  Index best = 0;
  double bestSum = -1;
  for (Index y = 0; y < im.height(); ++y) {
    double sum = 0;
    for (Index x = 0; x < im.width(); ++x) sum += viz::luma(im.pixel(x, y));
    if (sum > bestSum) bestSum = sum, best = y;
  }
  return best;
}

/// First and last row of the wave colour in column c; requires one unbroken bar.
std::pair<Index, Index> waveBar(const viz::Image& im, Index c, Rgb wave) {
  std::vector<Index> ys;
  for (Index y = 0; y < im.height(); ++y)
    if (im.pixel(c, y) == wave) ys.push_back(y);
  REQUIRE_MESSAGE(!ys.empty(), "column " << c << " has no wave pixel");
  CHECK_MESSAGE(ys.back() - ys.front() + 1 == Index(ys.size()), "column " << c << " has a broken bar");
  return {ys.front(), ys.back()};
}

/// Bars of neighbouring columns overlap or touch: the trace is continuous.
void checkBarsJoin(const viz::Image& im, Rgb wave) {
  for (Index c = 1; c < im.width(); ++c) {
    const auto a = waveBar(im, c - 1, wave), b = waveBar(im, c, wave);
    CHECK_MESSAGE((b.first <= a.second + 1 && a.first <= b.second + 1), "columns " << c - 1 << ", " << c);
  }
}

std::string str(Rgb c) {
  return "(" + std::to_string(c.r) + ", " + std::to_string(c.g) + ", " + std::to_string(c.b) + ")";
}

}  // namespace

TEST_CASE("colour maps: anchors, clamping, monotone viridis luma") {
  CHECK(viz::viridis(0.0) == rgbHex(0x440154));
  CHECK(viz::viridis(0.5) == rgbHex(0x21908C));  // the middle of 9 anchors
  CHECK(viz::viridis(1.0) == rgbHex(0xFDE725));
  CHECK(viz::viridis(-3.0) == viz::viridis(0.0));
  CHECK(viz::viridis(7.0) == viz::viridis(1.0));
  // Halfway between two anchors: the rounded mean of each channel.
  const Rgb a = rgbHex(0x440154), b = rgbHex(0x472D7B), mid = viz::viridis(1.0 / 16);
  CHECK(mid == Rgb{std::uint8_t(std::lround((a.r + b.r) / 2.0)), std::uint8_t(std::lround((a.g + b.g) / 2.0)),
                   std::uint8_t(std::lround((a.b + b.b) / 2.0))});
  double previous = -1;
  for (int i = 0; i <= 1000; ++i) {
    const double l = viz::luma(viz::viridis(i / 1000.0));
    CHECK(l >= previous - 0.5);  // non-decreasing up to byte rounding
    previous = l;
  }
  CHECK(viz::luma(viz::viridis(1.0)) > viz::luma(viz::viridis(0.0)) + 150);

  CHECK(viz::blueWhiteRed(0.0) == rgbHex(0x2166AC));
  CHECK(viz::blueWhiteRed(0.5) == rgbHex(0xF7F7F7));
  CHECK(viz::blueWhiteRed(1.0) == rgbHex(0xB2182B));
  for (int i = 0; i < 10; ++i) {
    const Rgb lo = viz::blueWhiteRed(0.05 * i), hi = viz::blueWhiteRed(1.0 - 0.05 * i);
    CHECK(lo.b > lo.r);  // negative side blue
    CHECK(hi.r > hi.b);  // positive side red
  }
  CHECK_THROWS_AS(viz::viridis(std::nan("")), Error);
}

TEST_CASE("Image: pixels, bounds, PNG output") {
  viz::Image im(5, 3, rgbHex(0x102030));
  CHECK(im.width() == 5);
  CHECK(im.height() == 3);
  CHECK(im.bytes().size() == 45);
  CHECK(im.pixel(4, 2) == rgbHex(0x102030));
  im.setPixel(4, 1, rgbHex(0xABCDEF));
  CHECK(im.pixel(4, 1) == rgbHex(0xABCDEF));
  CHECK(im.bytes()[3 * (1 * 5 + 4)] == 0xAB);  // row-major, top row first
  im.fillRect(-2, -2, 2, 1, rgbHex(0x000001));  // clipped
  CHECK(im.pixel(0, 0) == rgbHex(0x000001));
  CHECK(im.pixel(1, 0) == rgbHex(0x000001));
  CHECK(im.pixel(2, 0) == rgbHex(0x102030));
  CHECK(im.pixel(0, 1) == rgbHex(0x102030));
  CHECK_THROWS_AS(im.pixel(5, 0), Error);
  CHECK_THROWS_AS(im.setPixel(0, -1, Rgb{}), Error);
  CHECK_THROWS_AS(viz::Image(0, 3), Error);
  CHECK_THROWS_AS(viz::Image(3, 0), Error);
  CHECK(viz::encodePng(im) == io::encodePng(im.bytes(), 5, 3, 3));
}

TEST_CASE("waveform: silence, orientation, scale, continuity") {
  const viz::WaveformStyle style;
  SUBCASE("silence draws only the zero line") {
    for (double amplitude : {1.0, 0.0}) {  // fixed and automatic scale
      viz::WaveformStyle s = style;
      s.amplitude = amplitude;
      const viz::Image im = viz::waveform(Vec<double>::Zero(1000), 200, 81, s);
      for (Index y = 0; y < im.height(); ++y)
        for (Index x = 0; x < im.width(); ++x) {
          const Rgb c = im.pixel(x, y);
          if (y == 40)
            REQUIRE(c != style.background);
          else
            REQUIRE_MESSAGE(c == style.background, "pixel (" << x << ", " << y << ") is " << str(c));
        }
    }
  }
  SUBCASE("positive values are drawn above the zero line") {
    const viz::Image im = viz::waveform(Vec<float>::Constant(300, 0.5f), 100, 101);
    for (Index x = 0; x < im.width(); ++x) {
      CHECK(im.pixel(x, 25) == style.wave);  // y(0.5) = round(0.25 * 100)
      CHECK(im.pixel(x, 50) == style.zeroLine);
      CHECK(im.pixel(x, 75) == style.background);
    }
  }
  SUBCASE("a full-scale sine reaches both edges, one unbroken bar per column") {
    const Vec<double> x = sine(441, 44100, 4410, 1.0);  // 44.1 periods
    const viz::Image im = viz::waveform(x.transpose(), 300, 60);  // a row vector works too
    bool top = false, bottom = false;
    for (Index c = 0; c < im.width(); ++c) {
      const auto bar = waveBar(im, c, style.wave);
      top = top || bar.first == 0;
      bottom = bottom || bar.second == im.height() - 1;
    }
    CHECK(top);
    CHECK(bottom);
    checkBarsJoin(im, style.wave);
  }
  SUBCASE("automatic amplitude scales a quiet signal to the full height") {
    viz::WaveformStyle s = style;
    s.amplitude = 0;
    const viz::Image im = viz::waveform(sine(100, 8000, 800, 0.01), 50, 40, s);
    bool top = false;
    for (Index c = 0; c < im.width(); ++c) top = top || im.pixel(c, 0) == style.wave;
    CHECK(top);
    const viz::Image fixed = viz::waveform(sine(100, 8000, 800, 0.01), 50, 40);
    for (Index c = 0; c < fixed.width(); ++c) CHECK(fixed.pixel(c, 0) == style.background);
  }
  SUBCASE("fewer samples than columns") {
    Vec<double> x(3);
    x << 1.0, -1.0, 0.0;
    const viz::Image im = viz::waveform(x, 30, 11);
    checkBarsJoin(im, style.wave);
    // Samples at t = 0, 1, 2; column c covers t in [c / 15, (c + 1) / 15] of the line through them.
    CHECK(waveBar(im, 0, style.wave) == std::pair<Index, Index>(0, 1));     // 1 .. 0.87
    CHECK(waveBar(im, 7, style.wave) == std::pair<Index, Index>(5, 5));     // crossing 0
    CHECK(waveBar(im, 14, style.wave) == std::pair<Index, Index>(9, 10));   // -0.87 .. -1
    CHECK(waveBar(im, 29, style.wave) == std::pair<Index, Index>(5, 5));    // the last sample, 0
    // One sample: a flat line.
    const viz::Image one = viz::waveform(Vec<double>::Constant(1, -0.5), 8, 5);
    for (Index c = 0; c < 8; ++c) CHECK(waveBar(one, c, style.wave) == std::pair<Index, Index>(3, 3));
  }
  SUBCASE("bad inputs") {
    CHECK_THROWS_AS(viz::waveform(Vec<double>(0), 10, 10), Error);
    CHECK_THROWS_AS(viz::waveform(Mat<double>::Zero(3, 2), 10, 10), Error);
    Vec<double> nan = Vec<double>::Zero(10);
    nan[3] = std::nan("");
    CHECK_THROWS_AS(viz::waveform(nan, 10, 10), Error);
    CHECK_THROWS_AS(viz::waveform(Vec<double>::Zero(10), 0, 10), Error);
    CHECK_THROWS_AS(viz::waveform(Vec<double>::Zero(10), 10, 0), Error);
  }
}

TEST_CASE("FrequencyAxis: bands, rows and centres agree") {
  for (auto scale : {viz::FrequencyScale::Linear, viz::FrequencyScale::Log}) {
    const viz::FrequencyAxis axis(50, scale, 40.0, 8000.0);
    CHECK(axis.edgeHz(50) == doctest::Approx(8000.0));
    CHECK(axis.edgeHz(0) == doctest::Approx(scale == viz::FrequencyScale::Linear ? 0.0 : 40.0));
    for (Index y = 0; y < 50; ++y) {
      CHECK(axis.rowOfHz(axis.centreHz(y)) == y);
      if (y > 0) CHECK(axis.centreHz(y) < axis.centreHz(y - 1));  // top row = highest frequency
    }
    CHECK(axis.rowOfHz(1e9) == 0);
    CHECK(axis.rowOfHz(1.0) == 49);
  }
  // Log bands have equal frequency ratios.
  const viz::FrequencyAxis log(10, viz::FrequencyScale::Log, 100.0, 102400.0);
  for (Index r = 0; r < 10; ++r) CHECK(log.edgeHz(r + 1) / log.edgeHz(r) == doctest::Approx(2.0));
  CHECK_THROWS_AS(viz::FrequencyAxis(10, viz::FrequencyScale::Log, 0.0, 1000.0), Error);
  CHECK_THROWS_AS(viz::FrequencyAxis(10, viz::FrequencyScale::Log, 2000.0, 1000.0), Error);
  CHECK_THROWS_AS(viz::FrequencyAxis(0, viz::FrequencyScale::Linear, 0.0, 1000.0), Error);
}

TEST_CASE("spectrogram: a sine lights the row of its frequency") {
  const double sr = 16000;  // nFft 1024: bins every 15.625 Hz, 1000 and 3000 Hz are bin centres
  for (auto scale : {viz::FrequencyScale::Linear, viz::FrequencyScale::Log}) {
    viz::SpectrogramOptions opt;
    opt.scale = scale;
    CAPTURE(int(scale));
    const viz::FrequencyAxis axis = viz::spectrogramAxis(sr, 100, opt);
    Index rowLow = -1, rowHigh = -1;
    for (double hz : {1000.0, 3000.0}) {
      CAPTURE(hz);
      const viz::Image im = viz::spectrogram(sine(hz, sr, 8000), sr, 120, 100, opt);
      const Index row = brightestRow(im);
      if (scale == viz::FrequencyScale::Linear)
        CHECK(row == axis.rowOfHz(hz));
      else  // log bands near 1 kHz are narrower than a bin: the peak's row or a neighbour
        CHECK(std::abs(row - axis.rowOfHz(hz)) <= 1);
      CHECK(im.pixel(60, row) == viz::viridis(1.0));  // the peak is the 0 dB reference
      (hz == 1000.0 ? rowLow : rowHigh) = row;
    }
    CHECK(rowHigh < rowLow - 5);  // higher frequency, higher in the picture
  }
}

TEST_CASE("spectrogram: levels, short signals, options") {
  const double sr = 16000;
  SUBCASE("silence is the bottom colour everywhere") {
    const viz::Image im = viz::spectrogram(Vec<double>::Zero(4000), sr, 40, 30);
    for (Index y = 0; y < im.height(); ++y)
      for (Index x = 0; x < im.width(); ++x) REQUIRE(im.pixel(x, y) == viz::viridis(0.0));
  }
  SUBCASE("a fixed reference power shifts the levels") {
    const Vec<double> x = sine(1000, sr, 8000);
    viz::SpectrogramOptions opt;
    opt.scale = viz::FrequencyScale::Linear;
    const viz::Image own = viz::spectrogram(x, sr, 60, 50, opt);
    const Index row = brightestRow(own);
    const Mat<double> power = viz::spectrogramPixelPower(x, sr, 60, 50, opt);
    CHECK(power.rows() == 50);
    CHECK(power.cols() == 60);
    // The same peak from the STFT itself (1000 Hz is a bin centre, so the band max is that bin).
    Mat<double> stftPower;
    audio::Stft<double>(1024, 8000 / 60).power(x, stftPower);
    CHECK(power.maxCoeff() == doctest::Approx(stftPower.maxCoeff()).epsilon(1e-12));
    opt.refPower = power.maxCoeff() * 1e4;  // the peak is now at -40 dB of an 80 dB range: mid-map
    const viz::Image quieter = viz::spectrogram(x, sr, 60, 50, opt);
    CHECK(quieter.pixel(30, row) == viz::viridis(0.5));
    CHECK(viz::levelImage(power, 80.0, opt.refPower).bytes() == quieter.bytes());
    CHECK(viz::levelImage(power, 80.0).bytes() == own.bytes());
  }
  SUBCASE("a k-osc sized signal (1024 samples at 44.1 kHz) in a wide picture") {
    const double rate = 44100;
    viz::SpectrogramOptions opt;
    opt.nFft = 256;
    opt.maxHz = 5000;
    const Vec<float> x = sine(2067.1875, rate, 1024).cast<float>();  // bin 12 of 256
    const viz::Image im = viz::spectrogram(x, rate, 600, 200, opt);
    CHECK(std::abs(brightestRow(im) - viz::spectrogramAxis(rate, 200, opt).rowOfHz(2067.1875)) <= 1);
  }
  SUBCASE("bad inputs") {
    const Vec<double> x = sine(1000, sr, 2000);
    CHECK_THROWS_AS(viz::spectrogram(Vec<double>(0), sr, 10, 10), Error);
    CHECK_THROWS_AS(viz::spectrogram(x, 0.0, 10, 10), Error);
    CHECK_THROWS_AS(viz::spectrogram(x, sr, 0, 10), Error);
    CHECK_THROWS_AS(viz::spectrogram(x, sr, 10, 0), Error);
    viz::SpectrogramOptions opt;
    opt.maxHz = 9000;  // above Nyquist
    CHECK_THROWS_AS(viz::spectrogram(x, sr, 10, 10, opt), Error);
    opt = {};
    opt.dynamicRangeDb = 0;
    CHECK_THROWS_AS(viz::spectrogram(x, sr, 10, 10, opt), Error);
    opt = {};
    opt.minHz = 10000;  // log axis needs minHz < maxHz
    CHECK_THROWS_AS(viz::spectrogram(x, sr, 10, 10, opt), Error);
    Vec<double> nan = x;
    nan[5] = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(viz::spectrogram(nan, sr, 10, 10), Error);
  }
}

namespace {

/// Centre pixel of cell (i, j) of a rows x cols heat map of w x h pixels.
Rgb cellCentre(const viz::Image& im, Index i, Index j, Index rows, Index cols) {
  const Index x0 = j * im.width() / cols, x1 = (j + 1) * im.width() / cols;
  const Index y0 = i * im.height() / rows, y1 = (i + 1) * im.height() / rows;
  return im.pixel((x0 + x1) / 2, (y0 + y1) / 2);
}

}  // namespace

TEST_CASE("heatmap: the largest entry gets the top colour, in its cell") {
  Rng rng(17);
  Mat<double> m(5, 7);
  for (Index k = 0; k < m.size(); ++k) m.data()[k] = rng.normal();
  m(2, 4) = 10;
  m(4, 0) = -10;
  const viz::Image im = viz::heatmap(m, 7 * 20, 5 * 16);
  CHECK(cellCentre(im, 2, 4, 5, 7) == viz::viridis(1.0));
  CHECK(cellCentre(im, 4, 0, 5, 7) == viz::viridis(0.0));
  // Exactly one cell carries the top colour, and brighter cells hold larger values.
  int top = 0;
  std::vector<std::pair<double, double>> valueLuma;
  for (Index i = 0; i < 5; ++i)
    for (Index j = 0; j < 7; ++j) {
      const Rgb c = cellCentre(im, i, j, 5, 7);
      top += c == viz::viridis(1.0);
      valueLuma.emplace_back(m(i, j), viz::luma(c));
    }
  CHECK(top == 1);
  std::sort(valueLuma.begin(), valueLuma.end());
  for (std::size_t k = 1; k < valueLuma.size(); ++k) CHECK(valueLuma[k].second >= valueLuma[k - 1].second - 0.5);
  // Gaps: the first pixel column of cell column 4 and the first pixel row of cell row 2 are
  // gap colour; the outer border is not.
  const viz::HeatmapOptions defaults;
  CHECK(im.pixel(4 * 20, 10) == defaults.gapColor);
  CHECK(im.pixel(10, 2 * 16) == defaults.gapColor);
  CHECK(im.pixel(4 * 20 + 1, 2 * 16 + 1) == viz::viridis(1.0));
  CHECK(im.pixel(0, 0) != defaults.gapColor);
  CHECK(im.pixel(im.width() - 1, im.height() - 1) != defaults.gapColor);
}

TEST_CASE("heatmap: diverging map, fixed range, tiny cells, bad inputs") {
  SUBCASE("signed values: blue - white - red around 0") {
    Mat<double> m(2, 3);
    m << -3, 0, 2, 1, -1, 0.5;
    viz::HeatmapOptions opt;
    opt.diverging = true;
    const viz::Image im = viz::heatmap(m, 30, 20, opt);
    CHECK(cellCentre(im, 0, 0, 2, 3) == viz::blueWhiteRed(0.0));
    CHECK(cellCentre(im, 0, 1, 2, 3) == viz::blueWhiteRed(0.5));
    CHECK(cellCentre(im, 0, 2, 2, 3) == viz::blueWhiteRed(0.5 + 0.5 * 2.0 / 3.0));
    CHECK(cellCentre(im, 1, 1, 2, 3) == viz::blueWhiteRed(0.5 - 0.5 / 3.0));
  }
  SUBCASE("a fixed range clamps and shares the scale") {
    Mat<float> m(1, 3);
    m << 0.25f, 0.5f, 4.0f;
    viz::HeatmapOptions opt;
    opt.lo = 0.0;
    opt.hi = 1.0;
    const viz::Image im = viz::heatmap(m, 30, 10, opt);
    CHECK(cellCentre(im, 0, 0, 1, 3) == viz::viridis(0.25));
    CHECK(cellCentre(im, 0, 1, 1, 3) == viz::viridis(0.5));
    CHECK(cellCentre(im, 0, 2, 1, 3) == viz::viridis(1.0));
  }
  SUBCASE("constant matrix: the middle colour") {
    const viz::Image im = viz::heatmap(Mat<double>::Constant(3, 3, 2.0), 9, 9);
    CHECK(im.pixel(4, 4) == viz::viridis(0.5));
  }
  SUBCASE("one pixel per cell: no gaps") {
    Rng rng(3);
    Mat<double> m(4, 96);  // a Param2Tok A of 4 tokens x 96 parameters
    for (Index k = 0; k < m.size(); ++k) m.data()[k] = rng.normal();
    const viz::Image im = viz::heatmap(m, 96, 4);
    for (Index y = 0; y < 4; ++y)
      for (Index x = 0; x < 96; ++x) REQUIRE(im.pixel(x, y) != viz::HeatmapOptions{}.gapColor);
  }
  SUBCASE("bad inputs") {
    CHECK_THROWS_AS(viz::heatmap(Mat<double>(0, 3), 10, 10), Error);
    CHECK_THROWS_AS(viz::heatmap(Mat<double>::Zero(3, 11), 10, 10), Error);  // narrower than the columns
    CHECK_THROWS_AS(viz::heatmap(Mat<double>::Zero(11, 3), 10, 10), Error);
    Mat<double> nan = Mat<double>::Zero(2, 2);
    nan(1, 1) = std::nan("");
    CHECK_THROWS_AS(viz::heatmap(nan, 10, 10), Error);
    viz::HeatmapOptions opt;
    opt.gap = -1;
    CHECK_THROWS_AS(viz::heatmap(Mat<double>::Zero(2, 2), 10, 10, opt), Error);
  }
}

TEST_CASE("PNG sizes of demo-like pictures (600 x 200)") {
  const double sr = 44100;
  Vec<double> x = Vec<double>::Zero(1024);
  for (double hz : {220.0, 660.0, 1500.0, 3100.0}) x += 0.2 * sine(hz, sr, 1024, 1.0);
  viz::SpectrogramOptions opt;
  opt.nFft = 256;
  opt.maxHz = 5000;
  const std::size_t spec = viz::encodePng(viz::spectrogram(x, sr, 600, 200, opt)).size();
  const std::size_t wave = viz::encodePng(viz::waveform(x, 600, 200)).size();
  Rng rng(5);
  Mat<double> a(4, 12);
  for (Index k = 0; k < a.size(); ++k) a.data()[k] = rng.normal();
  viz::HeatmapOptions hopt;
  hopt.diverging = true;
  const std::size_t heat = viz::encodePng(viz::heatmap(a, 600, 200, hopt)).size();
  MESSAGE("PNG bytes at 600 x 200: spectrogram " << spec << ", waveform " << wave << ", heat map " << heat
                                                 << " (raw 360000)");
  CHECK(spec < 100000);
  CHECK(wave < 30000);
  CHECK(heat < 10000);
}
