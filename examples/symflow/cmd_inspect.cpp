// symflow inspect: what a checkpoint learned about grouping parameters into tokens.
//
// k-osc models:
// For cnf-param2tok it prints the learned assignment A (n tokens x P = 3k parameters; token t
// reads parameter p with weight A(t, p), paper.md "Tokenizers") as a parameter x token table,
// the groups it implies and whether each oscillator ended up on a token of its own
// (token_groups.hpp has the rules):
//   - token t reads parameter p when |A(t, p)| >= threshold * max_q |A(t, q)|  (row-relative,
//     --threshold, default 0.1; a token whose row is all zero reads nothing);
//   - oscillator i "has a token of its own" when some token reads all three of its parameters
//     (freq, amp, shape) and no parameter of another oscillator. The symmetric task's symmetry
//     is discovered when every oscillator has one (at the near-invariant init every token reads
//     every parameter, so none has).
// --csv FILE writes the table of raw A values: header "parameter,token_0,...,token_{n-1}", then
// one row per parameter in flat order (k-osc names from synth::kOscSpec).
// Other models have no learned assignment: it prints the model's settings and, for
// cnf-equivariant, the fixed grouping (token i = oscillator i+1); --csv is refused.
// --coupling N (k-osc flows: cnf-param2tok, cnf-equivariant, cnf-mlp): which parameters the
// flow couples, whatever its tokens: C(p, q) = mean |dv_p/dx_q| over the first N held-out sounds
// at t = 0.3, 0.5, 0.7 (metrics/coupling.hpp), the same-oscillator / other-oscillator ratio and
// how many oscillators the coupling pairs up (frequency with its own amplitude and shape); the
// matrix itself when k <= 8. --json gets a "coupling" object.
//
// surge-simple models: for cnf-param2tok a text heat map of A (one row per parameter, in the
// synth's groups: osc1..3, noise/high-pass, filter1..2, envelopes, lfo1..6, note; one column per
// token; the character shows |A(t, p)| relative to the largest |A| of the token: ' ' < 5 %,
// then . : - = + * # % @ in steps of ~10 %), what each token reads summarized by group
// ("lfo1 9/9": it reads all nine parameters of lfo1, by --threshold), and for each declared
// symmetry of the synth (S3: osc i with lfo i; S2: filter j with lfo 3+j) the symmetry score of
// metrics/symmetry.hpp (separation x equivariance, 1.0 = respected perfectly). --csv as for
// k-osc (93 parameter rows); --png FILE draws A (tokens x parameters, blue negative, red
// positive).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "symflow/metrics/coupling.hpp"
#include "symflow/metrics/token_groups.hpp"
#include "symflow/io/atomic_file.hpp"
#include "symflow/io/png.hpp"
#include "symflow/metrics/symmetry.hpp"
#include "symflow/nn/tokenizers.hpp"
#include "symflow/synth/kosc.hpp"
#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/surge_trainer.hpp"
#include "symflow/viz/heatmap.hpp"

namespace {

struct InspectArgs {
  std::string model, csv, png, json;
  double threshold = 0.1;
  long coupling = 0;  // held-out sounds for the vector field's coupling (0: not measured)
};

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string s;
  for (const auto& x : items) s += (s.empty() ? "" : sep) + x;
  return s;
}

/// Refuses an output path before any output (tables are printed before files are written).
void checkOutputPath(const std::string& option, const std::string& path) {
  using namespace symflow;
  if (path.empty()) return;
  namespace fs = std::filesystem;
  std::error_code ec;
  require(!fs::is_directory(path, ec), option + " " + path + ": is a folder");
  const fs::path parent = fs::path(path).parent_path();
  require(parent.empty() || fs::is_directory(parent, ec), option + " " + path + ": folder " + parent.string() +
                                                              " does not exist");
}

/// ", trained N steps" from a checkpoint's metadata.
std::string trainedSteps(const symflow::io::Metadata& meta, const std::string& path) {
  using namespace symflow;
  if (!meta.count("symflow_train_state")) return "";
  try {
    const auto t = json::parse(meta.at("symflow_train_state"), path + " train state");
    return ", trained " + std::to_string(t.at("step").asInt64()) + " steps";
  } catch (const std::exception&) {
    return ", training state unreadable";
  }
}

/// The raw A values as CSV: "parameter,token_0,...", one row per parameter.
/// --json FILE ("-": standard output): the grouping numbers as one JSON object.
void writeInspectJson(const std::string& path, const symflow::json::Value& v) {
  const std::string text = symflow::json::dump(v) + "\n";
  if (path == "-")
    std::cout << text;
  else
    symflow::io::writeFileAtomically(path, text);
}

void writeAssignmentCsv(const std::string& path, const symflow::Mat<float>& A, const symflow::synth::ParamSpec& spec) {
  using namespace symflow;
  const Index n = A.rows(), P = A.cols();
  std::ostringstream o;
  o << "parameter";
  for (Index t = 0; t < n; ++t) o << ",token_" << t;
  o << "\n" << std::setprecision(9);
  for (Index p = 0; p < P; ++p) {
    o << spec[p].name;
    for (Index t = 0; t < n; ++t) o << "," << A(t, p);
    o << "\n";
  }
  io::writeFileAtomically(path, o.str());
  std::cout << "wrote " << path << " (" << P << " parameters x " << n << " tokens)\n";
}

void runSurge(const InspectArgs& a) {
  symflow::require(a.coupling == 0, "--coupling: k-osc flows only (surge-simple has no oscillator pairing to score)");
  using namespace symflow;
  io::Metadata meta;
  auto model = cli::forOption("--model", [&] { return train::loadSurgeModel(a.model, &meta); });
  const auto& cfg = model->config();
  const auto assignment = model->param2TokAssignment();
  for (const auto& [opt, path] : {std::pair<const char*, std::string>{"--csv", a.csv}, {"--png", a.png}})
    require(path.empty() || assignment.has_value(), std::string(opt) + ": surge-simple " + models::toString(cfg.kind) +
                                                        " has no learned assignment (only cnf-param2tok learns one)");
  std::cout << "model " << a.model << ": surge-simple " << models::toString(cfg.kind) << ", "
            << model->store().size() << " weights" << trainedSteps(meta, a.model) << "\n";
  if (!assignment) {
    std::cout << "no learned assignment: only cnf-param2tok models learn which parameters share a token\n";
    return;
  }
  const Mat<float>& A = *assignment;
  const auto& spec = synth::SurgeSynth::spec();
  const Index n = A.rows(), P = A.cols();
  require(P == spec.size(), "the assignment has " + std::to_string(P) + " columns, expected " +
                                std::to_string(spec.size()));
  const Vec<float> rowMax = A.cwiseAbs().rowwise().maxCoeff();
  auto level = [&](Index t, Index p) { return rowMax(t) > 0 ? std::abs(A(t, p)) / rowMax(t) : 0.0f; };
  size_t nameWidth = 9;
  for (Index p = 0; p < P; ++p) nameWidth = std::max(nameWidth, spec[p].name.size());
  std::cout << "Param2Tok assignment A (" << n << " tokens x " << P << " parameters): |A(t,p)| relative to token t's "
            << "largest, ' ' < 5%, then . : - = + * # % @ (@ = 90% or more)\n";
  std::cout << std::left << std::setw(int(nameWidth)) << "parameter" << "  tokens 0.." << n - 1 << "\n";
  const char* ramp = ".:-=+*#%@";
  std::string group;
  for (Index p = 0; p < P; ++p) {
    if (spec[p].group != group) {
      group = spec[p].group;
      std::cout << "-- " << group << "\n";
    }
    std::cout << std::left << std::setw(int(nameWidth)) << spec[p].name << "  ";
    for (Index t = 0; t < n; ++t) {
      const float v = level(t, p);
      std::cout << (v < 0.05f ? ' ' : ramp[std::min(8, int(v * 10.0f) - (v >= 0.1f ? 1 : 0))]);
    }
    std::cout << "\n";
  }
  std::cout << "what each token reads (parameters with |A| >= " << a.threshold << " x the token's largest, by group):\n";
  for (Index t = 0; t < n; ++t) {
    std::vector<std::string> parts;
    for (Index p = 0; p < P;) {
      const std::string g = spec[p].group;
      Index total = 0, read = 0;
      for (; p < P && spec[p].group == g; ++p, ++total) read += level(t, p) >= a.threshold ? 1 : 0;
      if (read > 0) parts.push_back(g + " " + std::to_string(read) + "/" + std::to_string(total));
    }
    std::cout << "  token_" << t << ": " << (parts.empty() ? "nothing" : join(parts)) << "\n";
  }
  std::cout << "symmetry scores (metrics/symmetry.hpp; 1.0 = the assignment respects the symmetry perfectly, 0 = "
               "it cannot tell the blocks apart):\n" << std::fixed << std::setprecision(3);
  for (const auto& sym : spec.symmetries) {
    const auto sc = metrics::symmetryScore(A, sym);
    std::cout << "  " << sym.name << ": score " << sc.score << " (separation " << sc.separation << ", equivariance "
              << sc.equivariance << ")\n";
  }
  std::cout.unsetf(std::ios::floatfield);
  if (!a.json.empty()) {
    json::Value v = json::Value::object(), arr = json::Value::array();
    v.set("task", "surge-simple").set("model", "cnf-param2tok").set("tokens", n);
    for (const auto& sym : spec.symmetries) {
      const auto sc = metrics::symmetryScore(A, sym);
      json::Value o = json::Value::object();
      o.set("name", sym.name).set("score", sc.score).set("separation", sc.separation).set("equivariance", sc.equivariance);
      arr.push(o);
    }
    v.set("symmetries", arr);
    writeInspectJson(a.json, v);
  }
  if (!a.csv.empty()) writeAssignmentCsv(a.csv, A, spec);
  if (!a.png.empty()) {
    viz::HeatmapOptions ho;
    ho.diverging = true;
    const auto png = viz::encodePng(viz::heatmap(A, P * 8, n * 8, ho));
    io::writeFileAtomically(a.png, std::string(png.begin(), png.end()));
    std::cout << "wrote " << a.png << " (" << n << " tokens x " << P << " parameters, 8 x 8 pixels per cell)\n";
  }
}

void run(const InspectArgs& a) {
  using namespace symflow;
  require(!a.model.empty(), "give --model FILE");
  require(a.threshold > 0 && a.threshold <= 1, "--threshold must be in (0, 1]");
  checkOutputPath("--csv", a.csv);
  checkOutputPath("--png", a.png);
  if (cli::forOption("--model", [&] { return train::readModelTask(a.model); }) == "surge-simple") {
    runSurge(a);
    return;
  }
  require(a.png.empty(), "--png: k-osc models: see symflow demo's page for the assignment pictures");
  io::Metadata meta;
  auto model = cli::forOption("--model", [&] { return train::loadKOscModel(a.model, &meta); });
  const auto& cfg = model->config();
  const auto assignment = model->param2TokAssignment();
  require(a.csv.empty() || assignment.has_value(),
          "--csv: " + models::toString(cfg.kind) + " has no learned assignment (only cnf-param2tok learns one)");

  const auto spec = synth::kOscSpec(cfg.k, cfg.variant);
  const Index k = cfg.k, P = spec.size();
  const std::string trained = trainedSteps(meta, a.model);
  std::cout << "model " << a.model << ": " << models::toString(cfg.kind) << ", k = " << k << ", "
            << models::toString(cfg.variant) << ", " << models::toString(cfg.encoder) << " encoder, "
            << model->store().size() << " weights" << trained << "\n";

  json::Value couplingJson;  // null unless --coupling
  if (a.coupling > 0) {
    synth::KOscStream<float> stream(k, cfg.variant, 0);
    const auto sounds = stream.testSounds(0, Index(a.coupling));
    audio::RealFft<float> fft(synth::KOscConstants::numSamples);
    Mat<float> features;
    models::kOscFeatures<float>(sounds.signals, fft, features);
    const auto field = model->velocityField(features);
    require(bool(field), "--coupling: " + models::toString(cfg.kind) + " is not a flow (no vector field to differentiate)");
    Rng rng(0);
    const Mat<double> C = metrics::velocityCoupling(field, sounds.params, {0.3f, 0.5f, 0.7f}, rng);
    const auto pairs = metrics::kOscCouplingPairs(C, k);
    if (k <= 8) {
      std::cout << "coupling C(p, q) = mean |dv_p/dx_q| (row p, column q) over " << a.coupling
                << " held-out sounds, t = 0.3, 0.5, 0.7:\n" << std::setw(11) << "";
      for (Index q = 0; q < P; ++q) std::cout << std::setw(11) << spec[q].name;
      std::cout << "\n";
      for (Index p = 0; p < P; ++p) {
        std::cout << std::left << std::setw(11) << spec[p].name << std::right;
        for (Index q = 0; q < P; ++q) {
          char cell[32];
          std::snprintf(cell, sizeof cell, "%.4f", C(p, q));
          std::cout << std::setw(11) << cell;
        }
        std::cout << "\n";
      }
    }
    std::cout << "coupling: the flow pairs " << pairs.oscillators << " of " << k
              << " oscillators (each frequency with its own amplitude: " << pairs.amplitude << ", shape: "
              << pairs.shape << "); same-oscillator / other-oscillator coupling " << std::fixed
              << std::setprecision(2) << pairs.ratio << " (1 = no grouping)\n";
    std::cout.unsetf(std::ios::floatfield);
    couplingJson = json::Value::object();
    couplingJson.set("sounds", std::int64_t(a.coupling)).set("ratio", pairs.ratio).set("oscillators", pairs.oscillators);
    couplingJson.set("amplitude", pairs.amplitude).set("shape", pairs.shape);
    json::Value rows = json::Value::array();
    for (Index p = 0; p < P; ++p) {
      json::Value row = json::Value::array();
      for (Index q = 0; q < P; ++q) row.push(json::Value(C(p, q)));
      rows.push(row);
    }
    couplingJson.set("matrix", rows);
  }

  if (!assignment) {
    if (cfg.kind == models::ModelKind::CnfEquivariant) {
      // The grouping makeKOscModel gives FixedTokenizer: oscillator i is token i.
      const auto layout = nn::GroupLayout::parameterMajor(k, 3);
      std::cout << "fixed tokens (not learned), one per oscillator:\n";
      for (Index g = 0; g < layout.groups(); ++g) {
        std::vector<std::string> names;
        for (Index s = 0; s < layout.perGroup(); ++s) names.push_back(spec[layout.at(g, s)].name);
        std::cout << "  token_" << g << ": " << join(names) << "\n";
      }
    }
    std::cout << "no learned assignment: only cnf-param2tok models learn which parameters share a token\n";
    if (!a.json.empty() && !couplingJson.isNull()) {
      json::Value v = json::Value::object();
      v.set("task", "kosc").set("model", models::toString(cfg.kind)).set("k", k).set("coupling", couplingJson);
      writeInspectJson(a.json, v);
    }
    return;
  }

  const Mat<float>& A = *assignment;  // n x P
  const Index n = A.rows();
  require(A.cols() == P, "the assignment has " + std::to_string(A.cols()) + " columns, expected 3k = " +
                             std::to_string(P));
  const auto groups = metrics::tokenGroups(A, k, a.threshold);
  const auto& reads = groups.reads;  // reads[t][p]: token t reads parameter p

  std::cout << "Param2Tok assignment A (" << n << " tokens x " << P << " parameters); '*': the token reads the "
            << "parameter (|A(t,p)| >= " << a.threshold << " x the largest |A(t,.)| of that token)\n";
  size_t nameWidth = 9;
  for (Index p = 0; p < P; ++p) nameWidth = std::max(nameWidth, spec[p].name.size());
  std::cout << std::left << std::setw(int(nameWidth)) << "parameter" << std::right;
  for (Index t = 0; t < n; ++t) std::cout << std::setw(11) << ("token_" + std::to_string(t));
  std::cout << "\n";
  for (Index p = 0; p < P; ++p) {
    std::cout << std::left << std::setw(int(nameWidth)) << spec[p].name << std::right;
    for (Index t = 0; t < n; ++t) {
      char cell[32];
      std::snprintf(cell, sizeof cell, "%+.4f%c", double(A(t, p)), reads[size_t(t)][size_t(p)] ? '*' : ' ');
      std::cout << std::setw(11) << cell;
    }
    std::cout << "\n";
  }

  std::cout << "groups (the parameters each token reads):\n";
  for (Index t = 0; t < n; ++t) {
    std::vector<std::string> names;
    for (Index p = 0; p < P; ++p)
      if (reads[size_t(t)][size_t(p)]) names.push_back(spec[p].name);
    std::cout << "  token_" << t << ": " << (names.empty() ? "nothing" : join(names)) << "\n";
  }

  std::vector<std::string> own, without;
  for (Index i = 0; i < k; ++i) {
    const std::string osc = "osc" + std::to_string(i + 1);
    const Index t = groups.ownToken[size_t(i)];
    if (t >= 0) own.push_back(osc + " -> token_" + std::to_string(t));
    else without.push_back(osc);
  }
  std::cout << "symmetry: " << groups.numOwn() << " of " << k
            << " oscillators have their three parameters on a token of their own"
            << (own.size() == size_t(k) ? " (discovered)" : own.empty() ? " (not discovered)" : " (partly)");
  if (!own.empty()) std::cout << "; " << join(own);
  if (!without.empty()) std::cout << "; shared or split: " << join(without);
  if (cfg.variant == synth::KOscVariant::Asymmetric) std::cout << " [asymmetric variant: no symmetry declared]";
  std::cout << "\n";
  const auto grouping = metrics::kOscGrouping(A, k);
  std::cout << "grouping: " << grouping.own << " of " << k << " oscillators grouped; graded (symmetry score of the "
            << "oscillator blocks, 1 = perfect): score " << std::fixed << std::setprecision(3) << grouping.score
            << " (separation " << grouping.separation << ", equivariance " << grouping.equivariance << ")\n";
  std::cout.unsetf(std::ios::floatfield);
  if (!a.json.empty()) {
    json::Value v = json::Value::object(), tokens = json::Value::array();
    v.set("task", "kosc").set("model", "cnf-param2tok").set("k", k).set("tokens", n).set("threshold", a.threshold);
    v.set("own", grouping.own).set("discovered", grouping.own == k);
    v.set("separation", grouping.separation).set("equivariance", grouping.equivariance).set("score", grouping.score);
    for (Index i = 0; i < k; ++i) tokens.push(json::Value(groups.ownToken[size_t(i)]));
    v.set("own_token", tokens);
    if (!couplingJson.isNull()) v.set("coupling", couplingJson);
    writeInspectJson(a.json, v);
  }

  if (!a.csv.empty()) writeAssignmentCsv(a.csv, A, spec);
}

symflow::cli::RegisterCommand reg("inspect", "Show the parameter-to-token grouping a model learned (k-osc, surge-simple)",
                                  [](CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  app.add_option("--model", a->model, "Checkpoint written by symflow train")->required();
  app.add_option("--csv", a->csv, "Also write the parameter x token table of A to this CSV file (cnf-param2tok)");
  app.add_option("--png", a->png, "surge-simple cnf-param2tok: also draw A (tokens x parameters) to this PNG file");
  app.add_option("--json", a->json,
                 "cnf-param2tok: also write the grouping numbers as JSON to this file (- for standard output)");
  app.add_option("--threshold", a->threshold,
                 "A token reads a parameter when |A| >= this x the token's largest |A|")->capture_default_str();
  app.add_option("--coupling", a->coupling,
                 "k-osc flows: measure which parameters the vector field couples on this many held-out sounds "
                 "(0: off)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.callback([a] { run(*a); });
});

}  // namespace
