// symflow/optim/clip.hpp - global gradient-norm clipping (PyTorch clip_grad_norm_).
//
// Input: the flat gradient buffer g (length n; all parameters of a model together).
//   norm  = sqrt(sum_i g_i^2)    (Eigen-vectorized sums over blocks of 4096, added in double)
//   coef  = maxNorm / (norm + 1e-6)
//   if coef < 1:  g <- g * coef                    (so the new norm is just below maxNorm)
// Returns norm, the norm before clipping (log it: it is the usual health signal).
// Same as torch.nn.utils.clip_grad_norm_(params, maxNorm) with norm_type 2, except for
// non-finite norms: PyTorch then multiplies the gradients by NaN; here they are left as
// they are and the NaN/Inf norm is returned, so the caller can skip the step.
#pragma once
#include <algorithm>
#include <cmath>

#include "symflow/core/params.hpp"
#include "symflow/core/types.hpp"

namespace symflow::optim {

/// Sum of squares of n values, in blocks vectorized by Eigen and summed in double.
template <class S> double squaredNorm(const S* x, Index n) {
  constexpr Index kBlock = 4096;
  double total = 0;
  for (Index i = 0; i < n; i += kBlock) {
    const Index len = std::min(kBlock, n - i);
    total += double(CVecMap<S>(x + i, len).squaredNorm());
  }
  return total;
}

template <class S> double gradNorm(const S* grads, Index n) { return std::sqrt(squaredNorm(grads, n)); }

/// Scales grads[0, n) so that their L2 norm is at most maxNorm; returns the norm before.
template <class S> double clipGradNorm(S* grads, Index n, double maxNorm) {
  require(maxNorm > 0 && std::isfinite(maxNorm), "clipGradNorm: maxNorm must be positive and finite");
  const double norm = gradNorm(grads, n);
  if (!std::isfinite(norm)) return norm;
  const double coef = maxNorm / (norm + 1e-6);
  if (coef < 1.0) {
    const S c = S(coef);
    for (Index i = 0; i < n; ++i) grads[i] *= c;  // auto-vectorized
  }
  return norm;
}

template <class S> double clipGradNorm(ParamStore<S>& store, double maxNorm) {
  return clipGradNorm(store.grads().data(), store.size(), maxNorm);
}
template <class S> double gradNorm(const ParamStore<S>& store) { return gradNorm(store.grads().data(), store.size()); }

}  // namespace symflow::optim
