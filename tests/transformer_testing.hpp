// Helpers shared by test_nn_attention.cpp and test_nn_dit.cpp.
#pragma once
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::test {

/// Parameter i of the flat buffer = 0.5 sin(0.7 i + 0.3) (as tests/torch_ref_transformer.py).
template <class S> void fillReferenceParams(ParamStore<S>& store) {
  for (Index i = 0; i < store.size(); ++i)
    store.weights()[i] = S(0.5 * std::sin(0.7 * double(i) + 0.3));
}

/// A rows x cols matrix whose memory entry j is f(j).
template <class S, class F> Mat<S> sequenceMatrix(Index rows, Index cols, F&& f) {
  Mat<S> m(rows, cols);
  for (Index j = 0; j < m.size(); ++j) m.data()[j] = S(f(double(j)));
  return m;
}

/// For each of the B samples of n tokens, a random permutation of its token columns:
/// column j of the permuted matrix is column source[j] of the original.
inline std::vector<Index> permutationWithinSamples(Index B, Index n, Rng& rng) {
  std::vector<Index> source(size_t(B * n));
  std::iota(source.begin(), source.end(), Index(0));
  for (Index b = 0; b < B; ++b)
    for (Index i = n - 1; i > 0; --i)  // Fisher-Yates within the sample
      std::swap(source[size_t(b * n + i)],
                source[size_t(b * n + Index(rng.below(std::uint64_t(i + 1))))]);
  return source;
}

template <class S> Mat<S> permuteColumns(const Mat<S>& x, const std::vector<Index>& source) {
  Mat<S> out(x.rows(), x.cols());
  for (Index j = 0; j < x.cols(); ++j) out.col(j) = x.col(source[size_t(j)]);
  return out;
}

/// Presents a token layer forward(x, n, y, cache) as a plain forward(x, y, cache) layer, so
/// testing::checkLayerGradients can probe it.
template <class Layer> struct FixedTokens {
  using Cache = typename Layer::Cache;
  Layer& layer;
  Index n;
  template <class X, class Y> void forward(const X& x, Y& y, Cache& c) const {
    layer.forward(x, n, y, c);
  }
  template <class D, class X> void backward(const Cache& c, const D& dy, X& dx) const {
    layer.backward(c, dy, dx);
  }
  auto penalty() const { return layer.penalty(); }
};

}  // namespace symflow::test
