// symflow/train/trainer.hpp - the training loop of `symflow train`, for any task.
//
// Trainer<Task> runs steps, logs, checkpoints and resumes; the Task says what the model and
// the data are (train/kosc_trainer.hpp: KOscTask; train/surge_trainer.hpp: SurgeTask):
//   using Model, Config                      model interface (store(), step(), config()) and
//                                            its config (toJson(), stored in every checkpoint)
//   static std::string modelName(const Config&)                   "cnf-param2tok", ... (progress)
//   static std::unique_ptr<Model> make(const Config&, Rng*)      a fresh model
//   static std::unique_ptr<Model> load(path, io::Metadata*)       any checkpoint of the task
//   static void prepare(Model&, const TrainOptions&, bool quiet)  once, on a fresh start only,
//                                            after init (e.g. measure input statistics)
//   static std::string describe(const Config&)                     one line for the terminal
//   static std::vector<std::string> extraLogColumns(const Config&) task columns after the
//                                            common ones of both logs (e.g. Param2Tok grouping)
//   static void extraLogValues(Model&, Row&)  appends their values (every logged step)
//   class Data { Data(const Config&, const TrainOptions&, long firstStep, Shard shard);
//                void batch(long step, Mat<float>& features, Mat<float>& params); }
//                                            sounds [shard.first, shard.second) of batch `step`
//                                            of the training stream (the whole batch on one
//                                            process): a function of (seed, step, shard) only,
//                                            called for consecutive steps; with
//                                            TrainOptions::dataThread it may render ahead on a
//                                            thread of its own (BatchProducer), same content
//
// Every step s (0-based) is a pure function of (seed, s) and the state before it:
//   data:     Task::Data::batch(s)                              (training stream)
//   random:   Rng(seed).fork(kStepDomain).fork(s)               (drop mask, x0, t)
//   update:   zero grads, loss + backward, clip (global norm), Adam at lr = schedule(s)
//             (Param2Tok's assignment at assignLrMult x lr; its L1 weight ramped over
//             penaltyWarmup steps; DiT attention off for attnOff steps, then ramped over
//             attnRamp: all stored in the checkpoint's train state)
// so a run resumed from a checkpoint taken after step s continues exactly as the run that was
// not interrupted (the checkpoint holds weights, buffers, Adam moments and step; the data
// position and random streams follow from the step).
//
// Data-parallel training (TrainOptions::comm, train/distributed.hpp, docs/distributed.md):
// rank r of N computes the loss and gradients of its shard shardOf(B, r, N) of the global
// batch, the gradients are averaged over ranks (one allreduce over the flat buffer) before
// clipping and Adam, and only rank 0 prints, logs and writes checkpoints. Without a
// communicator (or with N = 1) none of this runs and the trainer is exactly the one process.
//
// Time budget (TrainOptions::timeBudgetSeconds, `--time-budget 2h`): the run stops after the
// first step at which the training time of the run so far (this process plus every process it
// resumed from, the checkpoint's "train_seconds") reaches the budget, with a checkpoint, as
// Ctrl-C does. The learning-rate schedule still spans `steps`.
//
// Output (TrainOptions::out, see TrainPaths): either a folder DIR or a checkpoint file
// DIR/NAME.safetensors:
//   --out DIR                      --out DIR/NAME.safetensors
//   DIR/model.safetensors          DIR/NAME.safetensors        latest checkpoint
//   DIR/model.prev.safetensors     DIR/NAME.prev.safetensors   the one before
//   DIR/train.jsonl                DIR/NAME.jsonl              log, one JSON object per row
//   DIR/train.csv                  DIR/NAME.csv                the same rows as CSV
// A checkpoint holds weights, optimizer state and metadata. Crash safety (docs/training.md,
// "Crash safety"; tests/kill_resume_test.sh and the other crash tests):
//   save     the new checkpoint is written atomically to "<latest>.new" first (AtomicFileWriter:
//            temporary "<latest>.new.tmp.<pid>", fsync, rename); only when that succeeded does
//            the previous name get the latest (hard link "<previous>.tmp.<pid>" renamed over
//            it) and "<latest>.new" replace the latest (rename), then the folder is fsynced.
//            A failed write (disk full, EFBIG under ulimit -f) throws a one-line Error and
//            leaves both existing checkpoints untouched; at every moment of a save the latest
//            name holds a complete checkpoint, so a kill loses only the steps since the last
//            completed checkpoint. (On file systems without hard links the latest is renamed
//            to the previous name instead; a kill between the two renames then resumes from
//            the previous one.)
//   resume   the latest is validated completely (checksums, names, shapes, train state); when
//            it is missing or unusable the previous one is used, with a warning naming both
//            files, and the damaged latest is then replaced without being rotated over the good
//            previous one. Neither usable: one Error naming both files and both reasons.
//   start    temporary files of dead writers ("<latest>.new.tmp.<pid>", "<previous>.tmp.<pid>",
//            "<latest>.tmp.<pid>" whose process no longer exists) are removed.
// A log row (step, loss, data, penalty, grad_norm, lr, seconds) is written every logEvery
// steps and at the last step; a resumed run appends to both logs (the CSV header is not
// repeated). Checkpoints are written when checkpointSeconds have passed since the last one or
// the step count is a multiple of checkpointSteps (either trigger; 0 turns a trigger off), at
// the end, and on Ctrl-C or SIGTERM (first signal: finish the step, checkpoint, stop; a second
// Ctrl-C: exit at once, status 130). A step whose gradient norm is not finite is skipped and
// counted.
#pragma once
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "symflow/io/checkpoint.hpp"
#include "symflow/io/json.hpp"
#include "symflow/models/flow_model.hpp"
#include "symflow/optim/adam.hpp"
#include "symflow/optim/clip.hpp"
#include "symflow/optim/schedule.hpp"
#include "symflow/train/distributed.hpp"
#include "symflow/train/interrupt.hpp"
#include "symflow/train/progress.hpp"

namespace symflow::train {

/// Attention schedule of DiT models before step s (0-based): 0 while s < off, then
/// min(1, (s - off + 1) / ramp) (1 at once when ramp is 0). TrainOptions::attnOff, attnRamp.
inline double attentionScaleAt(long s, long off, long ramp) {
  if (s < off) return 0.0;
  return ramp > 0 ? std::min(1.0, double(s - off + 1) / double(ramp)) : 1.0;
}

struct TrainOptions {
  std::string out = "out/train";  // folder, or checkpoint file ending in .safetensors (TrainPaths)
  long steps = 2000;
  Index batch = 1024;
  double lr = 5e-4;          // peak learning rate
  long warmup = 100;         // linear warm-up steps
  double floorRatio = 0.1;   // final lr = floorRatio * lr (cosine decay)
  double clip = 1.0;         // global gradient-norm clip
  double assignLrMult = 1.0; // Param2Tok: the assignment A ("...assign") learns at this x lr
  long penaltyWarmup = 0;    // Param2Tok: L1 weight ramps linearly from 0 over these steps (0: off)
  long assignHold = 0;       // Param2Tok: A is frozen (lr factor 0) in the first assignHold steps
  long regroupAt = 0;        // Param2Tok: before step regroupAt, A is re-formed from the flow's coupling (0: off)
  long attnOff = 0;          // DiT models: no attention between tokens in the first attnOff steps
  long attnRamp = 0;         // ... then its scale ramps linearly from 0 to 1 over attnRamp steps
  std::uint64_t seed = 0;
  double checkpointSeconds = 300;  // checkpoint when this many seconds passed since the last (0: off)
  long checkpointSteps = 0;        // checkpoint at every step that is a multiple of this (0: off)
  long stopAfter = -1;       // stop (with a checkpoint) after this many steps of this run (-1: never)
  double timeBudgetSeconds = 0;    // stop (with a checkpoint) at this much training time (0: none)
  long logEvery = 10;
  bool resume = false;
  bool quiet = false;
  models::FlowTrainOptions flow{};
  bool dataThread = true;    // render training batches on a producer thread beside the optimizer
                             // (Task::Data, train/batch_producer.hpp); false: on the optimizer's
                             // thread. Never changes a batch, only which thread makes it.
  Communicator* comm = nullptr;  // data-parallel ranks (train/distributed.hpp); nullptr: alone
};

struct TrainResult {
  long step = 0;  // steps completed in total
  double seconds = 0;
  double emaLoss = 0;
  long skipped = 0;
  bool interrupted = false;     // Ctrl-C / SIGTERM
  bool budgetReached = false;   // --time-budget
  double dataWaitFraction = 0;  // share of this run's wall time spent waiting for training data
  int ranks = 1;                // data-parallel ranks
  double commFraction = 0;      // share of this run's wall time spent in the ranks' allreduces
};

inline constexpr std::uint64_t kStepDomain = 0x73746570ULL;  // "step"
inline constexpr std::uint64_t kInitDomain = 0x696e6974ULL;  // "init"
inline const char* kModelConfigKey = "symflow_model_config";

/// The files of a training run. `out` ending in ".safetensors" (and not an existing folder)
/// is the checkpoint file itself; anything else is a folder holding model.safetensors.
struct TrainPaths {
  std::string dir;                // folder of every file (created by the trainer)
  std::string checkpoint;         // latest checkpoint
  std::string previous;           // the checkpoint before it
  std::string jsonLog, csvLog;    // the two logs (same rows)

  static TrainPaths of(const std::string& out) {
    namespace fs = std::filesystem;
    require(!out.empty(), "train: --out is empty");
    const fs::path p(out);
    const std::string ext = ".safetensors";
    const bool fileForm = out.size() > ext.size() && out.compare(out.size() - ext.size(), ext.size(), ext) == 0 &&
                          !fs::is_directory(p);
    TrainPaths t;
    if (fileForm) {
      const std::string name = p.filename().string();
      const std::string stem = name.substr(0, name.size() - ext.size());
      require(!stem.empty(), "train: --out '" + out + "' has no file name before .safetensors");
      const fs::path parent = p.parent_path();
      auto beside = [&](const std::string& file) { return (parent / file).string(); };
      t.dir = parent.empty() ? "." : parent.string();
      t.checkpoint = out;
      t.previous = beside(stem + ".prev.safetensors");
      t.jsonLog = beside(stem + ".jsonl");
      t.csvLog = beside(stem + ".csv");
    } else {
      t.dir = out;
      t.checkpoint = (p / "model.safetensors").string();
      t.previous = (p / "model.prev.safetensors").string();
      t.jsonLog = (p / "train.jsonl").string();
      t.csvLog = (p / "train.csv").string();
    }
    return t;
  }
};
/// The latest checkpoint of `out` (a folder or a .safetensors file; see TrainPaths).
inline std::string checkpointPath(const std::string& out) { return TrainPaths::of(out).checkpoint; }
inline std::string previousCheckpointPath(const std::string& out) { return TrainPaths::of(out).previous; }

/// The columns of both training logs, in order.
inline const std::vector<std::string>& trainLogColumns() {
  static const std::vector<std::string> cols{"step", "loss", "data", "penalty", "grad_norm", "lr", "seconds", "data_wait"};
  return cols;
}

/// The model config JSON stored in a symflow checkpoint (the "task" key names its task).
inline json::Value readModelConfig(const std::string& path) {
  const auto file = io::SafetensorsFile::read(path);
  const auto& md = file.view().metadata();
  const auto it = md.find(kModelConfigKey);
  require(it != md.end(), path + ": not a symflow model (no '" + std::string(kModelConfigKey) + "' metadata)");
  return json::parse(it->second, path + " model config");
}

/// The task of a symflow checkpoint ("kosc", "surge-simple").
inline std::string readModelTask(const std::string& path) {
  const json::Value cfg = readModelConfig(path);
  const json::Value* t = cfg.find("task");
  require(t && t->isString(), path + ": the model config names no task");
  return t->asString();
}

/// Rebuilds the model of any symflow checkpoint of one task (weights and buffers):
/// config = Config::fromJson(the stored config), model = make(config, rng = nullptr, maxWeights).
/// The file holds at most size / 4 float weights, so a config describing more (damaged or
/// forged) is refused before the model is allocated (found by fuzz/fuzz_kosc_model).
template <class Config, class Make>
auto loadModelFile(const std::string& path, io::Metadata* meta, Make&& make) {
  const auto cfg = Config::fromJson(readModelConfig(path));
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  decltype(make(cfg, nullptr, Index(-1))) model;
  try {
    model = make(cfg, nullptr, ec ? Index(-1) : Index(bytes / sizeof(float)));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  auto user = io::loadCheckpoint<float>(path, *model, nullptr);
  if (meta) *meta = user;
  return model;
}

/// Parses a duration: "90" or "90s" (seconds), "15m", "2h", "1.5h", "1h30m". Throws on anything else.
inline double parseDuration(const std::string& text, const std::string& what) {
  require(!text.empty(), what + ": empty duration");
  double total = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(text.substr(i), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used > 0 && std::isfinite(v) && v >= 0 && text[i] != '-' && text[i] != '+',
            what + ": '" + text + "' is not a duration (e.g. 90s, 15m, 2h, 1h30m)");
    i += used;
    double unit = 1;
    if (i < text.size()) {
      const char u = text[i++];
      if (u == 'h') unit = 3600;
      else if (u == 'm') unit = 60;
      else if (u == 's') unit = 1;
      else throw Error(what + ": '" + text + "' is not a duration (units: h, m, s)");
    } else if (any) {
      throw Error(what + ": '" + text + "' needs a unit after the last number");
    }
    total += v * unit;
    any = true;
  }
  return total;
}

template <class Task>
class Trainer {
 public:
  using Model = typename Task::Model;
  using Config = typename Task::Config;
  using Shard = std::pair<Index, Index>;

  Trainer(const Config& cfg, const TrainOptions& opt)
      : cfg_(cfg), opt_(opt), comm_(opt.comm ? *opt.comm : single_), root_(comm_.rank() == 0) {
    require(opt.steps > 0, "train: --steps must be positive");
    require(opt.batch > 1, "train: --batch must be at least 2");
    requireBatchFitsRanks(opt.batch);  // again after --resume, whose checkpoint sets the batch
    require(opt.lr > 0 && std::isfinite(opt.lr), "train: --lr must be positive");
    require(opt.warmup >= 0, "train: --warmup must be >= 0");
    require(opt.assignLrMult >= 0 && std::isfinite(opt.assignLrMult), "train: --p2t-lr-mult must be finite and >= 0");
    require(opt.penaltyWarmup >= 0, "train: --p2t-penalty-warmup must be >= 0");
    require(opt.assignHold >= 0, "train: --p2t-hold must be >= 0");
    require(opt.regroupAt >= 0, "train: --p2t-regroup must be >= 0");
    require(opt.attnOff >= 0 && opt.attnRamp >= 0, "train: --attn-off and --attn-ramp must be >= 0");
    opt_.warmup = std::min(opt.warmup, opt.steps);  // short runs: warm up over the whole run
    require(opt.floorRatio >= 0 && opt.floorRatio <= 1, "train: the lr floor ratio must be in [0, 1]");
    require(opt.checkpointSeconds >= 0, "train: --checkpoint-every must be >= 0 (0: off)");
    require(opt.checkpointSteps >= 0, "train: --checkpoint-steps must be >= 0 (0: off)");
    require(opt.timeBudgetSeconds >= 0 && std::isfinite(opt.timeBudgetSeconds),
            "train: --time-budget must be >= 0 (0: none)");
    require(opt.logEvery > 0, "train: --log-every must be positive");
    paths_ = TrainPaths::of(opt.out);
  }

  TrainResult run() {
    namespace fs = std::filesystem;
    const int nranks = comm_.size();
    const bool talk = root_ && !opt_.quiet;  // only rank 0 prints
    if (root_) {
      fs::create_directories(paths_.dir);
      removeStaleTemporaries();
    }
    long start = 0;
    if (opt_.resume && (fs::exists(paths_.checkpoint) || fs::exists(paths_.previous))) {
      start = resumeFrom(paths_.checkpoint, paths_.previous);
    } else {
      Rng initRng = Rng(opt_.seed).fork(kInitDomain);
      model_ = Task::make(cfg_, &initRng);
      Task::prepare(*model_, opt_, !talk);
      adam_ = optim::Adam<float>(model_->store(), adamConfig());
      appliedAssignFactor_ = 1.0;
      if (opt_.resume && talk) std::cerr << "train: nothing to resume at " << paths_.checkpoint << ", starting fresh\n";
    }
    auto& store = model_->store();
    requireBatchFitsRanks(opt_.batch);
    require(opt_.regroupAt == 0 || (Task::kCanRegroup && model_->param2TokAssignment().has_value()),
            "train: --p2t-regroup needs a k-osc cnf-param2tok model");
    require((opt_.attnOff == 0 && opt_.attnRamp == 0) || model_->setAttentionScale(1.0),
            "train: --attn-off / --attn-ramp need a model with attention (cnf-param2tok, cnf-equivariant), not " +
                Task::modelName(cfg_));
    if (nranks > 1) broadcastState();
    optim::CosineSchedule sched(opt_.lr, opt_.warmup, opt_.steps, opt_.lr * opt_.floorRatio);
    std::optional<MetricLog> log;
    std::optional<CsvLog> csv;
    if (root_) {
      log.emplace(paths_.jsonLog, start > 0);
      std::vector<std::string> cols = trainLogColumns();
      for (const auto& c : Task::extraLogColumns(model_->config())) cols.push_back(c);
      csv.emplace(paths_.csvLog, cols, start > 0);
    }
    Progress progress(std::string("train ") + Task::modelName(cfg_), opt_.steps, opt_.batch, 2.0,
                      talk ? stderr : nullptr);
    progress.setStartStep(start + 1);
    InterruptGuard interrupt;
    TrainResult res;
    auto lastCkpt = Progress::Clock::now();
    Mat<float> features, params;
    long step = start, savedStep = -1;
    double waitSeconds = 0, commSeconds = 0;
    const Shard shard = shardOf(opt_.batch, comm_.rank(), nranks);
    models::FlowTrainOptions flow = opt_.flow;
    flow.globalBatch = opt_.batch;
    flow.sliceBegin = shard.first;
    const float shardWeight = float(double(shard.second - shard.first) / double(opt_.batch));
    if (talk)
      std::cerr << "train: " << Task::describe(cfg_) << ", " << store.size() << " weights, batch " << opt_.batch
                << (nranks > 1 ? " over " + comm_.describe() : std::string()) << ", steps " << start << " -> "
                << opt_.steps << ", checkpoint " << paths_.checkpoint << "\n";
    const bool budgetSpent = opt_.timeBudgetSeconds > 0 && previousSeconds_ >= opt_.timeBudgetSeconds;
    if (budgetSpent && talk)
      std::cerr << "train: the time budget (" << formatDuration(opt_.timeBudgetSeconds)
                << ") was already used by the runs this one resumes; nothing to do\n";
    typename Task::Data data(cfg_, opt_, start, shard);
    while (step < opt_.steps && !budgetSpent) {
      if (opt_.stopAfter >= 0 && step - start >= opt_.stopAfter) break;
      const auto w0 = Progress::Clock::now();
      data.batch(step, features, params);
      waitSeconds += std::chrono::duration<double>(Progress::Clock::now() - w0).count();
      Rng rng = Rng(opt_.seed).fork(kStepDomain).fork(std::uint64_t(step));
      if (opt_.regroupAt > 0 && step == opt_.regroupAt) {
        if constexpr (Task::kCanRegroup) Task::regroup(*model_, opt_, !talk);
      }
      applyLrMultipliers(*model_, adam_, step);
      applyPenaltyScale(*model_, step);
      applyAttentionScale(*model_, step);
      store.zeroGrad();
      auto loss = model_->step(features, params, rng, flow);
      if (nranks > 1) {  // the global batch's mean gradient and loss on every rank
        const auto c0 = Progress::Clock::now();
        auto& g = store.grads();
        g *= shardWeight;
        comm_.allreduceSum(g.data(), std::size_t(g.size()));
        double terms[3] = {loss.loss * shardWeight, loss.data * shardWeight, loss.penalty * shardWeight};
        comm_.allreduceSum(terms, 3);
        loss = {terms[0], terms[1], terms[2]};
        commSeconds += std::chrono::duration<double>(Progress::Clock::now() - c0).count();
      }
      double norm = 0;
      if (store.size() > 0) {
        norm = optim::clipGradNorm(store, opt_.clip);
        if (std::isfinite(norm) && std::isfinite(loss.loss)) {
          adam_.step(store, sched.lr(step));
        } else {
          ++res.skipped;
          if (talk) std::cerr << "\ntrain: step " << step << " skipped (non-finite loss or gradient)\n";
        }
      }
      ++step;
      progress.update(step, loss.loss);
      const double elapsed = progress.elapsed();
      res.dataWaitFraction = elapsed > 0 ? waitSeconds / elapsed : 0;
      if (root_ && (step % opt_.logEvery == 0 || step == opt_.steps)) {
        std::vector<std::pair<std::string, double>> row{
            {"step", double(step)}, {"loss", loss.loss}, {"data", loss.data}, {"penalty", loss.penalty},
            {"grad_norm", norm},    {"lr", sched.lr(step - 1)}, {"seconds", elapsed},
            {"data_wait", res.dataWaitFraction}};
        Task::extraLogValues(*model_, row);
        log->write(row);
        csv->write(row);
      }
      const double since = std::chrono::duration<double>(Progress::Clock::now() - lastCkpt).count();
      // stop on Ctrl-C / SIGTERM of any rank, or at rank 0's clock for the time budget: all together
      double stop[2] = {interrupt.requested() ? 1.0 : 0.0,
                        root_ && opt_.timeBudgetSeconds > 0 && previousSeconds_ + elapsed >= opt_.timeBudgetSeconds
                            ? 1.0
                            : 0.0};
      if (nranks > 1) {
        const auto c0 = Progress::Clock::now();
        comm_.allreduceSum(stop, 2);
        commSeconds += std::chrono::duration<double>(Progress::Clock::now() - c0).count();
      }
      if (stop[0] > 0) {
        res.interrupted = true;
        break;
      }
      if (stop[1] > 0 && step < opt_.steps) {
        res.budgetReached = true;
        break;
      }
      const bool byTime = opt_.checkpointSeconds > 0 && since >= opt_.checkpointSeconds;
      const bool bySteps = opt_.checkpointSteps > 0 && step % opt_.checkpointSteps == 0;
      if (root_ && (byTime || bySteps) && step < opt_.steps) {
        save(step, progress.elapsed());
        savedStep = step;
        lastCkpt = Progress::Clock::now();
      }
    }
    if (root_ && savedStep != step) save(step, progress.elapsed());  // else written just before (--stop-after)
    progress.finish(step, res.interrupted     ? "(interrupted; checkpoint written)"
                          : res.budgetReached ? "(time budget reached; checkpoint written)"
                                              : "");
    res.step = step;
    res.seconds = progress.elapsed();
    res.emaLoss = progress.emaLoss();
    res.ranks = nranks;
    res.commFraction = res.seconds > 0 ? commSeconds / res.seconds : 0;
    return res;
  }

  Model& model() { return *model_; }
  const TrainPaths& paths() const { return paths_; }
  /// True on the rank that prints, logs and writes checkpoints (rank 0; the only one alone).
  bool isRoot() const { return root_; }

 private:
  void requireBatchFitsRanks(Index batch) const {
    require(batch >= 2 * Index(comm_.size()), "train: --batch " + std::to_string(batch) + " is too small for " +
                                                  std::to_string(comm_.size()) +
                                                  " ranks: every rank needs at least 2 sounds of the batch");
  }

  /// Rank 0's weights and buffers (e.g. BatchNorm running statistics, input statistics) to
  /// every rank: whatever the initialization did, all ranks start from the same numbers.
  void broadcastState() {
    auto& w = model_->store().weights();
    comm_.broadcast(w.data(), std::size_t(w.size()), 0);
    for (const auto& t : model_->tensors())
      if (!t.trainable) comm_.broadcast(t.value, std::size_t(t.size()), 0);
  }

  optim::AdamConfig adamConfig() const {
    optim::AdamConfig a;
    a.lr = opt_.lr;
    return a;
  }

  /// The Param2Tok assignment's learning-rate factor at step s as an Adam segment: 0 while
  /// s < assignHold (--p2t-hold), then assignLrMult (--p2t-lr-mult). Adam's segments are
  /// rebuilt only when the factor changes.
  void applyLrMultipliers(Model& m, optim::Adam<float>& adam, long step) {
    const double factor = step < opt_.assignHold ? 0.0 : opt_.assignLrMult;
    if (factor == appliedAssignFactor_) return;
    appliedAssignFactor_ = factor;
    std::vector<optim::LrSegment> segs;
    if (factor != 1.0) {
      const float* base = m.store().weights().data();
      for (const auto& t : m.tensors()) {
        const std::string& n = t.name;
        if (t.trainable && n.size() >= 6 && n.compare(n.size() - 6, 6, "assign") == 0)
          segs.push_back({Index(t.value - base), t.size(), factor});
      }
    }
    adam.setLrMultipliers(std::move(segs));
  }
  /// Param2Tok penalty warm-up: the weight before step s (0-based) is min(1, (s + 1) / W) x the config's.
  void applyPenaltyScale(Model& m, long step) const {
    if (opt_.penaltyWarmup > 0) m.setPenaltyScale(std::min(1.0, double(step + 1) / double(opt_.penaltyWarmup)));
  }

  void applyAttentionScale(Model& m, long step) const {
    if (opt_.attnOff > 0 || opt_.attnRamp > 0) m.setAttentionScale(attentionScaleAt(step, opt_.attnOff, opt_.attnRamp));
  }

  io::Metadata metadata(long step, double seconds) const {
    io::Metadata m;
    m[kModelConfigKey] = json::dump(cfg_.toJson());
    json::Value t = json::Value::object();
    t.set("step", step).set("steps", opt_.steps).set("batch", opt_.batch).set("seed", std::int64_t(opt_.seed));
    t.set("lr", opt_.lr).set("warmup", opt_.warmup).set("floor_ratio", opt_.floorRatio).set("clip", opt_.clip);
    t.set("cfg_dropout", opt_.flow.cfgDropout).set("ot_coupling", opt_.flow.otCoupling);
    t.set("assign_lr_mult", opt_.assignLrMult).set("penalty_warmup", opt_.penaltyWarmup);
    t.set("attn_off", opt_.attnOff).set("attn_ramp", opt_.attnRamp).set("assign_hold", opt_.assignHold);
    t.set("regroup_at", opt_.regroupAt);
    m["symflow_train_state"] = json::dump(t);
    m["train_seconds"] = std::to_string(seconds + previousSeconds_);
    return m;
  }

  /// Writes the checkpoint of `step`: to "<latest>.new" (atomically), then rotates it in.
  void save(long step, double seconds) {
    namespace fs = std::filesystem;
    const std::string &latest = paths_.checkpoint, &prev = paths_.previous;
    const std::string staging = stagingPath();
    try {
      io::saveCheckpoint(staging, *model_, &adam_, metadata(step, seconds));
    } catch (const std::exception& e) {
      throw Error("train: cannot write the checkpoint of step " + std::to_string(step) + ": " + oneLine(e.what()) +
                  (fs::exists(latest) ? "; the last checkpoint " + latest + " is unchanged" : std::string()));
    }
    std::error_code ec;
    // A latest that failed to load at resume is replaced, not rotated over the good previous one.
    if (latestGood_ && fs::exists(latest)) {
      // previous = latest through a hard link, so that a complete latest exists at every moment
      const std::string link = prev + ".tmp." + std::to_string(::getpid());
      fs::remove(link, ec);
      fs::create_hard_link(latest, link, ec);
      if (!ec) {
        fs::rename(link, prev, ec);
        if (ec) {
          std::error_code ignored;
          fs::remove(link, ignored);
          throw Error("train: cannot rename " + link + " to " + prev + ": " + ec.message());
        }
      } else {
        fs::rename(latest, prev, ec);  // no hard links here: briefly no latest (resume uses previous)
        if (ec) throw Error("train: cannot rename " + latest + " to " + prev + ": " + ec.message());
      }
    }
    fs::rename(staging, latest, ec);
    if (ec) throw Error("train: cannot rename " + staging + " to " + latest + ": " + ec.message());
    latestGood_ = true;
    syncDirectory(paths_.dir);
  }

  std::string stagingPath() const { return paths_.checkpoint + ".new"; }

  static std::string oneLine(std::string text) {
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    return text;
  }

  /// Makes the renames of save() durable (file systems that cannot fsync a folder are fine).
  static void syncDirectory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
  }

  /// Removes "<latest>.new.tmp.<pid>", "<previous>.tmp.<pid>" and "<latest>.tmp.<pid>" left by
  /// writers that were killed (their process no longer exists); a live process's are left alone.
  void removeStaleTemporaries() const {
    namespace fs = std::filesystem;
    const std::string name = fs::path(paths_.checkpoint).filename().string();
    const std::string prevName = fs::path(paths_.previous).filename().string();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(paths_.dir, ec)) {
      const std::string file = entry.path().filename().string();
      for (const std::string& prefix : {name + ".new.tmp.", prevName + ".tmp.", name + ".tmp."}) {
        if (file.size() <= prefix.size() || file.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string pid = file.substr(prefix.size());
        if (pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
        if (::kill(::pid_t(std::stol(pid)), 0) != 0 && errno == ESRCH) {
          std::error_code rmEc;
          fs::remove(entry.path(), rmEc);
        }
      }
    }
  }

  long resumeFrom(const std::string& latest, const std::string& prev) {
    std::string latestProblem = "missing", prevProblem = "missing";  // why a file was not used
    for (const std::string& path : {latest, prev}) {
      if (!std::filesystem::exists(path)) continue;
      try {
        io::Metadata meta;
        auto m = Task::load(path, &meta);
        auto adam = optim::Adam<float>(m->store(), adamConfig());
        io::loadCheckpoint<float>(path, *m, &adam);
        const auto t = json::parse(meta.at("symflow_train_state"), path + " train state");
        const long step = long(t.at("step").asInt64());
        opt_.seed = std::uint64_t(t.at("seed").asInt64());
        opt_.batch = Index(t.at("batch").asInt64());
        // the optimizer and flow settings of the run (older checkpoints may lack some)
        auto number = [&](const char* key, double& dst) {
          if (const json::Value* v = t.find(key); v && v->isNumber()) dst = v->asDouble();
        };
        number("lr", opt_.lr);
        number("floor_ratio", opt_.floorRatio);
        number("clip", opt_.clip);
        number("cfg_dropout", opt_.flow.cfgDropout);
        opt_.assignLrMult = 1.0;  // older checkpoints: no groups, no warm-up
        opt_.penaltyWarmup = 0;
        opt_.attnOff = opt_.attnRamp = opt_.assignHold = opt_.regroupAt = 0;
        number("assign_lr_mult", opt_.assignLrMult);
        if (const json::Value* v = t.find("penalty_warmup"); v && v->isInteger()) opt_.penaltyWarmup = long(v->asInt64());
        if (const json::Value* v = t.find("attn_off"); v && v->isInteger()) opt_.attnOff = long(v->asInt64());
        if (const json::Value* v = t.find("attn_ramp"); v && v->isInteger()) opt_.attnRamp = long(v->asInt64());
        if (const json::Value* v = t.find("assign_hold"); v && v->isInteger()) opt_.assignHold = long(v->asInt64());
        if (const json::Value* v = t.find("regroup_at"); v && v->isInteger()) opt_.regroupAt = long(v->asInt64());
        if (const json::Value* v = t.find("warmup"); v && v->isInteger()) opt_.warmup = long(v->asInt64());
        if (const json::Value* v = t.find("ot_coupling"); v && v->isBool()) opt_.flow.otCoupling = v->asBool();
        cfg_ = m->config();
        previousSeconds_ = std::stod(meta.count("train_seconds") ? meta.at("train_seconds") : "0");
        model_ = std::move(m);
        adam_ = std::move(adam);
        appliedAssignFactor_ = 1.0;
        if (path == prev) {
          latestGood_ = false;
          // a warning even with --quiet: the run loses the steps since the previous checkpoint
          if (root_) std::cerr << "train: warning: the latest checkpoint " << latest << " is " << latestProblem
                    << "; resuming from the previous one " << prev << "\n";
        }
        if (root_ && !opt_.quiet) std::cerr << "train: resuming from " << path << " at step " << step << "\n";
        return step;
      } catch (const std::exception& e) {
        (path == latest ? latestProblem : prevProblem) = "unusable (" + oneLine(e.what()) + ")";
      }
    }
    throw Error("train: cannot resume: the latest checkpoint " + latest + " is " + latestProblem +
                " and the previous one " + prev + " is " + prevProblem);
  }

  Config cfg_;
  TrainOptions opt_;
  SingleProcess single_;  // the communicator when TrainOptions::comm is nullptr
  Communicator& comm_;
  bool root_;
  TrainPaths paths_;
  std::unique_ptr<Model> model_;
  optim::Adam<float> adam_;
  double appliedAssignFactor_ = 1.0;  // the assignment's lr factor in adam_'s segments
  double previousSeconds_ = 0;
  bool latestGood_ = true;  // false after resuming from the previous checkpoint (latest damaged)
};

}  // namespace symflow::train
