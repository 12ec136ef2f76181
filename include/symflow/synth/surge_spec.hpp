// symflow/synth/surge_spec.hpp - the parameter set of the Surge-style subtractive synth.
//
// 93 parameters (90 synth + 3 note), flat order (0-based indices):
//
//    0..20  osc1, osc2, osc3 (7 each): pitch, saw, pulse, triangle, width, sync, volume
//       21  noise_volume
//       22  highpass_cutoff
//   23..28  filter1, filter2 (3 each): cutoff, resonance, env_amount
//   29..32  amp envelope: attack, decay, sustain, release
//   33..36  filter envelope: attack, decay, sustain, release
//   37..81  lfo1..lfo5 (9 each): rate, phase, deform, amount, attack, hold, decay, sustain, release
//   82..89  lfo6 (8, no phase): rate, deform, amount, attack, hold, decay, sustain, release
//   90..92  note: pitch, on, off
//
// Fixed routing: lfo i -> pitch of osc i (i = 1..3), lfo4 -> cutoff of filter1, lfo5 -> cutoff
// of filter2, lfo6 -> output amplitude. Declared symmetries (exact, see surge.hpp):
//   S3 over the blocks (osc i params, lfo i params), i = 1..3 (16 indices per block);
//   S2 over the blocks (filter j params, lfo 3+j params), j = 1..2 (12 indices per block).
// Ranges, units and curves: see surgeSimpleSpec() below (printed by
// `symflow render --task surge-simple --list-params`, tabulated in docs/synth-surge.md).
#pragma once
#include <string>
#include <vector>

#include "symflow/synth/param_spec.hpp"

namespace symflow::synth::surge {

inline constexpr Index kNumOscs = 3;
inline constexpr Index kOscStride = 7;
enum OscParam : Index { OscPitch, OscSaw, OscPulse, OscTriangle, OscWidth, OscSync, OscVolume };
inline constexpr Index kNoiseVolume = 21;
inline constexpr Index kHighpassCutoff = 22;
inline constexpr Index kFilter0 = 23;
inline constexpr Index kNumFilters = 2;
inline constexpr Index kFilterStride = 3;
enum FilterParam : Index { FilterCutoff, FilterResonance, FilterEnvAmount };
inline constexpr Index kAmpEnv = 29;
inline constexpr Index kFilterEnv = 33;
enum EnvParam : Index { EnvAttack, EnvDecay, EnvSustain, EnvRelease };
inline constexpr Index kLfo0 = 37;
inline constexpr Index kNumLfos = 6;
inline constexpr Index kLfoStride = 9;
inline constexpr Index kLfo6 = 82;
enum LfoParam : Index {
  LfoRate, LfoPhase, LfoDeform, LfoAmount, LfoAttack, LfoHold, LfoDecay, LfoSustain, LfoRelease
};
inline constexpr Index kNotePitch = 90;
inline constexpr Index kNoteOn = 91;
inline constexpr Index kNoteOff = 92;
inline constexpr Index kNumSynthParams = 90;
inline constexpr Index kNumParams = 93;

/// Flat index of parameter p of oscillator osc (0-based).
constexpr Index oscParam(Index osc, OscParam p) { return osc * kOscStride + Index(p); }
/// Flat index of parameter p of filter f (0-based).
constexpr Index filterParam(Index f, FilterParam p) { return kFilter0 + f * kFilterStride + Index(p); }
/// Flat index of parameter p of LFO lfo (0-based; lfo 5 = LFO 6 has no phase: returns -1).
constexpr Index lfoParam(Index lfo, LfoParam p) {
  if (lfo < 5) return kLfo0 + lfo * kLfoStride + Index(p);
  if (p == LfoPhase) return -1;
  return kLfo6 + Index(p) - (Index(p) > Index(LfoPhase) ? 1 : 0);
}

// Musical constants of the mapping (shared by the spec and the engine).
inline constexpr double kMinTime = 0.001;  // s, shortest envelope segment
inline constexpr double kMaxTime = 4.0;    // s, longest envelope segment

namespace detail {
inline ParamInfo P(std::string name, double lo, double hi, std::string unit, Curve c, std::string group,
                   std::string help) {
  return ParamInfo{std::move(name), lo, hi, std::move(unit), c, std::move(group), std::move(help)};
}

inline std::vector<ParamInfo> lfoParams(int i) {
  const std::string g = "lfo" + std::to_string(i);
  std::string target, amountUnit;
  double depth = 1;
  Curve depthCurve = Curve::Cubic;
  if (i <= 3) {
    target = "pitch of osc" + std::to_string(i);
    amountUnit = "semitones";
    depth = 12;
  } else if (i <= 5) {
    target = "cutoff of filter" + std::to_string(i - 3);
    amountUnit = "semitones";
    depth = 48;
  } else {
    target = "output amplitude (gain 1 + amount * lfo)";
    amountUnit = "gain";
    depth = 1;
    depthCurve = Curve::Linear;
  }
  std::vector<ParamInfo> v;
  v.push_back(P(g + "_rate", 0.1, 20, "Hz", Curve::Exponential, g, "LFO frequency"));
  if (i <= 5) v.push_back(P(g + "_phase", 0, 1, "cycles", Curve::Linear, g, "LFO phase at note-on"));
  v.push_back(P(g + "_deform", -1, 1, "", Curve::Linear, g,
                "shape skew: position of the peak, 0.05 (ramp down) .. 0.95 (ramp up) of the cycle"));
  v.push_back(P(g + "_amount", -depth, depth, amountUnit, depthCurve, g, "modulation depth on " + target));
  v.push_back(P(g + "_attack", kMinTime, kMaxTime, "s", Curve::Exponential, g, "LFO envelope attack (linear ramp)"));
  v.push_back(P(g + "_hold", kMinTime, kMaxTime, "s", Curve::Exponential, g, "LFO envelope hold at 1"));
  v.push_back(P(g + "_decay", kMinTime, kMaxTime, "s", Curve::Exponential, g,
                "LFO envelope decay (exponential, -60 dB of the distance to sustain after this time)"));
  v.push_back(P(g + "_sustain", 0, 1, "", Curve::Linear, g, "LFO envelope sustain level"));
  v.push_back(P(g + "_release", kMinTime, kMaxTime, "s", Curve::Exponential, g,
                "LFO envelope release after note-off (exponential, -60 dB after this time)"));
  return v;
}

inline ParamSpec buildSurgeSimpleSpec() {
  ParamSpec s;
  s.name = "surge-simple";
  auto& p = s.params;
  for (int i = 1; i <= 3; ++i) {
    const std::string g = "osc" + std::to_string(i);
    p.push_back(P(g + "_pitch", -12, 12, "semitones", Curve::Linear, g, "pitch offset from the note"));
    p.push_back(P(g + "_saw", 0, 1, "", Curve::Linear, g, "sawtooth level"));
    p.push_back(P(g + "_pulse", 0, 1, "", Curve::Linear, g, "pulse level"));
    p.push_back(P(g + "_triangle", 0, 1, "", Curve::Linear, g, "triangle level"));
    p.push_back(P(g + "_width", 0.05, 0.95, "cycles", Curve::Linear, g, "pulse width (high part of the cycle)"));
    p.push_back(P(g + "_sync", 0, 36, "semitones", Curve::Linear, g,
                  "hard sync: waveform runs this far above the osc pitch, reset each osc period"));
    p.push_back(P(g + "_volume", 0, 1, "", Curve::Linear, g, "oscillator output level"));
  }
  p.push_back(P("noise_volume", 0, 1, "", Curve::Cube, "noise", "white noise level (amplitude u^3, as Surge's levels)"));
  p.push_back(P("highpass_cutoff", 20, 1000, "Hz", Curve::Exponential, "highpass",
                "global 2-pole high-pass (Q 0.71) before the filters"));
  for (int j = 1; j <= 2; ++j) {
    const std::string g = "filter" + std::to_string(j);
    p.push_back(P(g + "_cutoff", 30, 12000, "Hz", Curve::Exponential, g,
                  "low-pass cutoff (ZDF state-variable, 12 dB/oct), clamped to 0.45 sample rate"));
    p.push_back(P(g + "_resonance", 0, 1, "", Curve::Linear, g, "resonance: damping k = 2 (1 - 0.98 r), Q up to 25"));
    p.push_back(P(g + "_env_amount", -48, 48, "semitones", Curve::Linear, g, "filter envelope depth on the cutoff"));
  }
  const char* envs[2][2] = {{"amp", "amp_env"}, {"filter_env", "filter_env"}};
  for (auto& e : envs) {
    const std::string n = e[0], g = e[1];
    p.push_back(P(n + "_attack", kMinTime, kMaxTime, "s", Curve::Exponential, g, "attack (linear ramp)"));
    p.push_back(P(n + "_decay", kMinTime, kMaxTime, "s", Curve::Exponential, g,
                  "decay (exponential, -60 dB of the distance to sustain after this time)"));
    p.push_back(P(n + "_sustain", 0, 1, "", Curve::Linear, g, "sustain level"));
    p.push_back(P(n + "_release", kMinTime, kMaxTime, "s", Curve::Exponential, g,
                  "release after note-off (exponential, -60 dB after this time)"));
  }
  for (int i = 1; i <= 6; ++i)
    for (auto& q : lfoParams(i)) p.push_back(q);
  p.push_back(P("note_pitch", 48, 72, "MIDI", Curve::Linear, "note", "MIDI note (random patches: integers)"));
  p.push_back(P("note_on", 0, 0.25, "fraction", Curve::Linear, "note", "note-on time, fraction of the render length"));
  p.push_back(P("note_off", 0.3, 0.9, "fraction", Curve::Linear, "note", "note-off time, fraction of the render length"));

  Symmetry oscs{"S3: osc i with lfo i", {}};
  for (Index i = 0; i < 3; ++i) {
    std::vector<Index> b;
    for (Index q = 0; q < kOscStride; ++q) b.push_back(oscParam(i, OscParam(q)));
    for (Index q = 0; q < kLfoStride; ++q) b.push_back(lfoParam(i, LfoParam(q)));
    oscs.blocks.push_back(b);
  }
  Symmetry filters{"S2: filter j with lfo 3+j", {}};
  for (Index j = 0; j < 2; ++j) {
    std::vector<Index> b;
    for (Index q = 0; q < kFilterStride; ++q) b.push_back(filterParam(j, FilterParam(q)));
    for (Index q = 0; q < kLfoStride; ++q) b.push_back(lfoParam(3 + j, LfoParam(q)));
    filters.blocks.push_back(b);
  }
  s.symmetries = {oscs, filters};
  s.validate();
  return s;
}
}  // namespace detail

/// The spec of the Surge-style synth ("surge-simple"), built once.
inline const ParamSpec& surgeSimpleSpec() {
  static const ParamSpec spec = detail::buildSurgeSimpleSpec();
  return spec;
}

}  // namespace symflow::synth::surge
