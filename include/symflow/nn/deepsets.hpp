// symflow/nn/deepsets.hpp - DeepSets permutation-equivariant layer (Zaheer et al. 2017).
//
// Shapes:   x: in x (B*n)  ->  y: out x (B*n)   (n tokens per sample, passed to forward as for
//           every token layer; tokens of a sample contiguous: column b*n + i is token i of b)
// Forward:  m_b = (1/n) sum_j x_{b,j}                         (set mean, in x B)
//           y_{b,i} = Lambda x_{b,i} + Gamma m_b + bias        (Lambda, Gamma: out x in)
//           Permuting the tokens of a sample permutes its outputs the same way:
//           f(X P) = f(X) P for any within-sample permutation P of the columns.
// Backward: s_b = sum_i dy_{b,i} (out x B);  dm_b = Gamma^T s_b;
//           dx_{b,j} = Lambda^T dy_{b,j} + dm_b / n;
//           dLambda += dy x^T;  dbias += rowsum(dy);  dGamma += s m^T.
//           Reads the cached input view of x (x must stay alive until backward), n and the set
//           means m kept in the cache.
// Params:   "Lambda.weight" (out, in), "Lambda.bias" (out) [when bias], "Gamma.weight"
//           (out, in) (no bias: it would duplicate Lambda's). Init: PyTorch's default Linear
//           init for both (U(+-1/sqrt(in))).
#pragma once
#include <string>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/linear.hpp"

namespace symflow::nn {

/// Checks that `cols` columns hold whole sets of n tokens; returns the batch size B.
inline Index setBatchSize(Index cols, Index n, const char* who) {
  require(n > 0, std::string(who) + ": the number of tokens per sample must be positive");
  require(cols % n == 0, std::string(who) + ": " + std::to_string(cols) +
                             " columns are not a whole number of sets of " + std::to_string(n) +
                             " tokens");
  return cols / n;
}

template <class S>
class DeepSets {
 public:
  struct Cache {
    typename Linear<S>::Cache lambda, gamma;
    Index n = 1;                // tokens per sample
    Mat<S> means;               // in x B, set means (the input of Gamma)
    mutable Mat<S> setSum;      // backward scratch: out x B, per-sample sum of dy
    mutable Mat<S> meanGrad;    // backward scratch: in x B
  };

  DeepSets() = default;
  /// in -> out features per token.
  DeepSets(Index in, Index out, bool bias = true) : lambda_(in, out, bias), gamma_(in, out, false) {}

  Index inFeatures() const { return lambda_.inFeatures(); }
  Index outFeatures() const { return lambda_.outFeatures(); }
  Index numParams() const { return lambda_.numParams() + gamma_.numParams(); }
  void bind(ParamCursor<S>& c) {
    lambda_.bind(c);
    gamma_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    lambda_.visitParams(joinName(prefix, "Lambda"), f);
    gamma_.visitParams(joinName(prefix, "Gamma"), f);
  }
  void init(Rng& rng) {
    lambda_.init(rng);
    gamma_.init(rng);
  }
  S penalty() const { return S(0); }
  const Linear<S>& lambda() const { return lambda_; }
  const Linear<S>& gamma() const { return gamma_; }

  /// x: in x (B n), n tokens per sample.
  void forward(const CMatRef<S>& x, Index n, Mat<S>& y, Cache& c) const {
    require(x.rows() == inFeatures(), "DeepSets: input has " + std::to_string(x.rows()) +
                                          " rows, expected " + std::to_string(inFeatures()));
    const Index B = setBatchSize(x.cols(), n, "DeepSets");
    c.n = n;
    lambda_.forward(x, y, c.lambda);
    c.means.resize(inFeatures(), B);
    const S invn = S(1) / S(n);
    for (Index b = 0; b < B; ++b) c.means.col(b) = x.middleCols(b * n, n).rowwise().sum() * invn;
    Mat<S> pooled;  // out x B, Gamma m_b
    gamma_.forward(c.means, pooled, c.gamma);
    for (Index b = 0; b < B; ++b) y.middleCols(b * n, n).colwise() += pooled.col(b);
  }

  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    const Index B = c.means.cols(), n = c.n;
    require(dy.rows() == outFeatures() && dy.cols() == B * n, "DeepSets: gradient shape mismatch");
    lambda_.backward(c.lambda, dy, dx);
    c.setSum.resize(outFeatures(), B);
    for (Index b = 0; b < B; ++b) c.setSum.col(b) = dy.middleCols(b * n, n).rowwise().sum();
    gamma_.backward(c.gamma, c.setSum, c.meanGrad);
    c.meanGrad *= S(1) / S(n);
    for (Index b = 0; b < B; ++b) dx.middleCols(b * n, n).colwise() += c.meanGrad.col(b);
  }

 private:
  Linear<S> lambda_, gamma_;
};

}  // namespace symflow::nn
