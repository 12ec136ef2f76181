// symflow/train/kosc_trainer.hpp - the k-osc training loop (used by `symflow train`).
//
// Every step s (0-based) is a pure function of (seed, s) and the state before it:
//   data:     KOscStream(k, variant, seed).batch(s, batch)      (training stream, sounds sB..)
//   features: |rFFT| / 1024 of the signals
//   random:   Rng(seed).fork(kStepDomain).fork(s)               (drop mask, x0, t)
//   update:   zero grads, loss + backward, clip (global norm), Adam at lr = schedule(s)
// so a run resumed from a checkpoint taken after step s continues exactly as the run that was
// not interrupted (the checkpoint holds weights, BatchNorm statistics, Adam moments and step;
// the data position and random streams follow from the step).
//
// Files in outDir: model.safetensors (latest checkpoint: weights + optimizer + metadata),
// model.prev.safetensors (the one before; used, with a warning, when the latest is damaged),
// train.jsonl (one JSON line per log interval). Checkpoints are written atomically every
// checkpointSeconds, at the end, and on Ctrl-C (first Ctrl-C: checkpoint and stop; second:
// exit at once). A step whose gradient norm is not finite is skipped and counted.
#pragma once
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "symflow/audio/fft.hpp"
#include "symflow/io/checkpoint.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/optim/adam.hpp"
#include "symflow/optim/clip.hpp"
#include "symflow/optim/schedule.hpp"
#include "symflow/synth/kosc.hpp"
#include "symflow/train/interrupt.hpp"
#include "symflow/train/progress.hpp"

namespace symflow::train {

struct KOscTrainOptions {
  std::string outDir = "out/train";
  long steps = 2000;
  Index batch = 1024;
  double lr = 5e-4;          // peak learning rate
  long warmup = 100;         // linear warm-up steps
  double floorRatio = 0.1;   // final lr = floorRatio * lr (cosine decay)
  double clip = 1.0;         // global gradient-norm clip
  std::uint64_t seed = 0;
  double checkpointSeconds = 300;
  long stopAfter = -1;       // stop (with a checkpoint) after this many steps of this run (-1: never)
  long logEvery = 10;
  bool resume = false;
  bool quiet = false;
  models::FlowTrainOptions flow{};
};

struct KOscTrainResult {
  long step = 0;  // steps completed in total
  double seconds = 0;
  double emaLoss = 0;
  long skipped = 0;
  bool interrupted = false;
};

inline constexpr std::uint64_t kStepDomain = 0x73746570ULL;  // "step"
inline constexpr std::uint64_t kInitDomain = 0x696e6974ULL;  // "init"
inline const char* kModelConfigKey = "symflow_model_config";

inline std::string checkpointPath(const std::string& dir) { return dir + "/model.safetensors"; }
inline std::string previousCheckpointPath(const std::string& dir) { return dir + "/model.prev.safetensors"; }

/// Rebuilds a k-osc model from any checkpoint written by symflow (weights only).
inline std::unique_ptr<models::KOscModel> loadKOscModel(const std::string& path, io::Metadata* meta = nullptr) {
  // Read the config first, then the weights into the model it describes.
  const auto file = io::SafetensorsFile::read(path);
  const auto& md = file.view().metadata();
  const auto it = md.find(kModelConfigKey);
  require(it != md.end(), path + ": not a symflow model (no '" + std::string(kModelConfigKey) + "' metadata)");
  auto cfg = models::KOscModelConfig::fromJson(json::parse(it->second, path + " model config"));
  auto model = models::makeKOscModel(cfg);
  auto user = io::loadCheckpoint<float>(path, *model, nullptr);
  if (meta) *meta = user;
  return model;
}

class KOscTrainer {
 public:
  KOscTrainer(const models::KOscModelConfig& cfg, const KOscTrainOptions& opt) : cfg_(cfg), opt_(opt) {
    require(opt.steps > 0, "train: --steps must be positive");
    require(opt.batch > 1, "train: --batch must be at least 2");
    require(opt.lr > 0 && std::isfinite(opt.lr), "train: --lr must be positive");
    require(opt.warmup >= 0, "train: --warmup must be >= 0");
    opt_.warmup = std::min(opt.warmup, opt.steps);  // short runs: warm up over the whole run
    require(opt.floorRatio >= 0 && opt.floorRatio <= 1, "train: the lr floor ratio must be in [0, 1]");
  }

  KOscTrainResult run() {
    namespace fs = std::filesystem;
    fs::create_directories(opt_.outDir);
    const std::string latest = checkpointPath(opt_.outDir), prev = previousCheckpointPath(opt_.outDir);
    long start = 0;
    if (opt_.resume && (fs::exists(latest) || fs::exists(prev))) {
      start = resumeFrom(latest, prev);
    } else {
      Rng initRng = Rng(opt_.seed).fork(kInitDomain);
      model_ = models::makeKOscModel(cfg_, &initRng);
      adam_ = optim::Adam<float>(model_->store(), adamConfig());
      if (opt_.resume && !opt_.quiet) std::cerr << "train: nothing to resume in " << opt_.outDir << ", starting fresh\n";
    }
    auto& store = model_->store();
    synth::KOscStream<float> stream(cfg_.k, cfg_.variant, opt_.seed);
    audio::RealFft<float> fft(synth::KOscConstants::numSamples);
    optim::CosineSchedule sched(opt_.lr, opt_.warmup, opt_.steps, opt_.lr * opt_.floorRatio);
    MetricLog log(opt_.outDir + "/train.jsonl", start > 0);
    Progress progress("train " + models::toString(cfg_.kind), opt_.steps, opt_.batch, 2.0,
                      opt_.quiet ? nullptr : stderr);
    progress.setStartStep(start + 1);
    InterruptGuard interrupt;
    KOscTrainResult res;
    auto lastCkpt = Progress::Clock::now();
    Mat<float> features;
    long step = start;
    if (!opt_.quiet)
      std::cerr << "train: " << models::toString(cfg_.kind) << " (" << models::toString(cfg_.encoder) << " encoder), k = "
                << cfg_.k << " " << (cfg_.variant == synth::KOscVariant::Symmetric ? "symmetric" : "asymmetric")
                << ", " << store.size() << " weights, batch " << opt_.batch << ", steps " << start << " -> "
                << opt_.steps << ", out " << opt_.outDir << "\n";
    while (step < opt_.steps) {
      if (opt_.stopAfter >= 0 && step - start >= opt_.stopAfter) break;
      const auto batch = stream.batch(std::uint64_t(step), opt_.batch);
      models::kOscFeatures<float>(batch.signals, fft, features);
      Rng rng = Rng(opt_.seed).fork(kStepDomain).fork(std::uint64_t(step));
      store.zeroGrad();
      const auto loss = model_->step(features, batch.params, rng, opt_.flow);
      double norm = 0;
      if (store.size() > 0) {
        norm = optim::clipGradNorm(store, opt_.clip);
        if (std::isfinite(norm) && std::isfinite(loss.loss)) {
          adam_.step(store, sched.lr(step));
        } else {
          ++res.skipped;
          if (!opt_.quiet) std::cerr << "\ntrain: step " << step << " skipped (non-finite loss or gradient)\n";
        }
      }
      ++step;
      progress.update(step, loss.loss);
      if (step % opt_.logEvery == 0 || step == opt_.steps)
        log.write({{"step", double(step)}, {"loss", loss.loss}, {"data", loss.data}, {"penalty", loss.penalty},
                   {"grad_norm", norm}, {"lr", sched.lr(step - 1)}, {"seconds", progress.elapsed()}});
      const double since = std::chrono::duration<double>(Progress::Clock::now() - lastCkpt).count();
      if (interrupt.requested()) {
        res.interrupted = true;
        break;
      }
      if (since >= opt_.checkpointSeconds && step < opt_.steps) {
        save(step, progress.elapsed());
        lastCkpt = Progress::Clock::now();
      }
    }
    save(step, progress.elapsed());
    progress.finish(step, res.interrupted ? "(interrupted; checkpoint written)" : "");
    res.step = step;
    res.seconds = progress.elapsed();
    res.emaLoss = progress.emaLoss();
    return res;
  }

  models::KOscModel& model() { return *model_; }

 private:
  optim::AdamConfig adamConfig() const {
    optim::AdamConfig a;
    a.lr = opt_.lr;
    return a;
  }

  io::Metadata metadata(long step, double seconds) const {
    io::Metadata m;
    m[kModelConfigKey] = json::dump(cfg_.toJson());
    json::Value t = json::Value::object();
    t.set("step", step).set("steps", opt_.steps).set("batch", opt_.batch).set("seed", std::int64_t(opt_.seed));
    t.set("lr", opt_.lr).set("warmup", opt_.warmup).set("floor_ratio", opt_.floorRatio).set("clip", opt_.clip);
    t.set("cfg_dropout", opt_.flow.cfgDropout).set("ot_coupling", opt_.flow.otCoupling);
    m["symflow_train_state"] = json::dump(t);
    m["train_seconds"] = std::to_string(seconds + previousSeconds_);
    return m;
  }

  void save(long step, double seconds) {
    namespace fs = std::filesystem;
    const std::string latest = checkpointPath(opt_.outDir), prev = previousCheckpointPath(opt_.outDir);
    std::error_code ec;
    if (fs::exists(latest)) fs::rename(latest, prev, ec);  // keep the last good one
    io::saveCheckpoint(latest, *model_, &adam_, metadata(step, seconds));
  }

  long resumeFrom(const std::string& latest, const std::string& prev) {
    for (const std::string& path : {latest, prev}) {
      if (!std::filesystem::exists(path)) continue;
      try {
        io::Metadata meta;
        auto m = loadKOscModel(path, &meta);
        auto adam = optim::Adam<float>(m->store(), adamConfig());
        io::loadCheckpoint<float>(path, *m, &adam);
        const auto t = json::parse(meta.at("symflow_train_state"), path + " train state");
        const long step = long(t.at("step").asInt64());
        opt_.seed = std::uint64_t(t.at("seed").asInt64());
        opt_.batch = Index(t.at("batch").asInt64());
        cfg_ = m->config();
        previousSeconds_ = std::stod(meta.count("train_seconds") ? meta.at("train_seconds") : "0");
        model_ = std::move(m);
        adam_ = std::move(adam);
        if (!opt_.quiet) std::cerr << "train: resuming from " << path << " at step " << step << "\n";
        return step;
      } catch (const std::exception& e) {
        std::cerr << "train: warning: cannot resume from " << path << ": " << e.what()
                  << (path == latest ? "; trying " + prev : std::string()) << "\n";
      }
    }
    throw Error("train: no usable checkpoint in " + opt_.outDir + " (tried " + latest + " and " + prev + ")");
  }

  models::KOscModelConfig cfg_;
  KOscTrainOptions opt_;
  std::unique_ptr<models::KOscModel> model_;
  optim::Adam<float> adam_;
  double previousSeconds_ = 0;
};

}  // namespace symflow::train
