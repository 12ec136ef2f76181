// symflow train: train a k-osc or surge-simple model (include/symflow/train/trainer.hpp, with
// the tasks of kosc_trainer.hpp and surge_trainer.hpp).
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "symflow/core/precision.hpp"
#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/surge_trainer.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

struct TrainArgs {
  std::string task = "kosc", model = "cnf-param2tok", encoder = "cnn", variant = "symmetric";
  int k = 4, threads = 0;
  std::string precision = "fp32";
  long tokens = 0, ditWidth = 128, ditLayers = 5, ditHeads = 4, ditFf = 256;
  double cfgDropout = 0.1;
  bool noOt = false;
  bool noDataThread = false;
  std::string timeBudget;
  std::string spectralNorm = "per-bin", p2tInit = "mixed";
  long p2tRegroup = -1;  // -1: auto (k-osc cnf-param2tok with the mixed init: at a fifth of --steps)
  bool spectralFinalNorm = false;
  double p2tPenalty = 0.01;
  long astWidth = 128, astLayers = 4, astHeads = 4, astFf = 256;
  symflow::models::KOscModelConfig sizes;  // encoder / head / MLP widths (defaults: the config's)
  symflow::train::KOscTrainOptions opt;
};

using Given = std::function<bool(const char*)>;

template <class Trainer>
void report(Trainer& trainer, const symflow::train::TrainResult& r) {
  using namespace symflow;
  if (!trainer.isRoot()) return;  // rank 0 speaks for the job
  std::cout << "trained " << r.step << " steps in " << train::formatDuration(r.seconds) << ", loss (EMA) " << r.emaLoss
            << (r.interrupted ? ", interrupted" : "") << (r.budgetReached ? ", time budget reached" : "")
            << ", waited for data " << std::lround(100 * r.dataWaitFraction) << "% of the time"
            << (r.ranks > 1 ? ", " + std::to_string(r.ranks) + " ranks (allreduce " +
                                  std::to_string(std::lround(100 * r.commFraction)) + "% of the time)"
                            : std::string())
            << "; checkpoint "
            << trainer.paths().checkpoint << ", log " << trainer.paths().csvLog << "\n";
}

void sizeChecks(const TrainArgs& a) {
  using namespace symflow;
  for (auto [v, name] : {std::pair<Index, const char*>{a.sizes.embedDim, "--embed-dim"},
                         {a.sizes.spectralWidth, "--spectral-width"}, {a.sizes.mlpWidth, "--mlp-width"},
                         {a.sizes.head.width, "--head-width"}, {a.ditWidth, "--dit-width"}, {a.ditFf, "--dit-ff"},
                         {a.ditLayers, "--dit-layers"}, {a.ditHeads, "--dit-heads"}, {a.astWidth, "--ast-width"},
                         {a.astLayers, "--ast-layers"}, {a.astHeads, "--ast-heads"}, {a.astFf, "--ast-ff"}})
    require(v >= 1 && v <= 16384, std::string("train: ") + name + " must be in [1, 16384]");
  for (auto [v, name] : {std::pair<Index, const char*>{a.sizes.spectralBlocks, "--spectral-blocks"},
                         {a.sizes.mlpBlocks, "--mlp-blocks"}, {a.sizes.head.blocks, "--head-blocks"}})
    require(v >= 0 && v <= 256, std::string("train: ") + name + " must be in [0, 256]");
  require(a.tokens >= 0 && a.tokens <= 16384, "train: --tokens must be in [0, 16384] (0: the task's default)");
  require(a.p2tPenalty >= 0 && a.p2tPenalty <= 1e6, "train: --p2t-penalty must be in [0, 1e6]");
  require(a.ditWidth % a.ditHeads == 0, "train: --dit-width must be a multiple of --dit-heads");
  require(a.astWidth % a.astHeads == 0, "train: --ast-width must be a multiple of --ast-heads");
  require(a.cfgDropout >= 0 && a.cfgDropout < 1, "train: --cfg-dropout must be in [0, 1)");
  require(a.opt.floorRatio >= 0 && a.opt.floorRatio <= 1, "train: --lr-floor must be in [0, 1]");
  require(a.opt.clip > 0 && std::isfinite(a.opt.clip), "train: --clip must be a positive number");
  require(a.opt.stopAfter >= -1, "train: --stop-after must be >= 0 (or -1: no limit)");
  // --out must name a folder or file we can create, before any work
  namespace fs = std::filesystem;
  const fs::path parent = symflow::train::TrainPaths::of(a.opt.out).dir;
  std::error_code ec;
  for (fs::path p = parent; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      require(fs::is_directory(p, ec), "train: --out " + a.opt.out + ": " + p.string() + " exists and is not a folder");
      break;
    }
    if (p == p.parent_path()) break;
  }
}

/// --p2t-regroup: -1 (auto) regroups k-osc cnf-param2tok with the mixed init (the default) at a
/// fifth of the run (the flow pairs the oscillators by then: docs/results.md, "Regrouping inside
/// training"); with the authors' init A commits before the coupling exists, and the random init
/// is the PyTorch peer's recipe (the equal-steps comparison), so neither regroups unless asked.
long kOscRegroupStep(const TrainArgs& a, symflow::models::ModelKind kind, symflow::nn::Param2TokInit init) {
  using namespace symflow;
  require(a.p2tRegroup >= -1, "train: --p2t-regroup must be >= 0 (or -1: auto)");
  if (a.p2tRegroup >= 0) return a.p2tRegroup;
  if (kind != models::ModelKind::CnfParam2Tok || init != nn::Param2TokInit::Mixed) return 0;
  return std::max(1L, a.opt.steps / 5);
}

symflow::train::TrainOptions trainOptions(const TrainArgs& a) {
  auto opt = a.opt;
  opt.regroupAt = std::max(0L, a.p2tRegroup);  // k-osc resolves -1 (auto) itself
  opt.comm = symflow::cli::communicator();  // mpirun: data-parallel over the ranks
  opt.flow.cfgDropout = a.cfgDropout;
  opt.flow.otCoupling = !a.noOt;
  opt.dataThread = !a.noDataThread;
  if (!a.timeBudget.empty()) opt.timeBudgetSeconds = symflow::train::parseDuration(a.timeBudget, "train: --time-budget");
  return opt;
}

void runKOsc(const TrainArgs& a, const Given& given) {
  using namespace symflow;
  for (const char* o : {"--ast-width", "--ast-layers", "--ast-heads", "--ast-ff"})
    require(!given(o), std::string("train: ") + o + " applies to --task surge-simple only");
  models::KOscModelConfig cfg;
  cfg.k = a.k;
  require(a.k >= 1 && a.k <= 256, "train: --k must be in [1, 256]");
  cfg.variant = cli::forOption("--variant", [&] { return models::parseVariant(a.variant); });
  cfg.kind = cli::forOption("--model", [&] { return models::parseModelKind(a.model); });
  require(cfg.kind != models::ModelKind::Random, "train: --model random: the random reference has nothing to train");
  cfg.encoder = cli::forOption("--encoder", [&] { return models::parseEncoderKind(a.encoder); });
  cfg.tokens = a.tokens;
  cfg.embedDim = a.sizes.embedDim;
  cfg.dit.condDim = a.sizes.embedDim;
  cfg.spectralWidth = a.sizes.spectralWidth;
  cfg.spectralBlocks = a.sizes.spectralBlocks;
  cfg.mlpWidth = a.sizes.mlpWidth;
  cfg.mlpBlocks = a.sizes.mlpBlocks;
  cfg.head = a.sizes.head;
  cfg.spectralInputNorm = cli::forOption("--spectral-norm", [&] { return nn::parseSpectralInputNorm(a.spectralNorm); });
  cfg.spectralFinalNorm = a.spectralFinalNorm;
  cfg.p2tInit = cli::forOption("--p2t-init", [&] { return nn::parseParam2TokInit(a.p2tInit); });
  cfg.penaltyWeight = a.p2tPenalty;
  auto opt = trainOptions(a);
  opt.regroupAt = kOscRegroupStep(a, cfg.kind, cfg.p2tInit);
  cfg.dit.width = a.ditWidth;
  cfg.dit.layers = a.ditLayers;
  cfg.dit.heads = a.ditHeads;
  cfg.dit.ffDim = a.ditFf;
  train::KOscTrainer trainer(cfg, opt);
  report(trainer, trainer.run());
}

/// surge-simple: the SurgeModelConfig defaults, overridden by the size options actually given.
void runSurge(const TrainArgs& a, const Given& given) {
  using namespace symflow;
  for (const char* o : {"--k", "--variant", "--encoder", "--embed-dim", "--spectral-width", "--spectral-blocks",
                        "--spectral-norm", "--spectral-final-norm", "--p2t-init"})
    require(!given(o), std::string("train: ") + o + " applies to --task kosc only");
  models::SurgeModelConfig cfg;
  cfg.kind = cli::forOption("--model", [&] { return models::parseSurgeModelKind(a.model); });
  if (a.tokens > 0) cfg.tokens = a.tokens;
  auto set = [&](const char* opt, Index& dst, long v) {
    if (given(opt)) dst = Index(v);
  };
  set("--dit-width", cfg.dit.width, a.ditWidth);
  set("--dit-layers", cfg.dit.layers, a.ditLayers);
  set("--dit-heads", cfg.dit.heads, a.ditHeads);
  set("--dit-ff", cfg.dit.ffDim, a.ditFf);
  set("--ast-width", cfg.ast.width, a.astWidth);
  set("--ast-layers", cfg.ast.layers, a.astLayers);
  set("--ast-heads", cfg.ast.heads, a.astHeads);
  set("--ast-ff", cfg.ast.ffDim, a.astFf);
  set("--mlp-width", cfg.mlpWidth, a.sizes.mlpWidth);
  set("--mlp-blocks", cfg.mlpBlocks, a.sizes.mlpBlocks);
  set("--head-width", cfg.head.width, a.sizes.head.width);
  set("--head-blocks", cfg.head.blocks, a.sizes.head.blocks);
  if (given("--p2t-penalty")) cfg.penaltyWeight = a.p2tPenalty;
  cfg.validate();
  auto opt = trainOptions(a);
  if (!given("--batch")) opt.batch = 32;  // a CPU-sized default (docs/surge-model.md)
  train::SurgeTrainer trainer(cfg, opt);
  report(trainer, trainer.run());
}

void run(const TrainArgs& a, const Given& given) {
  using namespace symflow;
#ifdef _OPENMP
  if (a.threads > 0) omp_set_num_threads(a.threads);
#endif
  require(a.threads >= 0 && a.threads <= 1024, "train: --threads must be in [0, 1024] (0: default)");
  // GEMM precision (core/precision.hpp): fp32 stays the default until a bf16 run has been shown
  // to learn the same (issue 21, point 2); auto picks bf16 only with oneDNN and native bf16.
  const Precision precision = setGemmPrecision(parsePrecision(a.precision));
  if (!a.opt.quiet && precision != Precision::fp32)
    std::cout << "GEMM precision: " << precisionName(precision) << " (bfloat16 inputs, float32 accumulation)\n";
  sizeChecks(a);
  if (a.task == "kosc")
    runKOsc(a, given);
  else if (a.task == "surge-simple")
    runSurge(a, given);
  else
    throw Error("train: unknown --task '" + a.task + "' (expected kosc or surge-simple)");
}

symflow::cli::RegisterCommand reg("train", "Train a model on sounds rendered on the fly (k-osc or surge-simple)",
                                  [](CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  app.add_option("--task", a->task, "Task: kosc or surge-simple")->capture_default_str();
  app.add_option("--model", a->model,
                 "kosc: cnf-equivariant, cnf-param2tok, cnf-mlp, ffn-mse, ffn-sort or ffn-chamfer; "
                 "surge-simple: cnf-param2tok, cnf-mlp or ffn")->capture_default_str();
  app.add_option("--encoder", a->encoder, "cnn (the paper's) or spectral-mlp (cheap)")->capture_default_str();
  app.add_option("--k", a->k, "Number of oscillators")->capture_default_str();
  app.add_option("--variant", a->variant, "symmetric (sym) or asymmetric (asym)")->capture_default_str();
  app.add_option("--tokens", a->tokens, "Param2Tok tokens (0: the task's default, k or 32)")->capture_default_str();
  app.add_option("--ast-width", a->astWidth, "surge-simple: AST token width (also the conditioning width)")
      ->capture_default_str();
  app.add_option("--ast-layers", a->astLayers, "surge-simple: AST encoder layers")->capture_default_str();
  app.add_option("--ast-heads", a->astHeads, "surge-simple: AST attention heads")->capture_default_str();
  app.add_option("--ast-ff", a->astFf, "surge-simple: AST feed-forward width")->capture_default_str();
  app.add_option("--dit-width", a->ditWidth, "DiT width d")->capture_default_str();
  app.add_option("--embed-dim", a->sizes.embedDim, "Encoder output width (the conditioning)")->capture_default_str();
  app.add_option("--spectral-width", a->sizes.spectralWidth, "spectral-mlp encoder width")->capture_default_str();
  app.add_option("--spectral-blocks", a->sizes.spectralBlocks, "spectral-mlp encoder residual blocks")
      ->capture_default_str();
  app.add_option("--spectral-norm", a->spectralNorm,
                 "spectral-mlp input normalization: per-bin (training statistics), per-sound (LayerNorm) or none")
      ->capture_default_str();
  app.add_flag("--spectral-final-norm", a->spectralFinalNorm, "spectral-mlp encoder: LayerNorm before its output Linear");
  app.add_option("--p2t-init", a->p2tInit,
                 "Param2Tok init: mixed (random Z, near-uniform A; with --p2t-regroup the k-osc default), authors "
                 "(near-permutation-invariant) or random (the PyTorch peer's)")
      ->capture_default_str();
  app.add_option("--p2t-penalty", a->p2tPenalty, "Param2Tok: weight of the L1 penalty on the assignment")
      ->capture_default_str();
  app.add_option("--p2t-penalty-warmup", a->opt.penaltyWarmup,
                 "Param2Tok: ramp the L1 weight linearly from 0 over this many steps (0: off)")
      ->capture_default_str();
  app.add_option("--p2t-lr-mult", a->opt.assignLrMult,
                 "Param2Tok: the assignment learns at this multiple of the learning rate")
      ->capture_default_str();
  app.add_option("--p2t-hold", a->opt.assignHold,
                 "Param2Tok: the assignment stays frozen at its init in the first STEPS steps (0: off)")
      ->capture_default_str();
  app.add_option("--p2t-regroup", a->p2tRegroup,
                 "k-osc cnf-param2tok: before step STEPS, re-form the assignment from the coupling the flow has "
                 "learned (token t reads f_t and the amplitude and shape most coupled to it; 0: off; -1: at a "
                 "fifth of --steps with --p2t-init mixed, else off)")
      ->capture_default_str();
  app.add_option("--attn-off", a->opt.attnOff,
                 "DiT models: tokens do not attend to each other in the first STEPS steps (each token is "
                 "computed alone, which rewards putting dependent parameters on one token)")
      ->capture_default_str();
  app.add_option("--attn-ramp", a->opt.attnRamp,
                 "DiT models: after --attn-off, the attention branch ramps from 0 to full over STEPS steps")
      ->capture_default_str();
  app.add_option("--mlp-width", a->sizes.mlpWidth, "cnf-mlp vector field width")->capture_default_str();
  app.add_option("--mlp-blocks", a->sizes.mlpBlocks, "cnf-mlp vector field residual blocks")->capture_default_str();
  app.add_option("--head-width", a->sizes.head.width, "ffn-* regression head width")->capture_default_str();
  app.add_option("--head-blocks", a->sizes.head.blocks, "ffn-* regression head residual blocks")->capture_default_str();
  app.add_option("--dit-layers", a->ditLayers, "DiT layers (surge-simple default: 4)")->capture_default_str();
  app.add_option("--dit-heads", a->ditHeads, "attention heads")->capture_default_str();
  app.add_option("--dit-ff", a->ditFf, "DiT feed-forward width")->capture_default_str();
  app.add_option("--steps", a->opt.steps, "Total optimizer steps")->capture_default_str();
  app.add_option("--time-budget", a->timeBudget,
                 "Stop with a checkpoint once the run has trained this long in total (e.g. 90m, 2h, 1h30m)");
  app.add_option("--batch", a->opt.batch, "Batch size (default: 1024 for kosc, 32 for surge-simple)");
  app.add_option("--lr", a->opt.lr, "Peak learning rate (Adam)")->capture_default_str();
  app.add_option("--warmup", a->opt.warmup, "Linear warm-up steps")->capture_default_str();
  app.add_option("--lr-floor", a->opt.floorRatio, "Final lr as a fraction of the peak (cosine)")->capture_default_str();
  app.add_option("--clip", a->opt.clip, "Gradient-norm clip")->capture_default_str();
  app.add_option("--cfg-dropout", a->cfgDropout, "Conditioning dropout probability")->capture_default_str();
  app.add_flag("--no-ot", a->noOt, "Independent coupling instead of minibatch OT");
  app.add_option("--seed", a->opt.seed, "Seed of data stream, init and noise")
      ->capture_default_str()
      ->transform(symflow::cli::nonNegativeInteger());
  app.add_option("--out", a->opt.out,
                 "Checkpoint file NAME.safetensors (logs NAME.jsonl, NAME.csv beside it) or output folder "
                 "(model.safetensors, train.jsonl, train.csv)")->capture_default_str();
  app.add_option("--checkpoint-every", a->opt.checkpointSeconds, "Seconds between checkpoints (0: off)")
      ->capture_default_str();
  app.add_option("--checkpoint-steps", a->opt.checkpointSteps,
                 "Also checkpoint at every multiple of this many steps (0: off)")->capture_default_str();
  app.add_option("--log-every", a->opt.logEvery, "Steps between log rows (and the last step)")->capture_default_str();
  app.add_option("--stop-after", a->opt.stopAfter, "Stop after this many steps of this run (-1: no limit)");
  app.add_flag("--resume", a->opt.resume, "Continue from the checkpoint of --out (its model and settings win)");
  app.add_flag("--quiet", a->opt.quiet, "No progress output");
  app.add_option("--threads", a->threads, "OpenMP threads (0: default)");
  app.add_flag("--no-data-thread", a->noDataThread,
               "Render the training batches on the optimizer's thread instead of a producer thread beside it "
               "(same batches; for one-thread timings)");
  app.add_option("--precision", a->precision,
                 "GEMM precision: fp32, bf16 (bfloat16 GEMM inputs, float32 accumulation and weights; needs a "
                 "build with oneDNN) or auto (bf16 when built with oneDNN and the CPU has native bf16)")
      ->capture_default_str();
  app.callback([a, &app] { run(*a, [&app](const char* o) { return app.get_option(o)->count() > 0; }); });
});

}  // namespace
