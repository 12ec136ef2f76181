// symflow/synth/param_spec.hpp - a synthesizer's parameter set described as data.
//
// A ParamSpec lists every parameter of a synth in its flat order: name, range [min, max] in
// musical units, unit label, mapping curve and group (e.g. "osc2"), plus the synth's declared
// symmetries. The model always sees a parameter as v in [-1, 1]; the synth maps v to units:
//
//   u = (clamp(v, -1, 1) + 1) / 2                       (position in the range, [0, 1])
//   Linear:      x = min + (max - min) u
//   Exponential: x = min (max / min)^u                  (min, max > 0; log-like, e.g. Hz, s)
//   Cubic:       x = min + (max - min) (c + 1) / 2, c = v^3
//                (symmetric ranges [-M, M] give x = M v^3: fine control near 0, e.g. depths)
//   Cube:        x = min + (max - min) u^3          (Surge's amplitude law for levels)
//
// toModel() is the inverse (values outside [min, max] are clamped first).
//
// Symmetries: a Symmetry is a list of n equally long blocks of parameter indices. Block a
// holds the parameters of group position a (e.g. oscillator a with its LFO), in the same
// order in every block. A permutation pi of {0..n-1} moves the parameters of position a to
// position pi[a]: out[blocks[pi[a]][m]] = in[blocks[a][m]] for every m. Declaring a symmetry
// means the synth's output is unchanged by every such permutation (tests check it).
// Several symmetries act on disjoint index sets and commute.
//
// The spec type is synth-agnostic: the k-osc synth is described by params f_i, a_i, w_i and
// one Symmetry whose block i is {f_i, a_i, w_i}.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "symflow/core/types.hpp"

namespace symflow::synth {

enum class Curve { Linear, Exponential, Cubic, Cube };

inline const char* curveName(Curve c) {
  switch (c) {
    case Curve::Linear: return "linear";
    case Curve::Exponential: return "exp";
    case Curve::Cubic: return "cubic";
    case Curve::Cube: return "cube";
  }
  return "?";
}

/// One parameter: model value v in [-1, 1] <-> x in [min, max] (units) through `curve`.
struct ParamInfo {
  std::string name;
  double min = 0, max = 1;
  std::string unit;  // "Hz", "s", "semitones", "" (unitless), ...
  Curve curve = Curve::Linear;
  std::string group;  // "osc1", "filter2", "lfo6", "note", ...
  std::string help;   // one line: what it does

  /// Model value (clamped to [-1, 1]; NaN maps to the middle of the range) to units.
  double toUnits(double v) const {
    if (std::isnan(v)) v = 0;
    v = std::clamp(v, -1.0, 1.0);
    const double u = 0.5 * (v + 1.0);
    switch (curve) {
      case Curve::Linear: return min + (max - min) * u;
      case Curve::Exponential: return min * std::pow(max / min, u);
      case Curve::Cubic: return min + (max - min) * 0.5 * (v * v * v + 1.0);
      case Curve::Cube: return min + (max - min) * u * u * u;
    }
    return min;
  }
  /// Units (clamped to [min, max]) to the model value in [-1, 1].
  double toModel(double x) const {
    x = std::clamp(x, std::min(min, max), std::max(min, max));
    double u = 0;
    switch (curve) {
      case Curve::Linear: u = (max == min) ? 0.5 : (x - min) / (max - min); break;
      case Curve::Exponential: u = std::log(x / min) / std::log(max / min); break;
      case Curve::Cubic: {
        const double c = 2.0 * (x - min) / (max - min) - 1.0;
        return std::clamp(std::cbrt(c), -1.0, 1.0);
      }
      case Curve::Cube: u = std::cbrt((x - min) / (max - min)); break;
    }
    return std::clamp(2.0 * u - 1.0, -1.0, 1.0);
  }
};

/// A declared permutation symmetry: blocks[a] = parameter indices of group position a.
struct Symmetry {
  std::string name;                         // e.g. "S3 oscillators (osc i with lfo i)"
  std::vector<std::vector<Index>> blocks;   // n blocks, all the same length
  Index order() const { return Index(blocks.size()); }
};

/// A synth's full parameter description (see the header comment).
struct ParamSpec {
  std::string name;
  std::vector<ParamInfo> params;
  std::vector<Symmetry> symmetries;

  Index size() const { return Index(params.size()); }
  const ParamInfo& operator[](Index i) const { return params[std::size_t(i)]; }

  /// Index of the parameter called `name`, or -1.
  Index find(const std::string& paramName) const {
    for (std::size_t i = 0; i < params.size(); ++i)
      if (params[i].name == paramName) return Index(i);
    return -1;
  }
  /// Index of `name`; throws Error naming it when absent.
  Index indexOf(const std::string& paramName) const {
    const Index i = find(paramName);
    require(i >= 0, name + ": no parameter named '" + paramName + "'");
    return i;
  }

  /// Checks the spec is well formed: names unique and non-empty, ranges finite and non-empty,
  /// exponential ranges positive, symmetry blocks equally long, in range, disjoint (within and
  /// across symmetries), and position-wise matching in range/unit/curve. Throws Error.
  void validate() const {
    std::set<std::string> names;
    for (const auto& p : params) {
      require(!p.name.empty(), name + ": a parameter has no name");
      require(names.insert(p.name).second, name + ": duplicate parameter name '" + p.name + "'");
      require(std::isfinite(p.min) && std::isfinite(p.max) && p.max > p.min,
              name + ": parameter '" + p.name + "' has an empty or non-finite range");
      if (p.curve == Curve::Exponential)
        require(p.min > 0, name + ": exponential parameter '" + p.name + "' needs min > 0");
    }
    std::set<Index> used;
    for (const auto& s : symmetries) {
      require(s.blocks.size() >= 2, name + ": symmetry '" + s.name + "' needs at least 2 blocks");
      const std::size_t len = s.blocks[0].size();
      for (const auto& b : s.blocks) {
        require(b.size() == len && len > 0, name + ": symmetry '" + s.name + "' has blocks of different lengths");
        for (std::size_t m = 0; m < len; ++m) {
          const Index i = b[m];
          require(i >= 0 && i < size(), name + ": symmetry '" + s.name + "' names a parameter index out of range");
          require(used.insert(i).second, name + ": parameter '" + params[std::size_t(i)].name +
                                             "' appears twice in the declared symmetries");
          const ParamInfo& p0 = params[std::size_t(s.blocks[0][m])];
          const ParamInfo& p = params[std::size_t(i)];
          require(p.min == p0.min && p.max == p0.max && p.unit == p0.unit && p.curve == p0.curve,
                  name + ": symmetry '" + s.name + "' pairs '" + p0.name + "' with '" + p.name +
                      "' whose mappings differ");
        }
      }
    }
  }

  /// Applies permutation `perm` of symmetry `sym` to every column of x (size() x B):
  /// column[blocks[perm[a]][m]] <- column[blocks[a][m]]. Other rows are copied unchanged.
  template <class S>
  Mat<S> permuted(const CMatRef<S>& x, Index sym, const std::vector<Index>& perm) const {
    require(x.rows() == size(), name + ": permuted() expects " + std::to_string(size()) + " rows");
    require(sym >= 0 && sym < Index(symmetries.size()), name + ": no symmetry number " + std::to_string(sym));
    const Symmetry& s = symmetries[std::size_t(sym)];
    require(Index(perm.size()) == s.order(), name + ": permutation length does not match symmetry order");
    std::vector<Index> sorted(perm);
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t a = 0; a < sorted.size(); ++a)
      require(sorted[a] == Index(a), name + ": not a permutation");
    Mat<S> out = x;
    for (std::size_t a = 0; a < perm.size(); ++a) {
      const auto& from = s.blocks[a];
      const auto& to = s.blocks[std::size_t(perm[a])];
      for (std::size_t m = 0; m < from.size(); ++m) out.row(to[m]) = x.row(from[m]);
    }
    return out;
  }
};

/// All permutations of {0..n-1} in lexicographic order (the identity first).
inline std::vector<std::vector<Index>> allPermutations(Index n) {
  std::vector<Index> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), Index(0));
  std::vector<std::vector<Index>> out;
  do out.push_back(p);
  while (std::next_permutation(p.begin(), p.end()));
  return out;
}

}  // namespace symflow::synth
