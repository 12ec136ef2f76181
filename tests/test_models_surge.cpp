// The surge-simple models (models/surge_model.hpp) on tiny sizes: feature shape, shapes of the
// models' outputs, the JSON config round trip, the input statistics, and that each model's
// training loss falls in a short run on a fixed batch.
#include <doctest/doctest.h>

#include <cmath>

#include "symflow/models/surge_model.hpp"
#include "symflow/optim/adam.hpp"
#include "surge_testing.hpp"

using namespace symflow;
using models::SurgeModelConfig;
using models::SurgeModelKind;
using testing::tinySurgeConfig;

namespace {

struct Batch {
  Mat<float> features, params;
};

Batch renderBatch(const SurgeModelConfig& c, Index B, std::uint64_t seed) {
  synth::SurgeSynth synth(c.synthConfig());
  models::SurgeFeatures feat(c.feature, c.sampleRate);
  Rng rng(seed);
  auto r = synth.sampleRandom(rng, B);
  Batch b;
  feat.compute(r.audio, b.features);
  b.params = r.params;
  return b;
}

}  // namespace

TEST_CASE("surge feature: 64 bands x 201 frames for 2 s at 16 kHz by default, finite, band-fastest layout") {
  SurgeModelConfig c;
  CHECK(c.feature.nFft(c.sampleRate) == 512);
  CHECK(c.feature.windowSamples(c.sampleRate) == 400);
  CHECK(c.feature.hopSamples(c.sampleRate) == 160);
  CHECK(c.astConfig().frames == 201);
  CHECK(c.astConfig().mels == 64);
  // Tiny: check the layout against the mel spectrogram directly.
  const SurgeModelConfig t = tinySurgeConfig(SurgeModelKind::Ffn);
  synth::SurgeSynth synth(t.synthConfig());
  Rng rng(5);
  auto r = synth.sampleRandom(rng, 2);
  models::SurgeFeatures feat(t.feature, t.sampleRate);
  Mat<float> f;
  feat.compute(r.audio, f);
  const Index M = 16, F = t.astConfig().frames;
  REQUIRE(f.rows() == M * F);
  REQUIRE(f.cols() == 2);
  CHECK(f.allFinite());
  audio::MelConfig mc;
  mc.sampleRate = t.sampleRate;
  mc.nFft = 256;
  mc.winLength = 200;
  mc.hop = 80;
  mc.nMels = M;
  audio::MelSpectrogram<float> mel(mc);
  Mat<float> p;
  mel.power(r.audio.col(1), p);  // M x F
  REQUIRE(p.cols() == F);
  for (Index fr : {Index(0), Index(7), F - 1})
    for (Index m : {Index(0), Index(9)})
      CHECK(f(fr * M + m, 1) == doctest::Approx(10.0 * std::log10(std::max(1e-10f, p(m, fr)))).epsilon(1e-4));
}

TEST_CASE("surge model config: JSON round trip, refusals") {
  SurgeModelConfig c = tinySurgeConfig(SurgeModelKind::CnfMlp);
  c.penaltyWeight = 0.25;
  c.tokens = 12;
  const std::string text = json::dump(c.toJson());
  const SurgeModelConfig back = SurgeModelConfig::fromJson(json::parse(text));
  CHECK(json::dump(back.toJson()) == text);
  CHECK((back.kind == SurgeModelKind::CnfMlp));
  CHECK(back.tokens == 12);
  CHECK(back.sampleRate == 8000);
  CHECK(back.feature.mels == 16);
  CHECK(back.ast.width == 16);
  CHECK(back.dit.timeDim == 8);
  CHECK(SurgeModelConfig().tokens == 32);
  json::Value bad = c.toJson();
  bad.set("model", "cnf-equivariant");
  CHECK_THROWS_WITH_AS(SurgeModelConfig::fromJson(bad), doctest::Contains("unknown surge-simple model"), Error);
  json::Value kosc = c.toJson();
  kosc.set("task", "kosc");
  CHECK_THROWS_WITH_AS(SurgeModelConfig::fromJson(kosc), doctest::Contains("not surge-simple"), Error);
}

TEST_CASE("surge input statistics: measured from rendered sounds, deterministic, set in the model") {
  const SurgeModelConfig c = tinySurgeConfig(SurgeModelKind::Ffn);
  const nn::BandStatistics a = models::measureSurgeInputStatistics(c, 20, 9, 8);
  const nn::BandStatistics b = models::measureSurgeInputStatistics(c, 20, 9, 20);
  CHECK(a.count() == double(20 * c.astConfig().frames));
  CHECK((a.mean() - b.mean()).cwiseAbs().maxCoeff() < 1e-6);
  CHECK((a.variance() - b.variance()).cwiseAbs().maxCoeff() < 1e-6 * (1 + a.variance().maxCoeff()));
  CHECK(a.variance().minCoeff() > 0);
  Rng rng(1);
  auto m = models::makeSurgeModel(c, &rng);
  m->inputNorm().setStatistics(a);
  bool found = false;
  for (const auto& t : m->tensors())
    if (t.name == "encoder.input_norm.mean") {
      found = true;
      CHECK(t.value[3] == doctest::Approx(a.mean()[3]));
    }
  CHECK(found);
}

TEST_CASE("surge models: output shapes, Param2Tok assignment, per-layer queries") {
  const Batch batch = renderBatch(tinySurgeConfig(SurgeModelKind::Ffn), 3, 11);
  for (auto kind : {SurgeModelKind::CnfParam2Tok, SurgeModelKind::CnfMlp, SurgeModelKind::Ffn}) {
    INFO("model " << int(kind));
    const SurgeModelConfig c = tinySurgeConfig(kind);
    Rng rng(2);
    auto m = models::makeSurgeModel(c, &rng);
    Mat<float> x;
    models::SampleOptions so;
    so.steps = 3;
    m->predict(batch.features, so, rng, x);
    CHECK(x.rows() == 93);
    CHECK(x.cols() == 3);
    CHECK(x.allFinite());
    CHECK(m->param2TokAssignment().has_value() == (kind == SurgeModelKind::CnfParam2Tok));
    if (kind == SurgeModelKind::CnfParam2Tok) {
      CHECK(m->param2TokAssignment()->rows() == 8);
      CHECK(m->param2TokAssignment()->cols() == 93);
      CHECK(c.astConfig().queries == c.dit.layers);
      CHECK_FALSE(c.astConfig().pooled);
    } else {
      CHECK(c.astConfig().pooled);
    }
  }
}

TEST_CASE("surge models: the training loss falls on a fixed batch") {
  const Batch batch = renderBatch(tinySurgeConfig(SurgeModelKind::Ffn), 16, 21);
  models::FlowTrainOptions o;
  // The loss on the batch with fixed draws (drop mask, x0, t from the same 4 step seeds), without
  // applying gradients: a noise-free before/after comparison.
  auto evalLoss = [&](models::SurgeModel& m) {
    double sum = 0;
    for (std::uint64_t e = 0; e < 4; ++e) {
      Rng r = Rng(99).fork(e);
      sum += m.step(batch.features, batch.params, r, o).data / 4;
    }
    m.store().zeroGrad();
    return sum;
  };
  for (auto kind : {SurgeModelKind::CnfParam2Tok, SurgeModelKind::CnfMlp, SurgeModelKind::Ffn}) {
    const SurgeModelConfig c = tinySurgeConfig(kind);
    Rng rng(3);
    auto m = models::makeSurgeModel(c, &rng);
    m->inputNorm().setStatistics(models::measureSurgeInputStatistics(c, 16, 21, 16));
    optim::Adam<float> adam(m->store(), optim::AdamConfig{});
    const double before = evalLoss(*m);
    for (int s = 0; s < 150; ++s) {
      Rng stepRng = Rng(7).fork(std::uint64_t(s));
      m->store().zeroGrad();
      REQUIRE(std::isfinite(m->step(batch.features, batch.params, stepRng, o).loss));
      adam.step(m->store(), 2e-3);
    }
    const double after = evalLoss(*m);
    INFO("model " << int(kind) << ": loss before " << before << ", after 150 steps " << after);
    // cnf-param2tok starts from Param2Tok's near-invariant init (every parameter reads the
    // same tokens), so it leaves its first plateau slowly: 1.137 -> 1.103 here (0.99 after 600
    // steps); the draws are fixed, so this smaller drop is still no noise.
    CHECK(after < (kind == SurgeModelKind::CnfParam2Tok ? 0.985 : 0.8) * before);
  }
}
