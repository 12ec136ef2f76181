// symflow train: train a k-osc model (see include/symflow/train/kosc_trainer.hpp).
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "symflow/train/kosc_trainer.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

struct TrainArgs {
  std::string task = "kosc", model = "cnf-param2tok", encoder = "cnn", variant = "symmetric";
  int k = 4, threads = 0;
  long tokens = 0, ditWidth = 128, ditLayers = 5, ditHeads = 4, ditFf = 256;
  double cfgDropout = 0.1;
  bool noOt = false;
  symflow::models::KOscModelConfig sizes;  // encoder / head / MLP widths (defaults: the config's)
  symflow::train::KOscTrainOptions opt;
};

void run(const TrainArgs& a) {
  using namespace symflow;
  require(a.task == "kosc", "train: task '" + a.task + "' is not supported yet (supported: kosc)");
#ifdef _OPENMP
  if (a.threads > 0) omp_set_num_threads(a.threads);
#endif
  models::KOscModelConfig cfg;
  cfg.k = a.k;
  require(a.k >= 1 && a.k <= 256, "train: --k must be in [1, 256]");
  cfg.variant = models::parseVariant(a.variant);
  cfg.kind = models::parseModelKind(a.model);
  require(cfg.kind != models::ModelKind::Random, "train: the random reference has nothing to train");
  cfg.encoder = models::parseEncoderKind(a.encoder);
  cfg.tokens = a.tokens;
  for (auto [v, name] : {std::pair<Index, const char*>{a.sizes.embedDim, "--embed-dim"},
                         {a.sizes.spectralWidth, "--spectral-width"}, {a.sizes.mlpWidth, "--mlp-width"},
                         {a.sizes.head.width, "--head-width"}})
    require(v >= 1 && v <= 16384, std::string("train: ") + name + " must be in [1, 16384]");
  for (auto [v, name] : {std::pair<Index, const char*>{a.sizes.spectralBlocks, "--spectral-blocks"},
                         {a.sizes.mlpBlocks, "--mlp-blocks"}, {a.sizes.head.blocks, "--head-blocks"}})
    require(v >= 0 && v <= 256, std::string("train: ") + name + " must be in [0, 256]");
  cfg.embedDim = a.sizes.embedDim;
  cfg.dit.condDim = a.sizes.embedDim;
  cfg.spectralWidth = a.sizes.spectralWidth;
  cfg.spectralBlocks = a.sizes.spectralBlocks;
  cfg.mlpWidth = a.sizes.mlpWidth;
  cfg.mlpBlocks = a.sizes.mlpBlocks;
  cfg.head = a.sizes.head;
  cfg.dit.width = a.ditWidth;
  cfg.dit.layers = a.ditLayers;
  cfg.dit.heads = a.ditHeads;
  cfg.dit.ffDim = a.ditFf;
  require(a.ditWidth % a.ditHeads == 0, "train: --dit-width must be a multiple of --dit-heads");
  auto opt = a.opt;
  opt.flow.cfgDropout = a.cfgDropout;
  opt.flow.otCoupling = !a.noOt;
  train::KOscTrainer trainer(cfg, opt);
  const auto r = trainer.run();
  std::cout << "trained " << r.step << " steps in " << train::formatDuration(r.seconds) << ", loss (EMA) " << r.emaLoss
            << (r.interrupted ? ", interrupted" : "") << "; checkpoint " << trainer.paths().checkpoint << ", log "
            << trainer.paths().csvLog << "\n";
}

symflow::cli::RegisterCommand reg("train", "Train a model on the fly-rendered k-osc task", [](CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  app.add_option("--task", a->task, "Task (kosc)")->capture_default_str();
  app.add_option("--model", a->model,
                 "cnf-equivariant, cnf-param2tok, cnf-mlp, ffn-mse, ffn-sort or ffn-chamfer")->capture_default_str();
  app.add_option("--encoder", a->encoder, "cnn (the paper's) or spectral-mlp (cheap)")->capture_default_str();
  app.add_option("--k", a->k, "Number of oscillators")->capture_default_str();
  app.add_option("--variant", a->variant, "symmetric (sym) or asymmetric (asym)")->capture_default_str();
  app.add_option("--tokens", a->tokens, "Param2Tok tokens (0: k)")->capture_default_str();
  app.add_option("--dit-width", a->ditWidth, "DiT width d")->capture_default_str();
  app.add_option("--embed-dim", a->sizes.embedDim, "Encoder output width (the conditioning)")->capture_default_str();
  app.add_option("--spectral-width", a->sizes.spectralWidth, "spectral-mlp encoder width")->capture_default_str();
  app.add_option("--spectral-blocks", a->sizes.spectralBlocks, "spectral-mlp encoder residual blocks")
      ->capture_default_str();
  app.add_option("--mlp-width", a->sizes.mlpWidth, "cnf-mlp vector field width")->capture_default_str();
  app.add_option("--mlp-blocks", a->sizes.mlpBlocks, "cnf-mlp vector field residual blocks")->capture_default_str();
  app.add_option("--head-width", a->sizes.head.width, "ffn-* regression head width")->capture_default_str();
  app.add_option("--head-blocks", a->sizes.head.blocks, "ffn-* regression head residual blocks")->capture_default_str();
  app.add_option("--dit-layers", a->ditLayers, "DiT layers")->capture_default_str();
  app.add_option("--dit-heads", a->ditHeads, "attention heads")->capture_default_str();
  app.add_option("--dit-ff", a->ditFf, "DiT feed-forward width")->capture_default_str();
  app.add_option("--steps", a->opt.steps, "Total optimizer steps")->capture_default_str();
  app.add_option("--batch", a->opt.batch, "Batch size")->capture_default_str();
  app.add_option("--lr", a->opt.lr, "Peak learning rate (Adam)")->capture_default_str();
  app.add_option("--warmup", a->opt.warmup, "Linear warm-up steps")->capture_default_str();
  app.add_option("--lr-floor", a->opt.floorRatio, "Final lr as a fraction of the peak (cosine)")->capture_default_str();
  app.add_option("--clip", a->opt.clip, "Gradient-norm clip")->capture_default_str();
  app.add_option("--cfg-dropout", a->cfgDropout, "Conditioning dropout probability")->capture_default_str();
  app.add_flag("--no-ot", a->noOt, "Independent coupling instead of minibatch OT");
  app.add_option("--seed", a->opt.seed, "Seed of data stream, init and noise")->capture_default_str();
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
  app.callback([a] { run(*a); });
});

}  // namespace
