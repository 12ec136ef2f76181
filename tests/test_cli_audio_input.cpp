// Tests of the audio-file reader of `symflow invert` (examples/symflow/audio_input.hpp).
// Fixture files are written at test time with libsndfile into a fresh temporary directory:
// good files in several formats/rates/channel counts (checked for length, frequency after
// resampling, anti-aliasing, mono mix, notes) and one file per kind of bad input (checked for
// its specific one-line error). A small deterministic corruption sweep (every prefix and
// random byte flips of a WAV and a FLAC) checks that damaged files load or throw
// symflow::Error, never crash (the real fuzzing is issue 9's libFuzzer harness).
#include <doctest/doctest.h>

#if !SYMFLOW_HAVE_AUDIO_INPUT
TEST_CASE("audio input reader (skipped)") {
  MESSAGE("skipped: libsndfile / libsamplerate not found at configure time");
}
#else

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <complex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "audio_input.hpp"
#include "symflow/core/rng.hpp"

namespace fs = std::filesystem;
using namespace symflow;
using namespace symflow::cli;

namespace {

constexpr double kPi = 3.14159265358979323846;

/// A fresh directory for this run's fixtures, removed at exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "symflow_audioin_XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
    chmod(tmpl.c_str(), 0755);  // the permission test runs a child as another user
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

const TempDir& tmp() {
  static TempDir dir;
  return dir;
}

/// Writes frames x channels interleaved float samples with libsndfile.
void writeSound(const std::string& path, int format, int rate, int channels, const std::vector<float>& interleaved) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  REQUIRE_MESSAGE(sf_format_check(&info), "libsndfile cannot write format ", format, " for ", path);
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  REQUIRE_MESSAGE(f != nullptr, "cannot write ", path, ": ", sf_strerror(nullptr));
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t frames = sf_count_t(interleaved.size()) / channels;
  if (frames > 0) CHECK(sf_writef_float(f, interleaved.data(), frames) == frames);
  sf_close(f);
}

bool canWrite(int format, int rate, int channels) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  return sf_format_check(&info) != 0;
}

/// amplitude * sin(2 pi f t / rate) in every channel, times channelGain[c].
std::vector<float> sine(int rate, double seconds, double freq, std::vector<double> channelGain, double amplitude = 1) {
  const int C = int(channelGain.size());
  const Index n = Index(std::llround(seconds * rate));
  std::vector<float> x(std::size_t(n * C));
  for (Index t = 0; t < n; ++t)
    for (int c = 0; c < C; ++c)
      x[std::size_t(t * C + c)] = float(amplitude * channelGain[std::size_t(c)] * std::sin(2 * kPi * freq * double(t) / rate));
  return x;
}

std::vector<unsigned char> readBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

/// The message of the symflow::Error that loading `path` throws ("" when it loads).
std::string loadError(const std::string& path, double rate = 16000, Index length = 4000,
                      const AudioLimits& limits = {}) {
  try {
    loadAudioForModel(path, rate, length, nullptr, limits);
  } catch (const symflow::Error& e) {
    return e.what();
  }
  return "";
}

/// Frequency from linearly interpolated upward zero crossings of x[begin, end).
double zeroCrossingFrequency(const Vec<float>& x, Index begin, Index end, double rate) {
  double first = -1, last = -1;
  int count = 0;
  for (Index t = begin; t + 1 < end; ++t)
    if (x(t) < 0 && x(t + 1) >= 0) {
      const double at = double(t) + double(x(t)) / double(x(t) - x(t + 1));
      if (first < 0) first = at;
      last = at;
      ++count;
    }
  REQUIRE(count >= 2);
  return double(count - 1) * rate / (last - first);
}

/// Amplitude of the component at freq in x, Hann-windowed single-bin DFT.
double toneAmplitude(const Vec<float>& x, double freq, double rate) {
  std::complex<double> acc = 0;
  double wsum = 0;
  const Index n = x.size();
  for (Index t = 0; t < n; ++t) {
    const double w = 0.5 - 0.5 * std::cos(2 * kPi * double(t) / double(n));
    acc += w * double(x(t)) * std::polar(1.0, -2 * kPi * freq * double(t) / rate);
    wsum += w;
  }
  return 2 * std::abs(acc) / wsum;
}

bool contains(const std::vector<std::string>& notes, const std::string& part) {
  for (const auto& n : notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

std::string joined(const std::vector<std::string>& notes) {
  std::string s;
  for (const auto& n : notes) s += n + "\n";
  return s;
}

}  // namespace

TEST_CASE("48 kHz stereo WAV: mono mix, resampled to 44.1 kHz keeps the frequency, trimmed") {
  const std::string path = tmp() / "sine48k_stereo.wav";
  // 1 kHz, left 0.6, right 0.2: the mono average is 0.4 sin.
  writeSound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, sine(48000, 1.0, 1000, {0.6, 0.2}));
  std::vector<std::string> notes;
  const LoadedAudio a = loadAudioForModel(path, 44100, 22050, &notes);
  REQUIRE(a.samples.size() == 22050);
  CHECK(a.sampleRate == 44100);
  CHECK(a.sourceRate == 48000);
  CHECK(a.sourceChannels == 2);
  CHECK(a.sourceFrames == 48000);
  CHECK(a.resampled);
  CHECK(a.trimmed);
  CHECK_FALSE(a.padded);
  // Without resampling the tone would read as 1000 * 44100 / 48000 = 918.75 Hz.
  const double f = zeroCrossingFrequency(a.samples, 500, a.samples.size(), 44100);
  CHECK(f == doctest::Approx(1000).epsilon(1e-5));
  const double peak = double(a.samples.segment(500, 20000).cwiseAbs().maxCoeff());
  CHECK(peak == doctest::Approx(0.4).epsilon(0.005));
  INFO(joined(notes));
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].rfind(path + ": 1.00 s at 48000 Hz, 2 channels mixed to mono", 0) == 0);
  CHECK(contains(notes, "resampled to 44100 Hz (libsamplerate sinc best)"));
  CHECK(contains(notes, "trimmed to 22050 samples (500.0 ms)"));
}

TEST_CASE("downsampling 48 kHz -> 16 kHz removes content above the new Nyquist (no aliasing)") {
  const std::string path = tmp() / "two_tones48k.wav";
  // 7 kHz stays; 10 kHz lies above 8 kHz and would alias to 6 kHz under naive decimation.
  std::vector<float> x = sine(48000, 1.5, 7000, {0.25});
  const std::vector<float> high = sine(48000, 1.5, 10000, {0.25});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += high[i];
  writeSound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, x);
  const LoadedAudio a = loadAudioForModel(path, 16000, 16000, nullptr);
  REQUIRE(a.samples.size() == 16000);
  CHECK(toneAmplitude(a.samples, 7000, 16000) == doctest::Approx(0.25).epsilon(0.01));
  CHECK(toneAmplitude(a.samples, 6000, 16000) < 1e-3);
}

TEST_CASE("only a prefix is resampled, and it equals resampling the whole file") {
  const std::string path = tmp() / "noise48k.wav";
  Rng rng(11);
  std::vector<float> x(48000 * 3);
  for (auto& v : x) v = float(0.5 * (rng.uniform() * 2 - 1));
  writeSound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, x);
  for (const double rate : {44100.0, 16000.0, 96000.0}) {
    CAPTURE(rate);
    const LoadedAudio a = loadAudioForModel(path, rate, 1024, nullptr);
    const std::vector<float> full = resampleMono(decodeAudioFile(path).mono, rate / 48000);
    REQUIRE(full.size() > 1024);
    double maxDiff = 0;
    for (Index i = 0; i < 1024; ++i) maxDiff = std::max(maxDiff, double(std::fabs(a.samples(i) - full[std::size_t(i)])));
    CHECK(maxDiff <= 1e-6);
  }
}

TEST_CASE("FLAC shorter than the model's length is zero-padded, and says so") {
  const std::string path = tmp() / "short.flac";
  writeSound(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 1, sine(44100, 0.25, 440, {0.5}));
  std::vector<std::string> notes;
  const LoadedAudio a = loadAudioForModel(path, 44100, 22050, &notes);
  REQUIRE(a.samples.size() == 22050);
  CHECK_FALSE(a.resampled);
  CHECK(a.padded);
  CHECK_FALSE(a.trimmed);
  const std::vector<float> ref = sine(44100, 0.25, 440, {0.5});
  double maxDiff = 0;
  for (Index i = 0; i < 11025; ++i) maxDiff = std::max(maxDiff, double(std::fabs(a.samples(i) - ref[std::size_t(i)])));
  CHECK(maxDiff <= 1.0 / 32768);
  CHECK(a.samples.tail(22050 - 11025).cwiseAbs().maxCoeff() == 0.0f);
  INFO(joined(notes));
  CHECK(contains(notes, path + ": 250.0 ms at 44100 Hz, mono"));
  CHECK(contains(notes, "zero-padded to 22050 samples (500.0 ms)"));
  CHECK_FALSE(contains(notes, "resampled"));
}

TEST_CASE("16-bit mono WAV at the target rate and length is used exactly as stored") {
  const std::string path = tmp() / "pcm16_16k.wav";
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  std::vector<short> pcm(4000);
  for (std::size_t i = 0; i < pcm.size(); ++i) pcm[i] = short(int(i * 37 % 20001) - 10000);
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  REQUIRE(f);
  REQUIRE(sf_writef_short(f, pcm.data(), sf_count_t(pcm.size())) == sf_count_t(pcm.size()));
  sf_close(f);
  std::vector<std::string> notes;
  const LoadedAudio a = loadAudioForModel(path, 16000, 4000, &notes);
  REQUIRE(a.samples.size() == 4000);
  CHECK_FALSE(a.resampled);
  CHECK_FALSE(a.trimmed);
  CHECK_FALSE(a.padded);
  int mismatches = 0;
  for (Index i = 0; i < 4000; ++i) mismatches += a.samples(i) != float(pcm[std::size_t(i)]) / 32768.0f;
  CHECK(mismatches == 0);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0] == path + ": 250.0 ms at 16000 Hz, mono, 4000 samples as the model expects");
}

TEST_CASE("a truncated WAV (data chunk shorter than announced) loads with a warning naming it and the loss") {
  // Issue 17, point 6: libsndfile silently shortens the frame count to what is in the file.
  const std::string full = tmp() / "full_for_trunc.wav";
  writeSound(full, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, sine(16000, 0.5, 440, {1.0}, 0.5));
  const auto bytes = readBytes(full);
  REQUIRE(bytes.size() == 44 + 16000);
  const std::string cut = tmp() / "trunc.wav";
  writeBytes(cut, std::string(bytes.begin(), bytes.begin() + 44 + 6000));  // 3000 of 8000 frames
  std::vector<std::string> notes;
  const LoadedAudio a = loadAudioForModel(cut, 16000, 4000, &notes);
  CHECK(a.sourceFrames == 3000);
  const std::string all = joined(notes);
  INFO(all);
  CHECK(contains(notes, cut + ": warning: truncated WAV: the data chunk announces 16000 bytes but only 6000 are in "
                              "the file (10000 bytes missing, 312.5 ms of 500.0 ms)"));
  // The whole file gives no such warning, and neither does the memory entry point of a whole file.
  notes.clear();
  loadAudioForModel(full, 16000, 4000, &notes);
  CHECK_FALSE(contains(notes, "truncated"));
  // Same warning through the memory-buffer entry point.
  const std::string cutBytes(bytes.begin(), bytes.begin() + 44 + 6000);
  notes.clear();
  loadAudioBytesForModel(cutBytes.data(), cutBytes.size(), "mem.wav", 16000, 4000, &notes);
  CHECK(contains(notes, "mem.wav: warning: truncated WAV"));
}

TEST_CASE("the window the model hears: start, loudest (default for k-osc), --offset; near-silent warning") {
  // Issue 17, point 5: 1 s at 44.1 kHz, a -80 dBFS tone, then a loud burst at 0.6-0.7 s.
  const int rate = 44100;
  std::vector<float> x = sine(rate, 1.0, 440, {1.0}, 1e-4);
  for (Index t = Index(0.6 * rate); t < Index(0.7 * rate); ++t) x[std::size_t(t)] = float(0.5 * std::sin(0.3 * double(t)));
  const std::string path = tmp() / "late_burst.wav";
  writeSound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, 1, x);
  std::vector<std::string> notes;
  const LoadedAudio first = loadAudioForModel(path, rate, 1024, &notes);  // Start: the old behaviour
  CHECK(first.windowStart == 0);
  CHECK(first.nearSilent);
  CHECK(first.windowRmsDbfs < -80);
  CHECK(contains(notes, path + ": warning: the window the model hears (0.0 ms to 23.2 ms) is near silent"));
  WindowRequest loud;
  loud.mode = WindowRequest::Loudest;
  notes.clear();
  const LoadedAudio l = loadAudioForModel(path, rate, 1024, &notes, {}, loud);
  CHECK(l.windowStart >= Index(0.6 * rate));
  CHECK(l.windowStart + 1024 <= Index(0.7 * rate));
  CHECK_FALSE(l.nearSilent);
  CHECK(l.samples(0) == x[std::size_t(l.windowStart)]);
  CHECK(contains(notes, "(the loudest window, --offset to choose)"));
  CHECK_FALSE(contains(notes, "near silent"));
  WindowRequest at;
  at.mode = WindowRequest::Offset;
  at.offsetSeconds = 0.25;
  const LoadedAudio o = loadAudioForModel(path, rate, 1024, nullptr, {}, at);
  CHECK(o.windowStart == Index(std::llround(0.25 * rate)));
  CHECK(o.samples(10) == x[std::size_t(o.windowStart + 10)]);
  at.offsetSeconds = 2.0;  // past the end
  CHECK_THROWS_WITH_AS(loadAudioForModel(path, rate, 1024, nullptr, {}, at),
                       doctest::Contains("is past the end of the file"), symflow::Error);
}

TEST_CASE("the mono mix is the average of the channels") {
  const std::string path = tmp() / "lr_float.wav";
  Rng rng(5);
  std::vector<float> x(2 * 3000);
  for (auto& v : x) v = float(rng.uniform() * 2 - 1);
  writeSound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, x);
  const LoadedAudio a = loadAudioForModel(path, 16000, 3000, nullptr);
  double maxDiff = 0;
  for (Index t = 0; t < 3000; ++t)
    maxDiff = std::max(maxDiff, std::fabs(double(a.samples(t)) -
                                          0.5 * (double(x[std::size_t(2 * t)]) + double(x[std::size_t(2 * t + 1)]))));
  CHECK(maxDiff <= 1e-7);

  // Four channels, each a different constant: the average of 0.1, 0.2, 0.3, -0.2 is 0.1.
  const std::string quad = tmp() / "quad.aiff";
  std::vector<float> q;
  for (int t = 0; t < 800; ++t) q.insert(q.end(), {0.1f, 0.2f, 0.3f, -0.2f});
  writeSound(quad, SF_FORMAT_AIFF | SF_FORMAT_FLOAT, 16000, 4, q);
  const LoadedAudio b = loadAudioForModel(quad, 16000, 800, nullptr);
  CHECK(double(b.samples.minCoeff()) == doctest::Approx(0.1).epsilon(1e-6));
  CHECK(double(b.samples.maxCoeff()) == doctest::Approx(0.1).epsilon(1e-6));
}

TEST_CASE("compressed formats libsndfile supports (Ogg Vorbis, Opus, MP3) load and keep the frequency") {
  struct Case {
    const char* name;
    int format;
    int rate;
  };
  for (const Case c : {Case{"tone.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100},
                       Case{"tone.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000},
                       Case{"tone.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100}}) {
    CAPTURE(c.name);
    if (!canWrite(c.format, c.rate, 2)) {
      MESSAGE("skipped: this libsndfile cannot write ", c.name);
      continue;
    }
    const std::string path = tmp() / c.name;
    writeSound(path, c.format, c.rate, 2, sine(c.rate, 1.0, 500, {0.5, 0.5}));
    const LoadedAudio a = loadAudioForModel(path, 16000, 8000, nullptr);
    REQUIRE(a.samples.size() == 8000);
    CHECK(a.resampled);
    CHECK(zeroCrossingFrequency(a.samples, 2000, 8000, 16000) == doctest::Approx(500).epsilon(1e-3));
  }
}

TEST_CASE("the memory-buffer entry point gives the same result as the file") {
  const std::string path = tmp() / "mem.flac";
  writeSound(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 22050, 2, sine(22050, 0.5, 300, {0.3, 0.1}));
  const auto bytes = readBytes(path);
  std::vector<std::string> fileNotes, memNotes;
  const LoadedAudio a = loadAudioForModel(path, 16000, 4000, &fileNotes);
  const LoadedAudio b = loadAudioBytesForModel(bytes.data(), bytes.size(), path, 16000, 4000, &memNotes);
  CHECK(a.samples == b.samples);
  CHECK(fileNotes == memNotes);
  CHECK_THROWS_WITH_AS(loadAudioBytesForModel(nullptr, 0, "buf", 16000, 100, nullptr), "buf: is empty (0 bytes)",
                       symflow::Error);
}

TEST_CASE("bad input: each file is refused with its own one-line message naming it") {
  const auto& d = tmp();
  SUBCASE("missing file") {
    const std::string p = d / "does_not_exist.wav";
    CHECK(loadError(p) == p + ": no such file");
    const std::string q = d / "does_not_exist/x.wav";
    CHECK(loadError(q) == q + ": no such file");
  }
  SUBCASE("a directory") {
    CHECK(loadError(d.path.string()) == d.path.string() + ": is a directory, not an audio file");
  }
  SUBCASE("0-byte file") {
    const std::string p = d / "zero_bytes.wav";
    writeBytes(p, "");
    CHECK(loadError(p) == p + ": is empty (0 bytes)");
  }
  SUBCASE("text file renamed .wav") {
    const std::string p = d / "notes.wav";
    std::string text;
    for (int i = 0; i < 50; ++i) text += "This is a text file, not audio. Line " + std::to_string(i) + "\n";
    writeBytes(p, text);
    const std::string e = loadError(p);
    CHECK(e.rfind(p + ": is not an audio file (libsndfile: ", 0) == 0);
  }
  SUBCASE("WAV with a header and no samples") {
    const std::string p = d / "empty.wav";
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, {});
    CHECK(loadError(p) == p + ": contains no audio (0 samples)");
  }
  SUBCASE("silent file") {
    const std::string p = d / "silent.wav";
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, std::vector<float>(2 * 8000, 0.0f));
    CHECK(loadError(p) == p + ": is silent (every sample is 0)");
    const std::string q = d / "nearly_silent.wav";
    writeSound(q, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, sine(16000, 0.5, 100, {1}, 1e-7));
    CHECK(loadError(q).rfind(q + ": is silent (peak 1e-07, below the threshold 1e-06)", 0) == 0);
  }
  SUBCASE("channels that cancel in the mono mix") {
    const std::string p = d / "antiphase.wav";
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, sine(16000, 0.5, 100, {0.5, -0.5}));
    CHECK(loadError(p) == p + ": is silent when mixed to mono (its 2 channels cancel out)");
  }
  SUBCASE("silent where the model listens, sound later") {
    const std::string p = d / "late_start.wav";
    std::vector<float> x(16000 * 2, 0.0f);
    for (std::size_t t = 24000; t < x.size(); ++t) x[t] = 0.5f * float(std::sin(0.1 * double(t)));
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x);
    CHECK(loadError(p, 16000, 16000) ==
          p + ": is silent in the first 1.00 s that the model hears; its sound starts at 1.50 s");
  }
  SUBCASE("float WAV with a NaN / an infinity") {
    const std::string p = d / "nan.wav";
    std::vector<float> x = sine(16000, 0.5, 100, {0.5, 0.5});
    x[2 * 1234 + 1] = std::nanf("");
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, x);
    CHECK(loadError(p) == p + ": contains NaN or infinite samples (first at frame 1234, channel 2, 77.1 ms)");
    const std::string q = d / "inf.wav";
    std::vector<float> y = sine(16000, 0.5, 100, {0.5});
    y[7000] = -INFINITY;  // beyond the part the model uses: the whole file is checked
    writeSound(q, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, y);
    CHECK(loadError(q, 16000, 100).rfind(q + ": contains NaN or infinite samples (first at frame 7000", 0) == 0);
  }
  SUBCASE("9 channels") {
    const std::string p = d / "nine_channels.wav";
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 9, sine(16000, 0.1, 100, std::vector<double>(9, 0.5)));
    CHECK(loadError(p) == p + ": has 9 channels (at most 8 are supported)");
    // Eight are fine.
    const std::string q = d / "eight_channels.wav";
    writeSound(q, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 8, sine(16000, 0.1, 100, std::vector<double>(8, 0.5)));
    CHECK(loadError(q) == "");
  }
  SUBCASE("longer than 10 minutes") {
    const std::string p = d / "long.wav";
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1000, 1, std::vector<float>(601 * 1000, 0.25f));
    CHECK(loadError(p) == p + ": is 601.0 s long (files longer than 600.0 s are refused)");
    AudioLimits strict;
    strict.maxSeconds = 0.2;
    const std::string q = d / "sine48k_stereo.wav";  // 1 s, from the first test case
    writeSound(q, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, sine(48000, 1.0, 1000, {0.6, 0.2}));
    CHECK(loadError(q, 16000, 1000, strict) == q + ": is 1.00 s long (files longer than 200.0 ms are refused)");
  }
  SUBCASE("absurd sample rate") {
    const std::string p = d / "rate500.wav";
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 500, 1, sine(500, 1.0, 50, {0.5}));
    CHECK(loadError(p) == p + ": has an unsupported sample rate of 500 Hz (1000 to 768000 Hz are accepted)");
  }
  SUBCASE("unreadable (no read permission)") {
    const std::string p = d / "locked.wav";
    writeSound(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, sine(16000, 0.5, 100, {0.5}));
    REQUIRE(chmod(p.c_str(), 0) == 0);
    const std::string expected = p + ": cannot be read (permission denied)";
    if (geteuid() != 0) {
      CHECK(loadError(p) == expected);
    } else {
      // root reads anything: try as user "nobody" in a child process.
      int fds[2];
      REQUIRE(pipe(fds) == 0);
      const pid_t pid = fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        close(fds[0]);
        int status = 2;
        if (setgid(65534) == 0 && setuid(65534) == 0) {
          const std::string e = loadError(p);
          status = write(fds[1], e.data(), e.size()) == ssize_t(e.size()) ? 0 : 3;
        }
        _exit(status);
      }
      close(fds[1]);
      std::string got;
      char buf[512];
      for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, std::size_t(n));
      close(fds[0]);
      int status = 0;
      waitpid(pid, &status, 0);
      REQUIRE(WIFEXITED(status));
      if (WEXITSTATUS(status) == 2)
        MESSAGE("skipped: running as root and cannot switch to user nobody");
      else
        CHECK(got == expected);
    }
    chmod(p.c_str(), 0644);
  }
}

TEST_CASE("every error is one line, and damaged files load or throw symflow::Error (never crash)") {
  // A deterministic mini-fuzz: every prefix and 300 random byte corruptions of a WAV and a FLAC.
  const std::string wav = tmp() / "fuzz_seed.wav", flac = tmp() / "fuzz_seed.flac";
  writeSound(wav, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 2, sine(22050, 0.1, 440, {0.5, 0.4}));
  writeSound(flac, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 2, sine(22050, 0.1, 440, {0.5, 0.4}));
  AudioLimits lim;
  lim.maxSeconds = 5;
  Rng rng(3);
  int loaded = 0, refused = 0, multiLine = 0;
  auto attempt = [&](const std::vector<unsigned char>& bytes) {
    try {
      std::vector<std::string> notes;
      const LoadedAudio a = loadAudioBytesForModel(bytes.data(), bytes.size(), "damaged", 16000, 1600, &notes, lim);
      loaded += a.samples.size() == 1600 && a.samples.allFinite();
      for (const auto& n : notes) multiLine += n.find('\n') != std::string::npos;
    } catch (const symflow::Error& e) {
      ++refused;
      multiLine += std::string(e.what()).find('\n') != std::string::npos;
      CHECK(std::string(e.what()).rfind("damaged: ", 0) == 0);
    }
  };
  for (const std::string& seed : {wav, flac}) {
    const auto bytes = readBytes(seed);
    for (std::size_t n = 0; n <= bytes.size(); n += (n < 200 ? 1 : 97)) attempt({bytes.begin(), bytes.begin() + long(n)});
    for (int k = 0; k < 150; ++k) {
      auto b = bytes;
      const int flips = 1 + int(rng.uniform() * 8);
      for (int i = 0; i < flips; ++i) {
        // Mostly the header (where the parsing is), sometimes anywhere.
        const std::size_t span = rng.uniform() < 0.7 ? std::min<std::size_t>(b.size(), 128) : b.size();
        b[std::size_t(rng.uniform() * double(span)) % b.size()] = static_cast<unsigned char>(rng.uniform() * 256);
      }
      attempt(b);
    }
  }
  MESSAGE("damaged inputs: ", loaded, " loaded, ", refused, " refused");
  CHECK(loaded > 0);
  CHECK(refused > 0);
  CHECK(multiLine == 0);
}

TEST_CASE("arguments from the program are checked") {
  const std::string path = tmp() / "args.wav";
  writeSound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, sine(16000, 0.1, 100, {0.5}));
  CHECK_THROWS_AS(loadAudioForModel(path, 0, 100, nullptr), symflow::Error);
  CHECK_THROWS_AS(loadAudioForModel(path, 16000, 0, nullptr), symflow::Error);
  CHECK_THROWS_AS(loadAudioForModel(path, NAN, 100, nullptr), symflow::Error);
  CHECK_NOTHROW(loadAudioForModel(path, 16000, 100, nullptr));
}

#endif  // SYMFLOW_HAVE_AUDIO_INPUT
