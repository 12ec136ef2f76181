// examples/symflow/render_tasks.hpp - the synths the command-line program knows ("tasks"):
// each with its parameter spec, a renderer for given parameters and one for a random patch,
// plus the parameter-JSON reader/writer that `symflow render --params / --save-params` and
// `symflow invert` share. Part of the example programs (nlohmann-json), not of the library.
//
// Params JSON (what paramsJson writes and readParamsJson reads back):
//   {"task": "kosc", "k": 4, "variant": "symmetric", "seed": 0,
//    "params": {"osc1_freq": -0.3, ...},      model units, [-1, 1]
//    "units": {"osc1_freq": 709.5, ...}}     the synth's own units (Hz, amplitude, shape)
// readParamsJson also takes a bare {"name": value, ...} object. Other top-level keys are
// ignored, except the task's settings (e.g. "k", "variant"), which must match.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "symflow/synth/kosc.hpp"
#include "symflow/synth/surge.hpp"

namespace symflow::cli {

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
  /// Refuses settings the synth cannot render, naming the option (empty: all accepted).
  std::function<void(const RenderSettings&)> checkSettings;
};

inline RenderTask makeSurgeTask() {
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
  t.checkSettings = [](const RenderSettings& s) {
    auto validate = [](const char* option, const synth::SurgeConfig& c) {
      try {
        c.validate();
      } catch (const Error& e) {
        throw Error(std::string(option) + ": " + e.what());
      }
    };
    synth::SurgeConfig rate, length;
    rate.sampleRate = s.sampleRate;
    length.seconds = s.seconds;
    validate("--sample-rate", rate);
    validate("--seconds", length);
  };
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

inline constexpr long kMaxKOscOscillators = 1024;

inline RenderTask makeKOscTask(const TaskOptions& o) {
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

inline std::vector<RenderTask> renderTasks(const TaskOptions& o = {}) { return {makeSurgeTask(), makeKOscTask(o)}; }

inline const RenderTask& findTask(const std::vector<RenderTask>& tasks, const std::string& name) {
  std::string known;
  for (const auto& t : tasks) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  throw Error("unknown task '" + name + "' (known: " + known + ")");
}

inline std::string fmtNumber(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

inline std::string joinNames(const std::vector<std::string>& names) {
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
template <class Json> inline std::string plain(const Json& v) {
  return v.is_string() ? v.template get<std::string>() : v.dump();
}

/// Parses params JSON text (see the top of this file); `path` names it in errors. The entry
/// point of fuzz/fuzz_params_json.cpp: reads only `text`, every problem is a symflow::Error.
inline ParamsFile parseParamsJson(const std::string& text, const std::string& path, const RenderTask& task) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
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

/// Reads and parses a params JSON file (parseParamsJson).
inline ParamsFile readParamsJson(const std::string& path, const RenderTask& task) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error("params file '" + path + "' is a directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open params file '" + path + "'");
  std::ostringstream text;
  text << f.rdbuf();
  return parseParamsJson(text.str(), path, task);
}

inline nlohmann::ordered_json paramsJsonObject(const RenderTask& task, const Rendered& r) {
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
  return j;
}

inline std::string paramsJson(const RenderTask& task, const Rendered& r) { return paramsJsonObject(task, r).dump(2) + "\n"; }

}  // namespace symflow::cli
