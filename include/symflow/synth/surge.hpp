// symflow/synth/surge.hpp - the Surge-style subtractive synth, batched across sounds.
//
// Shapes: params is 93 x B (one sound per column, model units v in [-1, 1], clamped inside;
// NaN refused), out is numSamples x B (one sound per column, mono, float), seeds has B entries
// (the noise generator of sound b is seeded by seeds[b] alone). numSamples = round(rate * s).
// Parameter meaning, ranges and curves: surge_spec.hpp / surgeSimpleSpec().
//
// Signal path (per sound, one voice, one note):
//   osc_i   = vol_i (saw_i saw(p_i) + pulse_i (pulse(p_i) - (2 width_i - 1)) + tri_i tri(p_i))
//             with slave phase p_i running at f_i 2^(sync_i / 12), reset to 0 whenever the
//             master phase (frequency f_i = f_note 2^((pitch_i + lfo_i) / 12)) wraps (hard sync).
//             saw(p) = 2p - 1, pulse(p) = +1 if p < width else -1, tri(p) = 1 - 4 |p - 1/2|.
//             Band-limited with 2-point PolyBLEP (steps: wrap, pulse edge, sync reset) and
//             PolyBLAMP (triangle corners, including the sync reset), one sample of latency.
//             Increments are limited to 0.45 (master) and 0.5 (slave) cycles per sample.
//   mix     = (osc_1 + osc_2 + osc_3 + noise_volume * white) / 3, white uniform in [-1, 1)
//             (the osc sum is taken in sorted order, so it is bitwise invariant to osc order)
//   hp      = 2-pole ZDF state-variable high-pass (Q = 1/sqrt 2) of mix at highpass_cutoff
//   y       = (LP_1(hp) + LP_2(hp)) / 2, LP_j a ZDF state-variable low-pass (Simper/Zavalishin
//             trapezoidal SVF) at cutoff_j 2^((env_amount_j fenv + lfo_{3+j}) / 12) Hz (clamped
//             to 0.45 fs), damping k = 2 (1 - 0.98 resonance_j)
//   out     = softclip(kOutputGain * amp_env * (1 + lfo_6) * y), softclip(x) = x (27 + x^2) /
//             (27 + 9 x^2) on x clamped to [-3, 3]: |out| <= 1 always.
//   lfo_l   = amount_l * ahdsr_l(tau) * -cos(2 pi warp(phase0_l + rate_l tau)), tau = time since
//             note-on; warp maps [0, c] -> [0, 1/2] and [c, 1] -> [1/2, 1], c = 0.5 + 0.45 deform.
//   (a)dsr  = 0 before note-on; attack: linear ramp to 1; hold at 1; decay: exponential to the
//             sustain level (-60 dB of the distance after `decay` s); after note-off exponential
//             release from the level reached (-60 dB after `release` s).
// Oscillators start at phase 0 at t = 0 (all positions alike); LFO phases start at note-on.
// Modulations (envelopes, LFOs, pitches, cutoffs) run at a control rate of one value every
// K = round(fs / 2000) samples; the amplitude, the filter coefficients and the oscillator phase
// increments are interpolated linearly inside each control block.
//
// Exact symmetry: every oscillator (with its LFO) and every filter (with its LFO) is computed by
// the same code from its own parameters only; the oscillator sum is order-independent
// (sorted), the filter sum is commutative; the noise depends on the sound's seed only. So
// permuting (osc i, lfo i) blocks or (filter j, lfo 3+j) blocks gives bit-identical audio.
//
// Vectorization: xsimd::batch<float> lanes are sounds (16 with AVX-512); B is processed in
// chunks of batch::size sounds, padded at the end. Single-threaded; callers parallelize over
// batches. Denormals are flushed (MXCSR FTZ/DAZ) during render on x86 and restored after.
// No backward pass: the synth renders training data, it is not differentiated.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <xsimd/xsimd.hpp>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/synth/surge_spec.hpp"

// GCC 12 reports its own AVX-512 intrinsics (the "__Y = __Y" idiom) as -Wuninitialized once
// they are inlined into xsimd code: a false positive, silenced for this header only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace symflow::synth {

namespace surge_detail {
inline std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace surge_detail

/// Render settings. Defaults: 16 kHz, 2 s (the paper's Surge setting is 44.1 kHz, 4 s).
struct SurgeConfig {
  double sampleRate = 16000;      // Hz, in [8000, 48000]
  double seconds = 2.0;           // in [0.05, 8]
  double loudnessFloorDb = -50;   // random patches with RMS below this (dBFS) are redrawn
  int maxRedrawRounds = 200;      // sampleRandom() gives up (Error) after this many rounds

  Index numSamples() const { return Index(std::llround(sampleRate * seconds)); }
  void validate() const {
    require(std::isfinite(sampleRate) && sampleRate >= 8000 && sampleRate <= 48000,
            "SurgeConfig: sample rate must be in [8000, 48000] Hz, got " + surge_detail::num(sampleRate));
    require(std::isfinite(seconds) && seconds >= 0.05 && seconds <= 8,
            "SurgeConfig: duration must be in [0.05, 8] s, got " + surge_detail::num(seconds));
    require(std::isfinite(loudnessFloorDb) && loudnessFloorDb < 0 && loudnessFloorDb >= -200,
            "SurgeConfig: loudness floor must be in [-200, 0) dBFS, got " + surge_detail::num(loudnessFloorDb));
    require(maxRedrawRounds >= 1, "SurgeConfig: maxRedrawRounds must be >= 1");
  }
};

/// RMS level of n samples in dBFS (20 log10 rms; -inf for silence).
inline double rmsDb(const float* x, Index n) {
  double s = 0;
  for (Index i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  const double rms = n > 0 ? std::sqrt(s / double(n)) : 0.0;
  return rms > 0 ? 20.0 * std::log10(rms) : -std::numeric_limits<double>::infinity();
}

/// A batch of random patches that passed the loudness floor, with their audio.
struct SurgeRandomBatch {
  Mat<float> params;                  // 93 x B, model units
  std::vector<std::uint64_t> seeds;   // B noise seeds
  Mat<float> audio;                   // numSamples x B
  Index redraws = 0;                  // how many patches were redrawn (quieter than the floor)
};

namespace surge_detail {

using F = xsimd::batch<float>;
using M = xsimd::batch_bool<float>;
using U = xsimd::batch<std::uint32_t>;
constexpr std::size_t W = F::size;

/// W floats, one per lane.
struct Lanes {
  alignas(64) std::array<float, W> v{};
  F operator()() const { return F::load_aligned(v.data()); }
  float& operator[](std::size_t l) { return v[l]; }
};

struct EnvK {  // (A)(H)DSR constants, times in seconds
  Lanes attack, invAttack, attackHold, invTauDecay, sustain, invTauRelease, preOff;
};
struct OscK {
  Lanes pitch, ratio;                                  // semitones, slave ratio 2^(sync/12)
  Lanes saw2, pulse, tri, width, offset, value0;       // waveform mix (value0 = w(0))
  Lanes stepWrap, stepEdge, kink;                      // discontinuity sizes
};
struct LfoK {
  Lanes rate, phase0, peak, riseScale, fallScale, amount;
  EnvK env;
};
struct FilterK {
  Lanes cutoff, damping, envAmount;  // Hz, k, semitones
};

/// All per-lane constants of one chunk of W sounds.
struct ChunkK {
  std::array<OscK, 3> osc;
  std::array<LfoK, 6> lfo;
  std::array<FilterK, 2> filter;
  EnvK ampEnv, filterEnv;
  Lanes noiseAmp, hpA1, hpA2, hpA3, hpK;
  Lanes noteFreq, noteOn, offRel;  // cycles/sample of the note, s, s (note-off minus note-on)
  alignas(64) std::array<std::uint32_t, W> noiseSeed{};
};

/// Envelope level before any release (attack ramp, hold, decay to sustain), as a function of
/// tau = time since note-on (tau >= 0). Scalar twin of the vector code below.
inline double envPreScalar(double tau, double a, double h, double tauD, double s) {
  if (tau < a) return tau / a;
  if (tau < a + h) return 1.0;
  return s + (1.0 - s) * std::exp(-(tau - (a + h)) / tauD);
}

inline F envelope(const EnvK& e, F tau, F offRel) {
  const F zero(0.f), one(1.f);
  const M on = tau < offRel;
  const F argOn = (e.attackHold() - tau) * e.invTauDecay();
  const F argOff = (offRel - tau) * e.invTauRelease();
  const F ex = xsimd::exp(xsimd::min(xsimd::select(on, argOn, argOff), zero));
  const F s = e.sustain();
  const F pre = xsimd::select(tau < e.attack(), tau * e.invAttack(),
                              xsimd::select(tau < e.attackHold(), one, s + (one - s) * ex));
  const F level = xsimd::select(on, pre, e.preOff() * ex);
  return xsimd::select(tau >= zero, level, zero);
}

inline F lfoValue(const LfoK& k, F tau, F offRel) {
  const F half(0.5f);
  F ph = k.phase0() + k.rate() * tau;
  ph = ph - xsimd::floor(ph);
  const F c = k.peak();
  const F u = xsimd::select(ph < c, ph * k.riseScale(), half + (ph - c) * k.fallScale());
  const F wave = -xsimd::cos(F(6.28318530717958647692f) * u);
  return k.amount() * envelope(k.env, tau, offRel) * wave;
}

/// Control-rate modulation values at one instant.
struct Mod {
  std::array<F, 3> dm, ds, invDm, invDs;
  std::array<F, 2> a1, a2, a3;
  F amp;
};

struct OscState {
  F master, slave, pending;
};

/// PolyBLEP (2-point) residual of a step of height h at fraction e in (0, 1] of the sample
/// interval: added to the previous sample (h (1-e)^2 / 2) and the current one (-h e^2 / 2).
inline void blep(M on, F e, F h, F& prev, F& cur) {
  const F zero(0.f), one(1.f), half(0.5f);
  e = xsimd::clip(e, zero, one);
  const F r = one - e;
  prev += xsimd::select(on, half * h * r * r, zero);
  cur -= xsimd::select(on, half * h * e * e, zero);
}
/// PolyBLAMP (2-point) residual of a slope change d (per sample) at fraction e.
inline void blamp(M on, F e, F d, F& prev, F& cur) {
  const F zero(0.f), one(1.f), sixth(1.f / 6.f);
  e = xsimd::clip(e, zero, one);
  const F r = one - e;
  prev += xsimd::select(on, sixth * d * r * r * r, zero);
  cur += xsimd::select(on, sixth * d * e * e * e, zero);
}

/// Naive waveform mix at slave phase p (no band-limiting).
inline F waveAt(const OscK& k, F p) {
  const F one(1.f), half(0.5f), four(4.f);
  return k.saw2() * p + k.pulse() * xsimd::select(p < k.width(), one, -one) +
         k.tri() * (one - four * xsimd::abs(p - half)) + k.offset();
}

/// One sample of one oscillator; returns its band-limited output one sample late.
inline F oscStep(const OscK& k, OscState& s, F dm, F ds, F invDm, F invDs) {
  const F zero(0.f), one(1.f), half(0.5f);
  const F pm = s.master, ps = s.slave;
  F prev = s.pending, cur = zero;
  const F width = k.width();
  const F kink = k.kink() * ds;  // triangle corner, slope change per sample

  // Segment A: from the last sample to the master wrap (or the whole interval).
  const F pmNext = pm + dm;
  const M wrapM = pmNext >= one;
  const F dA = xsimd::select(wrapM, xsimd::min((one - pm) * invDm, one), one);
  const F psA = ps + ds * dA;
  const M wrapA = psA >= one;
  blep(wrapA, (one - ps) * invDs, k.stepWrap(), prev, cur);
  blamp(wrapA, (one - ps) * invDs, kink, prev, cur);
  const F edgeA = width + xsimd::select(ps >= width, one, zero);
  blep(psA >= edgeA, (edgeA - ps) * invDs, k.stepEdge(), prev, cur);
  const F peakA = half + xsimd::select(ps >= half, one, zero);
  blamp(psA >= peakA, (peakA - ps) * invDs, -kink, prev, cur);

  // Sync reset at dA: slave phase jumps from pBefore to 0.
  const F pBefore = psA - xsimd::select(wrapA, one, zero);
  blep(wrapM, dA, k.value0() - waveAt(k, pBefore), prev, cur);
  blamp(wrapM, dA, xsimd::select(pBefore < half, zero, kink), prev, cur);  // tri slope -4 -> +4

  // Segment B: from the reset to this sample (slave starts at 0).
  const F psB = ds * (one - dA);
  blep(wrapM & (psB >= width), dA + width * invDs, k.stepEdge(), prev, cur);
  blamp(wrapM & (psB >= half), dA + half * invDs, -kink, prev, cur);

  const F psNew = xsimd::select(wrapM, psB, pBefore);
  s.master = xsimd::select(wrapM, pmNext - one, pmNext);
  s.slave = psNew;
  s.pending = waveAt(k, psNew) + cur;
  return prev;
}

/// Sum of three values in sorted order: the same bits for any order of the arguments.
inline F sortedSum3(F a, F b, F c) {
  const F lo1 = xsimd::min(a, b), hi1 = xsimd::max(a, b);
  const F lo = xsimd::min(lo1, c), t = xsimd::max(lo1, c);
  const F mid = xsimd::min(t, hi1), hi = xsimd::max(t, hi1);
  return (lo + mid) + hi;
}

struct Svf {
  F ic1 = F(0.f), ic2 = F(0.f);
  /// Trapezoidal SVF tick; returns (v1 band, v2 low); high = x - k v1 - v2.
  inline void tick(F x, F a1, F a2, F a3, F& v1, F& v2) {
    const F v3 = x - ic2;
    v1 = a1 * ic1 + a2 * v3;
    v2 = ic2 + a2 * ic1 + a3 * v3;
    ic1 = v1 + v1 - ic1;
    ic2 = v2 + v2 - ic2;
  }
};

inline F softclip(F x) {
  const F lim(3.f), c27(27.f), c9(9.f);
  x = xsimd::clip(x, -lim, lim);
  const F x2 = x * x;
  const F one(1.f);
  return xsimd::clip(x * (c27 + x2) / (c27 + c9 * x2), -one, one);  // (rounding can reach 1 + ulp)
}

inline std::uint64_t splitmix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Flush denormals to zero while alive (x86), restoring the previous mode after.
struct DenormalGuard {
#if defined(__SSE__) || defined(__x86_64__)
  unsigned int saved = _mm_getcsr();
  DenormalGuard() { _mm_setcsr(saved | 0x8040u); }
  ~DenormalGuard() { _mm_setcsr(saved); }
#endif
};

}  // namespace surge_detail

/// The Surge-style synth. Thread-safe for concurrent render() calls (no mutable state).
class SurgeSynth {
 public:
  static constexpr Index kNumParams = surge::kNumParams;
  /// Output scale before the soft clipper: random patches have a median RMS of about -27 dBFS
  /// and about 5 % of them reach the soft-clip region (|out| > 0.9).
  static constexpr float kOutputGain = 2.0f;

  explicit SurgeSynth(const SurgeConfig& config = SurgeConfig{}) : cfg_(config) {
    cfg_.validate();
    n_ = cfg_.numSamples();
    control_ = std::max<Index>(1, Index(std::lround(cfg_.sampleRate / 2000.0)));
  }

  const SurgeConfig& config() const { return cfg_; }
  static const ParamSpec& spec() { return surge::surgeSimpleSpec(); }
  Index numSamples() const { return n_; }
  /// Samples per control-rate step.
  Index controlInterval() const { return control_; }
  /// Sounds rendered together (SIMD lanes).
  static constexpr Index lanes() { return Index(surge_detail::W); }

  /// Renders B sounds: params 93 x B (model units; clamped to [-1, 1], NaN refused), out
  /// resized to numSamples x B, seeds: B noise seeds.
  template <class Derived>
  void render(const Eigen::MatrixBase<Derived>& params, Mat<float>& out,
              const std::vector<std::uint64_t>& seeds) const {
    require(params.rows() == kNumParams,
            "SurgeSynth::render: params must have 93 rows (one column per sound), got " +
                std::to_string(params.rows()));
    require(Index(seeds.size()) == params.cols(),
            "SurgeSynth::render: need one seed per sound (" + std::to_string(params.cols()) + "), got " +
                std::to_string(seeds.size()));
    const Mat<float> p = params.template cast<float>();
    require(!p.array().isNaN().any(), "SurgeSynth::render: params contain NaN");
    out.resize(n_, p.cols());
    surge_detail::DenormalGuard guard;
    for (Index b0 = 0; b0 < p.cols(); b0 += lanes()) renderChunk(p, seeds, b0, out);
  }
  template <class Derived>
  Mat<float> render(const Eigen::MatrixBase<Derived>& params, const std::vector<std::uint64_t>& seeds) const {
    Mat<float> out;
    render(params, out, seeds);
    return out;
  }

  /// B patches drawn uniformly over the spec (v ~ U[-1, 1]), except note_pitch: an integer MIDI
  /// note uniform in 48..72. No loudness check (see sampleRandom).
  static Mat<float> sampleUniform(Rng& rng, Index B) {
    require(B >= 0, "SurgeSynth::sampleUniform: negative batch size");
    Mat<float> p(kNumParams, B);
    for (Index b = 0; b < B; ++b) drawUniformPatch(rng, p.col(b).data());
    return p;
  }

  /// B random patches with their seeds and audio, every one at least loudnessFloorDb loud:
  /// draws all B (params then seed, sound by sound), renders, then redraws the quiet ones in
  /// index order and renders those again, until all pass. Deterministic given rng's state.
  SurgeRandomBatch sampleRandom(Rng& rng, Index B) const {
    require(B >= 0, "SurgeSynth::sampleRandom: negative batch size");
    return sampleRandomFrom(B, [&rng](Index) -> Rng& { return rng; });
  }

  /// rngs.size() random patches as sampleRandom(rng, B) makes them, but sound b draws its patch,
  /// seed and any redraws from rngs[b] alone: each sound is a function of its own generator,
  /// whatever else is in the batch (data-parallel shards of a training batch, SurgeBatchRenderer).
  SurgeRandomBatch sampleRandom(std::vector<Rng>& rngs) const {
    return sampleRandomFrom(Index(rngs.size()), [&rngs](Index b) -> Rng& { return rngs[std::size_t(b)]; });
  }

 private:
  template <class RngOf> SurgeRandomBatch sampleRandomFrom(Index B, RngOf&& rngOf) const {
    SurgeRandomBatch r;
    r.params.resize(kNumParams, B);
    r.seeds.resize(std::size_t(B));
    for (Index b = 0; b < B; ++b) {
      Rng& rng = rngOf(b);
      drawUniformPatch(rng, r.params.col(b).data());
      r.seeds[std::size_t(b)] = rng.next();
    }
    render(r.params, r.audio, r.seeds);
    std::vector<Index> quiet;
    for (Index b = 0; b < B; ++b)
      if (rmsDb(r.audio.col(b).data(), n_) < cfg_.loudnessFloorDb) quiet.push_back(b);
    for (int round = 0; !quiet.empty(); ++round) {
      require(round < cfg_.maxRedrawRounds, "SurgeSynth::sampleRandom: could not find patches above the "
                                            "loudness floor after " + std::to_string(round) + " rounds");
      r.redraws += Index(quiet.size());
      Mat<float> p(kNumParams, Index(quiet.size()));
      std::vector<std::uint64_t> s(quiet.size());
      for (std::size_t q = 0; q < quiet.size(); ++q) {
        Rng& rng = rngOf(quiet[q]);
        drawUniformPatch(rng, p.col(Index(q)).data());
        s[q] = rng.next();
      }
      Mat<float> a;
      render(p, a, s);
      std::vector<Index> still;
      for (std::size_t q = 0; q < quiet.size(); ++q) {
        const Index b = quiet[q];
        r.params.col(b) = p.col(Index(q));
        r.seeds[std::size_t(b)] = s[q];
        r.audio.col(b) = a.col(Index(q));
        if (rmsDb(a.col(Index(q)).data(), n_) < cfg_.loudnessFloorDb) still.push_back(b);
      }
      quiet.swap(still);
    }
    return r;
  }

 public:
  /// Draws one patch (93 model values into v) as sampleUniform does: v ~ U[-1, 1] per parameter
  /// in order, note_pitch an integer MIDI note uniform in 48..72.
  static void drawUniformPatch(Rng& rng, float* v) {
    const ParamInfo& pitch = spec()[surge::kNotePitch];
    for (Index i = 0; i < kNumParams; ++i) {
      if (i == surge::kNotePitch) {
        const double note = pitch.min + double(rng.below(std::uint64_t(pitch.max - pitch.min) + 1));
        v[i] = float(pitch.toModel(note));
      } else {
        v[i] = float(rng.uniform(-1.0, 1.0));
      }
    }
  }

 private:
  /// Fills lane l of the chunk constants from one sound's parameter column.
  void setupLane(surge_detail::ChunkK& K, std::size_t l, const float* col, std::uint64_t seed) const {
    using namespace surge;
    const ParamSpec& sp = spec();
    auto units = [&](Index i) { return sp[i].toUnits(double(col[i])); };
    const double fs = cfg_.sampleRate;
    const double dur = cfg_.seconds;
    const double tOn = units(kNoteOn) * dur;
    const double offRel = units(kNoteOff) * dur - tOn;
    K.noteOn[l] = float(tOn);
    K.offRel[l] = float(offRel);
    K.noteFreq[l] = float(440.0 * std::pow(2.0, (units(kNotePitch) - 69.0) / 12.0) / fs);
    constexpr double kLn1000 = 6.907755278982137;  // -60 dB
    auto setEnv = [&](surge_detail::EnvK& e, double a, double h, double d, double s, double r) {
      e.attack[l] = float(a);
      e.invAttack[l] = float(1.0 / a);
      e.attackHold[l] = float(a + h);
      e.invTauDecay[l] = float(kLn1000 / d);
      e.sustain[l] = float(s);
      e.invTauRelease[l] = float(kLn1000 / r);
      e.preOff[l] = float(surge_detail::envPreScalar(offRel, a, h, d / kLn1000, s));
    };
    setEnv(K.ampEnv, units(kAmpEnv + EnvAttack), 0.0, units(kAmpEnv + EnvDecay), units(kAmpEnv + EnvSustain),
           units(kAmpEnv + EnvRelease));
    setEnv(K.filterEnv, units(kFilterEnv + EnvAttack), 0.0, units(kFilterEnv + EnvDecay),
           units(kFilterEnv + EnvSustain), units(kFilterEnv + EnvRelease));
    for (Index i = 0; i < 3; ++i) {
      auto& o = K.osc[std::size_t(i)];
      const double vol = units(oscParam(i, OscVolume)) / 3.0;
      const double saw = vol * units(oscParam(i, OscSaw));
      const double pulse = vol * units(oscParam(i, OscPulse));
      const double tri = vol * units(oscParam(i, OscTriangle));
      const double width = units(oscParam(i, OscWidth));
      o.pitch[l] = float(units(oscParam(i, OscPitch)));
      o.ratio[l] = float(std::pow(2.0, units(oscParam(i, OscSync)) / 12.0));
      o.saw2[l] = float(2.0 * saw);
      o.pulse[l] = float(pulse);
      o.tri[l] = float(tri);
      o.width[l] = float(width);
      o.offset[l] = float(-saw - pulse * (2.0 * width - 1.0));
      o.value0[l] = float(-saw - pulse * (2.0 * width - 1.0) + pulse - tri);  // w(0)
      o.stepWrap[l] = float(-2.0 * saw + 2.0 * pulse);
      o.stepEdge[l] = float(-2.0 * pulse);
      o.kink[l] = float(8.0 * tri);
    }
    for (Index j = 0; j < 6; ++j) {
      auto& f = K.lfo[std::size_t(j)];
      f.rate[l] = float(units(lfoParam(j, LfoRate)));
      f.phase0[l] = j < 5 ? float(units(lfoParam(j, LfoPhase))) : 0.f;
      const double c = 0.5 + 0.45 * units(lfoParam(j, LfoDeform));
      f.peak[l] = float(c);
      f.riseScale[l] = float(0.5 / c);
      f.fallScale[l] = float(0.5 / (1.0 - c));
      f.amount[l] = float(units(lfoParam(j, LfoAmount)));
      setEnv(f.env, units(lfoParam(j, LfoAttack)), units(lfoParam(j, LfoHold)), units(lfoParam(j, LfoDecay)),
             units(lfoParam(j, LfoSustain)), units(lfoParam(j, LfoRelease)));
    }
    for (Index j = 0; j < 2; ++j) {
      auto& f = K.filter[std::size_t(j)];
      f.cutoff[l] = float(units(filterParam(j, FilterCutoff)));
      f.damping[l] = float(2.0 * (1.0 - 0.98 * units(filterParam(j, FilterResonance))));
      f.envAmount[l] = float(units(filterParam(j, FilterEnvAmount)));
    }
    K.noiseAmp[l] = float(units(kNoiseVolume) / 3.0);
    {
      const double k = std::sqrt(2.0);
      const double g = std::tan(3.14159265358979323846 * std::min(units(kHighpassCutoff), 0.45 * fs) / fs);
      const double a1 = 1.0 / (1.0 + g * (g + k));
      K.hpA1[l] = float(a1);
      K.hpA2[l] = float(g * a1);
      K.hpA3[l] = float(g * g * a1);
      K.hpK[l] = float(k);
    }
    std::uint32_t s = std::uint32_t(surge_detail::splitmix(seed) >> 32);
    K.noiseSeed[l] = s ? s : 0x9e3779b9u;
  }

  /// Modulation values at time t (seconds).
  void modulation(const surge_detail::ChunkK& K, double t, surge_detail::Mod& m) const {
    using namespace surge_detail;
    const F tau = F(float(t)) - K.noteOn();
    const F offRel = K.offRel();
    const F twelfth(1.f / 12.f);
    std::array<F, 6> lfo;
    for (std::size_t j = 0; j < 6; ++j) lfo[j] = lfoValue(K.lfo[j], tau, offRel);
    const F fenv = envelope(K.filterEnv, tau, offRel);
    const F aenv = envelope(K.ampEnv, tau, offRel);
    const F maxDm(0.45f), maxDs(0.5f), one(1.f);
    for (std::size_t i = 0; i < 3; ++i) {
      const OscK& o = K.osc[i];
      const F dm = xsimd::min(K.noteFreq() * xsimd::exp2((o.pitch() + lfo[i]) * twelfth), maxDm);
      const F ds = xsimd::min(dm * o.ratio(), maxDs);
      m.dm[i] = dm;
      m.ds[i] = ds;
      m.invDm[i] = one / dm;
      m.invDs[i] = one / ds;
    }
    const F invFs(float(1.0 / cfg_.sampleRate));
    const F minW(1e-5f), maxW(0.45f), pi(3.14159265358979323846f);
    for (std::size_t j = 0; j < 2; ++j) {
      const FilterK& f = K.filter[j];
      const F semis = f.envAmount() * fenv + lfo[3 + j];
      const F w = xsimd::clip(f.cutoff() * xsimd::exp2(semis * twelfth) * invFs, minW, maxW);
      const F g = xsimd::tan(pi * w);
      const F a1 = one / (one + g * (g + f.damping()));
      m.a1[j] = a1;
      m.a2[j] = g * a1;
      m.a3[j] = g * m.a2[j];
    }
    m.amp = aenv * xsimd::max(one + lfo[5], F(0.f));
  }

  void renderChunk(const Mat<float>& p, const std::vector<std::uint64_t>& seeds, Index b0, Mat<float>& out) const {
    using namespace surge_detail;
    const Index B = p.cols();
    const Index valid = std::min<Index>(lanes(), B - b0);
    ChunkK K;
    for (std::size_t l = 0; l < W; ++l) {
      const Index b = b0 + std::min<Index>(Index(l), valid - 1);  // pad with the last sound
      setupLane(K, l, p.col(b).data(), seeds[std::size_t(b)]);
    }
    std::array<OscState, 3> osc;
    for (auto& o : osc) o = OscState{F(0.f), F(0.f), F(0.f)};
    Svf hp, lp1, lp2;
    U noise = U::load_aligned(K.noiseSeed.data());
    const U expBits(0x3f800000u);
    const F noiseAmp = K.noiseAmp(), hpA1 = K.hpA1(), hpA2 = K.hpA2(), hpA3 = K.hpA3(), hpK = K.hpK();
    const F half(0.5f), gain(kOutputGain), three(3.f);

    Mod cur, next;
    const double invFs = 1.0 / cfg_.sampleRate;
    modulation(K, 0.0, cur);
    const Index ctl = control_;
    const F invCtl(1.f / float(ctl));
    std::vector<float, xsimd::aligned_allocator<float, 64>> tile(std::size_t(ctl) * W);
    for (Index n0 = 0; n0 < n_; n0 += ctl) {
      const Index len = std::min(ctl, n_ - n0);
      modulation(K, double(n0 + ctl) * invFs, next);
      F amp = cur.amp;
      const F dAmp = (next.amp - cur.amp) * invCtl;
      F a1[2] = {cur.a1[0], cur.a1[1]}, a2[2] = {cur.a2[0], cur.a2[1]}, a3[2] = {cur.a3[0], cur.a3[1]};
      // Oscillator increments (and their reciprocals) ramp linearly too.
      std::array<F, 3> dm = cur.dm, ds = cur.ds, idm = cur.invDm, ids = cur.invDs;
      std::array<F, 3> stepDm, stepDs, stepIdm, stepIds;
      for (std::size_t i = 0; i < 3; ++i) {
        stepDm[i] = (next.dm[i] - cur.dm[i]) * invCtl;
        stepDs[i] = (next.ds[i] - cur.ds[i]) * invCtl;
        stepIdm[i] = (next.invDm[i] - cur.invDm[i]) * invCtl;
        stepIds[i] = (next.invDs[i] - cur.invDs[i]) * invCtl;
      }
      F d1[2], d2[2], d3[2];
      for (int j = 0; j < 2; ++j) {
        d1[j] = (next.a1[j] - cur.a1[j]) * invCtl;
        d2[j] = (next.a2[j] - cur.a2[j]) * invCtl;
        d3[j] = (next.a3[j] - cur.a3[j]) * invCtl;
      }
      for (Index s = 0; s < len; ++s) {
        const F o0 = oscStep(K.osc[0], osc[0], dm[0], ds[0], idm[0], ids[0]);
        const F o1 = oscStep(K.osc[1], osc[1], dm[1], ds[1], idm[1], ids[1]);
        const F o2 = oscStep(K.osc[2], osc[2], dm[2], ds[2], idm[2], ids[2]);
        // xorshift32 white noise in [-1, 1)
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        const F white = xsimd::bitwise_cast<F>((noise >> 9) | expBits) * F(2.f) - three;
        const F mix = sortedSum3(o0, o1, o2) + noiseAmp * white;
        F v1, v2;
        hp.tick(mix, hpA1, hpA2, hpA3, v1, v2);
        const F high = mix - hpK * v1 - v2;
        F b1, l1, b2, l2;
        lp1.tick(high, a1[0], a2[0], a3[0], b1, l1);
        lp2.tick(high, a1[1], a2[1], a3[1], b2, l2);
        const F y = softclip(gain * amp * (half * (l1 + l2)));
        y.store_aligned(tile.data() + std::size_t(s) * W);
        amp += dAmp;
        for (int j = 0; j < 2; ++j) {
          a1[j] += d1[j];
          a2[j] += d2[j];
          a3[j] += d3[j];
        }
        for (std::size_t i = 0; i < 3; ++i) {
          dm[i] += stepDm[i];
          ds[i] += stepDs[i];
          idm[i] += stepIdm[i];
          ids[i] += stepIds[i];
        }
      }
      for (Index l = 0; l < valid; ++l) {
        float* dst = out.col(b0 + l).data() + n0;
        for (Index s = 0; s < len; ++s) dst[s] = tile[std::size_t(s) * W + std::size_t(l)];
      }
      cur = next;
    }
  }

  SurgeConfig cfg_;
  Index n_ = 0;
  Index control_ = 1;
};

}  // namespace symflow::synth

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
