// symflow/core/init.hpp - weight initializers (all take an explicit Rng).
//
//   xavierUniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))
//   xavierNormal:  N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))
//   torchLinear:   PyTorch's default nn.Linear / nn.Conv1d init: weight and bias both
//                  U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)).
#pragma once
#include <cmath>

#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::init {

template <class S> void constant(S* p, Index n, double value) {
  for (Index i = 0; i < n; ++i) p[i] = S(value);
}
template <class S> void uniform(S* p, Index n, double lo, double hi, Rng& rng) {
  for (Index i = 0; i < n; ++i) p[i] = S(rng.uniform(lo, hi));
}
template <class S> void normal(S* p, Index n, double mean, double stddev, Rng& rng) {
  for (Index i = 0; i < n; ++i) p[i] = S(rng.normal(mean, stddev));
}
template <class S>
void xavierUniform(S* p, Index n, Index fanIn, Index fanOut, Rng& rng, double gain = 1.0) {
  const double a = gain * std::sqrt(6.0 / double(fanIn + fanOut));
  uniform(p, n, -a, a, rng);
}
template <class S>
void xavierNormal(S* p, Index n, Index fanIn, Index fanOut, Rng& rng, double gain = 1.0) {
  normal(p, n, 0.0, gain * std::sqrt(2.0 / double(fanIn + fanOut)), rng);
}
/// PyTorch default for Linear/Conv weights and biases with the given fan_in.
template <class S> void torchLinear(S* p, Index n, Index fanIn, Rng& rng) {
  const double a = 1.0 / std::sqrt(double(fanIn));
  uniform(p, n, -a, a, rng);
}

}  // namespace symflow::init
