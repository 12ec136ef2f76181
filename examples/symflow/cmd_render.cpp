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
// --float; 16-bit PCM rounds them and clips the rare t == 0.5 spikes to [-1, 1]. --random
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
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "symflow/io/atomic_file.hpp"
#include "symflow/io/wav.hpp"
#include "symflow/synth/kosc.hpp"
#include "symflow/synth/surge.hpp"

namespace {

using namespace symflow;

/// One sound: its parameters (model units, one column), noise seed and audio (frames x channels).
struct Rendered {
  Vec<float> params;
  std::uint64_t seed = 0;
  Mat<float> audio;
};

struct RenderSettings {
  double sampleRate = 0;  // 0: the task's default
  double seconds = 0;
};

/// Options that select a variant of a task (only kosc has any).
struct TaskOptions {
  long k = 0;  // kosc: number of oscillators (0: not given)
  std::string variant = "symmetric";
};

/// A synth the render command knows: its spec and two ways to make a sound.
struct RenderTask {
  std::string name, help;
  double defaultRate = 16000, defaultSeconds = 2;
  std::string seedLabel = "noise seed";  // what the seed is, in the summary line ("": not shown)
  bool fixedLength = false;  // true: --sample-rate / --seconds are refused (defaults are the only ones)
  nlohmann::ordered_json settings = nlohmann::ordered_json::object();  // written to / checked in params JSON
  std::function<const synth::ParamSpec&()> spec;
  std::function<Rendered(const Vec<float>& params, std::uint64_t seed, const RenderSettings&)> render;
  std::function<Rendered(std::uint64_t seed, const RenderSettings&)> random;
};

RenderTask makeSurgeTask() {
  RenderTask t;
  t.name = "surge-simple";
  t.help = "Surge-style subtractive synth (3 osc, noise, HP + 2 filters, 2 ADSR, 6 LFO; 93 params)";
  auto config = [](const RenderSettings& s) {
    synth::SurgeConfig c;
    c.sampleRate = s.sampleRate;
    c.seconds = s.seconds;
    return c;
  };
  t.spec = [] { return std::cref(synth::SurgeSynth::spec()); };
  t.render = [config](const Vec<float>& params, std::uint64_t seed, const RenderSettings& s) {
    const synth::SurgeSynth synth(config(s));
    Rendered r{params, seed, {}};
    synth.render(params, r.audio, {seed});
    return r;
  };
  t.random = [config](std::uint64_t seed, const RenderSettings& s) {
    const synth::SurgeSynth synth(config(s));
    Rng rng(seed);
    auto batch = synth.sampleRandom(rng, 1);
    return Rendered{batch.params.col(0), batch.seeds[0], batch.audio};
  };
  return t;
}

constexpr long kMaxKOscOscillators = 1024;

RenderTask makeKOscTask(const TaskOptions& o) {
  RenderTask t;
  t.name = "kosc";
  t.defaultRate = synth::KOscConstants::sampleRate;
  t.defaultSeconds = double(synth::KOscConstants::numSamples) / synth::KOscConstants::sampleRate;
  t.fixedLength = true;
  t.seedLabel = "";  // no noise: --seed only chooses the random parameters
  if (o.k < 1 || o.k > kMaxKOscOscillators) {
    // Usable for its name only (option help, task lookup); run() refuses it before use.
    t.help = "k-osc synth of the paper's Task 1 (needs --k)";
    t.spec = []() -> const synth::ParamSpec& { throw Error("--task kosc needs --k"); };
    return t;
  }
  const Index k = Index(o.k);
  const synth::KOscVariant variant = synth::kOscVariantFromString(o.variant);
  const bool asym = variant == synth::KOscVariant::Asymmetric;
  t.help = "k-osc synth of the paper's Task 1: " + std::to_string(k) + " oscillators, " +
           (asym ? "asymmetric (oscillator i owns slice i of 20-4000 Hz)" : "symmetric (S" + std::to_string(k) + ")") +
           ", 1024 samples at 44.1 kHz, output = mean of the oscillators";
  t.settings["k"] = k;
  t.settings["variant"] = asym ? "asymmetric" : "symmetric";
  auto spec = std::make_shared<const synth::ParamSpec>(synth::kOscSpec(k, variant));
  t.spec = [spec]() -> const synth::ParamSpec& { return *spec; };
  // The float synth of training: its output is bit-identical to KOscStream<float>'s signals.
  auto render = [k, variant](const Vec<float>& params, std::uint64_t seed) {
    const synth::KOsc<float> synth(k, variant);
    Rendered r{params, seed, {}};
    r.audio = synth.render(Mat<float>(params));
    return r;
  };
  t.render = [render](const Vec<float>& params, std::uint64_t seed, const RenderSettings&) {
    return render(params, seed);
  };
  t.random = [render, k](std::uint64_t seed, const RenderSettings&) {
    Rng rng(seed);
    return render(synth::sampleUniformParams<float>(k, 1, rng).col(0), seed);
  };
  return t;
}

std::vector<RenderTask> renderTasks(const TaskOptions& o = {}) { return {makeSurgeTask(), makeKOscTask(o)}; }

const RenderTask& findTask(const std::vector<RenderTask>& tasks, const std::string& name) {
  std::string known;
  for (const auto& t : tasks) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  throw Error("unknown task '" + name + "' (known: " + known + ")");
}

std::string fmtNumber(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

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

std::string joinNames(const std::vector<std::string>& names) {
  std::string s;
  const std::size_t shown = std::min<std::size_t>(names.size(), 12);
  for (std::size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > shown) s += " and " + std::to_string(names.size() - shown) + " more";
  return s;
}

struct ParamsFile {
  Vec<float> params;
  bool hasSeed = false;
  std::uint64_t seed = 0;
};

/// A JSON value as text, strings without their quotes.
template <class Json> std::string plain(const Json& v) {
  return v.is_string() ? v.template get<std::string>() : v.dump();
}

ParamsFile readParamsJson(const std::string& path, const RenderTask& task) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open params file '" + path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(path + ": expected a JSON object {\"name\": value, ...}");
  ParamsFile out;
  const nlohmann::json* values = &j;
  if (j.contains("params")) {
    values = &j["params"];
    if (!values->is_object()) throw Error(path + ": \"params\" must be an object {\"name\": value, ...}");
    if (j.contains("task") && !(j["task"].is_string() && j["task"].get<std::string>() == task.name))
      throw Error(path + ": written for task " + j["task"].dump() + ", not '" + task.name + "'");
    for (auto it = task.settings.begin(); it != task.settings.end(); ++it)
      if (j.contains(it.key()) && j[it.key()].dump() != it.value().dump())
        throw Error(path + ": written for " + it.key() + " " + plain(j[it.key()]) + ", not " + plain(it.value()) +
                    " (pass --" + it.key() + " " + plain(j[it.key()]) + ")");
    if (j.contains("seed")) {
      if (!j["seed"].is_number_unsigned()) throw Error(path + ": \"seed\" must be a non-negative integer");
      out.hasSeed = true;
      out.seed = j["seed"].get<std::uint64_t>();
    }
  }
  const synth::ParamSpec& spec = task.spec();
  out.params.setZero(spec.size());
  std::vector<bool> seen(std::size_t(spec.size()), false);
  std::vector<std::string> unknown, missing;
  for (auto it = values->begin(); it != values->end(); ++it) {
    const Index i = spec.find(it.key());
    if (i < 0) {
      unknown.push_back(it.key());
      continue;
    }
    if (!it.value().is_number()) throw Error(path + ": value of '" + it.key() + "' is not a number");
    const double v = it.value().get<double>();
    if (!(v >= -1.0 && v <= 1.0))
      throw Error(path + ": value of '" + it.key() + "' is " + fmtNumber(v) + ", outside the model range [-1, 1]");
    out.params(i) = float(v);
    seen[std::size_t(i)] = true;
  }
  if (!unknown.empty())
    throw Error(path + ": unknown parameter" + (unknown.size() > 1 ? "s " : " ") + joinNames(unknown) + " for task " +
                task.name + " (see --list-params)");
  for (Index i = 0; i < spec.size(); ++i)
    if (!seen[std::size_t(i)]) missing.push_back(spec[i].name);
  if (!missing.empty())
    throw Error(path + ": missing parameter" + (missing.size() > 1 ? "s " : " ") + joinNames(missing));
  return out;
}

std::string paramsJson(const RenderTask& task, const Rendered& r) {
  const synth::ParamSpec& spec = task.spec();
  nlohmann::ordered_json j;
  j["task"] = task.name;
  for (auto it = task.settings.begin(); it != task.settings.end(); ++it) j[it.key()] = it.value();
  j["seed"] = r.seed;
  nlohmann::ordered_json params = nlohmann::ordered_json::object(), units = nlohmann::ordered_json::object();
  for (Index i = 0; i < spec.size(); ++i) {
    params[spec[i].name] = double(r.params(i));
    units[spec[i].name] = spec[i].toUnits(double(r.params(i)));
  }
  j["params"] = params;
  j["units"] = units;
  return j.dump(2) + "\n";
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
  const std::string taskName = findTask(renderTasks(), o.task).name;
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

  Rendered r;
  if (o.random) {
    r = task.random(o.seed, s);
  } else {
    const ParamsFile pf = readParamsJson(o.paramsPath, task);
    r = task.render(pf.params, o.seedGiven ? o.seed : (pf.hasSeed ? pf.seed : 0), s);
  }
  // Everything is computed before anything is written; each file is written atomically.
  const auto wav = io::encodeWav(r.audio, int(s.sampleRate), o.floatWav ? io::WavFormat::Float32 : io::WavFormat::Pcm16);
  const std::string json = o.saveParams.empty() ? "" : paramsJson(task, r);
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
      auto* seedOpt = app.add_option("--seed", o->seed, "random seed (with --random) / noise seed (with --params)");
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
