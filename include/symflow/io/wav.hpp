// symflow/io/wav.hpp - dependency-free WAV (RIFF/WAVE) writer and strict minimal reader.
//
// Shapes: audio is frames x channels (one column per channel; a numSamples x B synth output
// column is one mono file). Channels: 1 (mono) or 2 (stereo), interleaved in the file.
// Formats:
//   Pcm16:   WAVE_FORMAT_PCM (1), 16-bit signed little-endian, the usual 2^15 convention (that of
//            libsndfile, PyTorch's audio loaders, soundfile, scipy users dividing by 32768):
//            read as sample / 32768 (-32768 -> -1 exactly, 32767 -> 1 - 2^-15); written as
//            clamp(round(32768 x), -32768, 32767), the exact inverse, so a value in
//            [-1, 1 - 2^-15] comes back within 0.5 / 32768 and +1 comes back as 1 - 2^-15
//            (issue 17: 1/32767 made wMFCC differ by up to 4e-5 from the authors' loaders).
//            Wider integer formats follow the same rule (1/2^23, 1/2^31) in libsndfile, which
//            the `symflow` CLI uses for its inputs; this reader takes 16-bit PCM only.
//   Float32: WAVE_FORMAT_IEEE_FLOAT (3), 32-bit little-endian floats, bit-exact round trip;
//            fmt chunk of 18 bytes (cbSize 0) plus a fact chunk (frame count), as the format asks.
// writeWav writes through io::AtomicFileWriter (a temporary file beside `path`, fsync, rename),
// so a failed write never leaves a partial file and never touches an existing one. Non-finite samples are
// refused (Error) before anything is written.
// readWav accepts the files writeWav makes (PCM 16-bit or IEEE float 32-bit, 1 or 2 channels),
// skips unknown chunks (LIST, ...), and refuses anything else - truncated files, inconsistent
// headers, other formats - with an Error naming the problem.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "symflow/core/types.hpp"
#include "symflow/io/atomic_file.hpp"

namespace symflow::io {

enum class WavFormat { Pcm16, Float32 };

struct WavData {
  int sampleRate = 0;
  WavFormat format = WavFormat::Pcm16;
  Mat<float> samples;  // frames x channels
  Index frames() const { return samples.rows(); }
  Index channels() const { return samples.cols(); }
};

namespace wav_detail {
inline void put16(std::vector<std::uint8_t>& b, std::uint32_t v) {
  b.push_back(std::uint8_t(v & 0xff));
  b.push_back(std::uint8_t((v >> 8) & 0xff));
}
inline void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  put16(b, v & 0xffff);
  put16(b, v >> 16);
}
inline void putTag(std::vector<std::uint8_t>& b, const char* tag) { b.insert(b.end(), tag, tag + 4); }
inline std::uint32_t get16(const std::uint8_t* p) { return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8); }
inline std::uint32_t get32(const std::uint8_t* p) { return get16(p) | (get16(p + 2) << 16); }
}  // namespace wav_detail

/// The complete bytes of a WAV file holding `audio` (frames x channels).
inline std::vector<std::uint8_t> encodeWav(const CMatRef<float>& audio, int sampleRate,
                                           WavFormat format = WavFormat::Pcm16) {
  using namespace wav_detail;
  const Index frames = audio.rows(), channels = audio.cols();
  require(channels == 1 || channels == 2, "WAV: 1 or 2 channels supported, got " + std::to_string(channels));
  require(sampleRate > 0 && sampleRate <= 768000, "WAV: bad sample rate " + std::to_string(sampleRate));
  require(audio.allFinite(), "WAV: audio contains NaN or infinite samples");
  const std::uint32_t bytesPer = format == WavFormat::Pcm16 ? 2 : 4;
  const std::uint32_t blockAlign = std::uint32_t(channels) * bytesPer;
  const double dataBytesD = double(frames) * blockAlign;
  require(dataBytesD < 4.0e9, "WAV: audio too long for a RIFF file (4 GiB limit)");
  const std::uint32_t dataBytes = std::uint32_t(frames) * blockAlign;
  const bool isFloat = format == WavFormat::Float32;
  const std::uint32_t fmtBytes = isFloat ? 18 : 16;
  const std::uint32_t headerBytes = 4 + (8 + fmtBytes) + (isFloat ? 12 : 0) + 8;
  std::vector<std::uint8_t> b;
  b.reserve(8 + headerBytes + dataBytes);
  putTag(b, "RIFF");
  put32(b, headerBytes + dataBytes);
  putTag(b, "WAVE");
  putTag(b, "fmt ");
  put32(b, fmtBytes);
  put16(b, isFloat ? 3 : 1);
  put16(b, std::uint32_t(channels));
  put32(b, std::uint32_t(sampleRate));
  put32(b, std::uint32_t(sampleRate) * blockAlign);
  put16(b, blockAlign);
  put16(b, bytesPer * 8);
  if (isFloat) {
    put16(b, 0);  // cbSize
    putTag(b, "fact");
    put32(b, 4);
    put32(b, std::uint32_t(frames));
  }
  putTag(b, "data");
  put32(b, dataBytes);
  for (Index f = 0; f < frames; ++f)
    for (Index c = 0; c < channels; ++c) {
      const float x = audio(f, c);
      if (isFloat) {
        std::uint32_t bits;
        std::memcpy(&bits, &x, 4);
        put32(b, bits);
      } else {
        const double y = std::lrint(double(x < -1.f ? -1.f : (x > 1.f ? 1.f : x)) * 32768.0);
        const auto q = std::int16_t(y > 32767.0 ? 32767.0 : y);
        put16(b, std::uint16_t(q));
      }
    }
  return b;
}

/// Writes audio (frames x channels) to `path` atomically (temporary file + rename, see
/// io/atomic_file.hpp); on any failure the target is untouched and no temporary file remains.
inline void writeWav(const std::string& path, const CMatRef<float>& audio, int sampleRate,
                     WavFormat format = WavFormat::Pcm16) {
  const std::vector<std::uint8_t> bytes = encodeWav(audio, sampleRate, format);
  AtomicFileWriter w(path);
  w.write(bytes.data(), bytes.size());
  w.commit();
}

/// Parses the bytes of a WAV file (see the header comment for what is accepted).
inline WavData decodeWav(const std::uint8_t* p, std::size_t size, const std::string& what = "WAV data") {
  using namespace wav_detail;
  auto fail = [&](const std::string& m) { throw Error(what + ": " + m); };
  if (size < 12 || std::memcmp(p, "RIFF", 4) != 0 || std::memcmp(p + 8, "WAVE", 4) != 0)
    fail("not a RIFF/WAVE file");
  const std::uint64_t riffEnd = 8 + std::uint64_t(get32(p + 4));
  if (riffEnd > size) fail("truncated (RIFF size " + std::to_string(riffEnd) + " > file size " + std::to_string(size) + ")");
  std::size_t pos = 12;
  bool haveFmt = false, haveData = false;
  std::uint32_t tag = 0, channels = 0, rate = 0, byteRate = 0, blockAlign = 0, bits = 0;
  const std::uint8_t* data = nullptr;
  std::uint32_t dataBytes = 0;
  while (pos + 8 <= riffEnd) {
    const std::uint8_t* c = p + pos;
    const std::uint64_t len = get32(c + 4);
    if (pos + 8 + len > riffEnd) fail("truncated chunk '" + std::string(reinterpret_cast<const char*>(c), 4) + "'");
    if (std::memcmp(c, "fmt ", 4) == 0) {
      if (len < 16) fail("fmt chunk too short");
      tag = get16(c + 8);
      channels = get16(c + 10);
      rate = get32(c + 12);
      byteRate = get32(c + 16);
      blockAlign = get16(c + 20);
      bits = get16(c + 22);
      haveFmt = true;
    } else if (std::memcmp(c, "data", 4) == 0) {
      if (!haveFmt) fail("data chunk before fmt chunk");
      data = c + 8;
      dataBytes = std::uint32_t(len);
      haveData = true;
    }
    pos += 8 + std::size_t(len) + (len & 1);
  }
  if (!haveFmt) fail("no fmt chunk");
  if (!haveData) fail("no data chunk");
  WavData out;
  if (tag == 1 && bits == 16) out.format = WavFormat::Pcm16;
  else if (tag == 3 && bits == 32) out.format = WavFormat::Float32;
  else fail("unsupported format (tag " + std::to_string(tag) + ", " + std::to_string(bits) +
            " bits); only 16-bit PCM and 32-bit float");
  if (channels < 1 || channels > 2) fail("unsupported channel count " + std::to_string(channels));
  if (rate == 0) fail("sample rate 0");
  if (blockAlign != channels * bits / 8) fail("inconsistent block align");
  if (byteRate != rate * blockAlign) fail("inconsistent byte rate");
  if (dataBytes % blockAlign != 0) fail("data size is not a whole number of frames");
  const Index frames = Index(dataBytes / blockAlign);
  out.sampleRate = int(rate);
  out.samples.resize(frames, Index(channels));
  for (Index f = 0; f < frames; ++f)
    for (Index ch = 0; ch < Index(channels); ++ch) {
      const std::uint8_t* s = data + std::size_t(f) * blockAlign + std::size_t(ch) * (bits / 8);
      if (out.format == WavFormat::Float32) {
        const std::uint32_t u = get32(s);
        float x;
        std::memcpy(&x, &u, 4);
        out.samples(f, ch) = x;
      } else {
        out.samples(f, ch) = float(double(std::int16_t(std::uint16_t(get16(s)))) / 32768.0);
      }
    }
  return out;
}

/// Reads a WAV file written by writeWav (or any 16-bit PCM / 32-bit float mono/stereo WAV).
inline WavData readWav(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  require(bool(f), "WAV: cannot open '" + path + "'");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return decodeWav(bytes.data(), bytes.size(), "WAV '" + path + "'");
}

}  // namespace symflow::io
