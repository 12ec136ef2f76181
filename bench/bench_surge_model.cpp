// Surge-style models at their default sizes (models/surge_model.hpp): one training step
// (forward + backward + Adam) per model at batch 32, and the rendering of one training batch
// (32 random patches, 2 s at 16 kHz, with their log-mel features) that the batch producer
// runs beside it. The counter "render_share" of BM_SurgeTrainStepWithProducer is the fraction
// of wall time the step loop waited for the producer.
#include <benchmark/benchmark.h>

#include <memory>

#include "symflow/models/surge_model.hpp"
#include "symflow/optim/adam.hpp"
#include "symflow/train/batch_producer.hpp"

using namespace symflow;

namespace {

constexpr Index kBatch = 32;

void BM_SurgeRenderBatch(benchmark::State& state) {
  models::SurgeModelConfig cfg;
  models::SurgeBatchRenderer r(cfg);
  std::int64_t s = 0;
  for (auto _ : state) benchmark::DoNotOptimize(r.render(1, s++, kBatch));
  state.counters["sounds/s"] = benchmark::Counter(double(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SurgeTrainStepWithProducer(benchmark::State& state) {
  models::SurgeModelConfig cfg;
  cfg.kind = models::SurgeModelKind(state.range(0));
  Rng rng(1);
  auto m = models::makeSurgeModel(cfg, &rng);
  m->inputNorm().setStatistics(models::measureSurgeInputStatistics(cfg, 64, 5, 32));
  optim::Adam<float> adam(m->store(), optim::AdamConfig{});
  train::BatchProducer<models::SurgeBatch> producer(
      [r = std::make_shared<models::SurgeBatchRenderer>(cfg)](std::int64_t s) { return r->render(1, s, kBatch); }, 0,
      4);
  models::FlowTrainOptions o;
  std::int64_t s = 0;
  for (auto _ : state) {
    const auto b = producer.next();
    Rng stepRng = Rng(2).fork(std::uint64_t(s++));
    m->store().zeroGrad();
    benchmark::DoNotOptimize(m->step(b.features, b.params, stepRng, o));
    adam.step(m->store(), 1e-4);
  }
  state.SetLabel(models::toString(cfg.kind));
  state.counters["weights"] = double(m->store().size());
  state.counters["render_share"] = producer.waitFraction();
}

}  // namespace

BENCHMARK(BM_SurgeRenderBatch)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SurgeTrainStepWithProducer)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(3.0);
