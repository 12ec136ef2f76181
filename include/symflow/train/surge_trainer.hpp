// symflow/train/surge_trainer.hpp - the surge-simple task of the trainer (train/trainer.hpp),
// used by `symflow train --task surge-simple`.
//
// Fresh start (prepare): after the weights are initialized, the AST's per-band input statistics
//   are measured on kStatsSounds (1024) random training sounds (measureSurgeInputStatistics with seed
//   Rng(seed).fork(kStatsDomain).next()) and stored in the model (encoder.input_norm.*, saved in
//   every checkpoint; a resumed run reads them back and never re-measures).
// Data: step s is SurgeBatchRenderer::render(seed, s, batch) (models/surge_model.hpp: random
//   patches, sound g from Rng(seed).fork(kDataDomain).fork(s).fork(g), loudness floor, log-mel
//   features; a data-parallel rank renders only the sounds of its shard), made
//   on a train::BatchProducer thread two batches ahead of the optimizer (TrainOptions::dataThread;
//   `--no-data-thread`: on the optimizer's thread instead). The batch content is a
//   function of (seed, s) alone, so threads never change the run; the time the optimizer waits
//   for a batch is logged (data_wait: fraction of the run's wall time).
// Test set: models::SurgeTestSet, a separate generator domain the training stream never uses.
#pragma once
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "symflow/metrics/symmetry.hpp"
#include "symflow/models/surge_model.hpp"
#include "symflow/train/batch_producer.hpp"
#include "symflow/train/trainer.hpp"

namespace symflow::train {

/// Rebuilds a surge-simple model (weights and input statistics) from any checkpoint of symflow
/// (loadModelFile: a config describing more weights than the file holds is refused).
inline std::unique_ptr<models::SurgeModel> loadSurgeModel(const std::string& path, io::Metadata* meta = nullptr) {
  return loadModelFile<models::SurgeModelConfig>(
      path, meta, [](const auto& c, Rng* rng, Index maxWeights) { return models::makeSurgeModel(c, rng, maxWeights); });
}

struct SurgeTask {
  using Model = models::SurgeModel;
  using Config = models::SurgeModelConfig;
  static constexpr std::uint64_t kStatsDomain = 0x7374617473ull;  // "stats"
  static constexpr Index kStatsSounds = 1024;  // sounds measured for the input statistics

  static std::unique_ptr<Model> make(const Config& c, Rng* rng) { return models::makeSurgeModel(c, rng); }
  static std::unique_ptr<Model> load(const std::string& path, io::Metadata* meta) { return loadSurgeModel(path, meta); }
  static constexpr bool kCanRegroup = false;  // --p2t-regroup: k-osc only (no oscillator pairing here yet)
  static void prepare(Model& m, const TrainOptions& o, bool quiet) {
    if (!quiet) std::cerr << "train: measuring the input statistics on " << kStatsSounds << " training sounds\n";
    Rng r = Rng(o.seed).fork(kStatsDomain);
    m.inputNorm().setStatistics(models::measureSurgeInputStatistics(m.config(), kStatsSounds, r.next()));
  }
  static std::string modelName(const Config& c) { return models::toString(c.kind); }
  /// cnf-param2tok: the symmetry score (metrics/symmetry.hpp) of each declared symmetry of the
  /// synth, columns sym_1, sym_2, ... in the order of the spec's symmetries.
  static std::vector<std::string> extraLogColumns(const Config& c) {
    std::vector<std::string> cols;
    if (c.kind != models::SurgeModelKind::CnfParam2Tok) return cols;
    for (std::size_t i = 0; i < synth::SurgeSynth::spec().symmetries.size(); ++i) cols.push_back("sym_" + std::to_string(i + 1));
    return cols;
  }
  static void extraLogValues(Model& m, std::vector<std::pair<std::string, double>>& row) {
    const auto A = m.param2TokAssignment();
    if (!A) return;
    const auto& syms = synth::SurgeSynth::spec().symmetries;
    for (std::size_t i = 0; i < syms.size(); ++i)
      row.emplace_back("sym_" + std::to_string(i + 1), metrics::symmetryScore(*A, syms[i]).score);
  }
  static std::string describe(const Config& c) {
    return "surge-simple " + models::toString(c.kind) + " (AST " + std::to_string(c.ast.layers) + " layers, width " +
           std::to_string(c.ast.width) + (c.kind == models::SurgeModelKind::CnfParam2Tok
                                              ? ", " + std::to_string(c.tokens) + " tokens"
                                              : std::string()) + ")";
  }

  class Data {
   public:
    Data(const Config& c, const TrainOptions& o, long firstStep, std::pair<Index, Index> shard)
        : renderer_(std::make_shared<models::SurgeBatchRenderer>(c)), seed_(o.seed), shard_(shard), next_(firstStep) {
      if (o.dataThread)
        producer_.emplace([r = renderer_, seed = seed_, shard](std::int64_t s) {
          return r->render(seed, s, shard.first, shard.second);
        }, firstStep, 2);
    }
    void batch(long step, Mat<float>& features, Mat<float>& params) {
      require(step == next_, "SurgeTask::Data: batches must be taken in step order");
      ++next_;
      auto b = producer_ ? producer_->next() : renderer_->render(seed_, step, shard_.first, shard_.second);
      features = std::move(b.features);
      params = std::move(b.params);
    }

   private:
    std::shared_ptr<models::SurgeBatchRenderer> renderer_;  // the producer thread's only, when there is one
    std::uint64_t seed_;
    std::pair<Index, Index> shard_;
    long next_;
    std::optional<BatchProducer<models::SurgeBatch>> producer_;  // last: its thread stops first
  };
};

using SurgeTrainer = Trainer<SurgeTask>;

}  // namespace symflow::train
