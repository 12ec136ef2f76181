// symflow eval: score a model on its task's held-out test set with the paper's metrics
// (k-osc: LSD, LAC, Chamfer, parameter MSE; surge-simple: MSS, wMFCC, SOT, RMS, parameter MSE,
// with the same metrics of random patches for reference).
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "symflow/io/atomic_file.hpp"
#include "symflow/metrics/kosc.hpp"
#include "symflow/models/kosc_inversion.hpp"
#include "symflow/models/surge_inversion.hpp"
#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/progress.hpp"
#include "symflow/train/surge_trainer.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

struct EvalArgs {
  std::string model, json, variant = "symmetric", solver = "rk4", rmsFrames = "task";
  long randomK = 0;  // --random K (0: not given)
  long n = 2048, chunk = 1024, bestOf = 1;
  int steps = 100, threads = 0;
  double guidance = 2.0;
  std::uint64_t seed = 1;
};

using Given = std::function<bool(const char*)>;

/// Mean and 95 % normal-approximation confidence half-width of per-sound values.
struct MeanCi {
  double mean = 0, ci = 0;
  static MeanCi of(const std::vector<double>& v) {
    MeanCi r;
    for (double x : v) r.mean += x;
    r.mean /= double(v.size());
    double s = 0;
    for (double x : v) s += (x - r.mean) * (x - r.mean);
    r.ci = v.size() > 1 ? 1.96 * std::sqrt(s / double(v.size() - 1) / double(v.size())) : 0.0;
    return r;
  }
};

void append(std::vector<double>& dst, const symflow::Vec<double>& v) {
  for (symflow::Index i = 0; i < v.size(); ++i) dst.push_back(v(i));
}

/// surge-simple: the model's best-of-N (by MSS) prediction for each held-out sound, rendered with
/// the sound's noise seed, and uniformly random patches (SurgeSynth::sampleRandom from
/// Rng(seed).fork(kRandomDomain)) rendered the same way, both scored against the sound.
void runSurge(const EvalArgs& a, const Given& given) {
  using namespace symflow;
  const long n = given("--n") ? a.n : 500;
  auto model = cli::forOption("--model", [&] { return train::loadSurgeModel(a.model); });
  const auto& cfg = model->config();
  synth::SurgeSynth synth(cfg.synthConfig());
  models::SurgeFeatures features(cfg.feature, cfg.sampleRate);
  // RMS frames (docs/audio-metrics.md): 50 / 25 ms at the model's rate, or the authors' fixed
  // 2205 / 1102 samples (--rms-frames authors); the two agree at 44.1 kHz.
  const bool authorsRms = a.rmsFrames == "authors";
  audio::AudioMetrics<> metrics(cfg.sampleRate, authorsRms ? audio::authorsRmsFrames() : audio::AudioMetricConfig{});
  models::SurgeTestSet testSet(cfg);
  models::SampleOptions so;
  so.steps = a.steps;
  so.guidance = a.guidance;
  so.solver = models::parseSolverKind(a.solver);
  const bool flow = cfg.kind != models::SurgeModelKind::Ffn;
  const Index bestOf = flow ? Index(a.bestOf) : 1;
  const long chunk = std::max<long>(1, std::min<long>(a.chunk, 64) / bestOf);
  constexpr std::uint64_t kRandomDomain = 0x72616e646f6dULL;  // "random"
  Rng rng(a.seed), randomRng = Rng(a.seed).fork(kRandomDomain);
  std::vector<double> v[6], r[6];  // mss, wmfcc, sot, rms, param_mse, param_mse_raw
  auto keep = [](std::vector<double>* dst, const models::SurgeScores& s) {
    append(dst[0], s.mss);
    append(dst[1], s.wmfcc);
    append(dst[2], s.sot);
    append(dst[3], s.rms);
    append(dst[4], s.paramMse);
    append(dst[5], s.paramMseRaw);
  };
  train::Progress progress("eval", (n + chunk - 1) / chunk, chunk, 2.0, stderr);
  long done = 0, chunkIndex = 0;
  while (done < n) {
    const Index count = Index(std::min<long>(chunk, n - done));
    const auto test = testSet.sounds(Index(done), count);
    const auto c = models::rankedSurgeCandidates(*model, synth, features, metrics, test.audio, test.seeds, bestOf, so, rng);
    Mat<float> pred(c.params.rows(), count), rendered(c.audio.rows(), count);
    for (Index b = 0; b < count; ++b) {
      pred.col(b) = c.params.col(c.at(b, 0));
      rendered.col(b) = c.audio.col(c.at(b, 0));
    }
    const auto s = models::scoreSurge(metrics, rendered, test.audio, pred, test.params);
    keep(v, s);
    const auto rand = synth.sampleRandom(randomRng, count);
    Mat<float> randAudio;
    synth.render(rand.params, randAudio, test.seeds);
    keep(r, models::scoreSurge(metrics, randAudio, test.audio, rand.params, test.params));
    done += count;
    progress.update(++chunkIndex, MeanCi::of(v[0]).mean);
  }
  progress.finish(chunkIndex);
  // param_mse: of the clamped predictions (what the synth plays); param_mse_raw: of the raw ones
  // (the authors' parameter metrics). The audio metrics are of the renderings (clamped).
  const char* names[6] = {"mss", "wmfcc", "sot", "rms", "param_mse", "param_mse_raw"};
  std::cout << std::fixed << std::setprecision(4);
  std::cout << "model " << a.model << " (surge-simple " << models::toString(cfg.kind) << "), " << n
            << " test sounds, ";
  if (flow)
    std::cout << a.solver << " " << a.steps << " steps, guidance " << std::setprecision(2) << a.guidance
              << std::setprecision(4) << ", ";
  std::cout << "seed " << a.seed << (bestOf > 1 ? ", best of " + std::to_string(bestOf) + " by MSS" : std::string())
            << ", RMS frames " << metrics.rmsFrameSamples() << " / " << metrics.rmsHopSamples() << " samples ("
            << (authorsRms ? "the authors'" : "50 / 25 ms") << ")"
            << "\n            model               random patches\n";
  for (int i = 0; i < 6; ++i) {
    const auto m = MeanCi::of(v[i]), q = MeanCi::of(r[i]);
    std::cout << std::left << std::setw(13) << names[i] << "  " << m.mean << " +- " << m.ci << "   " << q.mean
              << " +- " << q.ci << "\n";
  }
  if (!a.json.empty()) {
    json::Value j = json::Value::object(), rj = json::Value::object();
    j.set("task", "surge-simple").set("model", models::toString(cfg.kind)).set("file", a.model).set("n", n);
    for (int i = 0; i < 6; ++i) {
      const auto m = MeanCi::of(v[i]), q = MeanCi::of(r[i]);
      j.set(names[i], m.mean).set(std::string(names[i]) + "_ci", m.ci);
      rj.set(names[i], q.mean).set(std::string(names[i]) + "_ci", q.ci);
    }
    j.set("random", rj);
    j.set("rms_frames", authorsRms ? "authors" : "task")
        .set("rms_frame_samples", std::int64_t(metrics.rmsFrameSamples()))
        .set("rms_hop_samples", std::int64_t(metrics.rmsHopSamples()));
    j.set("params_for_param_mse", "param_mse: clamped to [-1, 1] as the synth plays them; param_mse_raw: raw predictions");
    j.set("sampler", a.solver).set("steps", a.steps).set("cfg", a.guidance).set("seed", std::int64_t(a.seed));
    j.set("best_of", std::int64_t(bestOf));
    io::writeFileAtomically(a.json, json::dump(j, 2) + "\n");
  }
}

void run(const EvalArgs& a, const Given& given) {
  using namespace symflow;
#ifdef _OPENMP
  if (a.threads > 0) omp_set_num_threads(a.threads);
#endif
  require(a.n > 0 && a.chunk > 0, "eval: --n and --chunk must be positive");
  require(a.steps > 0, "eval: --steps must be positive");
  require(a.bestOf >= 1 && a.bestOf <= 1024, "eval: --best-of must be between 1 and 1024");
  require(std::isfinite(a.guidance), "eval: --cfg must be a finite number");
  require(a.threads >= 0 && a.threads <= 1024, "eval: --threads must be in [0, 1024] (0: default)");
  require(a.randomK == 0 || (a.randomK >= 1 && a.randomK <= 256), "eval: --random must be in [1, 256]");
  require(a.randomK == 0 || a.model.empty(), "eval: give --model FILE or --random K, not both");
  if (!a.json.empty()) {  // refused before the work, not after it
    namespace fs = std::filesystem;
    std::error_code ec;
    require(!fs::is_directory(a.json, ec), "eval: --json " + a.json + ": is a folder");
    const fs::path parent = fs::path(a.json).parent_path();
    require(parent.empty() || fs::is_directory(parent, ec),
            "eval: --json " + a.json + ": folder " + parent.string() + " does not exist");
  }
  cli::forOption("--solver", [&] { return models::parseSolverKind(a.solver); });
  if (a.randomK == 0 && !a.model.empty() &&
      cli::forOption("--model", [&] { return train::readModelTask(a.model); }) == "surge-simple") {
    runSurge(a, given);
    return;
  }
  std::unique_ptr<models::KOscModel> model;
  std::string name;
  if (a.randomK > 0) {
    models::KOscModelConfig c;
    c.k = Index(a.randomK);
    c.kind = models::ModelKind::Random;
    c.variant = cli::forOption("--variant", [&] { return models::parseVariant(a.variant); });
    model = models::makeKOscModel(c);
    name = "random";
  } else {
    require(!a.model.empty(), "eval: give --model FILE (or --random K)");
    model = cli::forOption("--model", [&] { return train::loadKOscModel(a.model); });
    name = a.model;
  }
  const auto& cfg = model->config();
  synth::KOscStream<float> stream(cfg.k, cfg.variant, 0);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  models::SampleOptions so;
  so.steps = a.steps;
  so.guidance = a.guidance;
  so.solver = models::parseSolverKind(a.solver);
  const Index bestOf = Index(a.bestOf);
  const long chunk = std::max<long>(1, a.chunk / a.bestOf);  // sounds per batch (x bestOf candidates)
  Rng rng(a.seed);
  std::vector<double> lsd, lac, ch, mse;
  train::Progress progress("eval", (a.n + chunk - 1) / chunk, chunk, 2.0, stderr);
  long done = 0, chunkIndex = 0;
  while (done < a.n) {
    const Index count = Index(std::min<long>(chunk, a.n - done));
    const auto batch = stream.testSounds(std::uint64_t(done), count);
    Mat<float> features, pred;
    models::kOscFeatures<float>(batch.signals, fft, features);
    if (bestOf == 1) {
      model->predict(features, so, rng, pred);
    } else {  // draw bestOf candidates per sound, keep the one whose rendering has the lowest LSD
      const auto c = models::rankedCandidates(*model, stream.synth(), fft, batch.signals, bestOf, so, rng);
      pred.resize(c.params.rows(), count);
      for (Index b = 0; b < count; ++b) pred.col(b) = c.params.col(c.at(b, 0));
    }
    const auto s = metrics::evaluateKOsc<float>(stream.synth(), pred, batch.params, batch.signals);
    for (Index i = 0; i < count; ++i) {
      lsd.push_back(s.lsd[i]);
      lac.push_back(s.lac[i]);
      ch.push_back(s.chamfer[i]);
      mse.push_back(s.paramMse[i]);
    }
    done += count;
    progress.update(++chunkIndex, s.meanLsd());
  }
  progress.finish(chunkIndex);
  auto mean = [](const std::vector<double>& v) { return MeanCi::of(v).mean; };
  auto ci = [](const std::vector<double>& v) { return MeanCi::of(v).ci; };
  std::cout << std::fixed << std::setprecision(4);
  std::cout << "model " << name << " (" << models::toString(cfg.kind) << ", k = " << cfg.k << ", "
            << (cfg.variant == synth::KOscVariant::Symmetric ? "symmetric" : "asymmetric") << "), " << a.n
            << " test sounds, " << a.solver << " " << a.steps << " steps, guidance " << a.guidance << ", seed "
            << a.seed << (bestOf > 1 ? ", best of " + std::to_string(bestOf) + " by LSD" : std::string()) << "\n";
  std::cout << "LSD     " << mean(lsd) << " +- " << ci(lsd) << "\nLAC     " << mean(lac) << " +- " << ci(lac)
            << "\nChamfer " << mean(ch) << " +- " << ci(ch) << "\nMSE     " << mean(mse) << " +- " << ci(mse) << "\n";
  if (!a.json.empty()) {
    json::Value v = json::Value::object();
    v.set("task", "kosc").set("k", cfg.k).set("variant", models::toString(cfg.variant));
    v.set("model", models::toString(cfg.kind)).set("file", name).set("n", a.n);
    v.set("lsd", mean(lsd)).set("lac", mean(lac)).set("chamfer", mean(ch)).set("param_mse", mean(mse));
    v.set("lsd_ci", ci(lsd)).set("lac_ci", ci(lac)).set("chamfer_ci", ci(ch)).set("param_mse_ci", ci(mse));
    v.set("sampler", a.solver).set("steps", a.steps).set("cfg", a.guidance).set("seed", std::int64_t(a.seed));
    v.set("best_of", a.bestOf);
    v.set("params_for_metrics", "LAC, Chamfer and param MSE on the raw predictions (the authors'); LSD on their "
                                "renderings (the synth clamps to [-1, 1])");
    io::writeFileAtomically(a.json, json::dump(v, 2) + "\n");
  }
}

symflow::cli::RegisterCommand reg("eval", "Score a model on its task's held-out test set (k-osc: LSD, LAC, Chamfer, "
                                  "MSE; surge-simple: MSS, wMFCC, SOT, RMS, MSE)",
                                  [](CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  app.add_option("--model", a->model, "Checkpoint written by symflow train");
  app.add_option("--random", a->randomK, "Score the uniform-random reference for this k instead");
  app.add_option("--variant", a->variant, "Variant for --random (symmetric/sym or asymmetric/asym)");
  app.add_option("--n", a->n, "Number of test sounds (default: 2048 for k-osc, whose test set has 51200; 500 "
                              "for surge-simple)");
  app.add_option("--chunk", a->chunk, "Sounds x candidates per batch")->capture_default_str();
  app.add_option("--best-of", a->bestOf,
                 "Draw this many candidates per sound and score the one whose rendering has the lowest LSD")
      ->capture_default_str();
  app.add_option("--steps", a->steps, "Solver steps")->capture_default_str();
  app.add_option("--guidance,--cfg", a->guidance, "Classifier-free guidance weight")->capture_default_str();
  app.add_option("--solver", a->solver, "ODE solver: euler, midpoint, heun or rk4")->capture_default_str();
  app.add_option("--seed", a->seed, "Seed of the sampling noise")
      ->capture_default_str()
      ->transform(symflow::cli::nonNegativeInteger());
  app.add_option("--json", a->json, "Also write the scores to this JSON file");
  app.add_option("--rms-frames", a->rmsFrames,
                 "surge-simple RMS frames: task (50 / 25 ms at the model's rate) or authors (2205 / 1102 "
                 "samples at any rate, the authors' script)")
      ->capture_default_str()
      ->check(CLI::IsMember({"task", "authors"}));
  app.add_option("--threads", a->threads, "OpenMP threads (0: default)");
  app.callback([a, &app] { run(*a, [&app](const char* o) { return app.get_option(o)->count() > 0; }); });
});

}  // namespace
