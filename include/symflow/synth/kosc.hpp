// symflow/synth/kosc.hpp - the k-osc synthesizer of the paper's Task 1, its parameter layout
// helpers and its seeded, random-access data stream.
//
// Shapes:   params  3k x B  (one sound per column, every entry nominally in [-1, 1])
//           signals 1024 x B (one sound per column, 44.1 kHz)
//
// Parameter layout (flat, parameter-major, as the authors' code):
//     row i        f_i  frequency of oscillator i          (i = 0 .. k-1)
//     row k + i    a_i  amplitude of oscillator i
//     row 2k + i   w_i  waveform shape of oscillator i
// so oscillator i owns rows {i, k + i, 2k + i}. The token view (toTokens) is a 3 x (B k)
// matrix, one oscillator per column (f_i, a_i, w_i), the k tokens of a sound contiguous:
// the design's token-set layout, i.e. row i of the paper's (k, 3) view is token column i.
//
// Forward (paper.md "Exact definitions": the authors' arithmetic, in their order; the numpy
// peer kosc_data.py does the same), per oscillator i, all three parameters clamped to [-1, 1]
// inside the synth only, every operation rounded to S (float or double) as numpy does:
//     u     = (f + 1) / 2,  asymmetric variant: u = i/k + u/k   (slice [i/k, (i+1)/k])
//     omega = S(2 pi 20/44100) + S(2 pi 4000/44100 - 2 pi 20/44100) u   (rad/sample)
//     dt    = omega / S(2 pi)   (cycles per sample),  amp = (a + 1) / 2
//     t     = fmod(dt n, 1),  n = 0 .. 1023   (phase starts at 0)
//     sine  = -sin(omega n)     (of the rounded product omega n, not of 2 pi t)
//     saw   = 2t - 1 + (t/dt - 1)^2 [t < dt] - ((t - 1)/dt + 1)^2 [t > 1 - dt]
//     square = (t > 0.5 ? 1 : -1) + (t/dt - 1)^2 [t < dt] - (s/dt - 1)^2 [0.5 < t < 0.5 + dt]
//              + ((s - 1)/dt + 1)^2 [0.5 - dt < t < 0.5] - ((t - 1)/dt + 1)^2 [t > 1 - dt],
//              s = (t - 0.5) mod 1 (Python modulo); all comparisons strict, so at t == 0.5
//              exactly no correction applies and the square is -1 (the authors' code)
//     osc_i  = ((clamp(-w, 0, 1) sine + (1 - |w|) square) + clamp(w, 0, 1) saw) amp
//     signal = (sum_i osc_i) / k          (MEAN over oscillators)
//
// Vectorization: xsimd lanes over 16 (float) / 8 (double) consecutive samples of one sound,
// all k oscillators accumulated in registers; the sine is skipped for oscillators whose sine
// weight is 0 (w >= 0), the square and saw when their weights are 0 (adding numpy's 0 is exact).
// Every product that numpy rounds before an addition goes through detail::rounded, an empty
// asm barrier that keeps GCC from contracting it into an FMA (it does so by default, also on
// xsimd batches). The float sine is sin of the float argument evaluated in double and rounded
// to float (numpy's float32 sin is within ~1.5 ulp of that).
// Agreement with the peer (tests/kosc_peer_test.py, every sample of random and edge sounds,
// k in {1, 3, 4, 8, 32}): float within 1.5e-7 of numpy float32, double within 4e-16 of float64;
// the phases and PolyBLEP branches are identical, only the sine's last ulp and (symmetric
// variant) the order of the sum over oscillators differ. The symmetric variant sums the
// oscillators in a canonical order (sorted by their constants), so a permutation of the
// oscillators gives a bit-identical signal; the asymmetric one sums in index order like numpy.
// There is no backward: the synth is only used to make data and to score.
//
// Clamping: every parameter is clamped here (paper.md), as the numpy peer and the authors do.
//
// Spec: kOscSpec(k, variant) describes the same flat layout as data (synth/param_spec.hpp):
// names osc<i+1>_freq / _amp / _shape, frequency linear in Hz over 20-4000 Hz (symmetric) or
// over oscillator i's slice [20 + 3980 i/k, 20 + 3980 (i+1)/k] (asymmetric), amplitude linear
// in [0, 1], shape linear in [-1, 1]; declared symmetry S_k over the oscillator blocks
// {f_i, a_i, w_i} in the symmetric variant (k >= 2), none in the asymmetric one.
//
// Data: KOscStream gives sound m of the training stream from Rng(seed).fork(kTrainDomain)
// .fork(m), and sound m of the held-out test set from Rng(kTestSeed).fork(kTestDomain).fork(m):
// random access by index (a stream position is an integer), and the two never share a
// generator (different fork domains; see KOscStream).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/synth/param_spec.hpp"

namespace symflow::synth {

/// Fixed settings of the k-osc task ([cfg] of the authors).
struct KOscConstants {
  static constexpr Index numSamples = 1024;
  static constexpr double sampleRate = 44100.0;
  static constexpr double minHz = 20.0;
  static constexpr double maxHz = 4000.0;
  static constexpr Index paramsPerOscillator = 3;
  static constexpr Index numSpectrumBins = numSamples / 2 + 1;  // 513 rFFT bins
};

enum class KOscVariant {
  Symmetric,   ///< every oscillator spans 20-4000 Hz (the oscillators are interchangeable)
  Asymmetric,  ///< oscillator i spans the slice [i/k, (i+1)/k] of the range (identifiable order)
};

inline const char* toString(KOscVariant v) { return v == KOscVariant::Symmetric ? "sym" : "asym"; }
inline KOscVariant kOscVariantFromString(const std::string& s) {
  if (s == "sym" || s == "symmetric") return KOscVariant::Symmetric;
  if (s == "asym" || s == "asymmetric") return KOscVariant::Asymmetric;
  throw Error("k-osc: unknown variant '" + s + "' (expected sym or asym)");
}

/// Which of the three parameters of an oscillator a flat row holds.
enum class KOscParam { Frequency = 0, Amplitude = 1, Shape = 2 };

/// The flat parameter layout of k oscillators (index maps and short 0-based row names).
/// kOscSpec() below describes the same rows as a ParamSpec (ranges, units, symmetry).
class KOscLayout {
 public:
  explicit KOscLayout(Index k) : k_(k) { require(k > 0, "k-osc: k must be positive"); }
  Index numOscillators() const { return k_; }
  Index numParams() const { return 3 * k_; }
  /// Flat row of parameter `p` of oscillator i: p * k + i.
  Index index(Index oscillator, KOscParam p) const { return Index(p) * k_ + oscillator; }
  Index frequencyIndex(Index i) const { return index(i, KOscParam::Frequency); }
  Index amplitudeIndex(Index i) const { return index(i, KOscParam::Amplitude); }
  Index shapeIndex(Index i) const { return index(i, KOscParam::Shape); }
  Index oscillatorOf(Index row) const { return row % k_; }
  KOscParam paramOf(Index row) const { return KOscParam(row / k_); }
  /// "freq_3", "amp_0", "shape_7": the flat row's name.
  std::string name(Index row) const {
    require(row >= 0 && row < numParams(), "k-osc: parameter row out of range");
    static const char* kinds[3] = {"freq", "amp", "shape"};
    return std::string(kinds[row / k_]) + "_" + std::to_string(row % k_);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (Index r = 0; r < numParams(); ++r) out.push_back(name(r));
    return out;
  }

 private:
  Index k_;
};

/// The k-osc parameters as a ParamSpec, in the flat parameter-major layout of KOscLayout:
/// rows [f_0 .. f_{k-1}, a_0 .. a_{k-1}, w_0 .. w_{k-1}] named osc<i+1>_freq, osc<i+1>_amp,
/// osc<i+1>_shape, group osc<i+1>. toUnits() of a frequency row gives the Hz that
/// KOsc::frequencyHz computes (up to rounding: the spec works in double). Symmetric variant:
/// one Symmetry "S_k" whose block i is {f_i, a_i, w_i} (none for k = 1, where it is trivial);
/// asymmetric variant: no symmetry (each oscillator owns its frequency slice).
inline ParamSpec kOscSpec(Index k, KOscVariant variant = KOscVariant::Symmetric) {
  const KOscLayout layout(k);  // checks k > 0
  const bool asym = variant == KOscVariant::Asymmetric;
  constexpr double lo = KOscConstants::minHz, span = KOscConstants::maxHz - KOscConstants::minHz;
  ParamSpec spec;
  spec.name = std::string("kosc (k = ") + std::to_string(k) + ", " +
              (asym ? "asymmetric" : "symmetric") + ")";
  spec.params.resize(std::size_t(layout.numParams()));
  for (Index i = 0; i < k; ++i) {
    const std::string g = "osc" + std::to_string(i + 1);
    ParamInfo& f = spec.params[std::size_t(layout.frequencyIndex(i))];
    f = ParamInfo{g + "_freq", lo, lo + span, "Hz", Curve::Linear, g,
                  "oscillator frequency (20-4000 Hz)"};
    if (asym) {
      f.min = lo + span * double(i) / double(k);
      f.max = lo + span * double(i + 1) / double(k);
      f.help = "oscillator frequency (slice " + std::to_string(i + 1) + " of " +
               std::to_string(k) + " of 20-4000 Hz)";
    }
    spec.params[std::size_t(layout.amplitudeIndex(i))] =
        ParamInfo{g + "_amp", 0.0, 1.0, "amplitude", Curve::Linear, g,
                  "oscillator amplitude (the signal is the mean over the k oscillators)"};
    spec.params[std::size_t(layout.shapeIndex(i))] =
        ParamInfo{g + "_shape", -1.0, 1.0, "shape", Curve::Linear, g,
                  "waveform: -1 sine, 0 square, +1 saw (linear crossfades between)"};
  }
  if (!asym && k >= 2) {
    Symmetry oscs{"S" + std::to_string(k) + ": oscillators (freq, amp, shape)", {}};
    for (Index i = 0; i < k; ++i)
      oscs.blocks.push_back({layout.frequencyIndex(i), layout.amplitudeIndex(i), layout.shapeIndex(i)});
    spec.symmetries.push_back(std::move(oscs));
  }
  spec.validate();
  return spec;
}

/// Flat 3k x B -> token view 3 x (B k): column b k + i = (f_i, a_i, w_i) of sound b.
template <class S> Mat<S> toTokens(const CMatRef<S>& flat, Index k) {
  require(k > 0 && flat.rows() == 3 * k, "k-osc toTokens: params must have 3k rows");
  const Index B = flat.cols();
  Mat<S> tokens(3, B * k);
  for (Index b = 0; b < B; ++b)
    for (Index i = 0; i < k; ++i)
      for (Index p = 0; p < 3; ++p) tokens(p, b * k + i) = flat(p * k + i, b);
  return tokens;
}

/// Token view 3 x (B k) -> flat 3k x B (inverse of toTokens).
template <class S> Mat<S> fromTokens(const CMatRef<S>& tokens, Index k) {
  require(k > 0 && tokens.rows() == 3 && tokens.cols() % k == 0,
          "k-osc fromTokens: tokens must be 3 x (B k)");
  const Index B = tokens.cols() / k;
  Mat<S> flat(3 * k, B);
  for (Index b = 0; b < B; ++b)
    for (Index i = 0; i < k; ++i)
      for (Index p = 0; p < 3; ++p) flat(p * k + i, b) = tokens(p, b * k + i);
  return flat;
}

/// Moves whole oscillators (all three rows) of every sound so that the raw frequency
/// parameters f_0 <= f_1 <= ... (stable: equal frequencies keep their order). The
/// "sorted labels" of the FFN (Sort) baseline. The sound is unchanged in the symmetric
/// variant (the synth is invariant to oscillator permutations there).
template <class S> Mat<S> sortedByFrequency(const CMatRef<S>& flat, Index k) {
  require(k > 0 && flat.rows() == 3 * k, "k-osc sortedByFrequency: params must have 3k rows");
  Mat<S> out(flat.rows(), flat.cols());
  std::vector<Index> order(static_cast<size_t>(k));
  for (Index b = 0; b < flat.cols(); ++b) {
    std::iota(order.begin(), order.end(), Index(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](Index x, Index y) { return flat(x, b) < flat(y, b); });
    for (Index i = 0; i < k; ++i)
      for (Index p = 0; p < 3; ++p) out(p * k + i, b) = flat(p * k + order[size_t(i)], b);
  }
  return out;
}

/// Applies the same oscillator permutation to every sound: new oscillator i = old perm[i].
template <class S>
Mat<S> permuteOscillators(const CMatRef<S>& flat, Index k, const std::vector<Index>& perm) {
  require(k > 0 && flat.rows() == 3 * k && Index(perm.size()) == k,
          "k-osc permuteOscillators: params must have 3k rows and perm k entries");
  Mat<S> out(flat.rows(), flat.cols());
  for (Index i = 0; i < k; ++i) {
    const Index src = perm[size_t(i)];
    require(src >= 0 && src < k, "k-osc permuteOscillators: index out of range");
    for (Index p = 0; p < 3; ++p) out.row(p * k + i) = flat.row(p * k + src);
  }
  return out;
}

/// Fills a 3k x B matrix with i.i.d. U(-1, 1) draws, column by column (sound by sound),
/// each entry from one rng.uniform() in double, then rounded to S.
template <class S> void sampleUniformParams(Rng& rng, MatRef<S> params) {
  for (Index b = 0; b < params.cols(); ++b)
    for (Index r = 0; r < params.rows(); ++r) params(r, b) = S(rng.uniform(-1.0, 1.0));
}
template <class S> Mat<S> sampleUniformParams(Index k, Index B, Rng& rng) {
  require(k > 0 && B >= 0, "k-osc sampleUniformParams: k must be positive");
  Mat<S> p(3 * k, B);
  sampleUniformParams<S>(rng, p);
  return p;
}

namespace detail {

/// Returns x unchanged but opaque to the optimizer, so that a rounded product is not fused
/// with a following addition into one FMA (GCC contracts a * b + c by default, even on xsimd
/// batches and even in ISO mode); numpy rounds every operation, and the k-osc phases and
/// PolyBLEP edges must be rounded the same way to match it.
template <class B> inline B rounded(const B& x) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  auto r = x.data;
  __asm__("" : "+v"(r));
  return B(r);
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  auto r = x.data;
  __asm__("" : "+w"(r));
  return B(r);
#else
  using S = typename B::value_type;
  alignas(64) volatile S tmp[B::size];
  for (std::size_t j = 0; j < B::size; ++j) tmp[j] = x.get(j);
  alignas(64) S out[B::size];
  for (std::size_t j = 0; j < B::size; ++j) out[j] = tmp[j];
  return B::load_aligned(out);
#endif
}

/// -sin(x), x = omega n rounded to S. Double: xsimd::sin (about 1 ulp), like numpy float64.
/// Float: sin of the float argument evaluated in double (xsimd::sin on half-width double
/// batches) and rounded to float, i.e. the correctly rounded float result in all but rare
/// ties; numpy's own float32 sin is within ~1.5 ulp of it (< 1.2e-7 on [-1, 1]).
template <class B> inline B negSin(const B& x, double) { return -xsimd::sin(x); }
template <class B> inline B negSin(const B& x, float) {
  using DB = xsimd::batch<double, typename B::arch_type>;
  constexpr std::size_t W = B::size, DW = DB::size;
  alignas(64) float xf[W];
  alignas(64) double xd[W];
  x.store_aligned(xf);
  for (std::size_t j = 0; j < W; ++j) xd[j] = double(xf[j]);
  for (std::size_t h = 0; h < W; h += DW) (-xsimd::sin(DB::load_aligned(xd + h))).store_aligned(xd + h);
  for (std::size_t j = 0; j < W; ++j) xf[j] = float(xd[j]);
  return B::load_aligned(xf);
}

}  // namespace detail

/// The k-osc synthesizer: k oscillators, renders 3k x B parameters to 1024 x B signals.
template <class S> class KOsc {
 public:
  using Batch = xsimd::batch<S>;
  static constexpr Index numSamples = KOscConstants::numSamples;

  explicit KOsc(Index k, KOscVariant variant = KOscVariant::Symmetric)
      : layout_(k), variant_(variant) {}

  Index numOscillators() const { return layout_.numOscillators(); }
  Index numParams() const { return layout_.numParams(); }
  KOscVariant variant() const { return variant_; }
  bool asymmetric() const { return variant_ == KOscVariant::Asymmetric; }
  const KOscLayout& layout() const { return layout_; }

  /// Angular frequency in rad/sample of oscillator i for raw parameter f (clamped), in S
  /// arithmetic exactly as the authors (and numpy) compute it:
  ///   u = (f + 1) / 2,  asymmetric: u = i/k + u/k,
  ///   omega = S(2 pi 20/44100) + S(2 pi 4000/44100 - 2 pi 20/44100) * u   (constants in double,
  ///   rounded once to S; the product rounded before the sum).
  S omega(S f, Index i) const {
    const S one(1), two(2);
    S u = (clampUnit(f) + one) / two;
    if (asymmetric()) {
      const S k = S(numOscillators());
      volatile S shift = S(i) / k;  // i/k + u/k, each rounded (not (i + u)/k)
      u = shift + u / k;
    }
    // volatile: the product is rounded before the sum (no FMA under -ffp-contract=fast).
    volatile S span = S(kOmegaMax - kOmegaMin) * u;
    return S(kOmegaMin) + span;
  }
  /// Frequency in Hz of oscillator i for raw parameter f (clamped): omega * 44100 / (2 pi),
  /// computed in double from the S-rounded omega (for display and the spec; the render works
  /// with omega).
  double frequencyHz(S f, Index i) const {
    return double(omega(f, i)) * KOscConstants::sampleRate / (2.0 * kPi);
  }

  /// signals(:, b) = synth(params(:, b)). signals must be 1024 x B (any outer stride).
  /// Non-finite parameters are refused with Error (clamping would hide a diverged model).
  void render(const CMatRef<S>& params, MatRef<S> signals) const {
    const Index k = numOscillators();
    require(params.rows() == 3 * k, "KOsc::render: params have " + std::to_string(params.rows()) +
                                        " rows, expected 3k = " + std::to_string(3 * k));
    require(signals.rows() == numSamples && signals.cols() == params.cols(),
            "KOsc::render: signals must be 1024 x B with B = params.cols()");
    require(params.allFinite(), "KOsc::render: a parameter is not finite (NaN or inf)");
    std::vector<Osc> osc(static_cast<size_t>(k));
    for (Index b = 0; b < params.cols(); ++b) {
      setup(params.col(b).data(), osc);
      renderOne(osc, signals.col(b).data());
    }
  }
  Mat<S> render(const CMatRef<S>& params) const {
    Mat<S> signals(numSamples, params.cols());
    render(params, signals);
    return signals;
  }

 private:
  static constexpr double kPi = 3.141592653589793;  // np.pi
  static constexpr double kOmegaMin = 2.0 * kPi * KOscConstants::minHz / KOscConstants::sampleRate;
  static constexpr double kOmegaMax = 2.0 * kPi * KOscConstants::maxHz / KOscConstants::sampleRate;

  /// Per-oscillator constants, broadcast once per sound.
  struct Osc {
    S omega, dt;
    S oneMinusDt, halfPlusDt, halfMinusDt;
    S amp, wSin, wSq, wSaw;
  };
  static S clampUnit(S x) { return std::min(S(1), std::max(S(-1), x)); }

  void setup(const S* p, std::vector<Osc>& osc) const {
    const Index k = numOscillators();
    const S one(1), two(2), half(0.5), zero(0);
    for (Index i = 0; i < k; ++i) {
      Osc& o = osc[size_t(i)];
      o.omega = omega(p[i], i);
      o.dt = o.omega / S(2.0 * kPi);  // cycles per sample
      o.oneMinusDt = one - o.dt;
      o.halfPlusDt = half + o.dt;
      o.halfMinusDt = half - o.dt;
      o.amp = (clampUnit(p[k + i]) + one) / two;
      const S w = clampUnit(p[2 * k + i]);
      o.wSin = std::min(one, std::max(zero, -w));
      o.wSq = one - std::abs(w);
      o.wSaw = std::min(one, std::max(zero, w));
    }
    // Symmetric variant: sum in a canonical order (sorted oscillator constants), so that any
    // permutation of the oscillators gives a bit-identical signal. Asymmetric variant: index
    // order, as numpy's mean (bit-equal to the peer there).
    if (!asymmetric())
      std::sort(osc.begin(), osc.end(), [](const Osc& x, const Osc& y) {
        if (x.omega != y.omega) return x.omega < y.omega;
        if (x.amp != y.amp) return x.amp < y.amp;
        if (x.wSin != y.wSin) return x.wSin < y.wSin;
        if (x.wSq != y.wSq) return x.wSq < y.wSq;
        return x.wSaw < y.wSaw;
      });
  }

  // One oscillator on W consecutive samples n, operation by operation as the authors' torch
  // code and the numpy peer (every product rounded before it is added: detail::rounded).
  static Batch oscillator(const Osc& o, const Batch& n) {
    using detail::rounded;
    const Batch one(S(1)), two(S(2)), half(S(0.5));
    Batch x(S(0));
    if (o.wSin != S(0)) x = rounded(Batch(o.wSin) * detail::negSin(rounded(Batch(o.omega) * n), S()));
    if (o.wSq != S(0) || o.wSaw != S(0)) {
      const Batch dt(o.dt);
      const Batch tn = rounded(dt * n);
      const Batch t = tn - xsimd::floor(tn);  // fmod(dt n, 1), exact for dt n >= 0
      const Batch lowRamp = t / dt - one;
      const Batch low = rounded(lowRamp * lowRamp);                // where t < dt
      const Batch highRamp = (t - one) / dt + one;
      const Batch high = rounded(highRamp * highRamp);             // where t > 1 - dt
      const auto isLow = t < dt;
      const auto isHigh = t > Batch(o.oneMinusDt);
      if (o.wSq != S(0)) {
        // s = (t - 0.5) mod 1 (Python modulo): t - 0.5 above the middle, (t - 0.5) + 1 below.
        const Batch above = t - half;
        const Batch midHighRamp = above / dt - one;
        const Batch midHigh = rounded(midHighRamp * midHighRamp);  // where 0.5 < t < 0.5 + dt
        const Batch below = (t - half) + one;
        const Batch midLowRamp = (below - one) / dt + one;
        const Batch midLow = rounded(midLowRamp * midLowRamp);     // where 0.5 - dt < t < 0.5
        Batch sq = xsimd::select(t > half, one, -one);
        // At most one correction applies (dt < 1/4), and adding the others' 0 is exact.
        sq = xsimd::select(isLow, sq + low, sq);
        sq = xsimd::select((t > half) && (t < Batch(o.halfPlusDt)), sq - midHigh, sq);
        sq = xsimd::select((t > Batch(o.halfMinusDt)) && (t < half), sq + midLow, sq);
        sq = xsimd::select(isHigh, sq - high, sq);
        x = x + rounded(Batch(o.wSq) * sq);
      }
      if (o.wSaw != S(0)) {
        Batch saw = two * t - one;
        saw = xsimd::select(isLow, saw + low, saw);
        saw = xsimd::select(isHigh, saw - high, saw);
        x = x + rounded(Batch(o.wSaw) * saw);
      }
    }
    return rounded(x * Batch(o.amp));
  }

  void renderOne(const std::vector<Osc>& osc, S* out) const {
    constexpr Index W = Index(Batch::size);
    static_assert(numSamples % W == 0, "KOsc: sample count must be a multiple of the SIMD width");
    alignas(64) S iotaArr[W];
    for (Index j = 0; j < W; ++j) iotaArr[j] = S(j);
    const Batch iota = Batch::load_aligned(iotaArr);
    const Batch k(S(osc.size()));
    for (Index n0 = 0; n0 < numSamples; n0 += W) {
      const Batch n = Batch(S(n0)) + iota;
      Batch acc(S(0));
      for (const Osc& o : osc) acc = acc + oscillator(o, n);  // sum in order, then / k (mean)
      (acc / k).store_unaligned(out + n0);
    }
  }

  KOscLayout layout_;
  KOscVariant variant_;
};

/// Parameters and signals of a batch of k-osc sounds (column b of both = sound b).
template <class S> struct KOscBatch {
  Mat<S> params;   // 3k x B
  Mat<S> signals;  // 1024 x B
};

/// Seeded, deterministic, random-access k-osc data.
///
/// Training stream: sound m (m = 0, 1, 2, ...) has parameters drawn (3k values, flat layout
/// order, U(-1, 1)) from Rng(seed).fork(kTrainDomain).fork(m). batch(i, B) is sounds
/// [i B, (i+1) B), so a position in the stream is the integer i (or m), and changing B
/// only regroups the same sounds.
///
/// Test set: sound m (m < kTestSetSize by convention; any m works) from
/// Rng(kTestSeed).fork(kTestDomain).fork(m), whatever the training seed: every model is
/// scored on the same sounds. Non-overlap is by construction: training sounds only ever come
/// from generators forked off the train-domain generator, test sounds only off the
/// test-domain one, and the two domain generators differ even when seed == kTestSeed
/// (Rng::fork mixes s0 ^ s3 ^ 0x9e37...*(stream + 1), injective in the stream number for a
/// given base state). Two sounds could then only coincide through a collision of 64-bit
/// generator states; tests/test_synth_kosc.cpp checks a sample (4096 test sounds against
/// 16384 training sounds of four seeds, including kTestSeed).
/// The sound depends on k only through how many values are drawn (first 3k of the stream),
/// and on the variant not at all (only the rendering does).
template <class S> class KOscStream {
 public:
  static constexpr std::uint64_t kTrainDomain = 0x7472616eULL;  // "tran"
  static constexpr std::uint64_t kTestDomain = 0x74657374ULL;   // "test"
  static constexpr std::uint64_t kTestSeed = 0x6b6f7363ULL;     // "kosc"
  static constexpr Index kTestSetSize = 51200;

  KOscStream(Index k, KOscVariant variant, std::uint64_t seed)
      : synth_(k, variant),
        seed_(seed),
        train_(Rng(seed).fork(kTrainDomain)),
        test_(Rng(kTestSeed).fork(kTestDomain)) {}

  const KOsc<S>& synth() const { return synth_; }
  Index numOscillators() const { return synth_.numOscillators(); }
  Index numParams() const { return synth_.numParams(); }
  KOscVariant variant() const { return synth_.variant(); }
  std::uint64_t seed() const { return seed_; }

  /// Training batch i of size B: sounds [i B, (i + 1) B) of the training stream.
  KOscBatch<S> batch(std::uint64_t i, Index B) const {
    require(B > 0, "KOscStream::batch: batch size must be positive");
    return trainSounds(i * std::uint64_t(B), B);
  }
  /// Training sounds [first, first + count).
  KOscBatch<S> trainSounds(std::uint64_t first, Index count) const {
    return make(train_, first, count);
  }
  /// Parameters only (no rendering) of training sounds [first, first + count).
  Mat<S> trainParams(std::uint64_t first, Index count) const {
    return params(train_, first, count);
  }
  /// Held-out test sounds [first, first + count) (the test set is sounds 0 .. kTestSetSize-1).
  KOscBatch<S> testSounds(std::uint64_t first, Index count) const {
    return make(test_, first, count);
  }
  Mat<S> testParams(std::uint64_t first, Index count) const { return params(test_, first, count); }

 private:
  Mat<S> params(const Rng& domain, std::uint64_t first, Index count) const {
    require(count >= 0, "KOscStream: negative sound count");
    Mat<S> p(numParams(), count);
    for (Index b = 0; b < count; ++b) {
      Rng r = domain.fork(first + std::uint64_t(b));
      sampleUniformParams<S>(r, p.col(b));
    }
    return p;
  }
  KOscBatch<S> make(const Rng& domain, std::uint64_t first, Index count) const {
    KOscBatch<S> out;
    out.params = params(domain, first, count);
    out.signals = synth_.render(out.params);
    return out;
  }

  KOsc<S> synth_;
  std::uint64_t seed_;
  Rng train_, test_;
};

}  // namespace symflow::synth
