// metrics/symmetry.hpp: the symmetry score of a Param2Tok assignment on hand-made assignments
// with known answers, and on the Surge-style synth's declared symmetries.
#include <doctest/doctest.h>

#include "symflow/core/rng.hpp"
#include "symflow/metrics/coupling.hpp"
#include "symflow/testing/gradcheck.hpp"
#include "symflow/metrics/symmetry.hpp"
#include "symflow/synth/surge.hpp"

using namespace symflow;

namespace {
// 3 blocks of 2 parameters: {0,1}, {2,3}, {4,5}; parameter 6 belongs to no block.
synth::Symmetry threeBlocks() { return {"S3 test", {{0, 1}, {2, 3}, {4, 5}}}; }
}  // namespace

TEST_CASE("symmetry score: one token per block, mirrored -> 1; token order does not matter") {
  Mat<float> A = Mat<float>::Zero(4, 7);
  for (int i = 0; i < 3; ++i) {
    A(i, 2 * i) = 0.8f;
    A(i, 2 * i + 1) = -0.3f;
  }
  A(3, 6) = 1.0f;  // a token of its own for the unpermuted parameter
  auto s = metrics::symmetryScore(A, threeBlocks());
  CHECK(s.separation == doctest::Approx(1.0));
  CHECK(s.equivariance == doctest::Approx(1.0));
  CHECK(s.score == doctest::Approx(1.0));
  Mat<float> shuffled(4, 7);
  shuffled << A.row(2), A.row(3), A.row(0), A.row(1);
  CHECK(metrics::symmetryScore(shuffled, threeBlocks()).score == doctest::Approx(1.0));
}

TEST_CASE("symmetry score: the invariant initialization (every token reads every block alike) -> 0") {
  Mat<float> A = Mat<float>::Constant(4, 7, 0.5f);
  auto s = metrics::symmetryScore(A, threeBlocks());
  CHECK(s.separation == doctest::Approx(0.0));
  CHECK(s.equivariance == doctest::Approx(1.0));  // symmetric, but blind to which block is which
  CHECK(s.score == doctest::Approx(0.0));
}

TEST_CASE("symmetry score: separated but not mirrored, and mixed tokens, score in between") {
  Mat<float> A = Mat<float>::Zero(3, 7);
  A(0, 0) = 1.0f;  // block 1 reads only its first parameter
  A(1, 2) = 1.0f;
  A(1, 3) = 1.0f;  // block 2 reads both
  A(2, 4) = 1.0f;
  A(2, 5) = 1.0f;
  auto s = metrics::symmetryScore(A, threeBlocks());
  CHECK(s.separation == doctest::Approx(1.0));
  CHECK(s.equivariance < 0.95);
  CHECK(s.score == doctest::Approx(s.equivariance));

  Mat<float> B = Mat<float>::Zero(3, 7);  // token 0 reads blocks 1 and 2 alike
  B(0, 0) = B(0, 2) = 1.0f;
  B(1, 4) = 1.0f;
  auto m = metrics::symmetryScore(B, threeBlocks());
  CHECK(m.separation > 0.1);
  CHECK(m.separation < 0.9);
}

TEST_CASE("symmetry score: a noisy perfect assignment scores below a clean one; refusals") {
  const auto& spec = synth::SurgeSynth::spec();
  REQUIRE(spec.symmetries.size() == 2);
  // one token per block of the S3 symmetry (osc i with lfo i), the rest on a fourth token
  Mat<float> A = Mat<float>::Zero(4, spec.size());
  const auto& s3 = spec.symmetries[0];
  for (Index i = 0; i < 3; ++i)
    for (size_t q = 0; q < s3.blocks[size_t(i)].size(); ++q) A(i, s3.blocks[size_t(i)][q]) = 0.1f * float(q + 1);
  for (Index p = 0; p < spec.size(); ++p)
    if (A.col(p).isZero()) A(3, p) = 1.0f;
  const double clean = metrics::symmetryScore(A, s3).score;
  CHECK(clean == doctest::Approx(1.0));
  Rng rng(5);
  Mat<float> noisy = A;
  for (Index i = 0; i < noisy.size(); ++i) noisy.data()[i] += float(rng.uniform(-0.05, 0.05));
  const double n = metrics::symmetryScore(noisy, s3).score;
  CHECK(n < clean);
  CHECK(n > 0.3);
  CHECK(metrics::symmetryScore(Mat<float>::Zero(4, spec.size()), s3).score == 0.0);
  CHECK_THROWS_AS(metrics::symmetryScore(A, synth::Symmetry{"one", {{0, 1}}}), Error);
  CHECK_THROWS_AS(metrics::symmetryScore(A, synth::Symmetry{"ragged", {{0, 1}, {2}}}), Error);
  CHECK_THROWS_AS(metrics::symmetryScore(A, synth::Symmetry{"outside", {{0}, {9999}}}), Error);
}

TEST_CASE("velocityCoupling: mean |Jacobian| of a vector field; kOscCouplingPairs finds the oscillators it couples") {
  // k = 2, parameter-major [f0 f1 a0 a1 w0 w1]; a linear field v = M x has C = |M| exactly
  const Index k = 2, P = 3 * k, B = 5;
  Mat<float> M = Mat<float>::Constant(P, P, 0.1f);
  for (Index i = 0; i < k; ++i)
    for (int s : {0, 1, 2})
      for (int r : {0, 1, 2}) M(s * k + i, r * k + i) = s == r ? 1.0f : -0.5f;  // oscillator i's own block
  auto linear = [&](const Mat<float>& xt, float t, Mat<float>& v) {
    (void)t;
    v = M * xt;
  };
  Rng rng(3);
  const Mat<float> x1 = testing::randomMatrix<float>(P, B, rng);
  const Mat<double> C = metrics::velocityCoupling(linear, x1, {0.25f, 0.75f}, rng);
  CHECK((C - M.cwiseAbs().cast<double>()).cwiseAbs().maxCoeff() < 1e-3);
  auto pairs = metrics::kOscCouplingPairs(C, k);
  CHECK(pairs.oscillators == 2);
  CHECK(pairs.amplitude == 2);
  CHECK(pairs.shape == 2);
  CHECK(pairs.ratio == doctest::Approx(5.0).epsilon(1e-3));  // 2 x 0.5 against 2 x 0.1
  // the amplitudes coupled to the other oscillator's frequency: no oscillator paired
  Mat<double> swapped = C;
  for (Index r = 0; r < P; ++r) std::swap(swapped(r, k), swapped(r, k + 1));
  for (Index c = 0; c < P; ++c) std::swap(swapped(k, c), swapped(k + 1, c));
  pairs = metrics::kOscCouplingPairs(swapped, k);
  CHECK(pairs.amplitude == 0);
  CHECK(pairs.shape == 2);
  CHECK(pairs.oscillators == 0);
  CHECK(pairs.ratio < 1.0);
  // no structure: ratio 1
  CHECK(metrics::kOscCouplingPairs(Mat<double>::Constant(P, P, 0.3), k).ratio == doctest::Approx(1.0));
  CHECK_THROWS_AS(metrics::kOscCouplingPairs(C, 3), Error);
}

TEST_CASE("kOscRegroupedAssignment: token t reads f_t and the amplitude and shape the coupling matches to it") {
  const Index k = 2, P = 3 * k;
  Mat<double> C = Mat<double>::Constant(P, P, 0.1);
  for (Index i = 0; i < k; ++i)  // f_i couples to a_(1-i) and w_i
    C(i, k + (1 - i)) = C(i, 2 * k + i) = 1.0;
  Mat<float> A = Mat<float>::Constant(3, P, 0.2f);  // 3 tokens: the third reads nothing after
  A(0, 0) = -0.8f;
  const Mat<float> B = metrics::kOscRegroupedAssignment(A, C, k);
  const float w = float(double(A.cwiseAbs().sum()) / double(P));
  Mat<float> want = Mat<float>::Zero(3, P);
  want(0, 0) = want(0, k + 1) = want(0, 2 * k + 0) = w;
  want(1, 1) = want(1, k + 0) = want(1, 2 * k + 1) = w;
  CHECK((B - want).cwiseAbs().maxCoeff() == 0.0f);
  const auto m = metrics::kOscCouplingMatch(C, k);
  CHECK(m.amplitude == std::vector<Index>{1, 0});
  CHECK(m.shape == std::vector<Index>{0, 1});
  CHECK_THROWS_AS(metrics::kOscRegroupedAssignment(Mat<float>::Zero(1, P), C, k), Error);  // fewer tokens than k

  // the shapes are matched by frequency and amplitude together: f_i leans (weakly) to the other
  // oscillator's shape, a_i strongly to its own; the frequency alone would swap the shapes
  Mat<double> J = Mat<double>::Constant(P, P, 0.05);
  for (Index i = 0; i < k; ++i) {
    J(i, k + i) = 1.0;                        // f_i - a_i
    J(i, 2 * k + i) = 0.2;                    // f_i - w_i
    J(i, 2 * k + (1 - i)) = 0.3;              // f_i - w_(1-i)
    J(k + i, 2 * k + i) = 1.0;                // a_i - w_i
  }
  const auto joint = metrics::kOscCouplingMatch(J, k);
  CHECK(joint.amplitude == std::vector<Index>{0, 1});
  CHECK(joint.shape == std::vector<Index>{0, 1});
  CHECK(metrics::kOscCouplingPairs(J, k).oscillators == 2);
}
