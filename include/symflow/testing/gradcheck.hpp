// symflow/testing/gradcheck.hpp - central-difference gradient checks (public: users test
// their own layers with it).
//
// checkGradient compares analytic[i] with (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for
// every i (n <= maxEntries) or a random sample of maxEntries indices. Entry i passes when
//     |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
// Defaults (double precision): eps 1e-6, rtol 1e-5, atol 1e-7. Central differences have
// truncation error O(eps^2) and rounding error O(1e-16 |f| / eps), both far below these.
//
// checkLayerGradients runs the standard probe for a single-input layer: loss = sum(R . y)
// (+ penalty) with fixed random R, so dL/dy = R, and checks the input gradient and every
// parameter gradient.
#pragma once
#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::testing {

struct GradCheckOptions {
  double eps = 1e-6;
  double rtol = 1e-5;
  double atol = 1e-7;
  Index maxEntries = 256;
};

struct GradCheckResult {
  bool ok = true;
  Index checked = 0;
  Index failures = 0;
  double worstExcess = 0;  // max over entries of |a - n| / (atol + rtol max(|a|, |n|))
  std::string what, worst;
  std::string summary() const {
    std::ostringstream s;
    s << what << ": " << (ok ? "ok" : "FAILED") << ", " << checked << " entries, " << failures
      << " failures, worst error/tolerance " << worstExcess;
    if (!worst.empty()) s << " at " << worst;
    return s.str();
  }
};

/// Indices to check: all of [0, n) or a random sample of maxEntries of them.
inline std::vector<Index> sampleIndices(Index n, Index maxEntries, Rng& rng) {
  std::vector<Index> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), Index(0));
  if (n <= maxEntries) return idx;
  for (Index i = 0; i < maxEntries; ++i) {  // partial Fisher-Yates
    const Index j = i + Index(rng.below(std::uint64_t(n - i)));
    std::swap(idx[size_t(i)], idx[size_t(j)]);
  }
  idx.resize(size_t(maxEntries));
  return idx;
}

/// f() evaluates the scalar loss from the current contents of x[0..n).
template <class S, class F>
GradCheckResult checkGradient(F&& f, S* x, Index n, const S* analytic, Rng& rng,
                              const GradCheckOptions& opt = {}, const std::string& what = "") {
  GradCheckResult r;
  r.what = what;
  for (Index i : sampleIndices(n, opt.maxEntries, rng)) {
    const S saved = x[i];
    x[i] = saved + S(opt.eps);
    const double fp = double(f());
    x[i] = saved - S(opt.eps);
    const double fm = double(f());
    x[i] = saved;
    const double num = (fp - fm) / (2 * opt.eps);
    const double a = double(analytic[i]);
    const double tol = opt.atol + opt.rtol * std::max(std::abs(a), std::abs(num));
    const double excess = std::abs(a - num) / tol;
    ++r.checked;
    if (!(excess <= 1.0)) {  // also catches NaN
      ++r.failures;
      r.ok = false;
    }
    if (!(excess <= r.worstExcess)) {
      r.worstExcess = excess;
      std::ostringstream s;
      s << "entry " << i << " (analytic " << a << ", numeric " << num << ")";
      r.worst = s.str();
    }
  }
  return r;
}

/// Fills a matrix with i.i.d. N(0, stddev^2) entries.
template <class S> Mat<S> randomMatrix(Index rows, Index cols, Rng& rng, double stddev = 1.0) {
  Mat<S> m(rows, cols);
  rng.fillNormal(m.data(), m.data() + m.size(), 0.0, stddev);
  return m;
}

struct LayerGradCheck {
  GradCheckResult input, params;
  bool ok() const { return input.ok && params.ok; }
  std::string summary() const { return input.summary() + "; " + params.summary(); }
};

/// Standard probe for a layer with forward(x, y, cache) / backward(cache, dy, dx) and a
/// penalty(). The layer must already be bound to `store` and initialized.
template <class S, class Layer>
LayerGradCheck checkLayerGradients(Layer& layer, ParamStore<S>& store, Mat<S> x, Rng& rng,
                                   const GradCheckOptions& opt = {}) {
  typename Layer::Cache cache;
  Mat<S> y, dx;
  layer.forward(x, y, cache);
  const Mat<S> R = randomMatrix<S>(y.rows(), y.cols(), rng);
  auto loss = [&]() {
    Mat<S> yy;
    typename Layer::Cache cc;
    layer.forward(x, yy, cc);
    return (yy.array() * R.array()).sum() + layer.penalty();
  };
  layer.forward(x, y, cache);
  store.zeroGrad();
  layer.backward(cache, R, dx);
  const Vec<S> g = store.grads();
  LayerGradCheck out;
  out.input = checkGradient(loss, x.data(), x.size(), dx.data(), rng, opt, "input gradient");
  out.params = checkGradient(loss, store.weights().data(), store.size(), g.data(), rng, opt,
                             "parameter gradient");
  return out;
}

}  // namespace symflow::testing
