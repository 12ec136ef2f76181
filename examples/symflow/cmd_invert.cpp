// symflow invert: find synth parameters for recordings with a trained model.
//
//   symflow invert --model M.safetensors in.wav [more.wav ...] --out DIR
//                  [--samples 16] [--seed 0] [--steps 100] [--cfg 2] [--solver rk4] [--all]
//                  [--offset SECONDS] [--no-level-match]
//
// For each input: read it (libsndfile; any common format, rate and channel count), mix to
// mono, resample to the model's rate (libsamplerate), take the window the model hears (k-osc:
// the loudest 1024 samples of the first 10 s; surge-simple: the start; --offset S: from S
// seconds; one note line says what was done and which window, and a warning when that window
// is near silent, RMS below -50 dBFS), pad if short, draw N candidate parameter sets from the model (a flow draws
// N posterior samples; a regression model has one answer, so N = 1; `random` draws N uniform
// patches), render each with the model's synth, and rank them by the task's audio distance to
// the input (k-osc: LSD in dB, metrics/kosc.hpp; surge-simple: MSS, audio/metrics.hpp, with
// every candidate rendered with noise seed --seed). Writes, per input STEM:
//   DIR/STEM.json  best candidate: the params JSON of `symflow render --params` (model values
//                  and the synth's own units: Hz, amplitude, shape, seconds, ...) plus "input",
//                  "model", the distance ("lsd_db" or "mss"), "rank", "candidates", the
//                  sampler settings, "raw_params" (the unclamped prediction; "params" are
//                  clamped to [-1, 1] as the synth plays them), "window" (which samples the
//                  model heard) and "level_match" (the gain applied to the WAV, in dB)
//   DIR/STEM.wav   its resynthesis (32-bit float WAV at the model's rate), by default scaled to
//                  the RMS level of the window the model heard (peak at most 0 dBFS);
//                  --no-level-match writes it as rendered
//   with --all also DIR/STEM.rankNN.json / .wav for every candidate (NN = 01 is the best).
// Re-render a result with: symflow render --task kosc --k K --variant V --params DIR/STEM.json,
// or symflow render --task surge-simple --sample-rate R --seconds S --params DIR/STEM.json (R, S:
// the model's, written in the JSON as "sample_rate" and "seconds").
//
// Failure: the output folder and paths are checked before the model is loaded, every input is
// read and checked before anything is sampled, and every output is computed before the first
// file is written, so a bad input (missing, not audio, empty, silent, NaN, too many channels,
// ...) or an --out that cannot be created gives one line naming it, exit status 1 and no output
// files. Two inputs with the same file stem are refused (their outputs would collide).
// Noise: input i (0-based position on the command line) samples from Rng(seed).fork(i), so the
// inputs of one call are independent draws; its candidates depend only on (model, input,
// --seed, its position, sampler settings), not on the other inputs.
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>

#include "audio_input.hpp"
#include "commands.hpp"
#include "render_tasks.hpp"
#include "symflow/io/atomic_file.hpp"
#include "symflow/io/wav.hpp"
#include "symflow/models/kosc_inversion.hpp"
#include "symflow/models/surge_inversion.hpp"
#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/surge_trainer.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using namespace symflow;
using namespace symflow::cli;

struct InvertArgs {
  std::string model, out, solver = "rk4";
  std::vector<std::string> inputs;
  long samples = 16;
  int steps = 100, threads = 0;
  double guidance = 2.0;
  std::uint64_t seed = 0;
  bool all = false, quiet = false, noLevelMatch = false;
  double offset = 0;  // --offset SECONDS
  bool offsetGiven = false;
};

/// The ranked candidates of one input (column j = rank j, best first).
struct Inversion {
  std::string input, stem;
  Mat<float> params, audio;
  Vec<double> distance;  // the task's audio distance of each candidate to the input, ascending
  double firstDistance = 0;  // of the first draw (what one unranked sample gives)
  cli::LoadedAudio heard = {};  // what the model heard (window, level)
};

/// What `invert` needs of a model, whatever its task.
struct Inverter {
  std::string description;  // "(cnf-param2tok, k = 4, symmetric)"
  std::string kind;         // "cnf-param2tok"
  std::string distanceKey, distanceLabel, distanceUnit;  // "lsd_db", "LSD", " dB"
  bool deterministic = false;
  cli::WindowRequest::Mode defaultWindow = cli::WindowRequest::Start;
  double rate = 0;
  Index length = 0;
  RenderTask task;
  nlohmann::ordered_json renderSettings = nlohmann::ordered_json::object();  // extra keys of the JSON
  std::function<Inversion(const Vec<float>& sound, Index n, Rng& rng)> invert;
};

Inverter kOscInverter(std::shared_ptr<models::KOscModel> model, const models::SampleOptions& so) {
  const auto& cfg = model->config();
  Inverter v;
  v.description = "(" + models::toString(cfg.kind) + ", k = " + std::to_string(cfg.k) + ", " +
                  models::toString(cfg.variant) + ")";
  v.kind = models::toString(cfg.kind);
  v.distanceKey = "lsd_db";
  v.distanceLabel = "LSD";
  v.distanceUnit = " dB";
  v.deterministic = !models::isFlow(cfg.kind) && cfg.kind != models::ModelKind::Random;
  v.rate = synth::KOscConstants::sampleRate;
  v.length = synth::KOscConstants::numSamples;
  v.defaultWindow = cli::WindowRequest::Loudest;  // 23.2 ms: the first ones may be an attack or silence
  TaskOptions to;
  to.k = long(cfg.k);
  to.variant = models::toString(cfg.variant);
  v.task = makeKOscTask(to);
  auto synth = std::make_shared<synth::KOsc<float>>(cfg.k, cfg.variant);
  auto fft = std::make_shared<audio::RealFft<float>>(v.length);
  v.invert = [model, synth, fft, so](const Vec<float>& sound, Index n, Rng& rng) {
    const auto c = models::rankedCandidates(*model, *synth, *fft, Mat<float>(sound), n, so, rng);
    return Inversion{"", "", c.params, c.audio, c.lsd, c.firstLsd(0)};
  };
  return v;
}

Inverter surgeInverter(std::shared_ptr<models::SurgeModel> model, const models::SampleOptions& so,
                       std::uint64_t noiseSeed) {
  const auto& cfg = model->config();
  Inverter v;
  v.description = "(surge-simple " + models::toString(cfg.kind) + ")";
  v.kind = models::toString(cfg.kind);
  v.distanceKey = "mss";
  v.distanceLabel = "MSS";
  v.deterministic = cfg.kind == models::SurgeModelKind::Ffn;
  v.rate = cfg.sampleRate;
  v.length = cfg.numSamples();
  v.task = makeSurgeTask();
  v.renderSettings["sample_rate"] = cfg.sampleRate;
  v.renderSettings["seconds"] = cfg.seconds;
  auto synth = std::make_shared<synth::SurgeSynth>(cfg.synthConfig());
  auto features = std::make_shared<models::SurgeFeatures>(cfg.feature, cfg.sampleRate);
  auto metrics = std::make_shared<audio::AudioMetrics<>>(cfg.sampleRate);
  v.invert = [=](const Vec<float>& sound, Index n, Rng& rng) {
    const auto c = models::rankedSurgeCandidates(*model, *synth, *features, *metrics, Mat<float>(sound), {noiseSeed}, n,
                                                 so, rng);
    return Inversion{"", "", c.params, c.audio, c.mss, c.firstMss(0)};
  };
  return v;
}

constexpr long kMaxSamples = 4096;

void checkArgs(const InvertArgs& a) {
  require(!a.model.empty(), "--model FILE is required (a checkpoint written by symflow train)");
  require(!a.inputs.empty(), "give at least one input audio file");
  require(!a.out.empty(), "--out DIR is required");
  require(a.samples >= 1 && a.samples <= kMaxSamples,
          "--samples must be between 1 and " + std::to_string(kMaxSamples) + ", got " + std::to_string(a.samples));
  require(a.steps >= 1 && a.steps <= 100000, "--steps must be between 1 and 100000, got " + std::to_string(a.steps));
  require(std::isfinite(a.guidance), "--cfg must be a finite number");
  require(a.threads >= 0 && a.threads <= 1024, "--threads must be in [0, 1024] (0: default)");
  require(!a.offsetGiven || (std::isfinite(a.offset) && a.offset >= 0),
          "--offset must be a number of seconds >= 0, got " + std::to_string(a.offset));
  namespace fs = std::filesystem;
  std::error_code ec;
  // Every output path is checked before the model is even loaded (issue 17): the folder must be
  // creatable (or writable), and no output file may be a folder.
  checkFolderCreatable("--out", a.out);
  std::map<std::string, std::string> stems;
  for (const auto& in : a.inputs) {
    const std::string stem = fs::path(in).stem().string();
    require(!stem.empty() && stem != "." && stem != "..", in + ": cannot name an output after this path");
    const auto [it, fresh] = stems.emplace(stem, in);
    require(fresh, "inputs " + it->second + " and " + in + " would both write " + stem + ".json/.wav; rename one");
    for (const char* ext : {".json", ".wav"}) {
      const fs::path out = fs::path(a.out) / (stem + ext);
      if (fs::is_directory(out, ec)) throw Error("--out " + a.out + ": " + out.string() + " is a folder; cannot write it");
    }
  }
}

/// Gain that brings the resynthesis to the RMS level of what the model heard, limited so that
/// its peak stays at or below full scale (1.0). 1 for a silent resynthesis.
struct LevelMatch {
  double gain = 1, gainDb = 0;
  bool limitedByPeak = false;
};
LevelMatch levelMatch(const Vec<float>& heard, const Eigen::Ref<const Vec<float>>& synth) {
  LevelMatch m;
  const double rIn = std::sqrt(heard.cast<double>().squaredNorm() / double(std::max<Index>(1, heard.size())));
  const double rOut = std::sqrt(synth.cast<double>().squaredNorm() / double(std::max<Index>(1, synth.size())));
  const double peak = synth.size() ? double(synth.cwiseAbs().maxCoeff()) : 0.0;
  if (!(rOut > 0) || !(rIn > 0)) return m;
  m.gain = rIn / rOut;
  if (peak * m.gain > 1.0) {
    m.gain = 1.0 / peak;
    m.limitedByPeak = true;
  }
  m.gainDb = 20 * std::log10(m.gain);
  return m;
}

void run(const InvertArgs& a) {
#ifdef _OPENMP
  if (a.threads > 0) omp_set_num_threads(a.threads);
#endif
  checkArgs(a);
  models::SampleOptions so;
  so.steps = a.steps;
  so.guidance = a.guidance;
  so.solver = forOption("--solver", [&] { return models::parseSolverKind(a.solver); });
  const std::string task = forOption("--model", [&] { return train::readModelTask(a.model); });
  Inverter inv;
  if (task == "surge-simple")
    inv = surgeInverter(forOption("--model", [&] { return std::shared_ptr(train::loadSurgeModel(a.model)); }), so, a.seed);
  else
    inv = kOscInverter(forOption("--model", [&] { return std::shared_ptr(train::loadKOscModel(a.model)); }), so);
  const bool deterministic = inv.deterministic;
  const Index n = deterministic ? 1 : Index(a.samples);
  const double rate = inv.rate;
  const Index length = inv.length;

  // 1. Read and check every input before any work.
  // Notes are printed once every input has passed, so a refusal stays the only line.
  std::vector<LoadedAudio> loaded;
  std::vector<std::string> notes;
  WindowRequest window;
  window.mode = a.offsetGiven ? WindowRequest::Offset : inv.defaultWindow;
  window.offsetSeconds = a.offsetGiven ? a.offset : 0.0;
  for (const auto& in : a.inputs) loaded.push_back(loadAudioForModel(in, rate, length, &notes, {}, window));
  if (deterministic && a.samples > 1)
    notes.insert(notes.begin(), "invert: the model " + inv.description + " is a regression model: one candidate per input");
  if (!a.quiet)
    for (const auto& note : notes) std::cerr << note << "\n";
  // 2. Sample, render, rank.
  std::vector<Inversion> results;
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    // Input i (its position on the command line, from 0) draws from its own stream
    // Rng(seed).fork(i): the inputs of one call are independent draws (a fair sample), and an
    // input's result depends only on (model, input, seed, position, sampler settings).
    Rng rng = Rng(a.seed).fork(std::uint64_t(i));
    results.push_back(inv.invert(loaded[i].samples, n, rng));
    results.back().heard = loaded[i];
    results.back().input = a.inputs[i];
    results.back().stem = std::filesystem::path(a.inputs[i]).stem().string();
  }
  // 3. Encode every output, then write them all (each atomically).
  std::vector<std::pair<std::string, std::string>> files;  // path, bytes
  auto addCandidate = [&](const Inversion& r, Index j, const std::string& base) {
    // "params" are clamped to the synth's range (what render --params accepts; the synth clamps
    // when it renders, so the sound and the distance are the same); "raw_params" are the model's
    // unclamped outputs, the values the authors' parameter metrics (LAC, MSE, ...) use.
    Rendered rendered{r.params.col(j).cwiseMax(-1.f).cwiseMin(1.f), a.seed, {}};
    auto j1 = paramsJsonObject(inv.task, rendered);
    {
      nlohmann::ordered_json raw = nlohmann::ordered_json::object();
      const auto& spec = inv.task.spec();
      for (Index p = 0; p < spec.size(); ++p) raw[spec[p].name] = double(r.params(p, j));
      j1["raw_params"] = raw;
      j1["params_note"] = "params: the model's prediction clamped to [-1, 1] as the synth plays it (the distance "
                          "is of that sound); raw_params: unclamped, as the authors' parameter metrics use them";
    }
    if (inv.task.seedLabel.empty()) j1.erase("seed");  // k-osc renders without noise; the sampling seed is below
    for (auto it = inv.renderSettings.begin(); it != inv.renderSettings.end(); ++it) j1[it.key()] = it.value();
    j1["input"] = r.input;
    j1["model"] = a.model;
    j1["model_kind"] = inv.kind;
    j1[inv.distanceKey] = r.distance(j);
    j1["rank"] = j + 1;
    j1["candidates"] = n;
    j1["sampler"] = {{"solver", a.solver}, {"steps", a.steps}, {"cfg", a.guidance}, {"seed", a.seed},
                     {"stream", "Rng(seed).fork(" + std::to_string(&r - results.data()) + ")"}};
    const Index length = r.heard.samples.size();
    j1["window"] = {{"mode", r.heard.windowModeName()},
                    {"start_sample", r.heard.windowStart},
                    {"samples", length},
                    {"start_s", double(r.heard.windowStart) / rate},
                    {"end_s", double(r.heard.windowStart + length) / rate},
                    {"rms_dbfs", std::isfinite(r.heard.windowRmsDbfs) ? nlohmann::ordered_json(r.heard.windowRmsDbfs)
                                                                     : nlohmann::ordered_json(nullptr)},
                    {"near_silent", r.heard.nearSilent}};
    // The written WAV is for listening: by default its RMS is matched to what the model heard
    // (MSS and LSD ignore gain; real notes came back up to 26 dB quieter). The JSON's params
    // still re-render the unscaled sound (render --params).
    Mat<float> audio = r.audio.col(j);
    LevelMatch lm;
    if (!a.noLevelMatch) lm = levelMatch(r.heard.samples, r.audio.col(j));
    audio *= float(lm.gain);
    j1["level_match"] = {{"applied", !a.noLevelMatch},
                         {"gain_db", lm.gainDb},
                         {"limited_by_peak", lm.limitedByPeak},
                         {"note", "the WAV is the rendering times 10^(gain_db/20); render --params gives it unscaled"}};
    files.emplace_back(base + ".json", j1.dump(2) + "\n");
    const auto wav = io::encodeWav(audio, int(rate), io::WavFormat::Float32);
    files.emplace_back(base + ".wav", std::string(wav.begin(), wav.end()));
  };
  for (const auto& r : results) {
    addCandidate(r, 0, a.out + "/" + r.stem);
    if (a.all)
      for (Index j = 0; j < n; ++j) {
        std::ostringstream name;
        name << a.out << "/" << r.stem << ".rank" << std::setw(n >= 100 ? 4 : 2) << std::setfill('0') << j + 1;
        addCandidate(r, j, name.str());
      }
  }
  createFolder("--out", a.out);
  std::vector<std::unique_ptr<io::AtomicFileWriter>> writers;
  for (const auto& [path, bytes] : files) {
    writers.push_back(std::make_unique<io::AtomicFileWriter>(path));
    writers.back()->write(bytes.data(), bytes.size());
  }
  for (auto& w : writers) w->commit();

  std::cout << std::fixed << std::setprecision(2);
  std::cout << "model " << a.model << " " << inv.description << ", " << n << " candidate" << (n > 1 ? "s" : "") << " per input, "
            << (deterministic ? std::string("deterministic") : a.solver + " " + std::to_string(a.steps) + " steps, cfg " +
                                                                 std::to_string(a.guidance).substr(0, 4) + ", seed " +
                                                                 std::to_string(a.seed))
            << "\n";
  for (const auto& r : results) {
    std::cout << r.input << ": best " << inv.distanceLabel << " " << r.distance(0) << inv.distanceUnit;
    if (n > 1)
      std::cout << " (first draw " << r.firstDistance << ", median " << r.distance(n / 2) << ", worst "
                << r.distance(n - 1) << ")";
    const LevelMatch lm = a.noLevelMatch ? LevelMatch{} : levelMatch(r.heard.samples, r.audio.col(0));
    std::cout << " -> " << a.out << "/" << r.stem << ".json, .wav";
    if (!a.noLevelMatch) std::cout << " (level matched " << std::showpos << lm.gainDb << std::noshowpos << " dB)";
    std::cout << "\n";
  }
}

symflow::cli::RegisterCommand reg(
    "invert", "Find synth parameters for audio files with a trained model; write them and the resynthesis",
    [](CLI::App& app) {
      auto a = std::make_shared<InvertArgs>();
      app.add_option("--model", a->model, "Checkpoint written by symflow train (see models/)");
      app.add_option("inputs", a->inputs, "Audio files (WAV, FLAC, OGG, AIFF, MP3, ...; any rate and channels)");
      app.add_option("--out", a->out, "Output folder (created if needed)");
      app.add_option("--samples,-n", a->samples, "Candidates drawn per input and ranked by audio distance")
          ->capture_default_str();
      app.add_option("--seed", a->seed, "Seed of the sampling noise")->capture_default_str()->transform(nonNegativeInteger());
      app.add_option("--steps", a->steps, "ODE solver steps")->capture_default_str();
      app.add_option("--cfg,--guidance", a->guidance, "Classifier-free guidance weight")->capture_default_str();
      app.add_option("--solver", a->solver, "ODE solver: euler, midpoint, heun or rk4")->capture_default_str();
      app.add_flag("--all", a->all, "Also write every candidate (STEM.rankNN.json / .wav)");
      auto* offsetOpt = app.add_option("--offset", a->offset,
                     "Seconds into each file where the window the model hears starts (default: k-osc models hear "
                     "the loudest 1024 samples of the first 10 s, surge-simple models the start)");
      app.add_flag("--no-level-match", a->noLevelMatch,
                   "Write the resynthesis as rendered (default: scaled to the RMS of what the model heard, "
                   "peak at most 0 dBFS; the gain is in the JSON)");
      app.add_flag("--quiet", a->quiet, "No notes on stderr");
      app.add_option("--threads", a->threads, "OpenMP threads (0: default)");
      app.callback([a, offsetOpt] {
        a->offsetGiven = offsetOpt->count() > 0;
        run(*a);
      });
    });

}  // namespace
