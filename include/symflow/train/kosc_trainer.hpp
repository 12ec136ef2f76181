// symflow/train/kosc_trainer.hpp - the k-osc task of the trainer (train/trainer.hpp), used by
// `symflow train --task kosc`.
//
// Data: step s of the training stream is KOscStream(k, variant, seed).batch(s, batch) (sounds
// s B .. s B + B - 1 of the seed's stream; a data-parallel rank renders only its shard of
// them), features |rFFT| / 1024 of the signals (kOscFeatures). The FFTs cost more than the
// synth (one 1024-point kissfft per sound), so batches are made on a train::BatchProducer
// thread two steps ahead of the optimizer (TrainOptions::dataThread, `--no-data-thread` turns
// it off and renders on the optimizer's thread); a batch is a function of (seed, s, shard)
// alone, so the thread never changes the run, and a resumed run starts the producer at its
// first step. The time the optimizer waits for a batch is logged (data_wait). The held-out
// test set is drawn from its own generator (synth/kosc.hpp), never from the training stream.
// Fresh start (prepare): a spectral-mlp model with per-bin input normalization gets its
// statistics measured on kStatsSounds (4096, as the PyTorch peer) sounds of a stream of their
// own (seed Rng(seed).fork(kStatsDomain).next()); they are saved in every checkpoint and a
// resumed run reads them back.
#pragma once
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "symflow/audio/fft.hpp"
#include "symflow/metrics/coupling.hpp"
#include "symflow/metrics/token_groups.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/synth/kosc.hpp"
#include "symflow/train/batch_producer.hpp"
#include "symflow/train/trainer.hpp"

namespace symflow::train {

using KOscTrainOptions = TrainOptions;
using KOscTrainResult = TrainResult;

/// Rebuilds a k-osc model from any checkpoint written by symflow (loadModelFile).
inline std::unique_ptr<models::KOscModel> loadKOscModel(const std::string& path, io::Metadata* meta = nullptr) {
  return loadModelFile<models::KOscModelConfig>(
      path, meta, [](const auto& c, Rng* rng, Index maxWeights) { return models::makeKOscModel(c, rng, maxWeights); });
}

struct KOscTask {
  using Model = models::KOscModel;
  using Config = models::KOscModelConfig;

  static std::unique_ptr<Model> make(const Config& c, Rng* rng) { return models::makeKOscModel(c, rng); }
  static std::unique_ptr<Model> load(const std::string& path, io::Metadata* meta) { return loadKOscModel(path, meta); }
  static constexpr std::uint64_t kStatsDomain = 0x7374617473ull;  // "stats"
  static constexpr Index kStatsSounds = 4096;

  static void prepare(Model& m, const TrainOptions& o, bool quiet) {
    if (!m.inputStandardizer()) return;
    if (!quiet) std::cerr << "train: measuring the input statistics on " << kStatsSounds << " training sounds\n";
    const Config& c = m.config();
    synth::KOscStream<float> stream(c.k, c.variant, Rng(o.seed).fork(kStatsDomain).next());
    audio::RealFft<float> fft(synth::KOscConstants::numSamples);
    Mat<float> features;
    models::kOscFeatures<float>(stream.trainSounds(0, kStatsSounds).signals, fft, features);
    m.fitInputStatistics(features);
  }
  static constexpr bool kCanRegroup = true;
  static constexpr std::uint64_t kRegroupDomain = 0x72656772ull;  // "regr"
  static constexpr Index kRegroupSounds = 256;
  /// --p2t-regroup (cnf-param2tok): A re-formed from the coupling the flow has learned
  /// (metrics::velocityCoupling on kRegroupSounds training-distribution sounds of their own
  /// stream, t = 0.3, 0.5, 0.7; metrics::kOscRegroupedAssignment). Deterministic in (seed,
  /// weights), so every rank of a data-parallel run sets the same A.
  static void regroup(Model& m, const TrainOptions& o, bool quiet) {
    const auto A = m.param2TokAssignment();
    require(A.has_value(), "--p2t-regroup: only cnf-param2tok has an assignment to regroup");
    const Config& c = m.config();
    synth::KOscStream<float> stream(c.k, c.variant, Rng(o.seed).fork(kRegroupDomain).next());
    const auto sounds = stream.trainSounds(0, kRegroupSounds);
    audio::RealFft<float> fft(synth::KOscConstants::numSamples);
    Mat<float> features;
    models::kOscFeatures<float>(sounds.signals, fft, features);
    const auto field = m.velocityField(features);
    Rng rng = Rng(o.seed).fork(kRegroupDomain).fork(1);
    const Mat<double> C = metrics::velocityCoupling(field, sounds.params, {0.3f, 0.5f, 0.7f}, rng);
    m.setParam2TokAssignment(metrics::kOscRegroupedAssignment(*A, C, c.k));
    if (!quiet) {
      const auto p = metrics::kOscCouplingPairs(C, c.k);
      std::cerr << "train: regrouped the assignment from the flow's coupling (" << p.oscillators << " of " << c.k
                << " oscillators paired as in the synth, ratio " << p.ratio << ")\n";
    }
  }
  static std::string modelName(const Config& c) { return models::toString(c.kind); }
  /// cnf-param2tok: how well the assignment groups each oscillator's three parameters
  /// (metrics::kOscGrouping): own (0..k), separation, equivariance, score.
  static std::vector<std::string> extraLogColumns(const Config& c) {
    if (c.kind != models::ModelKind::CnfParam2Tok) return {};
    return {"groups_own", "groups_separation", "groups_equivariance", "groups_score"};
  }
  static void extraLogValues(Model& m, std::vector<std::pair<std::string, double>>& row) {
    const auto A = m.param2TokAssignment();
    if (!A) return;
    const auto g = metrics::kOscGrouping(*A, m.config().k);
    row.insert(row.end(), {{"groups_own", double(g.own)},
                           {"groups_separation", g.separation},
                           {"groups_equivariance", g.equivariance},
                           {"groups_score", g.score}});
  }
  static std::string describe(const Config& c) {
    return models::toString(c.kind) + " (" + models::toString(c.encoder) + " encoder), k = " + std::to_string(c.k) +
           " " + (c.variant == synth::KOscVariant::Symmetric ? "symmetric" : "asymmetric");
  }

  /// One training batch (or a rank's shard of it): features kOscFeatures(signals), 513 x B,
  /// and the raw labels, 3k x B.
  struct Batch {
    Mat<float> features, params;
  };

  /// Renders sounds [first, first + count) of a stream and their features. Holds an FFT plan:
  /// one renderer per thread.
  class Renderer {
   public:
    Renderer(const Config& c, std::uint64_t seed)
        : stream_(c.k, c.variant, seed), fft_(synth::KOscConstants::numSamples) {}
    Batch render(std::uint64_t first, Index count) {
      auto b = stream_.trainSounds(first, count);
      Batch out;
      models::kOscFeatures<float>(b.signals, fft_, out.features);
      out.params = std::move(b.params);
      return out;
    }

   private:
    synth::KOscStream<float> stream_;
    audio::RealFft<float> fft_;
  };

  /// Step s is sounds [s B + shard.first, s B + shard.second) of the seed's stream, rendered
  /// on a BatchProducer thread two batches ahead of the optimizer (TrainOptions::dataThread),
  /// else on the caller's thread when batch() is called. Both give the same batches.
  class Data {
   public:
    Data(const Config& c, const TrainOptions& o, long firstStep, std::pair<Index, Index> shard)
        : renderer_(std::make_shared<Renderer>(c, o.seed)), batch_(o.batch), shard_(shard), next_(firstStep) {
      if (o.dataThread)
        producer_.emplace([r = renderer_, B = batch_, shard](std::int64_t s) { return render(*r, B, shard, s); },
                          firstStep, 2);
    }
    void batch(long step, Mat<float>& features, Mat<float>& params) {
      require(step == next_, "KOscTask::Data: batches must be taken in step order");
      ++next_;
      Batch b = producer_ ? producer_->next() : render(*renderer_, batch_, shard_, step);
      features = std::move(b.features);
      params = std::move(b.params);
    }

   private:
    static Batch render(Renderer& r, Index B, std::pair<Index, Index> shard, std::int64_t step) {
      return r.render(std::uint64_t(step) * std::uint64_t(B) + std::uint64_t(shard.first), shard.second - shard.first);
    }

    std::shared_ptr<Renderer> renderer_;  // used by the producer thread only, when there is one
    Index batch_;
    std::pair<Index, Index> shard_;  // sounds [first, second) of each batch
    long next_;
    std::optional<BatchProducer<Batch>> producer_;  // last: its thread stops before the rest goes
  };
};

using KOscTrainer = Trainer<KOscTask>;

}  // namespace symflow::train
