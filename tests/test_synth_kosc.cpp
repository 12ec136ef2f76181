// Tests of synth/kosc.hpp: agreement with the numpy peer (hard-coded reference values made
// by tests/kosc_reference.py), the definition's details, layout helpers and the data stream.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <limits>
#include <set>
#include <unsupported/Eigen/FFT>
#include <vector>

#include "symflow/synth/kosc.hpp"

using namespace symflow;
using synth::KOsc;
using synth::KOscVariant;

namespace {

// Same sounds and sample indices as tests/kosc_reference.py (k = 4, flat layout).
const double kSounds[2][12] = {
    {-0.75, 0.125, 0.5, 0.9375, 0.5, -0.25, 1.0, 0.0, -1.0, -0.375, 0.25, 1.0},
    {0.3125, -0.5, -1.0, 1.0, -0.5, 0.75, 0.25, -1.0, 0.0, 0.625, -0.875, 0.5},
};
const int kIndices[14] = {0, 1, 2, 3, 5, 17, 100, 255, 256, 511, 512, 700, 1000, 1023};

struct Reference {
  double samples[14];
  double stats[3];  // sum x, sum x^2, sum n x over all 1024 samples
};

// kosc_data.generate(params, dtype, asym) for the two sounds above.
const Reference kSymDouble[2] = {
    {{0, -0.42803721109511683, -0.42126390641000899, -0.41217470412757262, -0.38385098105271898, -0.32572398584117179, 0.049625095292427535, -0.28818662885592528, -0.27522104350307741, 0.24399983725300478, 0.1434225883033094, 0.12058482918883612, -0.043206987689701631, 0.22924127432246488}, {-1.4354275288615277, 71.898584747316477, 2421.2510392862114}},
    {{0, -0.29487742911732406, -0.28897360507134351, -0.28306977469877931, -0.27126208232106663, -0.16468185165782501, -0.14516516387151235, 0.010082045392916988, 0.016084635784060011, -0.0093746965772379398, 0.066590003692332783, -0.2700192463012922, -0.18973916238259481, -0.017392049551269877}, {-117.72107800537242, 41.557076220168902, -62865.63839592789}},
};
const Reference kSymFloat[2] = {
    {{0, -0.42803719639778137, -0.42126390337944031, -0.41217473149299622, -0.38385099172592163, -0.32572400569915771, 0.049624830484390259, -0.28818744421005249, -0.27522188425064087, 0.24399830400943756, 0.14343193173408508, 0.12058380246162415, -0.043209388852119446, 0.22923897206783295}, {-1.4354392774403095, 71.898549771817898, 2421.2328839488328}},
    {{0, -0.29487740993499756, -0.2889735996723175, -0.28306975960731506, -0.27126207947731018, -0.1646818220615387, -0.14516499638557434, 0.010082051157951355, 0.016084671020507812, -0.0093728899955749512, 0.066590115427970886, -0.27001935243606567, -0.18973881006240845, -0.017391745001077652}, {-117.80307637155056, 41.578625767484084, -62917.295396998525}},
};
const Reference kAsymDouble[2] = {
    {{0, -0.41495985099637306, -0.39593227376073736, -0.37613699183124538, -0.33295554690234586, -0.21844262295529118, -0.31027865501970164, 0.41182306416828496, -0.0020387287554803346, 0.34050944384095461, -0.028717526655241257, 0.057610469945131845, -0.27511530926760475, 0.051862181747093034}, {-27.60820468953262, 74.809798562638591, -11608.269795293802}},
    {{0, -0.33156555576588514, -0.35920416038850045, -0.38080758802268189, -0.39700422557639614, 0.031536118419907069, 0.31263009601985414, 0.042448228179605973, 0.074153081896906919, 0.031904103401927814, 0.054845096223887085, -0.043426294144947003, 0.14637452313124166, 0.047167525346410943}, {-4.3385591904468015, 43.916596642209711, -1395.4782374973349}},
};
const Reference kAsymFloat[2] = {
    {{0, -0.41495984792709351, -0.39593225717544556, -0.37613701820373535, -0.33295553922653198, -0.2184426337480545, -0.31027844548225403, 0.41182368993759155, -0.0020382553339004517, 0.34050774574279785, -0.028717443346977234, 0.057611696422100067, -0.27510857582092285, 0.051862403750419617}, {-27.608207628130913, 74.80979468265042, -11608.273679800332}},
    {{0, -0.33156555891036987, -0.35920417308807373, -0.38080760836601257, -0.39700421690940857, 0.031536057591438293, 0.31263011693954468, 0.042448095977306366, 0.074152976274490356, 0.031903952360153198, 0.054844900965690613, -0.043426640331745148, 0.14637276530265808, 0.047167278826236725}, {-4.3385708453133702, 43.916590747645934, -1395.4841831624508}},
};

template <class S> Mat<S> referenceParams() {
  Mat<S> p(12, 2);
  for (int b = 0; b < 2; ++b)
    for (int r = 0; r < 12; ++r) p(r, b) = S(kSounds[b][r]);
  return p;
}

// Tolerances: measured agreement (see docs/kosc.md) is < 4e-16 (double vs numpy float64) and
// < 4e-7 (float vs numpy float32: same phase arithmetic, polynomial sine) per sample.
template <class S>
void checkAgainst(const Mat<S>& signals, const Reference* ref, double sampleTol, double sumTol,
                  double weightedTol) {
  for (int b = 0; b < 2; ++b) {
    CAPTURE(b);
    for (int q = 0; q < 14; ++q) {
      CAPTURE(kIndices[q]);
      CHECK(std::abs(double(signals(kIndices[q], b)) - ref[b].samples[q]) <= sampleTol);
    }
    double sum = 0, sumSq = 0, weighted = 0;
    for (int n = 0; n < 1024; ++n) {
      const double x = double(signals(n, b));
      sum += x;
      sumSq += x * x;
      weighted += n * x;
    }
    CHECK(std::abs(sum - ref[b].stats[0]) <= sumTol);
    CHECK(std::abs(sumSq - ref[b].stats[1]) <= sumTol);
    CHECK(std::abs(weighted - ref[b].stats[2]) <= weightedTol);
  }
}

}  // namespace

TEST_CASE("k-osc double path matches the numpy peer (float64) to 1e-12") {
  const Mat<double> p = referenceParams<double>();
  checkAgainst(KOsc<double>(4, KOscVariant::Symmetric).render(p), kSymDouble, 1e-13, 1e-10, 1e-8);
  checkAgainst(KOsc<double>(4, KOscVariant::Asymmetric).render(p), kAsymDouble, 1e-13, 1e-10, 1e-8);
}

TEST_CASE("k-osc float path matches the numpy peer (float32) to 1e-6 per sample") {
  // The float path reproduces numpy's float32 phases and PolyBLEP edges operation by operation
  // (issue 17): the only difference left is the last ulp of the sine. Before, sound 1 of the
  // symmetric case had a -2 spike at a float phase of exactly 0.5 (the authors give -1 there)
  // and phases computed from Hz instead of rad/sample: its sums were off by 0.08 and 52.
  const Mat<float> p = referenceParams<float>();
  checkAgainst(KOsc<float>(4, KOscVariant::Symmetric).render(p), kSymFloat, 1e-6, 1e-4, 0.05);
  checkAgainst(KOsc<float>(4, KOscVariant::Asymmetric).render(p), kAsymFloat, 1e-6, 1e-4, 0.05);
}

TEST_CASE("k-osc float and double paths agree on random sounds except next to rare edges") {
  for (Index k : {1, 3, 8, 32}) {
    for (auto variant : {KOscVariant::Symmetric, KOscVariant::Asymmetric}) {
      Rng rng(10 + std::uint64_t(k));
      const Mat<double> pd = synth::sampleUniformParams<double>(k, 32, rng);
      const Mat<float> pf = pd.cast<float>();
      const Mat<double> sd = KOsc<double>(k, variant).render(pd);
      const Mat<float> sf = KOsc<float>(k, variant).render(pf);
      const Mat<double> diff = (sf.cast<double>() - sd).cwiseAbs();
      CAPTURE(k);
      // Float phases drift by ~1e-5 of a cycle over 1024 samples; the steep PolyBLEP ramps
      // turn that into < 1e-3, except where a float phase and a double one fall on different
      // sides of a PolyBLEP edge or of 0.5: at most a handful of samples in 32 x 1024.
      CHECK((diff.array() > 1e-3).count() <= 8);
      CHECK(std::sqrt(diff.array().square().mean()) < 2e-3);
    }
  }
}

TEST_CASE("k-osc definition details: pure waves, phase start, -1 at t == 0.5, mean over k") {
  // f = 0.375 -> u = 0.6875 -> 2756.25 Hz = 44100 / 16: exactly 16 samples per period, dt = 1/16.
  auto one = [](double f, double a, double w, KOscVariant v = KOscVariant::Symmetric) {
    Mat<double> p(3, 1);
    p << f, a, w;
    return KOsc<double>(1, v).render(p);
  };
  const Mat<double> sine = one(0.375, 1.0, -1.0);
  CHECK(sine(0, 0) == 0.0);                                   // phase starts at 0
  CHECK(sine(4, 0) == doctest::Approx(-1.0).epsilon(1e-15));  // -sin(2 pi / 4)
  CHECK(sine(12, 0) == doctest::Approx(1.0).epsilon(1e-15));
  const Mat<double> square = one(0.375, 1.0, 0.0);
  CHECK(square(0, 0) == 0.0);   // -1 - blep(0) = -1 + 1
  CHECK(square(2, 0) == -1.0);  // t = 1/8: first half-cycle is -1
  CHECK(square(10, 0) == 1.0);  // t = 5/8
  // t == 0.5 exactly: no correction applies (strict comparisons on both sides of the middle),
  // so the sample is the naive -1 (the authors' polyblep_square; symflow gave -2 before issue 17).
  CHECK(square(8, 0) == -1.0);
  CHECK(square(24, 0) == -1.0);
  CHECK(square(9, 0) == doctest::Approx(1.0 - 0.0).epsilon(1e-12));  // t = 9/16 = 0.5 + dt: outside
  CHECK(square(7, 0) == -1.0);  // t = 7/16 = 1/2 - dt: outside both PolyBLEP regions
  const Mat<double> saw = one(0.375, 1.0, 1.0);
  CHECK(saw(0, 0) == 0.0);                        // -1 - blep(0)
  CHECK(saw(4, 0) == doctest::Approx(-0.5));      // 2 t - 1 at t = 1/4
  const Mat<double> half = one(0.375, 0.0, 1.0);  // amplitude (0 + 1)/2
  CHECK(half(4, 0) == doctest::Approx(-0.25));
  // f = -1 gives 20 Hz in the symmetric variant, f = +1 gives 4000 Hz.
  const KOsc<double> s4(4), a4(4, KOscVariant::Asymmetric);
  CHECK(s4.frequencyHz(-1.0, 2) == doctest::Approx(20.0));
  CHECK(s4.frequencyHz(1.0, 2) == doctest::Approx(4000.0));
  // Asymmetric: oscillator i spans [i/k, (i+1)/k] of the unit range.
  CHECK(a4.frequencyHz(-1.0, 2) == doctest::Approx(20 + 3980 * 0.5));
  CHECK(a4.frequencyHz(1.0, 2) == doctest::Approx(20 + 3980 * 0.75));
  // Mean over oscillators: two identical oscillators give the single-oscillator signal.
  Mat<double> two(6, 1);
  two << 0.375, 0.375, 1.0, 1.0, 0.0, 0.0;
  CHECK((KOsc<double>(2).render(two) - square).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("k-osc clamps every parameter to [-1, 1] inside the synth only") {
  Rng rng(3);
  Mat<double> p = synth::sampleUniformParams<double>(4, 8, rng) * 1.7;  // many out of range
  const Mat<double> clamped = p.cwiseMax(-1.0).cwiseMin(1.0);
  const Mat<double> before = p;
  for (auto v : {KOscVariant::Symmetric, KOscVariant::Asymmetric}) {
    const KOsc<double> synth(4, v);
    CHECK((synth.render(p) - synth.render(clamped)).cwiseAbs().maxCoeff() == 0.0);
  }
  CHECK(p == before);  // the caller's parameters are untouched
}

TEST_CASE("k-osc symmetric variant is bit-identical under oscillator permutations") {
  const Index k = 6;
  Rng rng(4);
  for (int trial = 0; trial < 5; ++trial) {
    Mat<float> p = synth::sampleUniformParams<float>(k, 16, rng);
    std::vector<Index> perm(static_cast<size_t>(k));
    for (Index i = 0; i < k; ++i) perm[size_t(i)] = i;
    for (Index i = k - 1; i > 0; --i)
      std::swap(perm[size_t(i)], perm[size_t(rng.below(uint64_t(i + 1)))]);
    const Mat<float> q = synth::permuteOscillators<float>(p, k, perm);
    CHECK((q != p));
    const KOsc<float> sym(k);
    CHECK((sym.render(p).array() == sym.render(q).array()).all());
    const KOsc<double> symd(k);
    CHECK((symd.render(p.cast<double>()).array() == symd.render(q.cast<double>()).array()).all());
    // The asymmetric variant is not invariant: oscillator i owns its own frequency slice.
    const KOsc<float> asym(k, KOscVariant::Asymmetric);
    CHECK((asym.render(p) - asym.render(q)).cwiseAbs().maxCoeff() > 1e-3f);
  }
}

namespace {
// Fraction of the spectral energy that lies off the harmonic bins (multiples of `m`): with a
// fundamental of exactly m bins, every harmonic sits on a bin and every alias (harmonic folded
// at Nyquist) lands on a non-multiple of m.
double aliasEnergyFraction(const Vec<double>& x, Index m) {
  Eigen::FFT<double> fft;
  fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  std::vector<std::complex<double>> X(1024);  // 513 used
  std::vector<double> in(x.data(), x.data() + x.size());
  fft.fwd(X.data(), in.data(), 1024);
  double total = 0, alias = 0;
  for (Index q = 1; q < 513; ++q) {
    const double e = std::norm(X[size_t(q)]);
    total += e;
    if (q % m != 0) alias += e;
  }
  return alias / total;
}
}  // namespace

TEST_CASE("PolyBLEP square and saw alias less than naive ones") {
  const Index m = 61;  // fundamental on bin 61: 2627.05 Hz, 8 harmonics below Nyquist
  const double hz = 44100.0 * double(m) / 1024.0;
  const double f = 2.0 * (hz - 20.0) / 3980.0 - 1.0;
  const double dt = hz / 44100.0;
  Vec<double> naiveSaw(1024), naiveSquare(1024);
  for (Index n = 0; n < 1024; ++n) {
    double t = double(n) * dt;
    t -= std::floor(t);
    naiveSaw(n) = 2 * t - 1;
    naiveSquare(n) = t <= 0.5 ? -1.0 : 1.0;
  }
  Mat<double> p(3, 2);
  p << f, f, 1.0, 1.0, 1.0, 0.0;  // sound 0: saw, sound 1: square
  // Oscillators of a 1-osc synth; render each sound separately.
  const Mat<double> s = KOsc<double>(1).render(p.reshaped(3, 2));
  const double sawBlep = aliasEnergyFraction(s.col(0), m);
  const double sawNaive = aliasEnergyFraction(naiveSaw, m);
  const double squareBlep = aliasEnergyFraction(s.col(1), m);
  const double squareNaive = aliasEnergyFraction(naiveSquare, m);
  INFO("alias energy fraction saw " << sawBlep << " vs naive " << sawNaive << ", square "
                                    << squareBlep << " vs naive " << squareNaive);
  CHECK(sawBlep < 0.3 * sawNaive);
  CHECK(squareBlep < 0.3 * squareNaive);
}

TEST_CASE("k-osc layout: names, indices, token view round trip, sorted labels") {
  const Index k = 3;
  const synth::KOscLayout layout(k);
  CHECK((layout.numParams() == 9));
  CHECK(layout.name(0) == "freq_0");
  CHECK(layout.name(4) == "amp_1");
  CHECK(layout.name(8) == "shape_2");
  for (Index i = 0; i < k; ++i) {
    CHECK(layout.frequencyIndex(i) == i);
    CHECK(layout.amplitudeIndex(i) == k + i);
    CHECK(layout.shapeIndex(i) == 2 * k + i);
    for (Index r : {layout.frequencyIndex(i), layout.amplitudeIndex(i), layout.shapeIndex(i)})
      CHECK(layout.oscillatorOf(r) == i);
  }
  CHECK((layout.paramOf(5) == synth::KOscParam::Amplitude));
  CHECK((layout.paramOf(7) == synth::KOscParam::Shape));
  CHECK_THROWS_AS(layout.name(9), Error);

  Mat<double> flat(9, 2);
  flat.col(0) << 0.5, -0.2, 0.1, 1, 2, 3, 4, 5, 6;
  flat.col(1) << 0.0, 0.9, -0.9, 7, 8, 9, 10, 11, 12;
  const Mat<double> tokens = synth::toTokens<double>(flat, k);
  REQUIRE(tokens.rows() == 3);
  REQUIRE(tokens.cols() == 6);
  CHECK(tokens(0, 1) == -0.2);  // sound 0, oscillator 1: (f_1, a_1, w_1)
  CHECK((tokens(1, 1) == 2));
  CHECK((tokens(2, 1) == 5));
  CHECK(tokens(0, 5) == -0.9);  // sound 1, oscillator 2
  CHECK((tokens(2, 5) == 12));
  CHECK((synth::fromTokens<double>(tokens, k) == flat));

  const Mat<double> sorted = synth::sortedByFrequency<double>(flat, k);
  Mat<double> expected(9, 2);
  expected.col(0) << -0.2, 0.1, 0.5, 2, 3, 1, 5, 6, 4;
  expected.col(1) << -0.9, 0.0, 0.9, 9, 7, 8, 12, 10, 11;
  CHECK((sorted == expected));
  // Sorting does not change the sound of the symmetric synth.
  const KOsc<double> synth(k);
  CHECK((synth.render(sorted) - synth.render(flat)).cwiseAbs().maxCoeff() == 0.0);
  CHECK_THROWS_AS(synth::toTokens<double>(Mat<double>(8, 1), k), Error);
  CHECK_THROWS_AS(synth::fromTokens<double>(Mat<double>(3, 4), k), Error);
}

TEST_CASE("k-osc render refuses wrong shapes") {
  const KOsc<float> synth(4);
  Mat<float> wrongRows(11, 2), out(1024, 2), shortOut(512, 2);
  CHECK_THROWS_AS(synth.render(wrongRows), Error);
  Mat<float> p = Mat<float>::Zero(12, 2);
  CHECK_THROWS_AS(synth.render(p, shortOut), Error);
  CHECK_NOTHROW(synth.render(p, out));
  p(5, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(synth.render(p, out), Error);
  p(5, 1) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(synth.render(p, out), Error);
  CHECK_THROWS_AS(KOsc<float>(0), Error);
  CHECK_THROWS_AS(synth::kOscVariantFromString("both"), Error);
  CHECK((synth::kOscVariantFromString("asym") == KOscVariant::Asymmetric));
}

TEST_CASE("uniform parameter sampling covers [-1, 1] and is seeded") {
  Rng a(7), b(7);
  const Mat<float> p = synth::sampleUniformParams<float>(8, 500, a);
  CHECK((p == synth::sampleUniformParams<float>(8, 500, b)));
  CHECK(p.minCoeff() >= -1.0f);
  CHECK(p.maxCoeff() <= 1.0f);
  CHECK(p.minCoeff() < -0.99f);
  CHECK(p.maxCoeff() > 0.99f);
  CHECK(std::abs(p.mean()) < 0.02f);  // 12000 draws, sd of mean 0.005
  CHECK(p.array().square().mean() == doctest::Approx(1.0 / 3).epsilon(0.03));
}

TEST_CASE("k-osc stream: deterministic, random access by index, batch-size independent") {
  const synth::KOscStream<float> s(4, KOscVariant::Asymmetric, 123);
  const synth::KOscStream<float> same(4, KOscVariant::Asymmetric, 123);
  const synth::KOscStream<float> other(4, KOscVariant::Asymmetric, 124);
  const auto b5 = s.batch(5, 64);
  REQUIRE(b5.params.rows() == 12);
  REQUIRE(b5.params.cols() == 64);
  REQUIRE(b5.signals.rows() == 1024);
  REQUIRE(b5.signals.cols() == 64);
  CHECK((b5.params == same.batch(5, 64).params));
  CHECK((b5.signals == s.synth().render(b5.params)));
  CHECK((b5.params != s.batch(4, 64).params));
  CHECK((b5.params != other.batch(5, 64).params));
  // Batch 5 of size 64 is sounds 320..383 = batch 10 and 11 of size 32 = sounds via trainParams.
  CHECK((b5.params.leftCols(32) == s.batch(10, 32).params));
  CHECK((b5.params.rightCols(32) == s.batch(11, 32).params));
  CHECK((b5.params.middleCols(7, 3) == s.trainParams(327, 3)));
  // The draws of one sound: 3k consecutive uniforms of Rng(seed).fork(domain).fork(m).
  Rng r = Rng(123).fork(synth::KOscStream<float>::kTrainDomain).fork(320);
  for (Index row = 0; row < 12; ++row) CHECK(b5.params(row, 0) == float(r.uniform(-1.0, 1.0)));
  // The test set does not depend on the training seed or the variant.
  CHECK((s.testParams(100, 10) == other.testParams(100, 10)));
  const synth::KOscStream<float> sym(4, KOscVariant::Symmetric, 999);
  CHECK((s.testParams(0, 16) == sym.testParams(0, 16)));
  const auto t = s.testSounds(40000, 4);
  CHECK((t.signals == s.synth().render(t.params)));
}

TEST_CASE("k-osc test set never overlaps the training stream (sampled check)") {
  // No test sound (first 4096 of 51,200) equals any of the first 16,384 training sounds of
  // several seeds, including the seed equal to the test seed; parameter vectors compared whole.
  using Stream = synth::KOscStream<double>;
  const Index k = 4;
  auto key = [&](const Mat<double>& p, Index b) {
    std::array<double, 12> v{};
    for (Index r = 0; r < 12; ++r) v[size_t(r)] = p(r, b);
    return v;
  };
  const Stream ref(k, KOscVariant::Symmetric, 0);
  const Mat<double> test = ref.testParams(0, 4096);
  std::set<std::array<double, 12>> testKeys;
  for (Index b = 0; b < test.cols(); ++b) testKeys.insert(key(test, b));
  CHECK(testKeys.size() == 4096);
  for (std::uint64_t seed :
       {std::uint64_t(0), std::uint64_t(1), std::uint64_t(42), Stream::kTestSeed}) {
    const Stream s(k, KOscVariant::Symmetric, seed);
    const Mat<double> train = s.trainParams(0, 16384);
    Index shared = 0;
    for (Index b = 0; b < train.cols(); ++b) shared += Index(testKeys.count(key(train, b)));
    CAPTURE(seed);
    CHECK(shared == 0);
    // Not even a single parameter value in common in the first sounds (53-bit draws).
    CHECK(train.col(0) != test.col(0));
  }
}

TEST_CASE("k-osc spec: flat layout, names, units, validates for both variants") {
  for (Index k : {1, 2, 4, 32}) {
    for (auto variant : {KOscVariant::Symmetric, KOscVariant::Asymmetric}) {
      CAPTURE(k);
      const synth::ParamSpec spec = synth::kOscSpec(k, variant);
      CHECK_NOTHROW(spec.validate());
      REQUIRE(spec.size() == 3 * k);
      const synth::KOscLayout layout(k);
      for (Index i = 0; i < k; ++i) {
        const std::string g = "osc" + std::to_string(i + 1);
        CHECK(spec.indexOf(g + "_freq") == layout.frequencyIndex(i));
        CHECK(spec.indexOf(g + "_amp") == layout.amplitudeIndex(i));
        CHECK(spec.indexOf(g + "_shape") == layout.shapeIndex(i));
        for (Index r : {layout.frequencyIndex(i), layout.amplitudeIndex(i), layout.shapeIndex(i)})
          CHECK(spec[r].group == g);
        CHECK(spec[layout.frequencyIndex(i)].unit == "Hz");
        CHECK(spec[layout.amplitudeIndex(i)].unit == "amplitude");
        CHECK(spec[layout.shapeIndex(i)].unit == "shape");
        // Amplitude (a + 1) / 2 in [0, 1]; shape is the clamped raw value.
        CHECK(spec[layout.amplitudeIndex(i)].toUnits(-1.0) == 0.0);
        CHECK(spec[layout.amplitudeIndex(i)].toUnits(0.5) == 0.75);
        CHECK(spec[layout.shapeIndex(i)].toUnits(-0.25) == -0.25);
        CHECK(spec[layout.shapeIndex(i)].toUnits(3.0) == 1.0);
      }
    }
  }
  CHECK_THROWS_AS(synth::kOscSpec(0), Error);
}

TEST_CASE("k-osc spec maps model values to the synth's Hz, per-oscillator slices when asymmetric") {
  const Index k = 5;
  Rng rng(21);
  for (auto variant : {KOscVariant::Symmetric, KOscVariant::Asymmetric}) {
    const synth::ParamSpec spec = synth::kOscSpec(k, variant);
    const KOsc<double> synthD(k, variant);
    const KOsc<float> synthF(k, variant);
    for (Index i = 0; i < k; ++i) {
      const synth::ParamInfo& f = spec[synthD.layout().frequencyIndex(i)];
      CAPTURE(i);
      std::vector<double> values = {-1.0, -0.5, 0.0, 0.375, 1.0, -1.5, 2.0};  // and clamped ones
      for (int t = 0; t < 20; ++t) values.push_back(rng.uniform(-1.0, 1.0));
      for (double v : values) {
        CAPTURE(v);
        CHECK(std::abs(f.toUnits(v) - synthD.frequencyHz(v, i)) <= 1e-9);
        CHECK(std::abs(f.toUnits(v) - double(synthF.frequencyHz(float(v), i))) <= 1e-3);
        const double hz = synthD.frequencyHz(v, i);
        CHECK(std::abs(f.toModel(hz) - std::clamp(v, -1.0, 1.0)) <= 1e-12);
      }
      if (variant == KOscVariant::Symmetric) {
        CHECK(f.min == 20.0);
        CHECK(f.max == 4000.0);
      } else {
        // Slice i of 20-4000 Hz: consecutive oscillators tile the range.
        CHECK(f.min == doctest::Approx(20.0 + 3980.0 * double(i) / double(k)));
        CHECK(f.max == doctest::Approx(20.0 + 3980.0 * double(i + 1) / double(k)));
        if (i > 0) CHECK(f.min == spec[synthD.layout().frequencyIndex(i - 1)].max);
      }
    }
  }
}

TEST_CASE("k-osc spec declares S_k over whole oscillators (symmetric variant only)") {
  const Index k = 4;
  const synth::ParamSpec sym = synth::kOscSpec(k, KOscVariant::Symmetric);
  REQUIRE(sym.symmetries.size() == 1);
  const synth::Symmetry& s = sym.symmetries[0];
  REQUIRE(s.order() == k);
  for (Index i = 0; i < k; ++i) {
    const std::vector<Index> expected = {i, k + i, 2 * k + i};
    CHECK(s.blocks[size_t(i)] == expected);
  }
  CHECK(synth::kOscSpec(k, KOscVariant::Asymmetric).symmetries.empty());
  CHECK(synth::kOscSpec(1, KOscVariant::Symmetric).symmetries.empty());  // S_1 is trivial
  // The spec's permutation is the synth's oscillator permutation, and the symmetric synth is
  // invariant under it (bit for bit) while the asymmetric one is not.
  Rng rng(22);
  const Mat<float> p = synth::sampleUniformParams<float>(k, 8, rng);
  const KOsc<float> synthSym(k), synthAsym(k, KOscVariant::Asymmetric);
  const auto perms = synth::allPermutations(k);
  for (std::size_t n = 0; n < perms.size(); ++n) {
    const std::vector<Index>& perm = perms[n];
    const Mat<float> q = sym.permuted<float>(p, 0, perm);
    // permuted() sends position a to perm[a]: new oscillator perm[a] = old a.
    std::vector<Index> inverse(size_t(k), 0);
    for (Index a = 0; a < k; ++a) inverse[size_t(perm[size_t(a)])] = a;
    CHECK((q == synth::permuteOscillators<float>(p, k, inverse)));
    CHECK((synthSym.render(q).array() == synthSym.render(p).array()).all());
    if (n > 0)  // perms[0] is the identity
      CHECK((synthAsym.render(q) - synthAsym.render(p)).cwiseAbs().maxCoeff() > 1e-3f);
  }
}
