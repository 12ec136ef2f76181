// Tests of the WAV writer/reader (symflow/io/wav.hpp). When libsndfile is available (see
// tests/deps.cmake) it serves as an independent second reader and writer.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "symflow/core/rng.hpp"
#include "symflow/io/wav.hpp"

#ifdef SYMFLOW_HAVE_SNDFILE
#include <sndfile.h>
#endif

using namespace symflow;
namespace fs = std::filesystem;

namespace {

Mat<float> randomAudio(Index frames, Index channels, Rng& rng, double amp = 0.9) {
  Mat<float> a(frames, channels);
  for (Index i = 0; i < a.size(); ++i) a.data()[i] = float(rng.uniform(-amp, amp));
  return a;
}

/// A fresh empty directory, removed when the object dies.
struct TempDir {
  fs::path path;
  TempDir() {
    Rng r(std::uint64_t(std::hash<std::string>{}(fs::current_path().string())) ^ 0x5157);
    path = fs::temp_directory_path() / ("symflow_test_wav_" + std::to_string(r.next() % 1000000007ULL));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::vector<std::uint8_t> fileBytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("PCM16 round trip, mono and stereo, within half a quantization step") {
  Rng rng(1);
  for (Index ch : {1, 2}) {
    const Mat<float> a = randomAudio(1001, ch, rng);
    const auto bytes = io::encodeWav(a, 16000, io::WavFormat::Pcm16);
    CHECK(bytes.size() == 44 + 2 * 1001 * std::size_t(ch));
    const io::WavData d = io::decodeWav(bytes.data(), bytes.size());
    CHECK(d.sampleRate == 16000);
    CHECK(d.format == io::WavFormat::Pcm16);
    REQUIRE(d.channels() == ch);
    REQUIRE(d.frames() == 1001);
    CHECK((d.samples - a).cwiseAbs().maxCoeff() <= 0.5f / 32768.f + 1e-7f);
  }
}

TEST_CASE("PCM16 clamps out-of-range samples; header fields are the canonical ones") {
  Mat<float> a(4, 1);
  a << 1.5f, -2.f, 1.f, 0.f;
  const auto b = io::encodeWav(a, 44100);
  CHECK(std::memcmp(b.data(), "RIFF", 4) == 0);
  CHECK(std::memcmp(b.data() + 8, "WAVEfmt ", 8) == 0);
  auto u32 = [&](std::size_t o) { return std::uint32_t(b[o]) | std::uint32_t(b[o + 1]) << 8 | std::uint32_t(b[o + 2]) << 16 | std::uint32_t(b[o + 3]) << 24; };
  auto u16 = [&](std::size_t o) { return std::uint32_t(b[o]) | std::uint32_t(b[o + 1]) << 8; };
  CHECK(u32(4) == b.size() - 8);
  CHECK(u32(16) == 16);
  CHECK(u16(20) == 1);      // PCM
  CHECK(u16(22) == 1);      // channels
  CHECK(u32(24) == 44100);  // rate
  CHECK(u32(28) == 88200);  // byte rate
  CHECK(u16(32) == 2);      // block align
  CHECK(u16(34) == 16);     // bits
  CHECK(std::memcmp(b.data() + 36, "data", 4) == 0);
  CHECK(u32(40) == 8);
  CHECK(std::int16_t(u16(44)) == 32767);   // 1.5 clamped to 1, then to the largest code
  CHECK(std::int16_t(u16(46)) == -32768);  // -2 clamped to -1 = -32768 / 32768
  CHECK(std::int16_t(u16(48)) == 32767);
  CHECK(std::int16_t(u16(50)) == 0);
}

TEST_CASE("PCM16 is read with 1/32768 like libsndfile and PyTorch's loaders (issue 17)") {
  // Hand-made samples: -32768, -16384, 16384, 32767, 1. With 1/32767 16384 read as 0.500015.
  Mat<float> a(5, 1);
  a << -1.f, -0.5f, 0.5f, 1.f, 1.f / 32768.f;
  const auto b = io::encodeWav(a, 8000);
  const io::WavData d = io::decodeWav(b.data(), b.size());
  CHECK(d.samples(0, 0) == -1.0f);
  CHECK(d.samples(1, 0) == -0.5f);
  CHECK(d.samples(2, 0) == 0.5f);
  CHECK(d.samples(3, 0) == 32767.f / 32768.f);  // +1 is one step below full scale
  CHECK(d.samples(4, 0) == 1.f / 32768.f);
  auto code = [&](std::size_t i) { return std::int16_t(std::uint16_t(b[44 + 2 * i] | b[45 + 2 * i] << 8)); };
  CHECK(code(1) == -16384);
  CHECK(code(2) == 16384);
  CHECK(code(4) == 1);
}

TEST_CASE("Float32 round trip is bit-exact (values beyond +-1 too)") {
  Rng rng(2);
  for (Index ch : {1, 2}) {
    Mat<float> a = randomAudio(777, ch, rng, 3.0);
    a(0, 0) = 1e-30f;
    a(1, 0) = -0.f;
    const auto bytes = io::encodeWav(a, 22050, io::WavFormat::Float32);
    const io::WavData d = io::decodeWav(bytes.data(), bytes.size());
    CHECK(d.format == io::WavFormat::Float32);
    CHECK(d.sampleRate == 22050);
    REQUIRE(d.samples.rows() == 777);
    REQUIRE(d.samples.cols() == ch);
    CHECK(std::memcmp(d.samples.data(), a.data(), sizeof(float) * std::size_t(a.size())) == 0);
  }
}

TEST_CASE("empty audio round trips; bad arguments are refused") {
  const Mat<float> empty(0, 1);
  const auto b = io::encodeWav(empty, 16000);
  CHECK(io::decodeWav(b.data(), b.size()).frames() == 0);
  CHECK_THROWS_AS(io::encodeWav(Mat<float>::Zero(10, 3), 16000), Error);
  CHECK_THROWS_AS(io::encodeWav(Mat<float>::Zero(10, 0), 16000), Error);
  CHECK_THROWS_AS(io::encodeWav(Mat<float>::Zero(10, 1), 0), Error);
  Mat<float> nan = Mat<float>::Zero(10, 1);
  nan(3, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(io::encodeWav(nan, 16000), Error);
  nan(3, 0) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(io::encodeWav(nan, 16000, io::WavFormat::Float32), Error);
}

TEST_CASE("the reader refuses truncated, foreign and inconsistent files and skips unknown chunks") {
  Rng rng(3);
  const Mat<float> a = randomAudio(100, 2, rng);
  const auto good = io::encodeWav(a, 16000);
  auto decode = [](const std::vector<std::uint8_t>& v) { return io::decodeWav(v.data(), v.size()); };
  CHECK_NOTHROW(decode(good));
  // Truncated anywhere.
  for (std::size_t keep : {std::size_t(0), std::size_t(11), std::size_t(30), std::size_t(44), good.size() - 1}) {
    std::vector<std::uint8_t> t(good.begin(), good.begin() + std::ptrdiff_t(keep));
    CHECK_THROWS_AS(decode(t), Error);
  }
  // Not RIFF/WAVE.
  auto bad = good;
  bad[8] = 'X';
  CHECK_THROWS_AS(decode(bad), Error);
  // 8-bit PCM is not supported.
  bad = good;
  bad[34] = 8;
  CHECK_THROWS_AS(decode(bad), Error);
  // Inconsistent block align.
  bad = good;
  bad[32] = 3;
  CHECK_THROWS_AS(decode(bad), Error);
  // Data size not a whole number of frames.
  bad = good;
  bad[40] = std::uint8_t(bad[40] - 1);
  CHECK_THROWS_AS(decode(bad), Error);
  // An unknown chunk of odd length (with its pad byte) before "data" is skipped.
  std::vector<std::uint8_t> withList(good.begin(), good.begin() + 36);
  const std::uint8_t list[] = {'L', 'I', 'S', 'T', 3, 0, 0, 0, 'a', 'b', 'c', 0};
  withList.insert(withList.end(), list, list + 12);
  withList.insert(withList.end(), good.begin() + 36, good.end());
  const std::uint32_t riff = std::uint32_t(withList.size() - 8);
  for (int k = 0; k < 4; ++k) withList[std::size_t(4 + k)] = std::uint8_t((riff >> (8 * k)) & 0xff);
  const io::WavData d = decode(withList);
  CHECK((d.samples - decode(good).samples).cwiseAbs().maxCoeff() == 0.f);
  // No data chunk.
  std::vector<std::uint8_t> noData(good.begin(), good.begin() + 36);
  const std::uint32_t r2 = std::uint32_t(noData.size() - 8);
  for (int k = 0; k < 4; ++k) noData[std::size_t(4 + k)] = std::uint8_t((r2 >> (8 * k)) & 0xff);
  CHECK_THROWS_AS(decode(noData), Error);
}

TEST_CASE("writeWav is atomic: no partial or temporary files, failures leave the old file intact") {
  TempDir dir;
  Rng rng(4);
  const Mat<float> a = randomAudio(500, 1, rng);
  const std::string path = (dir.path / "x.wav").string();
  io::writeWav(path, a, 16000);
  CHECK(dir.files() == std::vector<std::string>{"x.wav"});
  const io::WavData d = io::readWav(path);
  CHECK((d.samples - a).cwiseAbs().maxCoeff() <= 0.5f / 32768.f + 1e-7f);
  // Overwrite with float data.
  io::writeWav(path, a, 8000, io::WavFormat::Float32);
  CHECK(io::readWav(path).format == io::WavFormat::Float32);
  CHECK(io::readWav(path).sampleRate == 8000);
  const auto before = fileBytes(path);
  // A NaN sample: refused, the existing file is untouched, nothing else appears.
  Mat<float> nan = a;
  nan(10, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(io::writeWav(path, nan, 16000), Error);
  CHECK(fileBytes(path) == before);
  CHECK(dir.files() == std::vector<std::string>{"x.wav"});
  // A directory that does not exist: Error, no file.
  const std::string missing = (dir.path / "no_such_dir" / "y.wav").string();
  CHECK_THROWS_AS(io::writeWav(missing, a, 16000), Error);
  CHECK_FALSE(fs::exists(missing));
  CHECK_THROWS_AS(io::readWav((dir.path / "absent.wav").string()), Error);
  // A truncated file on disk is refused.
  {
    std::ofstream f(dir.path / "t.wav", std::ios::binary);
    f.write(reinterpret_cast<const char*>(before.data()), std::streamsize(before.size() / 2));
  }
  CHECK_THROWS_AS(io::readWav((dir.path / "t.wav").string()), Error);
}

#ifdef SYMFLOW_HAVE_SNDFILE
TEST_CASE("libsndfile reads our files and we read libsndfile's (independent oracle)") {
  TempDir dir;
  Rng rng(5);
  for (Index ch : {1, 2})
    for (auto fmt : {io::WavFormat::Pcm16, io::WavFormat::Float32}) {
      const Mat<float> a = randomAudio(300, ch, rng);
      const std::string ours = (dir.path / "ours.wav").string();
      io::writeWav(ours, a, 16000, fmt);
      SF_INFO info{};
      SNDFILE* f = sf_open(ours.c_str(), SFM_READ, &info);
      REQUIRE(f != nullptr);
      CHECK(info.samplerate == 16000);
      CHECK(info.channels == ch);
      CHECK(info.frames == 300);
      CHECK((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV);
      CHECK((info.format & SF_FORMAT_SUBMASK) == (fmt == io::WavFormat::Pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT));
      std::vector<float> inter(std::size_t(300 * ch));
      CHECK(sf_readf_float(f, inter.data(), 300) == 300);
      sf_close(f);
      // Same convention both ways (1/32768 to read, issue 17): half a step, not 2 / 32767.
      const float tol = fmt == io::WavFormat::Pcm16 ? 0.5f / 32768.f + 1e-7f : 0.f;
      float worst = 0;
      for (Index i = 0; i < 300; ++i)
        for (Index c = 0; c < ch; ++c) worst = std::max(worst, std::abs(inter[std::size_t(i * ch + c)] - a(i, c)));
      CHECK(worst <= tol);

      // libsndfile writes, we read.
      const std::string theirs = (dir.path / "theirs.wav").string();
      SF_INFO wi{};
      wi.samplerate = 22050;
      wi.channels = int(ch);
      wi.format = SF_FORMAT_WAV | (fmt == io::WavFormat::Pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
      SNDFILE* w = sf_open(theirs.c_str(), SFM_WRITE, &wi);
      REQUIRE(w != nullptr);
      for (Index i = 0; i < 300; ++i)
        for (Index c = 0; c < ch; ++c) inter[std::size_t(i * ch + c)] = a(i, c);
      CHECK(sf_writef_float(w, inter.data(), 300) == 300);
      sf_close(w);
      const io::WavData d = io::readWav(theirs);
      CHECK(d.sampleRate == 22050);
      REQUIRE(d.frames() == 300);
      REQUIRE(d.channels() == ch);
      // libsndfile writes with 32767 and reads with 1/32768: its own reading of its file is
      // what we must return, bit for bit.
      SF_INFO ri{};
      SNDFILE* r = sf_open(theirs.c_str(), SFM_READ, &ri);
      REQUIRE(r != nullptr);
      CHECK(sf_readf_float(r, inter.data(), 300) == 300);
      sf_close(r);
      float worstTheirs = 0;
      for (Index i = 0; i < 300; ++i)
        for (Index c = 0; c < ch; ++c)
          worstTheirs = std::max(worstTheirs, std::abs(inter[std::size_t(i * ch + c)] - d.samples(i, c)));
      CHECK(worstTheirs == 0.f);
      CHECK((d.samples - a).cwiseAbs().maxCoeff() <= 2.f / 32768.f);
    }
}
#endif
