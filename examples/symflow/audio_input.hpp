// examples/symflow/audio_input.hpp - reads the audio files that `symflow invert` is given and
// turns each into what a model hears: mono float samples, exactly targetLength of them, at the
// model's sample rate. Part of the example programs (libsndfile + libsamplerate), not of the
// header-only library.
//
// Pipeline (one code path for files and for memory buffers):
//   bytes --libsndfile (sf_open_virtual; WAV, FLAC, OGG/Vorbis/Opus, AIFF, MP3, CAF, ... any
//   rate, 1..maxChannels channels)--> frames x channels float, integer formats scaled to [-1, 1)
//   --average of the channels (in double)--> mono m[t] = (1/C) sum_c x[t, c]
//   --libsamplerate, SRC_SINC_BEST_QUALITY, ratio = targetRate / fileRate (skipped when equal)-->
//   --targetLength samples from the chosen window (WindowRequest: the first ones, the loudest
//   ones within the first 10 s, or from --offset), zero-padded when the file is shorter--> samples
// Only the prefix the model needs (plus the resampler's filter reach, resampleMarginFrames) is
// kept in memory and resampled; the rest of the file is still decoded and scanned (NaN/Inf,
// peak, duration), so memory stays O(targetLength) and long files cost one streaming pass.
// The first targetLength output samples equal those of resampling the whole file (tested).
//
// Notes (for the user, one line each, starting with the name): what was done, e.g.
//   "in.wav: 2.50 s at 48000 Hz, 2 channels mixed to mono, resampled to 44100 Hz (libsamplerate
//    sinc best), trimmed to 1024 samples (23.2 ms)"
// plus warnings (truncated file, read error part-way, samples above full scale, a near-silent
// window). A WAV whose data chunk is shorter than its header announces is read as far as it
// goes, with "NAME: warning: truncated WAV: the data chunk announces N bytes but only M are in
// the file (D bytes missing, X s of Y s); ..." (libsndfile alone would not tell; issue 17).
//
// Errors: every bad input throws symflow::Error with ONE line "NAME: problem", e.g.
//   "x.wav: no such file", "x.wav: cannot be read (permission denied)", "x.wav: is a directory,
//   not an audio file", "x.wav: is empty (0 bytes)", "x.wav: is not an audio file (libsndfile:
//   Format not recognised.)", "x.wav: contains no audio (0 samples)", "x.wav: is silent (every
//   sample is 0)", "x.wav: contains NaN or infinite samples (first at frame 12, channel 2)",
//   "x.wav: has 9 channels (at most 8 are supported)", "x.wav: is 720.0 s long (files longer
//   than 600.0 s are refused)", "x.wav: has an unsupported sample rate of 500 Hz (1000 to
//   768000 Hz are accepted)". Wrong arguments from the program itself (targetRate <= 0, ...)
//   also throw symflow::Error, without a file name.
//
// Robustness / fuzzing (issue 9): loadAudioBytesForModel() reads from a memory buffer through
// the same code as files and touches no file system and no global state of ours (libsndfile
// keeps its last open error in a global). All allocations are bounded by AudioLimits (frames
// kept <= resampler prefix, chunk buffer fixed), loops end at end of data or at maxSeconds, and
// every failure is a symflow::Error. A libFuzzer harness is:
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
//     symflow::cli::AudioLimits lim; lim.maxSeconds = 5; lim.maxSampleRate = 96000;  // fast
//     try { symflow::cli::loadAudioBytesForModel(d, n, "fuzz", 16000, 4000, nullptr, lim); }
//     catch (const symflow::Error&) {}
//     return 0;
//   }
// Known third-party leak: Debian 12's libsndfile 1.2.0 leaks the vorbis_info of a corrupted
// Ogg Vorbis file that fails to open (~6 KB per input, inside libvorbis' vorbis_info_init);
// a fuzz run needs LSAN suppression "leak:vorbis_info_init". Our code itself is leak-free.
// Cost: SRC_SINC_BEST_QUALITY converts 4 s at 48 kHz to 44.1 kHz in about 0.15 s (2-core dev box).
// Limitation: format detection is by content only (no file extension), so headerless raw
// formats that libsndfile guesses from an extension (e.g. .vox) are refused.
#pragma once
#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "symflow/core/types.hpp"

namespace symflow::cli {

/// What the reader accepts. Defaults suit real use; a fuzz harness tightens them for speed.
struct AudioLimits {
  int maxChannels = 8;            // more: "has N channels"
  double maxSeconds = 600;        // longer: refused (checked on the header and while decoding)
  double minSampleRate = 1000;    // the file's rate must lie in [min, max] Hz
  double maxSampleRate = 768000;
  double silenceThreshold = 1e-6;  // peak below this (-120 dBFS): "is silent"
};

/// One decoded file, mixed to mono at its own rate.
struct DecodedAudio {
  std::vector<float> mono;      // the first min(frames, keepFrames) frames, channel average
  Index frames = 0;             // frames decoded in total (the whole file)
  int channels = 0;
  int sampleRate = 0;
  double peak = 0;              // max |mono| over the whole file
  double channelPeak = 0;       // max |x| over all channels and frames (before mixing)
  Index firstAudibleFrame = -1;  // first frame with |mono| >= silenceThreshold
  std::vector<std::string> warnings;  // one line each, starting with the name
};

/// Which targetLength samples of the file the model hears (issue 17).
///   Start:   the first ones (the default for models that hear seconds, e.g. surge-simple).
///   Loudest: the window with the most energy (sum of squares, earliest on ties), searched over
///            the first searchSeconds of the file at the model's rate, any start sample (the
///            default for k-osc models, which hear only 23.2 ms).
///   Offset:  the window starting offsetSeconds into the file (`invert --offset`).
struct WindowRequest {
  enum Mode { Start, Loudest, Offset };
  Mode mode = Start;
  double offsetSeconds = 0;
  double searchSeconds = 10;
  double nearSilentDbfs = -50;  // window RMS below this: a warning
};

/// What the model gets, and where it came from.
struct LoadedAudio {
  Vec<float> samples;  // targetLength mono samples at sampleRate
  double sampleRate = 0;
  int sourceRate = 0, sourceChannels = 0;
  Index sourceFrames = 0;
  bool resampled = false, trimmed = false, padded = false;
  // The window heard: samples [windowStart, windowStart + targetLength) at sampleRate.
  WindowRequest::Mode windowMode = WindowRequest::Start;
  Index windowStart = 0;
  double windowRmsDbfs = 0;  // RMS of samples in dB re full scale (-inf: all zero)
  bool nearSilent = false;
  const char* windowModeName() const {
    return windowMode == WindowRequest::Loudest ? "loudest" : windowMode == WindowRequest::Offset ? "offset" : "start";
  }
};

/// The libsamplerate converter used (SRC_SINC_BEST_QUALITY: 97 dB SNR, 97% bandwidth; only the
/// model's few seconds are converted, so its cost is small).
inline constexpr int kResampler = SRC_SINC_BEST_QUALITY;
inline constexpr const char* kResamplerName = "libsamplerate sinc best";

namespace audio_detail {

/// "23.2 ms", "2.50 s", "601.0 s".
inline std::string formatDuration(double seconds) {
  char buf[64];
  if (seconds >= 60)
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  else if (seconds >= 1)
    std::snprintf(buf, sizeof buf, "%.2f s", seconds);
  else
    std::snprintf(buf, sizeof buf, "%.1f ms", seconds * 1000);
  return buf;
}

inline std::string formatNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

/// Library messages go on one line: control characters become spaces, ends are trimmed.
inline std::string oneLine(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  const auto b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

[[noreturn]] inline void fail(const std::string& name, const std::string& problem) {
  throw Error(oneLine(name + ": " + problem));
}

// ---- byte sources for sf_open_virtual (callbacks must not throw: they run inside C code) ----

struct MemorySource {
  const unsigned char* data;
  sf_count_t size;
  sf_count_t pos = 0;
};

inline sf_count_t memLength(void* user) noexcept { return static_cast<MemorySource*>(user)->size; }

inline sf_count_t memSeek(sf_count_t offset, int whence, void* user) noexcept {
  auto* m = static_cast<MemorySource*>(user);
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : -1;
  if (base < 0) return -1;
  // Overflow-safe base + offset; positions past the end are allowed (reads there return 0).
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return -1;
  m->pos = base + offset;
  return m->pos;
}

inline sf_count_t memRead(void* ptr, sf_count_t count, void* user) noexcept {
  auto* m = static_cast<MemorySource*>(user);
  if (count <= 0 || m->pos >= m->size) return 0;
  const sf_count_t n = std::min(count, m->size - m->pos);
  std::memcpy(ptr, m->data + m->pos, static_cast<std::size_t>(n));
  m->pos += n;
  return n;
}

inline sf_count_t memTell(void* user) noexcept { return static_cast<MemorySource*>(user)->pos; }

struct FileSource {
  std::FILE* file;
  sf_count_t size;
};

inline sf_count_t fileLength(void* user) noexcept { return static_cast<FileSource*>(user)->size; }

inline sf_count_t fileSeek(sf_count_t offset, int whence, void* user) noexcept {
  auto* f = static_cast<FileSource*>(user);
  if (fseeko(f->file, static_cast<off_t>(offset), whence) != 0) return -1;
  return static_cast<sf_count_t>(ftello(f->file));
}

inline sf_count_t fileRead(void* ptr, sf_count_t count, void* user) noexcept {
  if (count <= 0) return 0;
  return static_cast<sf_count_t>(
      std::fread(ptr, 1, static_cast<std::size_t>(count), static_cast<FileSource*>(user)->file));
}

inline sf_count_t fileTell(void* user) noexcept {
  return static_cast<sf_count_t>(ftello(static_cast<FileSource*>(user)->file));
}

inline sf_count_t noWrite(const void*, sf_count_t, void*) noexcept { return 0; }

struct SndfileCloser {
  void operator()(SNDFILE* f) const noexcept { sf_close(f); }
};
struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

/// What a RIFF/WAVE file's own chunk headers say about its data chunk (libsndfile silently
/// shortens a truncated file's frame count to what is there, so the announced size is read here).
struct WavDataChunk {
  bool found = false;
  std::uint64_t announcedBytes = 0, presentBytes = 0;
  unsigned blockAlign = 0, sampleRate = 0;
};

/// Walks the chunks of a RIFF/WAVE file through `io` (no-op for other formats) and seeks back to
/// the start. A data size of 0 or 0xFFFFFFFF (streaming writers: "unknown") is not a truncation.
inline WavDataChunk scanWavDataChunk(SF_VIRTUAL_IO& io, void* user, sf_count_t byteSize) {
  WavDataChunk out;
  auto get32 = [](const unsigned char* p) {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
  };
  unsigned char head[12];
  if (byteSize < 12 || io.seek(0, SEEK_SET, user) != 0 || io.read(head, 12, user) != 12 ||
      std::memcmp(head, "RIFF", 4) != 0 || std::memcmp(head + 8, "WAVE", 4) != 0) {
    io.seek(0, SEEK_SET, user);
    return out;
  }
  sf_count_t pos = 12;
  for (int chunks = 0; chunks < 1024 && pos + 8 <= byteSize; ++chunks) {
    unsigned char ch[8];
    if (io.seek(pos, SEEK_SET, user) != pos || io.read(ch, 8, user) != 8) break;
    const std::uint32_t size = get32(ch + 4);
    if (std::memcmp(ch, "fmt ", 4) == 0 && size >= 16) {
      unsigned char fmt[16];
      if (io.read(fmt, 16, user) == 16) {
        out.sampleRate = get32(fmt + 4);
        out.blockAlign = unsigned(fmt[12]) | unsigned(fmt[13]) << 8;
      }
    } else if (std::memcmp(ch, "data", 4) == 0) {
      out.found = size != 0 && size != 0xFFFFFFFFu;
      out.announcedBytes = size;
      out.presentBytes = std::uint64_t(std::max<sf_count_t>(0, byteSize - (pos + 8)));
      break;
    }
    pos += 8 + sf_count_t(size) + sf_count_t(size & 1);
  }
  io.seek(0, SEEK_SET, user);
  return out;
}

/// The warning for a data chunk shorter than announced, or "" (issue 17).
inline std::string truncationWarning(const std::string& name, const WavDataChunk& c) {
  if (!c.found || c.presentBytes >= c.announcedBytes) return "";
  const std::uint64_t missing = c.announcedBytes - c.presentBytes;
  std::string s = name + ": warning: truncated WAV: the data chunk announces " + std::to_string(c.announcedBytes) +
                  " bytes but only " + std::to_string(c.presentBytes) + " are in the file (" +
                  std::to_string(missing) + " bytes missing";
  if (c.blockAlign > 0 && c.sampleRate > 0) {
    const double perSecond = double(c.blockAlign) * double(c.sampleRate);
    s += ", " + formatDuration(double(missing) / perSecond) + " of " +
         formatDuration(double(c.announcedBytes) / perSecond);
  }
  return s + "); using the audio that is there";
}

/// Frames to keep as a function of the file's sample rate (known only once the header is read).
using KeepFrames = std::function<Index(int fileRate)>;

/// The one decoder behind both entry points: opens `user` through `io`, checks the header,
/// then streams the whole file in fixed chunks (mono-mixing, NaN/Inf and length checks).
inline DecodedAudio decodeVirtual(SF_VIRTUAL_IO& io, void* user, sf_count_t byteSize, const std::string& name,
                                  const AudioLimits& limits, const KeepFrames& keepFramesFor) {
  if (byteSize <= 0) fail(name, "is empty (0 bytes)");
  const WavDataChunk wavData = scanWavDataChunk(io, user, byteSize);
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> sf(sf_open_virtual(&io, SFM_READ, &info, user));
  if (!sf) {
    const int code = sf_error(nullptr);
    const std::string why = oneLine(sf_strerror(nullptr));
    if (code == SF_ERR_UNRECOGNISED_FORMAT) fail(name, "is not an audio file (libsndfile: " + why + ")");
    fail(name, "is not a readable audio file (libsndfile: " + why + ")");
  }
  DecodedAudio out;
  out.channels = info.channels;
  out.sampleRate = info.samplerate;
  if (info.channels < 1) fail(name, "has no audio channels");
  if (info.channels > limits.maxChannels)
    fail(name, "has " + std::to_string(info.channels) + " channels (at most " + std::to_string(limits.maxChannels) +
                   " are supported)");
  if (!(info.samplerate >= limits.minSampleRate && info.samplerate <= limits.maxSampleRate))
    fail(name, "has an unsupported sample rate of " + std::to_string(info.samplerate) + " Hz (" +
                   formatNumber(limits.minSampleRate) + " to " + formatNumber(limits.maxSampleRate) +
                   " Hz are accepted)");
  const double rate = info.samplerate;
  const Index maxFrames = Index(std::floor(limits.maxSeconds * rate));
  auto tooLong = [&](double seconds, const char* prefix) {
    fail(name, std::string(prefix) + formatDuration(seconds) + " long (files longer than " +
                   formatDuration(limits.maxSeconds) + " are refused)");
  };
  // Some formats report SF_COUNT_MAX (or garbage) when the length is unknown; only a plausible
  // header length is refused up front, the decoding loop enforces the limit in any case.
  const bool headerKnown = info.frames >= 0 && info.frames < SF_COUNT_MAX / 2;
  if (headerKnown && info.frames > maxFrames) tooLong(double(info.frames) / rate, "is ");

  const int C = info.channels;
  constexpr sf_count_t kChunkFrames = 4096;
  std::vector<float> chunk(static_cast<std::size_t>(kChunkFrames * C));
  const Index keepFrames = std::max<Index>(0, std::min(keepFramesFor(info.samplerate), maxFrames));
  // The header's length is not trusted for allocation beyond a modest first reservation.
  out.mono.reserve(static_cast<std::size_t>(
      std::min<Index>({keepFrames, headerKnown ? Index(info.frames) : 0, Index(1) << 20})));
  const double invC = 1.0 / C;
  Index t = 0;
  for (;;) {
    const sf_count_t n = sf_readf_float(sf.get(), chunk.data(), kChunkFrames);
    if (n <= 0) break;
    if (n > kChunkFrames) fail(name, "libsndfile returned more frames than requested");
    if (t + Index(n) > maxFrames) tooLong(double(t + Index(n)) / rate, "is more than ");
    for (sf_count_t i = 0; i < n; ++i, ++t) {
      const float* frame = chunk.data() + i * C;
      double sum = 0;
      for (int c = 0; c < C; ++c) {
        const float x = frame[c];
        if (!std::isfinite(x))
          fail(name, "contains NaN or infinite samples (first at frame " + std::to_string(t) + ", channel " +
                         std::to_string(c + 1) + ", " + formatDuration(double(t) / rate) + ")");
        sum += double(x);
        out.channelPeak = std::max(out.channelPeak, double(std::fabs(x)));
      }
      const double m = sum * invC;
      const double a = std::fabs(m);
      if (a > out.peak) out.peak = a;
      if (out.firstAudibleFrame < 0 && a >= limits.silenceThreshold) out.firstAudibleFrame = t;
      if (t < keepFrames) out.mono.push_back(float(m));
    }
  }
  out.frames = t;
  const int readError = sf_error(sf.get());
  if (readError != SF_ERR_NO_ERROR) {
    const std::string why = oneLine(sf_strerror(sf.get()));
    if (t == 0) fail(name, "is not a readable audio file (libsndfile: " + why + ")");
    out.warnings.push_back(name + ": warning: read error after " + formatDuration(double(t) / rate) +
                           " (libsndfile: " + why + "); using the audio before it");
  } else if (const std::string w = truncationWarning(name, wavData); !w.empty() && t > 0) {
    out.warnings.push_back(w);
  } else if (headerKnown && Index(info.frames) > t && t > 0) {
    out.warnings.push_back(name + ": warning: the header announces " + std::to_string(info.frames) +
                           " frames but only " + std::to_string(t) + " could be read (truncated file?)");
  }
  if (t == 0) fail(name, "contains no audio (0 samples)");
  if (out.channelPeak < limits.silenceThreshold) {
    if (out.channelPeak == 0) fail(name, "is silent (every sample is 0)");
    char buf[160];
    std::snprintf(buf, sizeof buf, "is silent (peak %.3g, below the threshold %.3g)", out.channelPeak,
                  limits.silenceThreshold);
    fail(name, buf);
  }
  if (out.peak < limits.silenceThreshold)
    fail(name, "is silent when mixed to mono (its " + std::to_string(C) + " channels cancel out)");
  if (out.peak > 1.0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, ": warning: peaks at %+.1f dBFS (above full scale); used as is",
                  20 * std::log10(out.peak));
    out.warnings.push_back(name + buf);
  }
  return out;
}

inline SF_VIRTUAL_IO memoryIo() { return SF_VIRTUAL_IO{memLength, memSeek, memRead, noWrite, memTell}; }
inline SF_VIRTUAL_IO fileIo() { return SF_VIRTUAL_IO{fileLength, fileSeek, fileRead, noWrite, fileTell}; }

/// Input frames beyond the kept prefix that the sinc filter reaches into, so that the first
/// outputs do not see the artificial end of the prefix. SRC_SINC_BEST_QUALITY's filter spans
/// about 145 input samples per side at ratio >= 1 and 145 / ratio when downsampling; this keeps
/// a generous multiple.
inline Index resampleMarginFrames(double ratio) {
  return Index(std::ceil(512.0 / std::min(1.0, ratio))) + 64;
}

inline DecodedAudio decodeBytes(const void* data, std::size_t size, const std::string& name,
                                const AudioLimits& limits, const KeepFrames& keepFramesFor) {
  if (size > std::size_t(INT64_MAX) || (size > 0 && !data)) fail(name, "invalid buffer");
  MemorySource src{static_cast<const unsigned char*>(data), static_cast<sf_count_t>(size)};
  SF_VIRTUAL_IO io = memoryIo();
  return decodeVirtual(io, &src, src.size, name, limits, keepFramesFor);
}

inline DecodedAudio decodeFile(const std::string& path, const AudioLimits& limits, const KeepFrames& keepFramesFor) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec && st.type() != fs::file_type::not_found) {
    if (ec == std::errc::permission_denied) fail(path, "cannot be read (permission denied)");
    fail(path, "cannot be read (" + ec.message() + ")");
  }
  if (st.type() == fs::file_type::not_found) fail(path, "no such file");
  if (st.type() == fs::file_type::directory) fail(path, "is a directory, not an audio file");
  if (st.type() != fs::file_type::regular) fail(path, "is not a regular file (pipes and devices are not read)");
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int err = errno;
    if (err == EACCES || err == EPERM) fail(path, "cannot be read (permission denied)");
    if (err == ENOENT) fail(path, "no such file");
    fail(path, std::string("cannot be opened (") + std::strerror(err) + ")");
  }
  if (fseeko(file.get(), 0, SEEK_END) != 0) fail(path, "cannot be read (seek failed)");
  const off_t size = ftello(file.get());
  if (size < 0 || fseeko(file.get(), 0, SEEK_SET) != 0) fail(path, "cannot be read (seek failed)");
  FileSource src{file.get(), static_cast<sf_count_t>(size)};
  SF_VIRTUAL_IO io = fileIo();
  return decodeVirtual(io, &src, src.size, path, limits, keepFramesFor);
}

}  // namespace audio_detail

/// Decodes a memory buffer (any format libsndfile reads) to mono at the file's own rate,
/// keeping the first keepFrames frames; `name` is used in messages. Throws symflow::Error.
inline DecodedAudio decodeAudioBytes(const void* data, std::size_t size, const std::string& name,
                                     const AudioLimits& limits = {}, Index keepFrames = INT64_MAX) {
  return audio_detail::decodeBytes(data, size, name, limits, [keepFrames](int) { return keepFrames; });
}

/// Decodes a file: same decoder as decodeAudioBytes, through a FILE* source; the path is the
/// name in messages. Throws symflow::Error for a missing, unreadable or bad file.
inline DecodedAudio decodeAudioFile(const std::string& path, const AudioLimits& limits = {},
                                    Index keepFrames = INT64_MAX) {
  return audio_detail::decodeFile(path, limits, [keepFrames](int) { return keepFrames; });
}

/// Resamples mono audio by ratio = outRate / inRate with libsamplerate (kResampler), treating
/// the input as complete (end of input). Output length about in.size() * ratio.
inline std::vector<float> resampleMono(const std::vector<float>& in, double ratio) {
  require(std::isfinite(ratio) && src_is_valid_ratio(ratio),
          "resampleMono: invalid ratio " + audio_detail::formatNumber(ratio));
  if (in.empty()) return {};
  std::vector<float> out(static_cast<std::size_t>(std::ceil(double(in.size()) * ratio)) + 16);
  SRC_DATA d{};
  d.data_in = in.data();
  d.input_frames = long(in.size());
  d.data_out = out.data();
  d.output_frames = long(out.size());
  d.src_ratio = ratio;
  const int err = src_simple(&d, kResampler, 1);
  if (err != 0) throw Error(std::string("resampling failed (libsamplerate: ") + src_strerror(err) + ")");
  out.resize(static_cast<std::size_t>(d.output_frames_gen));
  return out;
}

namespace audio_detail {

/// Input frames at fileRate that produce the first targetLength outputs at targetRate.
inline Index framesNeeded(int fileRate, double targetRate, Index targetLength) {
  if (double(fileRate) == targetRate) return targetLength;
  const double ratio = targetRate / double(fileRate);
  return Index(std::ceil(double(targetLength) / ratio)) + resampleMarginFrames(ratio);
}

inline LoadedAudio prepareForModel(const std::string& name, double targetRate, Index targetLength,
                                   std::vector<std::string>* notes, const AudioLimits& limits,
                                   const std::function<DecodedAudio(const KeepFrames&)>& decode,
                                   const WindowRequest& window = {}) {
  require(std::isfinite(targetRate) && targetRate > 0,
          "loadAudioForModel: target rate must be positive, got " + formatNumber(targetRate));
  require(targetLength > 0, "loadAudioForModel: target length must be positive, got " + std::to_string(targetLength));
  require(double(targetLength) <= limits.maxSeconds * targetRate,
          "loadAudioForModel: target length " + std::to_string(targetLength) + " is longer than " +
              formatDuration(limits.maxSeconds));
  require(std::isfinite(window.offsetSeconds) && window.offsetSeconds >= 0 &&
              window.offsetSeconds <= limits.maxSeconds,
          "--offset must be between 0 and " + formatDuration(limits.maxSeconds) + " (seconds)");
  require(std::isfinite(window.searchSeconds) && window.searchSeconds > 0, "loadAudioForModel: bad search length");
  // Samples at the target rate that must be decoded: the window's end (Offset), the search
  // range (Loudest) or the window itself (Start).
  const Index offsetSamples = Index(std::llround(window.offsetSeconds * targetRate));
  const Index neededAtTarget =
      window.mode == WindowRequest::Offset
          ? offsetSamples + targetLength
          : window.mode == WindowRequest::Loudest
                ? std::max<Index>(targetLength, Index(std::min(window.searchSeconds, limits.maxSeconds) * targetRate))
                : targetLength;
  DecodedAudio dec = decode([&](int fileRate) { return framesNeeded(fileRate, targetRate, neededAtTarget); });

  LoadedAudio out;
  out.sampleRate = targetRate;
  out.sourceRate = dec.sampleRate;
  out.sourceChannels = dec.channels;
  out.sourceFrames = dec.frames;
  const double ratio = targetRate / double(dec.sampleRate);
  std::vector<float> mono;
  if (double(dec.sampleRate) == targetRate) {
    mono = std::move(dec.mono);
  } else {
    if (!src_is_valid_ratio(ratio))
      fail(name, "has a sample rate of " + std::to_string(dec.sampleRate) + " Hz, too far from the model's " +
                     formatNumber(targetRate) + " Hz to resample");
    mono = resampleMono(dec.mono, ratio);  // the kept prefix plus the filter's reach beyond it
    out.resampled = true;
  }
  // The whole file's length at the target rate decides "trimmed" / "padded" (a one-sample
  // shortfall from the resampler's rounding is padded without comment).
  const Index equivalent = out.resampled ? Index(std::llround(double(dec.frames) * ratio)) : dec.frames;
  // Samples of the file proper at the target rate (the resampler's tail beyond it is not audio).
  const Index present = std::min<Index>(Index(mono.size()), std::max<Index>(equivalent, 0));
  Index start = 0;
  out.windowMode = window.mode;
  if (window.mode == WindowRequest::Offset) {
    if (offsetSamples >= present)
      fail(name, "--offset " + formatNumber(window.offsetSeconds) + " s is past the end of the file (" +
                     formatDuration(double(dec.frames) / dec.sampleRate) + " long)");
    start = offsetSamples;
  } else if (window.mode == WindowRequest::Loudest && present > targetLength) {
    // Sliding sum of squares over every start in [0, present - targetLength] (in double).
    double energy = 0;
    for (Index i = 0; i < targetLength; ++i) energy += double(mono[std::size_t(i)]) * double(mono[std::size_t(i)]);
    double best = energy;
    for (Index s0 = 1; s0 + targetLength <= present; ++s0) {
      const double in = mono[std::size_t(s0 + targetLength - 1)], outv = mono[std::size_t(s0 - 1)];
      energy += in * in - outv * outv;
      if (energy > best * (1 + 1e-12) + 1e-300) {
        best = energy;
        start = s0;
      }
    }
  }
  out.windowStart = start;
  out.trimmed = equivalent > targetLength;
  out.padded = start + targetLength > equivalent;
  out.samples = Vec<float>::Zero(targetLength);
  const Index copied = std::max<Index>(0, std::min<Index>(targetLength, Index(mono.size()) - start));
  for (Index i = 0; i < copied; ++i) out.samples(i) = mono[static_cast<std::size_t>(start + i)];
  const double meanSquare = out.samples.cast<double>().squaredNorm() / double(targetLength);
  out.windowRmsDbfs = meanSquare > 0 ? 10 * std::log10(meanSquare) : -INFINITY;
  out.nearSilent = out.windowRmsDbfs < window.nearSilentDbfs;

  const double used = double(targetLength) / targetRate;
  const std::string windowText = formatDuration(double(start) / targetRate) + " to " +
                                 formatDuration(double(start + targetLength) / targetRate);
  if (double(out.samples.cwiseAbs().maxCoeff()) < limits.silenceThreshold) {
    const std::string where =
        dec.firstAudibleFrame >= 0
            ? "; its sound starts at " + formatDuration(double(dec.firstAudibleFrame) / dec.sampleRate)
            : "";
    if (start == 0)
      fail(name, "is silent in the first " + formatDuration(used) + " that the model hears" + where);
    fail(name, "is silent in the window the model hears (" + windowText + ")" + where);
  }
  if (notes) {
    std::string s = name + ": " + formatDuration(double(dec.frames) / dec.sampleRate) + " at " +
                    std::to_string(dec.sampleRate) + " Hz, " +
                    (dec.channels == 1 ? std::string("mono") : std::to_string(dec.channels) + " channels mixed to mono");
    if (out.resampled) s += ", resampled to " + formatNumber(targetRate) + " Hz (" + kResamplerName + ")";
    if (out.trimmed)
      s += ", trimmed to " + std::to_string(targetLength) + " samples (" + formatDuration(used) + ")";
    else if (out.padded)
      s += ", zero-padded to " + std::to_string(targetLength) + " samples (" + formatDuration(used) + ")";
    else
      s += ", " + std::to_string(targetLength) + " samples as the model expects";
    if (window.mode != WindowRequest::Start || start > 0)
      s += "; the model hears " + windowText + " (" +
           (window.mode == WindowRequest::Loudest ? std::string("the loudest window, --offset to choose")
                                                   : std::string("--offset")) +
           ")";
    notes->push_back(s);
    for (auto& w : dec.warnings) notes->push_back(std::move(w));
    if (out.nearSilent) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    ": warning: the window the model hears (%s) is near silent (RMS %.1f dBFS, below %.0f dBFS)",
                    windowText.c_str(), out.windowRmsDbfs, window.nearSilentDbfs);
      notes->push_back(name + buf + (window.mode == WindowRequest::Offset ? "" : "; try --offset"));
    }
  }
  return out;
}

}  // namespace audio_detail

/// Reads an audio file and returns exactly targetLength mono samples at targetRate (see the
/// top of this file). Appends what was done, and warnings, to *notes when notes is not null.
inline LoadedAudio loadAudioForModel(const std::string& path, double targetRate, Index targetLength,
                                     std::vector<std::string>* notes, const AudioLimits& limits = {},
                                     const WindowRequest& window = {}) {
  return audio_detail::prepareForModel(
      path, targetRate, targetLength, notes, limits,
      [&](const audio_detail::KeepFrames& keep) { return audio_detail::decodeFile(path, limits, keep); }, window);
}

/// Same as loadAudioForModel, from bytes in memory (`name` is used in messages): the entry
/// point for fuzzing and for audio that does not come from a file.
inline LoadedAudio loadAudioBytesForModel(const void* data, std::size_t size, const std::string& name,
                                          double targetRate, Index targetLength, std::vector<std::string>* notes,
                                          const AudioLimits& limits = {}, const WindowRequest& window = {}) {
  return audio_detail::prepareForModel(
      name, targetRate, targetLength, notes, limits,
      [&](const audio_detail::KeepFrames& keep) { return audio_detail::decodeBytes(data, size, name, limits, keep); },
      window);
}

}  // namespace symflow::cli
