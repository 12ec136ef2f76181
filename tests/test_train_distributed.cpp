// Data-parallel training (train/distributed.hpp) without MPI: N ranks as N threads of this
// process (InProcessGroup), each running its own Trainer on its shard of the global batch.
//   - shards cover the batch exactly; the group's allreduce and broadcast are right;
//   - 2 ranks give the weights of 1 rank with the same global batch and seed, up to the
//     rounding of summing two half-batch gradients instead of one (relative 1e-4, see kTolerance) (k-osc and surge-simple,
//     flow and regression models; OT coupling off, since it pairs within each rank's shard);
//   - a run stopped on 2 ranks and resumed on 1 (or the reverse) ends where 1 rank ends;
//   - only rank 0 writes: the logs have each step once;
//   - a batch too small for the ranks is refused;
//   - the data thread (TrainOptions::dataThread, a BatchProducer) changes no batch: k-osc step s
//     is sounds [s B + first, s B + last) of the stream either way, and training with it, without
//     it or resumed across the switch gives the same weights bit for bit.
// The real MPI path (mpirun -np 2 symflow train) is tests/mpi_train_test.sh.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "kosc_testing.hpp"
#include "surge_testing.hpp"
#include "symflow/train/distributed.hpp"
#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/surge_trainer.hpp"

using namespace symflow;

namespace {

std::string freshDir(const std::string& name) {
  const std::string d = (std::filesystem::temp_directory_path() / ("symflow_dist_" + name)).string();
  std::filesystem::remove_all(d);
  return d;
}

models::KOscModelConfig tinyKOsc(models::ModelKind kind) {
  return testing::tinyKOscConfig(kind);  // spectral-MLP encoder: no BatchNorm statistics per shard
}

train::TrainOptions options(const std::string& out, Index batch, long steps) {
  train::TrainOptions o;
  o.out = out;
  o.steps = steps;
  o.batch = batch;
  o.lr = 1e-3;
  o.warmup = 2;
  o.seed = 5;
  o.checkpointSeconds = 0;
  o.logEvery = 1;
  o.quiet = true;
  o.flow.otCoupling = false;  // OT pairs noise and data within each rank's shard
  return o;
}

/// Runs `ranks` trainers side by side (one thread each, InProcessGroup) with options `o`;
/// returns rank 0's result.
template <class Trainer, class Config>
train::TrainResult runRanks(int ranks, const Config& cfg, train::TrainOptions o) {
  if (ranks == 1) {
    Trainer t(cfg, o);
    return t.run();
  }
  train::InProcessGroup group(ranks);
  std::vector<train::TrainResult> rankResults(static_cast<std::size_t>(ranks));
  std::vector<std::string> rankErrors(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      auto mine = o;
      mine.comm = &group.member(r);
      try {
        Trainer t(cfg, mine);
        rankResults[std::size_t(r)] = t.run();
      } catch (const std::exception& e) {
        rankErrors[std::size_t(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : rankErrors) REQUIRE_MESSAGE(e.empty(), e);
  return rankResults[0];
}

template <class Model> std::vector<float> weightsOf(Model& m) {
  std::vector<float> w;
  for (auto t : m.tensors()) w.insert(w.end(), t.value, t.value + t.size());
  return w;
}

/// max |a - b| / (1e-3 + max |a|): rounding-level differences are ~1e-6.
double relativeDifference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::abs(a[i] - b[i])));
    scale = std::max(scale, double(std::abs(a[i])));
  }
  return diff / (1e-3 + scale);
}

/// Column `col` of every data row of a training CSV log.
std::vector<double> csvColumn(const std::string& path, int col) {
  std::ifstream in(path);
  std::vector<double> v;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::size_t at = 0;
    for (int c = 0; c < col; ++c) at = line.find(',', at) + 1;
    v.push_back(std::stod(line.substr(at, line.find(',', at) - at)));
  }
  return v;
}

long countLines(const std::string& path) {
  std::ifstream in(path);
  long n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Tolerance of the 1-rank / 2-rank comparison: two shard sums added instead of one sum over
// the batch differ by float rounding (~1e-7 relative per gradient entry), which Adam's
// division by sqrt(v) can amplify for near-zero gradients; measured: 0.6-2.5e-6 relative
// after 5 steps. 1e-4 leaves room for that and is still far below what a real difference (a
// wrong shard, different draws) does to the weights: training moves them by 2e-3-4e-3
// relative in these 5 steps at lr 1e-3, checked below (> 10 x tolerance). A gradient summed
// instead of averaged would not show in Adam's weights (scale-invariant): the logged loss
// and gradient norm are compared for that.
constexpr double kTolerance = 1e-4;

}  // namespace

TEST_CASE("shardOf: disjoint shards covering the batch, sizes differing by at most one") {
  for (Index B : {2, 7, 16, 1024})
    for (int n = 1; n <= 5 && n <= B; ++n) {
      Index next = 0, smallest = B, largest = 0;
      for (int r = 0; r < n; ++r) {
        const auto [lo, hi] = train::shardOf(B, r, n);
        CHECK(lo == next);
        next = hi;
        smallest = std::min(smallest, hi - lo);
        largest = std::max(largest, hi - lo);
      }
      CHECK(next == B);
      CHECK(largest - smallest <= 1);
    }
  CHECK_THROWS_AS(train::shardOf(8, 2, 2), Error);
}

TEST_CASE("InProcessGroup: allreduce sums on every rank, broadcast copies the root") {
  train::InProcessGroup group(3);
  std::vector<std::vector<float>> f(3);
  std::vector<std::vector<double>> d(3);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r)
    threads.emplace_back([&, r] {
      auto& c = group.member(r);
      f[std::size_t(r)] = {float(r), float(10 * r)};
      c.allreduceSum(f[std::size_t(r)].data(), 2);
      d[std::size_t(r)] = {double(r + 1)};
      c.allreduceSum(d[std::size_t(r)].data(), 1);
      std::vector<float> b{float(r), float(r)};
      c.broadcast(b.data(), 2, 1);
      f[std::size_t(r)].insert(f[std::size_t(r)].end(), b.begin(), b.end());
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < 3; ++r) {
    CHECK(f[std::size_t(r)] == std::vector<float>{3, 30, 1, 1});
    CHECK(d[std::size_t(r)] == std::vector<double>{6});
  }
}

TEST_CASE("data-parallel k-osc: 2 ranks give the weights of 1 rank (flow and regression models)") {
  for (auto kind : {models::ModelKind::CnfParam2Tok, models::ModelKind::CnfMlp, models::ModelKind::FfnMse}) {
    CAPTURE(models::toString(kind));
    const auto cfg = tinyKOsc(kind);
    const std::string one = freshDir("kosc1"), two = freshDir("kosc2");
    const auto r1 = runRanks<train::KOscTrainer>(1, cfg, options(one, 16, 5));
    const auto r2 = runRanks<train::KOscTrainer>(2, cfg, options(two, 16, 5));
    CHECK(r1.step == 5);
    CHECK(r2.step == 5);
    CHECK(r2.ranks == 2);
    auto a = train::loadKOscModel(train::checkpointPath(one));
    auto b = train::loadKOscModel(train::checkpointPath(two));
    const auto wa = weightsOf(*a), wb = weightsOf(*b);
    const double rel = relativeDifference(wa, wb);
    CAPTURE(rel);
    CHECK(rel < kTolerance);
    // and training did move the weights far beyond that tolerance (the check can fail)
    Rng initRng = Rng(5).fork(train::kInitDomain);
    auto init = models::makeKOscModel(cfg, &initRng);
    CHECK(relativeDifference(wa, weightsOf(*init)) > 10 * kTolerance);
    // only rank 0 wrote the log: a header and one row per step
    CHECK(countLines(train::TrainPaths::of(two).csvLog) == 6);
    // the logged loss and gradient norm are the global batch's (Adam alone would hide a
    // gradient summed instead of averaged over ranks: it is invariant to the gradient's scale)
    for (int col : {1, 4}) {  // loss, grad_norm
      CAPTURE(col);
      const auto x = csvColumn(train::TrainPaths::of(one).csvLog, col);
      const auto y = csvColumn(train::TrainPaths::of(two).csvLog, col);
      REQUIRE(x.size() == y.size());
      for (std::size_t i = 0; i < x.size(); ++i) CHECK(y[i] == doctest::Approx(x[i]).epsilon(1e-4));
    }
    std::filesystem::remove_all(one);
    std::filesystem::remove_all(two);
  }
}

TEST_CASE("data-parallel k-osc: an uneven split (3 ranks, batch 16) still averages over the global batch") {
  const auto cfg = tinyKOsc(models::ModelKind::CnfParam2Tok);
  const std::string one = freshDir("uneven1"), three = freshDir("uneven3");
  runRanks<train::KOscTrainer>(1, cfg, options(one, 16, 4));
  runRanks<train::KOscTrainer>(3, cfg, options(three, 16, 4));
  auto a = train::loadKOscModel(train::checkpointPath(one));
  auto b = train::loadKOscModel(train::checkpointPath(three));
  CHECK(relativeDifference(weightsOf(*a), weightsOf(*b)) < kTolerance);
  std::filesystem::remove_all(one);
  std::filesystem::remove_all(three);
}

TEST_CASE("data-parallel surge-simple: 2 ranks give the weights of 1 rank") {
  for (auto kind : {models::SurgeModelKind::CnfParam2Tok, models::SurgeModelKind::Ffn}) {
    CAPTURE(models::toString(kind));
    const auto cfg = testing::tinySurgeConfig(kind);
    const std::string one = freshDir("surge1"), two = freshDir("surge2");
    runRanks<train::SurgeTrainer>(1, cfg, options(one, 8, 3));
    runRanks<train::SurgeTrainer>(2, cfg, options(two, 8, 3));
    auto a = train::loadSurgeModel(train::checkpointPath(one));
    auto b = train::loadSurgeModel(train::checkpointPath(two));
    const double rel = relativeDifference(weightsOf(*a), weightsOf(*b));
    CAPTURE(rel);
    CHECK(rel < kTolerance);
    std::filesystem::remove_all(one);
    std::filesystem::remove_all(two);
  }
}

TEST_CASE("data-parallel: stopped on 2 ranks, resumed on 1 (and the reverse), ends where 1 rank ends") {
  const auto cfg = tinyKOsc(models::ModelKind::CnfParam2Tok);
  const std::string straight = freshDir("straight");
  runRanks<train::KOscTrainer>(1, cfg, options(straight, 16, 6));
  const auto want = weightsOf(*train::loadKOscModel(train::checkpointPath(straight)));
  for (auto [first, second] : {std::pair<int, int>{2, 1}, {1, 2}}) {
    CAPTURE(first);
    const std::string d = freshDir("switch");
    auto o = options(d, 16, 6);
    o.stopAfter = 3;
    CHECK(runRanks<train::KOscTrainer>(first, cfg, o).step == 3);
    o.stopAfter = -1;
    o.resume = true;
    CHECK(runRanks<train::KOscTrainer>(second, cfg, o).step == 6);
    CHECK(relativeDifference(want, weightsOf(*train::loadKOscModel(train::checkpointPath(d)))) < kTolerance);
    CHECK(countLines(train::TrainPaths::of(d).csvLog) == 7);  // header + 6 rows, none twice
    std::filesystem::remove_all(d);
  }
  std::filesystem::remove_all(straight);
}

TEST_CASE("data-parallel: a batch too small for the ranks is refused on every rank") {
  const auto cfg = tinyKOsc(models::ModelKind::FfnMse);
  train::InProcessGroup group(4);
  auto o = options(freshDir("small"), 6, 2);
  o.comm = &group.member(0);
  CHECK_THROWS_WITH_AS(train::KOscTrainer(cfg, o), doctest::Contains("too small for 4 ranks"), Error);
}

TEST_CASE("surge renderer: any range of a batch renders the same sounds as the whole batch") {
  // the same patches exactly (each sound draws from its own generator)
  const auto cfg = testing::tinySurgeConfig(models::SurgeModelKind::Ffn);
  models::SurgeBatchRenderer r(cfg);
  const auto all = r.render(7, 3, 6);
  for (auto [lo, hi] : {std::pair<Index, Index>{0, 3}, {3, 6}, {2, 5}}) {
    const auto part = r.render(7, 3, lo, hi);
    CHECK(part.params == all.params.middleCols(lo, hi - lo));
    // the features agree to float rounding: the mel GEMM's summation order depends on how many
    // columns the batch has (seen: 4e-6 dB on values of -100..+10 dB)
    const float diff = (part.features - all.features.middleCols(lo, hi - lo)).cwiseAbs().maxCoeff();
    CHECK(diff <= 1e-4f);
  }
  CHECK(r.render(7, 4, 6).params != all.params);  // another step, other sounds
}

TEST_CASE("k-osc data: on the producer thread or not, step s is sounds [s B + first, s B + last) of the stream") {
  const auto cfg = tinyKOsc(models::ModelKind::FfnMse);
  auto o = options(freshDir("kdata"), 6, 10);
  const synth::KOscStream<float> stream(cfg.k, cfg.variant, o.seed);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  for (bool thread : {true, false}) {
    for (auto shard : {std::pair<Index, Index>{0, 6}, {2, 5}}) {
      CAPTURE(thread);
      CAPTURE(shard.first);
      o.dataThread = thread;
      train::KOscTask::Data data(cfg, o, /*firstStep=*/3, shard);
      Mat<float> features, params, want;
      for (long s = 3; s < 7; ++s) {
        data.batch(s, features, params);
        const auto b = stream.trainSounds(std::uint64_t(s * 6 + shard.first), shard.second - shard.first);
        models::kOscFeatures<float>(b.signals, fft, want);
        CHECK(params == b.params);  // exactly: the same sounds, the same FFT
        CHECK(features == want);
        // and kOscFeatures' inline magnitude is std::abs (hypotf) bit for bit
        Mat<float> viaAbs(want.rows(), want.cols());
        for (Index c = 0; c < want.cols(); ++c) {
          Eigen::Map<Vec<float>>(fft.input(), fft.size()) = b.signals.col(c);
          fft.execute();
          for (Index i = 0; i < want.rows(); ++i) viaAbs(i, c) = std::abs(fft.output()[i]) * (1.0f / float(fft.size()));
        }
        CHECK(want == viaAbs);
      }
      CHECK_THROWS_WITH_AS(data.batch(8, features, params), doctest::Contains("step order"), Error);
    }
  }
}

TEST_CASE("data thread (--no-data-thread): the same weights bit for bit with or without it, resumed or not") {
  const auto cfg = tinyKOsc(models::ModelKind::CnfParam2Tok);
  auto runOnce = [&](const std::string& d, bool thread, long stopAfter, bool resume) {
    auto o = options(d, 8, 5);
    o.dataThread = thread;
    o.stopAfter = stopAfter;
    o.resume = resume;
    return runRanks<train::KOscTrainer>(1, cfg, o);
  };
  const std::string on = freshDir("thread_on"), off = freshDir("thread_off"), mixed = freshDir("thread_mixed");
  runOnce(on, true, -1, false);
  runOnce(off, false, -1, false);
  CHECK(runOnce(mixed, false, 2, false).step == 2);  // stopped on one thread, resumed with the producer
  CHECK(runOnce(mixed, true, -1, true).step == 5);
  const auto want = weightsOf(*train::loadKOscModel(train::checkpointPath(off)));
  CHECK(weightsOf(*train::loadKOscModel(train::checkpointPath(on))) == want);
  CHECK(weightsOf(*train::loadKOscModel(train::checkpointPath(mixed))) == want);
  CHECK(csvColumn(train::TrainPaths::of(on).csvLog, 1) == csvColumn(train::TrainPaths::of(off).csvLog, 1));
  // surge-simple takes the same switch
  const auto scfg = testing::tinySurgeConfig(models::SurgeModelKind::Ffn);
  const std::string son = freshDir("sthread_on"), soff = freshDir("sthread_off");
  for (auto [d, thread] : {std::pair<std::string, bool>{son, true}, {soff, false}}) {
    auto o = options(d, 4, 3);
    o.dataThread = thread;
    runRanks<train::SurgeTrainer>(1, scfg, o);
  }
  CHECK(weightsOf(*train::loadSurgeModel(train::checkpointPath(son))) ==
        weightsOf(*train::loadSurgeModel(train::checkpointPath(soff))));
  for (const auto& d : {on, off, mixed, son, soff}) std::filesystem::remove_all(d);
}

TEST_CASE("Param2Tok training knobs: the assignment's learning-rate factor and the penalty warm-up") {
  const auto cfg = tinyKOsc(models::ModelKind::CnfParam2Tok);
  Rng initRng = Rng(5).fork(train::kInitDomain);
  auto init = models::makeKOscModel(cfg, &initRng);
  const Mat<float> A0 = *init->param2TokAssignment();
  // factor 0 freezes A (and only A: the other weights move)
  const std::string frozen = freshDir("p2t_frozen");
  auto o = options(frozen, 8, 3);
  o.assignLrMult = 0;
  runRanks<train::KOscTrainer>(1, cfg, o);
  auto m = train::loadKOscModel(train::checkpointPath(frozen));
  CHECK((*m->param2TokAssignment() - A0).cwiseAbs().maxCoeff() == 0.0f);
  CHECK(relativeDifference(weightsOf(*m), weightsOf(*init)) > 1e-4);
  // factor 1 moves A; the warm-up scales the logged penalty by (s + 1) / W at step s
  const std::string moving = freshDir("p2t_moving");
  o = options(moving, 8, 3);
  o.penaltyWarmup = 100;
  runRanks<train::KOscTrainer>(1, cfg, o);
  auto m2 = train::loadKOscModel(train::checkpointPath(moving));
  CHECK((*m2->param2TokAssignment() - A0).cwiseAbs().maxCoeff() > 1e-5f);
  const auto penalty = csvColumn(train::TrainPaths::of(moving).csvLog, 3);
  REQUIRE(penalty.size() == 3);
  // the penalty of step s is weight x (s + 1) / 100 x mean|A| (A before the step's update)
  CHECK(penalty[0] == doctest::Approx(0.01 * 0.01 * double(A0.cwiseAbs().mean())).epsilon(1e-3));
  CHECK(penalty[2] / penalty[0] == doctest::Approx(3.0).epsilon(0.01));
  // the settings are part of the run: a resumed run keeps them (stored in the checkpoint)
  io::Metadata meta;
  train::loadKOscModel(train::checkpointPath(moving), &meta);
  CHECK(meta.at("symflow_train_state").find("\"penalty_warmup\":100") != std::string::npos);
  std::filesystem::remove_all(frozen);
  std::filesystem::remove_all(moving);
}

TEST_CASE("DiT attention schedule (--attn-off, --attn-ramp): off freezes the attention weights; a resumed run keeps it") {
  CHECK(train::attentionScaleAt(0, 2, 4) == 0.0);
  CHECK(train::attentionScaleAt(1, 2, 4) == 0.0);
  CHECK(train::attentionScaleAt(2, 2, 4) == doctest::Approx(0.25));
  CHECK(train::attentionScaleAt(5, 2, 4) == 1.0);
  CHECK(train::attentionScaleAt(9, 2, 0) == 1.0);
  const auto cfg = tinyKOsc(models::ModelKind::CnfParam2Tok);
  Rng initRng = Rng(5).fork(train::kInitDomain);
  auto init = models::makeKOscModel(cfg, &initRng);
  auto attnWeights = [](models::KOscModel& m) {
    std::vector<float> w;
    for (auto t : m.tensors())
      if (t.name.find(".attn.") != std::string::npos) w.insert(w.end(), t.value, t.value + t.size());
    return w;
  };
  const auto attn0 = attnWeights(*init);
  REQUIRE(!attn0.empty());
  // attention off for the whole run: its weights get no gradient and do not move; the rest does
  const std::string off = freshDir("attn_off");
  auto o = options(off, 8, 3);
  o.attnOff = 3;
  runRanks<train::KOscTrainer>(1, cfg, o);
  auto m = train::loadKOscModel(train::checkpointPath(off));
  CHECK(attnWeights(*m) == attn0);
  CHECK(relativeDifference(weightsOf(*m), weightsOf(*init)) > 1e-4);
  // off for 2 steps, ramped over 2: stopped after 3 steps and resumed without the flags, the run
  // ends where the uninterrupted one does (the schedule is in the checkpoint's train state)
  const std::string straight = freshDir("attn_straight"), resumed = freshDir("attn_resumed");
  o = options(straight, 8, 5);
  o.attnOff = 2;
  o.attnRamp = 2;
  runRanks<train::KOscTrainer>(1, cfg, o);
  const auto want = weightsOf(*train::loadKOscModel(train::checkpointPath(straight)));
  CHECK(attnWeights(*train::loadKOscModel(train::checkpointPath(straight))) != attn0);
  o.out = resumed;
  o.stopAfter = 3;
  runRanks<train::KOscTrainer>(1, cfg, o);
  o.stopAfter = -1;
  o.resume = true;
  o.attnOff = o.attnRamp = 0;
  runRanks<train::KOscTrainer>(1, cfg, o);
  CHECK(relativeDifference(want, weightsOf(*train::loadKOscModel(train::checkpointPath(resumed)))) < kTolerance);
  // a model without attention refuses the flags instead of ignoring them
  auto mlp = options(freshDir("attn_refused"), 8, 3);
  mlp.attnOff = 2;
  CHECK_THROWS_WITH_AS(train::KOscTrainer(tinyKOsc(models::ModelKind::CnfMlp), mlp).run(),
                       doctest::Contains("--attn-off"), Error);
  for (const auto& d : {off, straight, resumed}) std::filesystem::remove_all(d);
}

TEST_CASE("Param2Tok hold (--p2t-hold): A stays at its init for the held steps, then learns") {
  const auto cfg = tinyKOsc(models::ModelKind::CnfParam2Tok);
  Rng initRng = Rng(5).fork(train::kInitDomain);
  auto init = models::makeKOscModel(cfg, &initRng);
  const Mat<float> A0 = *init->param2TokAssignment();
  const std::string held = freshDir("p2t_held"), released = freshDir("p2t_released");
  auto o = options(held, 8, 3);
  o.assignHold = 3;
  runRanks<train::KOscTrainer>(1, cfg, o);
  CHECK((*train::loadKOscModel(train::checkpointPath(held))->param2TokAssignment() - A0).cwiseAbs().maxCoeff() == 0.0f);
  // held for 2 of 4 steps: stopped after 2, resumed without the flag (the checkpoint keeps it)
  o = options(released, 8, 4);
  o.assignHold = 2;
  o.stopAfter = 2;
  runRanks<train::KOscTrainer>(1, cfg, o);
  CHECK((*train::loadKOscModel(train::checkpointPath(released))->param2TokAssignment() - A0).cwiseAbs().maxCoeff() == 0.0f);
  o.stopAfter = -1;
  o.resume = true;
  o.assignHold = 0;
  runRanks<train::KOscTrainer>(1, cfg, o);
  io::Metadata meta;
  auto m = train::loadKOscModel(train::checkpointPath(released), &meta);
  CHECK((*m->param2TokAssignment() - A0).cwiseAbs().maxCoeff() > 1e-5f);
  CHECK(meta.at("symflow_train_state").find("\"assign_hold\":2") != std::string::npos);
  for (const auto& d : {held, released}) std::filesystem::remove_all(d);
}

TEST_CASE("--p2t-regroup: A re-formed from the coupling before the given step (one token per oscillator's slots); resumable") {
  const auto cfg = tinyKOsc(models::ModelKind::CnfParam2Tok);
  const Index k = cfg.k;
  const std::string straight = freshDir("regroup_straight"), resumed = freshDir("regroup_resumed");
  auto o = options(straight, 8, 3);
  o.regroupAt = 2;
  runRanks<train::KOscTrainer>(1, cfg, o);
  io::Metadata meta;
  auto m = train::loadKOscModel(train::checkpointPath(straight), &meta);
  CHECK(meta.at("symflow_train_state").find("\"regroup_at\":2") != std::string::npos);
  // one Adam step after the regroup: the zero entries moved by about lr, the read ones are ~sum|A|/P
  const auto groups = metrics::tokenGroups(*m->param2TokAssignment(), k, 0.1);
  for (Index t = 0; t < k; ++t) {
    int reads = 0, freq = 0;
    for (Index p = 0; p < 3 * k; ++p) {
      reads += groups.reads[size_t(t)][size_t(p)];
      if (p < k) freq += groups.reads[size_t(t)][size_t(p)];
    }
    CHECK(reads == 3);  // one frequency, one amplitude, one shape
    CHECK(freq == 1);
  }
  // stopped at the regroup step and resumed without the option: the same run
  o = options(resumed, 8, 3);
  o.regroupAt = 2;
  o.stopAfter = 2;
  runRanks<train::KOscTrainer>(1, cfg, o);
  o.stopAfter = -1;
  o.resume = true;
  o.regroupAt = 0;
  runRanks<train::KOscTrainer>(1, cfg, o);
  CHECK(relativeDifference(weightsOf(*m), weightsOf(*train::loadKOscModel(train::checkpointPath(resumed)))) < kTolerance);
  // only k-osc cnf-param2tok can regroup: refused before the first step
  auto eq = options(freshDir("regroup_refused"), 8, 3);
  eq.regroupAt = 1;
  CHECK_THROWS_WITH_AS(train::KOscTrainer(tinyKOsc(models::ModelKind::CnfEquivariant), eq).run(),
                       doctest::Contains("--p2t-regroup"), Error);
  for (const auto& d : {straight, resumed}) std::filesystem::remove_all(d);
}
