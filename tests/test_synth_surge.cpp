// Tests of the Surge-style synth (symflow/synth/surge.hpp) and its spec (surge_spec.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <set>

#include "symflow/synth/surge.hpp"

using namespace symflow;
using namespace symflow::synth;

namespace {

const ParamSpec& S = SurgeSynth::spec();

void setUnits(Mat<float>& p, Index col, const std::string& name, double units) {
  const Index i = S.indexOf(name);
  p(i, col) = float(S[i].toModel(units));
}

/// A plain patch: one saw on osc1, filters open, no modulation, note 69 from 0 to 0.9.
Mat<float> plainPatch() {
  Mat<float> p = Mat<float>::Constant(93, 1, -1.f);
  setUnits(p, 0, "filter1_cutoff", 12000);
  setUnits(p, 0, "filter2_cutoff", 12000);
  setUnits(p, 0, "filter1_env_amount", 0);
  setUnits(p, 0, "filter2_env_amount", 0);
  setUnits(p, 0, "amp_sustain", 1);
  setUnits(p, 0, "note_pitch", 69);
  setUnits(p, 0, "note_off", 0.9);
  for (int i = 1; i <= 6; ++i) setUnits(p, 0, "lfo" + std::to_string(i) + "_amount", 0);
  for (int i = 1; i <= 3; ++i) {
    setUnits(p, 0, "osc" + std::to_string(i) + "_pitch", 0);
    setUnits(p, 0, "osc" + std::to_string(i) + "_width", 0.5);
  }
  setUnits(p, 0, "osc1_saw", 1);
  setUnits(p, 0, "osc1_volume", 1);
  return p;
}

std::vector<std::uint64_t> iotaSeeds(Index B, std::uint64_t first = 100) {
  std::vector<std::uint64_t> s(std::size_t(B), 0);
  for (Index b = 0; b < B; ++b) s[std::size_t(b)] = first + std::uint64_t(b);
  return s;
}

/// Fraction (dB) of the spectral energy of x[start, start + N) farther than 25 Hz from every
/// harmonic of f0 (Hann window, direct DFT).
double inharmonicDb(const float* x, Index N, double f0, double fs) {
  double total = 0, off = 0;
  const double pi = 3.14159265358979323846;
  std::vector<double> w(std::size_t(N), 0.0);
  for (Index n = 0; n < N; ++n) w[std::size_t(n)] = (0.5 - 0.5 * std::cos(2 * pi * double(n) / double(N))) * x[n];
  for (Index k = 1; k < N / 2; ++k) {
    std::complex<double> acc = 0, rot = std::polar(1.0, -2 * pi * double(k) / double(N)), z = 1;
    for (Index n = 0; n < N; ++n, z *= rot) acc += w[std::size_t(n)] * z;
    const double e = std::norm(acc), f = double(k) * fs / double(N), h = f / f0;
    total += e;
    if (std::abs(h - std::round(h)) * f0 > 25) off += e;
  }
  return 10 * std::log10(off / total);
}

/// Energy of x at frequency f (Goertzel-style single-bin DFT, Hann window).
double energyAt(const float* x, Index N, double f, double fs) {
  const double pi = 3.14159265358979323846;
  std::complex<double> acc = 0;
  for (Index n = 0; n < N; ++n)
    acc += (0.5 - 0.5 * std::cos(2 * pi * double(n) / double(N))) * double(x[n]) *
           std::polar(1.0, -2 * pi * f * double(n) / fs);
  return std::norm(acc);
}

}  // namespace

TEST_CASE("surge spec: 93 parameters, unique names, ranges, layout helpers, symmetries") {
  REQUIRE(S.size() == 93);
  CHECK_NOTHROW(S.validate());
  std::set<std::string> names;
  for (const auto& p : S.params) names.insert(p.name);
  CHECK(names.size() == 93);
  Index notes = 0;
  for (const auto& p : S.params) {
    CHECK(p.max > p.min);
    if (p.curve == Curve::Exponential) CHECK(p.min > 0);
    CHECK(p.toUnits(-1) == doctest::Approx(p.min));
    CHECK(p.toUnits(1) == doctest::Approx(p.max));
    CHECK(p.toUnits(-7) == doctest::Approx(p.min));  // clamped
    CHECK(p.toUnits(7) == doctest::Approx(p.max));
    for (double v : {-0.9, -0.3, 0.0, 0.42, 0.99}) CHECK(p.toModel(p.toUnits(v)) == doctest::Approx(v).epsilon(1e-9));
    if (p.group == "note") ++notes;
  }
  CHECK(notes == 3);
  CHECK(S[surge::oscParam(1, surge::OscSync)].name == "osc2_sync");
  CHECK(S[surge::oscParam(2, surge::OscVolume)].name == "osc3_volume");
  CHECK(S[surge::filterParam(1, surge::FilterEnvAmount)].name == "filter2_env_amount");
  CHECK(S[surge::lfoParam(4, surge::LfoRelease)].name == "lfo5_release");
  CHECK(S[surge::lfoParam(5, surge::LfoRate)].name == "lfo6_rate");
  CHECK(S[surge::lfoParam(5, surge::LfoRelease)].name == "lfo6_release");
  CHECK(surge::lfoParam(5, surge::LfoPhase) == -1);
  CHECK(S.find("lfo6_phase") == -1);
  CHECK(S[surge::kNotePitch].name == "note_pitch");
  CHECK(S[surge::kNoteOff].name == "note_off");
  CHECK(S[S.indexOf("note_pitch")].min == 48);
  CHECK(S[S.indexOf("note_pitch")].max == 72);
  CHECK(S[S.indexOf("amp_release")].max == doctest::Approx(4.0));
  CHECK_THROWS_AS(S.indexOf("osc4_pitch"), Error);
  REQUIRE(S.symmetries.size() == 2);
  CHECK(S.symmetries[0].order() == 3);
  CHECK(S.symmetries[0].blocks[0].size() == 16);
  CHECK(S.symmetries[1].order() == 2);
  CHECK(S.symmetries[1].blocks[0].size() == 12);
  // Block position m holds the same kind of parameter in every block.
  CHECK(S[S.symmetries[0].blocks[2][7]].name == "lfo3_rate");
  CHECK(S[S.symmetries[1].blocks[1][0]].name == "filter2_cutoff");
  CHECK(S[S.symmetries[1].blocks[1][3]].name == "lfo5_rate");
}

TEST_CASE("param spec validation refuses malformed specs") {
  ParamSpec bad = S;
  bad.params[5].name = bad.params[4].name;
  CHECK_THROWS_AS(bad.validate(), Error);
  bad = S;
  bad.symmetries[0].blocks[1].pop_back();
  CHECK_THROWS_AS(bad.validate(), Error);
  bad = S;
  std::swap(bad.symmetries[0].blocks[1][0], bad.symmetries[0].blocks[1][1]);  // pitch paired with saw
  CHECK_THROWS_AS(bad.validate(), Error);
  bad = S;
  bad.symmetries[1].blocks[0][0] = bad.symmetries[0].blocks[0][0];  // index used twice
  CHECK_THROWS_AS(bad.validate(), Error);
  Mat<float> x = Mat<float>::Zero(93, 1);
  CHECK_THROWS_AS(S.permuted<float>(x, 0, {0, 0, 1}), Error);
  CHECK_THROWS_AS(S.permuted<float>(x, 1, {0, 1, 2}), Error);
  CHECK_THROWS_AS(S.permuted<float>(x, 2, {0, 1}), Error);
}

TEST_CASE("permuted() moves whole blocks") {
  Mat<float> x(93, 1);
  for (Index i = 0; i < 93; ++i) x(i, 0) = float(i);
  const Mat<float> y = S.permuted<float>(x, 0, {1, 2, 0});  // position 0 -> 1, 1 -> 2, 2 -> 0
  CHECK(y(S.indexOf("osc2_pitch"), 0) == float(S.indexOf("osc1_pitch")));
  CHECK(y(S.indexOf("lfo2_deform"), 0) == float(S.indexOf("lfo1_deform")));
  CHECK(y(S.indexOf("osc1_volume"), 0) == float(S.indexOf("osc3_volume")));
  CHECK(y(S.indexOf("filter1_cutoff"), 0) == float(S.indexOf("filter1_cutoff")));
  CHECK(y(S.indexOf("lfo6_rate"), 0) == float(S.indexOf("lfo6_rate")));
}

TEST_CASE("declared symmetries are exact: every permutation of S3 x S2 renders identical audio") {
  for (double rate : {16000.0, 44100.0}) {
    SurgeConfig cfg;
    cfg.sampleRate = rate;
    cfg.seconds = rate > 20000 ? 0.5 : 2.0;
    SurgeSynth synth(cfg);
    Rng rng(7);
    const Index B = rate > 20000 ? 16 : 40;  // 40: two full SIMD chunks plus a padded one
    const Mat<float> params = SurgeSynth::sampleUniform(rng, B);
    const auto seeds = iotaSeeds(B);
    const Mat<float> ref = synth.render(params, seeds);
    REQUIRE(ref.allFinite());
    REQUIRE(ref.cwiseAbs().maxCoeff() > 0.01f);
    for (const auto& p3 : allPermutations(3))
      for (const auto& p2 : allPermutations(2)) {
        const Mat<float> twin = S.permuted<float>(S.permuted<float>(params, 0, p3), 1, p2);
        const Mat<float> out = synth.render(twin, seeds);
        const float diff = (out - ref).cwiseAbs().maxCoeff();
        INFO("rate " << rate << " S3 perm " << p3[0] << p3[1] << p3[2] << " S2 perm " << p2[0] << p2[1]);
        CHECK(diff <= 1e-6f);  // in practice 0: the engine is bitwise symmetric
      }
  }
}

TEST_CASE("permutations that are NOT declared symmetries change the sound (the check can fail)") {
  SurgeSynth synth;
  Rng rng(8);
  const Index B = 16;
  Mat<float> params = SurgeSynth::sampleUniform(rng, B);
  for (Index b = 0; b < B; ++b) {  // strong pitch LFOs, so moving an osc without its LFO matters
    for (int i = 1; i <= 3; ++i) {
      setUnits(params, b, "lfo" + std::to_string(i) + "_amount", 6.0 * (i - 2) + 1.0);
      setUnits(params, b, "osc" + std::to_string(i) + "_volume", 0.8);
    }
    setUnits(params, b, "noise_volume", 0);
  }
  const auto seeds = iotaSeeds(B);
  const Mat<float> ref = synth.render(params, seeds);
  // Oscillator blocks without their LFOs.
  Mat<float> oscOnly = params;
  for (Index q = 0; q < surge::kOscStride; ++q)
    oscOnly.row(surge::oscParam(0, surge::OscParam(q))).swap(oscOnly.row(surge::oscParam(1, surge::OscParam(q))));
  CHECK((synth.render(oscOnly, seeds) - ref).cwiseAbs().maxCoeff() > 1e-3f);
  // Filter blocks swapped without their LFOs (given clearly different cutoff LFO depths).
  Mat<float> filterOnly = params;
  for (Index q = 0; q < surge::kFilterStride; ++q)
    filterOnly.row(surge::filterParam(0, surge::FilterParam(q)))
        .swap(filterOnly.row(surge::filterParam(1, surge::FilterParam(q))));
  Mat<float> filterRef = params;
  for (Index b = 0; b < B; ++b)
    for (Mat<float>* m : {&filterOnly, &filterRef}) {
      setUnits(*m, b, "lfo4_amount", 30);
      setUnits(*m, b, "lfo5_amount", -3);
    }
  CHECK((synth.render(filterOnly, seeds) - synth.render(filterRef, seeds)).cwiseAbs().maxCoeff() > 1e-3f);
}

TEST_CASE("determinism: same params and seeds give the same audio, whatever the batch around them") {
  SurgeSynth synth;
  Rng rng(9);
  const Index B = 20;
  const Mat<float> params = SurgeSynth::sampleUniform(rng, B);
  const auto seeds = iotaSeeds(B);
  const Mat<float> a = synth.render(params, seeds);
  const Mat<float> b = synth.render(params, seeds);
  CHECK((a - b).cwiseAbs().maxCoeff() == 0.f);
  // Sound 17 alone (lane 0 of its own chunk) equals sound 17 of the batch (lane 1 of chunk 2).
  const Mat<float> alone = synth.render(params.col(17), std::vector<std::uint64_t>{seeds[17]});
  CHECK((alone.col(0) - a.col(17)).cwiseAbs().maxCoeff() == 0.f);
  // Random batches from the same Rng state are identical.
  Rng r1(5), r2(5);
  const auto s1 = synth.sampleRandom(r1, 12);
  const auto s2 = synth.sampleRandom(r2, 12);
  CHECK((s1.params - s2.params).cwiseAbs().maxCoeff() == 0.f);
  CHECK(s1.seeds == s2.seeds);
  CHECK((s1.audio - s2.audio).cwiseAbs().maxCoeff() == 0.f);
  CHECK(r1.next() == r2.next());
}

TEST_CASE("noise depends on the seed only; without noise the seed does not matter") {
  SurgeSynth synth;
  Mat<float> p = plainPatch();
  setUnits(p, 0, "noise_volume", 0.5);
  const Mat<float> a = synth.render(p, std::vector<std::uint64_t>{1});
  const Mat<float> b = synth.render(p, std::vector<std::uint64_t>{2});
  CHECK((a - b).cwiseAbs().maxCoeff() > 1e-3f);
  setUnits(p, 0, "noise_volume", 0);
  const Mat<float> c = synth.render(p, std::vector<std::uint64_t>{1});
  const Mat<float> d = synth.render(p, std::vector<std::uint64_t>{2});
  CHECK((c - d).cwiseAbs().maxCoeff() == 0.f);
}

TEST_CASE("out-of-range parameters are clamped; NaN and bad shapes are refused") {
  SurgeSynth synth;
  Rng rng(10);
  const Index B = 8;
  Mat<float> params = SurgeSynth::sampleUniform(rng, B);
  Mat<float> wild = params * 3.f;  // mostly outside [-1, 1]
  wild(0, 0) = std::numeric_limits<float>::infinity();
  wild(5, 1) = -std::numeric_limits<float>::infinity();
  const Mat<float> clamped = wild.cwiseMax(-1.f).cwiseMin(1.f);
  const auto seeds = iotaSeeds(B);
  const Mat<float> a = synth.render(wild, seeds);
  const Mat<float> b = synth.render(clamped, seeds);
  CHECK(a.allFinite());
  CHECK((a - b).cwiseAbs().maxCoeff() == 0.f);
  Mat<float> nan = params;
  nan(3, 2) = std::numeric_limits<float>::quiet_NaN();
  Mat<float> out;
  CHECK_THROWS_AS(synth.render(nan, out, seeds), Error);
  CHECK_THROWS_AS(synth.render(params.topRows(92), out, seeds), Error);
  CHECK_THROWS_AS(synth.render(params, out, iotaSeeds(B - 1)), Error);
  // Double parameters are accepted and give the same audio.
  const Mat<double> pd = params.cast<double>();
  CHECK((synth.render(pd, seeds) - synth.render(params, seeds)).cwiseAbs().maxCoeff() == 0.f);
}

TEST_CASE("bad configurations are refused with symflow::Error") {
  auto make = [](double rate, double seconds, double floorDb = -50) {
    SurgeConfig c;
    c.sampleRate = rate;
    c.seconds = seconds;
    c.loudnessFloorDb = floorDb;
    return SurgeSynth(c);
  };
  CHECK_THROWS_AS(make(0, 2), Error);
  CHECK_THROWS_AS(make(-16000, 2), Error);
  CHECK_THROWS_AS(make(96000, 2), Error);
  CHECK_THROWS_AS(make(std::nan(""), 2), Error);
  CHECK_THROWS_AS(make(16000, 0), Error);
  CHECK_THROWS_AS(make(16000, -1), Error);
  CHECK_THROWS_AS(make(16000, 100), Error);
  CHECK_THROWS_AS(make(16000, std::numeric_limits<double>::infinity()), Error);
  CHECK_THROWS_AS(make(16000, 2, 3), Error);
  CHECK_THROWS_AS(make(16000, 2, std::nan("")), Error);
  CHECK_NOTHROW(make(44100, 4));
  CHECK(make(44100, 4).numSamples() == 176400);
  CHECK(make(16000, 2).numSamples() == 32000);
  CHECK(make(16000, 2).controlInterval() == 8);
}

TEST_CASE("loudness floor: random patches below -50 dBFS RMS are redrawn, deterministically") {
  SurgeSynth synth;
  CHECK(synth.config().loudnessFloorDb == -50);
  const Index B = 96;
  // Replay the first draw (params then seed, sound by sound) to know which were quiet.
  Rng replay(11);
  Mat<float> first(93, B);
  std::vector<std::uint64_t> firstSeeds(std::size_t(B), 0);
  for (Index b = 0; b < B; ++b) {
    SurgeSynth::drawUniformPatch(replay, first.col(b).data());
    firstSeeds[std::size_t(b)] = replay.next();
  }
  const Mat<float> firstAudio = synth.render(first, firstSeeds);
  std::vector<bool> quiet(std::size_t(B), false);
  Index nQuiet = 0;
  for (Index b = 0; b < B; ++b)
    if (rmsDb(firstAudio.col(b).data(), synth.numSamples()) < -50) {
      quiet[std::size_t(b)] = true;
      ++nQuiet;
    }
  REQUIRE(nQuiet > 0);  // this seed does draw quiet patches
  Rng rng(11);
  const auto batch = synth.sampleRandom(rng, B);
  CHECK(batch.redraws >= nQuiet);
  for (Index b = 0; b < B; ++b) {
    CHECK(rmsDb(batch.audio.col(b).data(), synth.numSamples()) >= -50);
    if (!quiet[std::size_t(b)]) {
      CHECK((batch.params.col(b) - first.col(b)).cwiseAbs().maxCoeff() == 0.f);
      CHECK(batch.seeds[std::size_t(b)] == firstSeeds[std::size_t(b)]);
    } else {
      CHECK((batch.params.col(b) - first.col(b)).cwiseAbs().maxCoeff() > 0.f);
    }
  }
  // The stored audio is the audio of the stored params.
  CHECK((synth.render(batch.params, batch.seeds) - batch.audio).cwiseAbs().maxCoeff() == 0.f);
  // Note pitches are integers in 48..72.
  for (Index b = 0; b < B; ++b) {
    const double note = S[surge::kNotePitch].toUnits(batch.params(surge::kNotePitch, b));
    CHECK(std::abs(note - std::round(note)) < 1e-4);
    CHECK(note >= 48 - 1e-6);
    CHECK(note <= 72 + 1e-6);
  }
}

TEST_CASE("a stricter loudness floor forces redraws; silent patches are silent") {
  SurgeConfig cfg;
  cfg.loudnessFloorDb = -25;
  cfg.seconds = 0.5;
  SurgeSynth synth(cfg);
  Rng rng(12);
  const auto batch = synth.sampleRandom(rng, 32);
  CHECK(batch.redraws > 0);
  for (Index b = 0; b < 32; ++b) CHECK(rmsDb(batch.audio.col(b).data(), synth.numSamples()) >= -25);
  Mat<float> p = plainPatch();
  setUnits(p, 0, "osc1_volume", 0);
  const Mat<float> silent = SurgeSynth().render(p, std::vector<std::uint64_t>{1});
  CHECK(silent.cwiseAbs().maxCoeff() == 0.f);
  CHECK(rmsDb(silent.data(), silent.rows()) < -50);
  SurgeConfig never = cfg;
  never.loudnessFloorDb = -1e-3;  // unreachable (|out| <= 1 and envelopes start at 0)
  never.maxRedrawRounds = 3;
  Rng r2(1);
  CHECK_THROWS_AS(SurgeSynth(never).sampleRandom(r2, 4), Error);
}

TEST_CASE("output is bounded and finite, also at maximum resonance and extreme settings") {
  SurgeSynth synth;
  Rng rng(13);
  const Index B = 48;
  Mat<float> params = SurgeSynth::sampleUniform(rng, B);
  for (Index b = 0; b < 16; ++b) {  // maximum resonance, loud oscillators
    params(surge::filterParam(0, surge::FilterResonance), b) = 1;
    params(surge::filterParam(1, surge::FilterResonance), b) = 1;
    for (Index i = 0; i < 3; ++i) params(surge::oscParam(i, surge::OscVolume), b) = 1;
  }
  for (Index b = 16; b < 32; ++b) params.col(b) = (b % 2 ? 1.f : -1.f) * Mat<float>::Ones(93, 1);  // corners
  for (Index b = 32; b < 48; ++b)  // everything at the top, with deep modulation
    for (Index i = 0; i < 90; ++i) params(i, b) = rng.uniform() < 0.5 ? 1.f : -1.f;
  const Mat<float> out = synth.render(params, iotaSeeds(B));
  CHECK(out.allFinite());
  CHECK(out.cwiseAbs().maxCoeff() <= 1.f);
  // Before note-on the output is exactly silent.
  const double dur = synth.config().seconds, fs = synth.config().sampleRate;
  for (Index b = 0; b < B; ++b) {
    const double on = S[surge::kNoteOn].toUnits(params(surge::kNoteOn, b)) * dur;
    const Index n = Index(on * fs) - synth.controlInterval() - 2;
    if (n > 0) CHECK(out.col(b).head(n).cwiseAbs().maxCoeff() == 0.f);
  }
  // 44.1 kHz, 4 s works too.
  SurgeConfig big;
  big.sampleRate = 44100;
  big.seconds = 4;
  const Mat<float> o2 = SurgeSynth(big).render(params.leftCols(4), iotaSeeds(4));
  CHECK(o2.rows() == 176400);
  CHECK(o2.allFinite());
  CHECK(o2.cwiseAbs().maxCoeff() <= 1.f);
}

TEST_CASE("sounds like a synth: pitch, levels, envelope timing, filter and band-limiting") {
  SurgeSynth synth;
  const double fs = 16000;
  const Index N = 4096, start = 12000;
  Mat<float> p = plainPatch();  // A4 saw
  const Mat<float> a4 = synth.render(p, std::vector<std::uint64_t>{1});
  const float* x = a4.col(0).data() + start;
  CHECK(energyAt(x, N, 440, fs) > 100 * energyAt(x, N, 415, fs));
  CHECK(energyAt(x, N, 440, fs) > 100 * energyAt(x, N, 466, fs));
  CHECK(energyAt(x, N, 880, fs) > 0.1 * energyAt(x, N, 440, fs));  // saw: 2nd harmonic -6 dB
  const double level = rmsDb(x, N);
  CHECK(level > -20);
  CHECK(level < -3);
  // osc pitch +12 semitones: one octave up
  setUnits(p, 0, "osc1_pitch", 12);
  const Mat<float> a5 = synth.render(p, std::vector<std::uint64_t>{1});
  CHECK(energyAt(a5.col(0).data() + start, N, 880, fs) > 100 * energyAt(a5.col(0).data() + start, N, 440, fs));
  // Note-on / note-off timing: silent before note-on, decays after note-off.
  p = plainPatch();
  setUnits(p, 0, "note_on", 0.25);   // 0.5 s
  setUnits(p, 0, "note_off", 0.5);   // 1.0 s
  setUnits(p, 0, "amp_release", 0.05);
  const Mat<float> gated = synth.render(p, std::vector<std::uint64_t>{1});
  CHECK(gated.col(0).head(7990).cwiseAbs().maxCoeff() == 0.f);
  CHECK(rmsDb(gated.col(0).data() + 10000, 4000) > -20);
  CHECK(rmsDb(gated.col(0).data() + 20000, 4000) < -80);
  // A low cutoff removes the upper harmonics.
  p = plainPatch();
  setUnits(p, 0, "filter1_cutoff", 200);
  setUnits(p, 0, "filter2_cutoff", 200);
  const Mat<float> dark = synth.render(p, std::vector<std::uint64_t>{1});
  const float* d = dark.col(0).data() + start;
  CHECK(energyAt(d, N, 2200, fs) < 1e-3 * energyAt(x, N, 2200, fs));
  // Band-limiting: little energy between the harmonics (a naive saw: about -15 dB here).
  p = plainPatch();
  setUnits(p, 0, "note_pitch", 72);
  const Mat<float> c5 = synth.render(p, std::vector<std::uint64_t>{1});
  const double f0 = 440 * std::pow(2.0, 3.0 / 12.0);
  CHECK(inharmonicDb(c5.col(0).data() + start, N, f0, fs) < -30);
  setUnits(p, 0, "osc1_sync", 7);  // hard sync: still harmonic of the master, band-limited
  const Mat<float> sync = synth.render(p, std::vector<std::uint64_t>{1});
  CHECK(inharmonicDb(sync.col(0).data() + start, N, f0, fs) < -28);
  setUnits(p, 0, "osc1_saw", 0);
  setUnits(p, 0, "osc1_triangle", 1);
  const Mat<float> syncTri = synth.render(p, std::vector<std::uint64_t>{1});
  CHECK(inharmonicDb(syncTri.col(0).data() + start, N, f0, fs) < -28);
}

TEST_CASE("random batches: varied levels, mostly below the soft-clip region") {
  SurgeSynth synth;
  Rng rng(14);
  const auto batch = synth.sampleRandom(rng, 64);
  std::vector<double> levels;
  Index hot = 0;
  for (Index b = 0; b < 64; ++b) {
    levels.push_back(rmsDb(batch.audio.col(b).data(), synth.numSamples()));
    if (batch.audio.col(b).cwiseAbs().maxCoeff() > 0.9f) ++hot;
  }
  std::sort(levels.begin(), levels.end());
  CHECK(levels[32] > -35);  // median
  CHECK(levels[32] < -12);
  CHECK(levels.back() - levels.front() > 15);
  CHECK(hot < 16);
}
