// symflow eval: score a k-osc model on the held-out test set with the paper's metrics.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "symflow/metrics/kosc.hpp"
#include "symflow/models/kosc_inversion.hpp"
#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/progress.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

struct EvalArgs {
  std::string model, json, randomK, variant = "symmetric", solver = "rk4";
  long n = 2048, chunk = 1024, bestOf = 1;
  int steps = 100, threads = 0;
  double guidance = 2.0;
  std::uint64_t seed = 1;
};

void run(const EvalArgs& a) {
  using namespace symflow;
#ifdef _OPENMP
  if (a.threads > 0) omp_set_num_threads(a.threads);
#endif
  require(a.n > 0 && a.chunk > 0, "eval: --n and --chunk must be positive");
  std::unique_ptr<models::KOscModel> model;
  std::string name;
  if (!a.randomK.empty()) {
    models::KOscModelConfig c;
    c.k = std::stoi(a.randomK);
    c.kind = models::ModelKind::Random;
    c.variant = models::parseVariant(a.variant);
    model = models::makeKOscModel(c);
    name = "random";
  } else {
    require(!a.model.empty(), "eval: give --model FILE (or --random K)");
    model = train::loadKOscModel(a.model);
    name = a.model;
  }
  const auto& cfg = model->config();
  synth::KOscStream<float> stream(cfg.k, cfg.variant, 0);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  models::SampleOptions so;
  so.steps = a.steps;
  so.guidance = a.guidance;
  so.solver = models::parseSolverKind(a.solver);
  require(a.steps > 0, "eval: --steps must be positive");
  require(a.bestOf >= 1 && a.bestOf <= 1024, "eval: --best-of must be between 1 and 1024");
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
  auto mean = [](const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m += x;
    return m / double(v.size());
  };
  auto ci = [&](const std::vector<double>& v) {  // 95% normal-approximation half-width
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return 1.96 * std::sqrt(s / double(v.size() - 1) / double(v.size()));
  };
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
    std::ofstream(a.json) << json::dump(v, 2) << "\n";
  }
}

symflow::cli::RegisterCommand reg("eval", "Score a k-osc model on the held-out test set (LSD, LAC, Chamfer, MSE)",
                                  [](CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  app.add_option("--model", a->model, "Checkpoint written by symflow train");
  app.add_option("--random", a->randomK, "Score the uniform-random reference for this k instead");
  app.add_option("--variant", a->variant, "Variant for --random (symmetric/sym or asymmetric/asym)");
  app.add_option("--n", a->n, "Number of test sounds (the test set has 51200)")->capture_default_str();
  app.add_option("--chunk", a->chunk, "Sounds x candidates per batch")->capture_default_str();
  app.add_option("--best-of", a->bestOf,
                 "Draw this many candidates per sound and score the one whose rendering has the lowest LSD")
      ->capture_default_str();
  app.add_option("--steps", a->steps, "Solver steps")->capture_default_str();
  app.add_option("--guidance,--cfg", a->guidance, "Classifier-free guidance weight")->capture_default_str();
  app.add_option("--solver", a->solver, "ODE solver: euler, midpoint, heun or rk4")->capture_default_str();
  app.add_option("--seed", a->seed, "Seed of the sampling noise")->capture_default_str();
  app.add_option("--json", a->json, "Also write the scores to this JSON file");
  app.add_option("--threads", a->threads, "OpenMP threads (0: default)");
  app.callback([a] { run(*a); });
});

}  // namespace
