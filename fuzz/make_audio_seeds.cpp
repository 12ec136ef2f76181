// fuzz/make_audio_seeds.cpp - writes one WAV that symflow wrote (symflow render / invert) again
// in the other containers and codecs libsndfile can read, as seeds for fuzz_audio:
//   make_audio_seeds IN.wav OUTDIR     -> OUTDIR/seed.{flac,ogg,opus,aiff,caf,au,w64,rf64,mp3,...}
// (fuzz/make_corpus.sh runs it). Formats this libsndfile cannot write are skipped with a note.
#include <sndfile.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_audio_seeds IN.wav OUTDIR\n");
    return 2;
  }
  SF_INFO in{};
  SNDFILE* f = sf_open(argv[1], SFM_READ, &in);
  if (!f) {
    std::fprintf(stderr, "%s: %s\n", argv[1], sf_strerror(nullptr));
    return 1;
  }
  std::vector<float> samples(static_cast<std::size_t>(in.frames * in.channels));
  sf_readf_float(f, samples.data(), in.frames);
  sf_close(f);
  struct Target {
    const char* name;
    int format;
    int rate;  // 0: the input's
  };
  const Target targets[] = {
      {"seed.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 0},
      {"seed.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 0},
      {"seed.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000},
      {"seed.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 0},
      {"seed.caf", SF_FORMAT_CAF | SF_FORMAT_ALAW, 0},
      {"seed.au", SF_FORMAT_AU | SF_FORMAT_ULAW, 0},
      {"seed.w64", SF_FORMAT_W64 | SF_FORMAT_DOUBLE, 0},
      {"seed.rf64", SF_FORMAT_RF64 | SF_FORMAT_PCM_U8, 0},
      {"seed-adpcm.wav", SF_FORMAT_WAV | SF_FORMAT_IMA_ADPCM, 0},
      {"seed-msadpcm.wav", SF_FORMAT_WAV | SF_FORMAT_MS_ADPCM, 0},
      {"seed-gsm.wav", SF_FORMAT_WAV | SF_FORMAT_GSM610, 8000},
      {"seed.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 0},
      {"seed.voc", SF_FORMAT_VOC | SF_FORMAT_PCM_16, 0},
      {"seed.w", SF_FORMAT_WVE | SF_FORMAT_ALAW, 8000},
  };
  for (const auto& t : targets) {
    SF_INFO out{};
    out.samplerate = t.rate ? t.rate : in.samplerate;  // a header rate only; the samples are the same
    out.channels = in.channels;
    out.format = t.format;
    const std::string path = std::string(argv[2]) + "/" + t.name;
    SNDFILE* g = sf_open(path.c_str(), SFM_WRITE, &out);
    if (!g) {
      std::fprintf(stderr, "skipped %s: %s\n", t.name, sf_strerror(nullptr));
      continue;
    }
    sf_writef_float(g, samples.data(), in.frames);
    sf_close(g);
  }
  return 0;
}
