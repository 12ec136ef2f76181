// symflow render: render one synth patch to a WAV file, or list a synth's parameters.
//
//   symflow render --task surge-simple --random --seed 7 --out x.wav [--sample-rate 16000] [--seconds 2]
//   symflow render --task surge-simple --params p.json --out x.wav [--save-params used.json]
//   symflow render --task surge-simple --list-params
//   symflow render --task kosc --k 4 [--variant symmetric|asymmetric] --random --seed 7 --out x.wav
//   symflow render --task kosc --k 4 [--variant ...] --params p.json --out x.wav
//   symflow render --task kosc --k 4 [--variant ...] --list-params
//
// kosc renders exactly what training sees: synth::KOsc<float>, 1024 samples at 44.1 kHz, so
// --sample-rate and --seconds are refused. The file holds those samples bit for bit with
// --float; 16-bit PCM rounds them (2^15 steps) and clips to [-1, 1]. --random
// draws the 3k parameters U(-1, 1) from Rng(seed) (synth::sampleUniformParams; no loudness
// floor: the paper samples uniformly).
// --k (1 .. 1024) is required for kosc; --k and --variant are refused for other tasks.
//
// p.json: {"osc1_pitch": 0.25, ...} with every parameter of the task, values in model units
// [-1, 1]; or {"params": {...}, "seed": S, "task": "surge-simple", ...} (the format that
// --save-params writes; other top-level keys are ignored, except the task's settings, e.g.
// "k" and "variant" for kosc, which must match the command line when present). Missing or
// unknown names, values that are not numbers in [-1, 1]: one-line error, nothing written.
//
// Adding a task: write a makeXxxTask() returning a RenderTask (spec + render + random) and
// list it in renderTasks().
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "render_tasks.hpp"
#include "symflow/io/atomic_file.hpp"
#include "symflow/io/wav.hpp"
#include "symflow/synth/kosc.hpp"
#include "symflow/synth/surge.hpp"

namespace {

using namespace symflow;
using namespace symflow::cli;

void listParams(const RenderTask& task, std::ostream& os) {
  const synth::ParamSpec& spec = task.spec();
  os << task.name << ": " << task.help << "\n"
     << spec.size() << " parameters; the model's value v in [-1, 1] maps to units with u = (v + 1) / 2:\n"
     << "  linear x = min + (max - min) u, exp x = min (max / min)^u, cubic x = min + (max - min) (v^3 + 1) / 2,\n  cube x = min + (max - min) u^3\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "%4s  %-20s %-11s %9s %9s  %-11s %-7s %s\n", "#", "name", "group", "min", "max",
                "unit", "curve", "meaning");
  os << line;
  for (Index i = 0; i < spec.size(); ++i) {
    const auto& p = spec[i];
    std::snprintf(line, sizeof line, "%4ld  %-20s %-11s %9s %9s  %-11s %-7s %s\n", long(i), p.name.c_str(),
                  p.group.c_str(), fmtNumber(p.min).c_str(), fmtNumber(p.max).c_str(),
                  p.unit.empty() ? "-" : p.unit.c_str(), synth::curveName(p.curve), p.help.c_str());
    os << line;
  }
  os << "\nsymmetries (permuting whole blocks leaves the sound unchanged):\n";
  if (spec.symmetries.empty()) os << "  none declared\n";
  for (const auto& s : spec.symmetries) {
    os << "  " << s.name << ": " << s.order() << " blocks of " << s.blocks[0].size() << " parameters\n";
    for (std::size_t a = 0; a < s.blocks.size(); ++a) {
      os << "    block " << a + 1 << ":";
      for (Index i : s.blocks[a]) os << " " << spec[i].name;
      os << "\n";
    }
  }
}

struct Options {
  std::string task, paramsPath, out, saveParams;
  bool random = false, listParams = false, floatWav = false;
  std::uint64_t seed = 0;
  double sampleRate = 0, seconds = 0;
  bool seedGiven = false;
  TaskOptions taskOptions;
  bool kGiven = false, variantGiven = false;
};

void run(const Options& o) {
  // The task's own options are checked before the task is built with them.
  const std::string taskName = forOption("--task", [&] { return findTask(renderTasks(), o.task).name; });
  if (taskName == "kosc") {
    if (!o.kGiven) throw Error("--task kosc needs --k K (the number of oscillators)");
    if (o.taskOptions.k < 1 || o.taskOptions.k > kMaxKOscOscillators)
      throw Error("--k must be between 1 and " + std::to_string(kMaxKOscOscillators) + ", got " +
                  std::to_string(o.taskOptions.k));
    const std::string& v = o.taskOptions.variant;
    if (v != "symmetric" && v != "asymmetric" && v != "sym" && v != "asym")
      throw Error("--variant must be symmetric or asymmetric (or sym, asym), got '" + v + "'");
  } else if (o.kGiven || o.variantGiven) {
    throw Error("--k and --variant apply only to --task kosc");
  }
  const auto tasks = renderTasks(o.taskOptions);
  const RenderTask& task = findTask(tasks, taskName);
  if (task.fixedLength && (o.sampleRate != 0 || o.seconds != 0))
    throw Error("--task " + task.name + " has a fixed length (" +
                std::to_string(long(std::lround(task.defaultRate * task.defaultSeconds))) + " samples at " +
                fmtNumber(task.defaultRate) + " Hz): --sample-rate and --seconds do not apply");
  if (o.listParams) {
    if (o.random || !o.paramsPath.empty() || !o.out.empty())
      throw Error("--list-params takes no --random, --params or --out");
    listParams(task, std::cout);
    return;
  }
  if (o.random == !o.paramsPath.empty()) throw Error("give exactly one of --random or --params FILE");
  if (o.out.empty()) throw Error("--out FILE.wav is required");
  RenderSettings s;
  s.sampleRate = o.sampleRate > 0 ? o.sampleRate : task.defaultRate;
  s.seconds = o.seconds > 0 ? o.seconds : task.defaultSeconds;
  if (o.sampleRate != 0 && !(o.sampleRate > 0)) throw Error("--sample-rate must be positive");
  if (o.seconds != 0 && !(o.seconds > 0)) throw Error("--seconds must be positive");
  if (s.sampleRate != std::round(s.sampleRate)) throw Error("--sample-rate must be a whole number of Hz");
  if (task.checkSettings) task.checkSettings(s);
  std::error_code ec;
  for (const auto& [option, path] : {std::pair<const char*, std::string>{"--out", o.out}, {"--save-params", o.saveParams}}) {
    if (path.empty()) continue;
    if (std::filesystem::is_directory(path, ec)) throw Error(std::string(option) + " " + path + ": is a folder; give a file name");
    // A missing folder is created (as invert does, issue 17); one that cannot be is refused now.
    const std::string parent = std::filesystem::path(path).parent_path().string();
    if (!parent.empty()) checkFolderCreatable(option, parent, path);
  }
  if (!o.saveParams.empty() && o.saveParams == o.out) throw Error("--save-params and --out name the same file");

  Rendered r;
  if (o.random) {
    r = task.random(o.seed, s);
  } else {
    const ParamsFile pf = forOption("--params", [&] { return readParamsJson(o.paramsPath, task); });
    r = task.render(pf.params, o.seedGiven ? o.seed : (pf.hasSeed ? pf.seed : 0), s);
  }
  // Everything is computed before anything is written; each file is written atomically.
  const auto wav = io::encodeWav(r.audio, int(s.sampleRate), o.floatWav ? io::WavFormat::Float32 : io::WavFormat::Pcm16);
  const std::string json = o.saveParams.empty() ? "" : paramsJson(task, r);
  createFolder("--out", std::filesystem::path(o.out).parent_path().string());
  if (!o.saveParams.empty()) createFolder("--save-params", std::filesystem::path(o.saveParams).parent_path().string());
  io::AtomicFileWriter w(o.out);
  w.write(wav.data(), wav.size());
  if (!o.saveParams.empty()) {
    io::AtomicFileWriter jw(o.saveParams);
    jw.write(json.data(), json.size());
    w.commit();
    jw.commit();
  } else {
    w.commit();
  }
  const double rms = synth::rmsDb(r.audio.data(), r.audio.size());
  const double peak = r.audio.size() ? double(r.audio.cwiseAbs().maxCoeff()) : 0.0;
  const std::string seedText = task.seedLabel.empty()
                                   ? ""
                                   : ", " + task.seedLabel + " " + std::to_string(static_cast<unsigned long long>(r.seed));
  std::printf("wrote %s: %s, %.3g s at %g Hz%s, RMS %.1f dBFS, peak %.1f dBFS%s%s\n", o.out.c_str(),
              task.name.c_str(), s.seconds, s.sampleRate, seedText.c_str(), rms,
              peak > 0 ? 20 * std::log10(peak) : -INFINITY, o.saveParams.empty() ? "" : ", params in ",
              o.saveParams.c_str());
}

}  // namespace

static symflow::cli::RegisterCommand reg(
    "render", "Render a synth patch to a WAV file (or list a synth's parameters)", [](CLI::App& app) {
      auto o = std::make_shared<Options>();
      std::string names;
      for (const auto& t : renderTasks()) names += (names.empty() ? "" : ", ") + t.name;
      app.add_option("--task", o->task, "synth: " + names)->required();
      app.add_flag("--random", o->random,
                   "render a random patch (uniform over the spec; surge-simple redraws sounds below -50 dBFS)");
      auto* seedOpt = app.add_option("--seed", o->seed, "random seed (with --random) / noise seed (with --params)")
                          ->transform(nonNegativeInteger());
      app.add_option("--params", o->paramsPath, "JSON file {\"name\": value in [-1, 1], ...}");
      app.add_option("--out", o->out, "output WAV file (16-bit PCM unless --float)");
      app.add_option("--sample-rate", o->sampleRate, "Hz (default: the task's, 16000; kosc: fixed 44100)");
      app.add_option("--seconds", o->seconds, "duration (default: the task's, 2; kosc: fixed 1024 samples)");
      auto* kOpt = app.add_option("--k", o->taskOptions.k, "kosc: number of oscillators (1 .. 1024, required)");
      auto* variantOpt = app.add_option("--variant", o->taskOptions.variant,
                                        "kosc: symmetric (default) or asymmetric (also: sym, asym)");
      app.add_flag("--float", o->floatWav, "write 32-bit float samples");
      app.add_option("--save-params", o->saveParams, "also write the patch as JSON (model values and units)");
      app.add_flag("--list-params", o->listParams, "print the parameter spec and symmetry groups");
      app.callback([o, seedOpt, kOpt, variantOpt] {
        o->seedGiven = seedOpt->count() > 0;
        o->kGiven = kOpt->count() > 0;
        o->variantGiven = variantOpt->count() > 0;
        run(*o);
      });
    });
