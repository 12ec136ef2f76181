// fuzz/fuzz_audio.cpp - libFuzzer harness for the audio reader of `symflow invert`
// (examples/symflow/audio_input.hpp): libsndfile (sf_open_virtual over the input bytes: WAV,
// AIFF, FLAC, Ogg, MP3, CAF, ... by content) -> channel mix -> libsamplerate -> trim / pad.
//
// Input: the bytes of an audio file, read by loadAudioBytesForModel, the in-memory twin of the
// loadAudioForModel that invert calls on files (same decoder, same checks). Target: what invert
// asks for, 1024 samples at 44.1 kHz (the k-osc model). Limits are tightened for speed
// (5 s, rates up to 96 kHz); the checks they drive are the same. Every refusal must be a
// symflow::Error with one line; the result must be exactly 1024 finite samples.
// Third-party leak: libsndfile 1.2.0 (Debian 12) leaks a vorbis_info for corrupted Ogg Vorbis
// input; scripts/fuzz.sh runs this harness with LSAN suppression "leak:vorbis_info_init".
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "audio_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  symflow::cli::AudioLimits limits;
  limits.maxSeconds = 5;
  limits.maxSampleRate = 96000;
  std::vector<std::string> notes;
  try {
    const auto a = symflow::cli::loadAudioBytesForModel(data, size, "fuzz.wav", 44100, 1024, &notes, limits);
    if (a.samples.size() != 1024) std::abort();
    for (float x : a.samples)
      if (!std::isfinite(x)) std::abort();
    for (const auto& n : notes)
      if (n.find('\n') != std::string::npos) std::abort();
  } catch (const symflow::Error& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
