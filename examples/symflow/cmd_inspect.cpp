// symflow inspect: what a k-osc checkpoint learned about grouping parameters into tokens.
//
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
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "token_groups.hpp"
#include "symflow/nn/tokenizers.hpp"
#include "symflow/synth/kosc.hpp"
#include "symflow/train/kosc_trainer.hpp"

namespace {

struct InspectArgs {
  std::string model, csv;
  double threshold = 0.1;
};

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string s;
  for (const auto& x : items) s += (s.empty() ? "" : sep) + x;
  return s;
}

void run(const InspectArgs& a) {
  using namespace symflow;
  require(!a.model.empty(), "give --model FILE");
  require(a.threshold > 0 && a.threshold <= 1, "--threshold must be in (0, 1]");
  io::Metadata meta;
  auto model = train::loadKOscModel(a.model, &meta);
  const auto& cfg = model->config();
  const auto assignment = model->param2TokAssignment();
  require(a.csv.empty() || assignment.has_value(),
          "--csv: " + models::toString(cfg.kind) + " has no learned assignment (only cnf-param2tok learns one)");

  const auto spec = synth::kOscSpec(cfg.k, cfg.variant);
  const Index k = cfg.k, P = spec.size();
  std::string trained;
  if (meta.count("symflow_train_state")) {
    try {
      const auto t = json::parse(meta.at("symflow_train_state"), a.model + " train state");
      trained = ", trained " + std::to_string(t.at("step").asInt64()) + " steps";
    } catch (const std::exception&) {
      trained = ", training state unreadable";
    }
  }
  std::cout << "model " << a.model << ": " << models::toString(cfg.kind) << ", k = " << k << ", "
            << models::toString(cfg.variant) << ", " << models::toString(cfg.encoder) << " encoder, "
            << model->store().size() << " weights" << trained << "\n";

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
    return;
  }

  const Mat<float>& A = *assignment;  // n x P
  const Index n = A.rows();
  require(A.cols() == P, "the assignment has " + std::to_string(A.cols()) + " columns, expected 3k = " +
                             std::to_string(P));
  const auto groups = cli::tokenGroups(A, k, a.threshold);
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

  if (!a.csv.empty()) {
    std::ostringstream o;
    o << "parameter";
    for (Index t = 0; t < n; ++t) o << ",token_" << t;
    o << "\n" << std::setprecision(9);
    for (Index p = 0; p < P; ++p) {
      o << spec[p].name;
      for (Index t = 0; t < n; ++t) o << "," << A(t, p);
      o << "\n";
    }
    std::ofstream f(a.csv, std::ios::trunc);
    require(bool(f), "cannot create " + a.csv);
    f << o.str();
    f.close();
    require(bool(f), "cannot write " + a.csv);
    std::cout << "wrote " << a.csv << " (" << P << " parameters x " << n << " tokens)\n";
  }
}

symflow::cli::RegisterCommand reg("inspect", "Show the parameter-to-token grouping a k-osc model learned",
                                  [](CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  app.add_option("--model", a->model, "Checkpoint written by symflow train")->required();
  app.add_option("--csv", a->csv, "Also write the parameter x token table of A to this CSV file (cnf-param2tok)");
  app.add_option("--threshold", a->threshold,
                 "A token reads a parameter when |A| >= this x the token's largest |A|")->capture_default_str();
  app.callback([a] { run(*a); });
});

}  // namespace
