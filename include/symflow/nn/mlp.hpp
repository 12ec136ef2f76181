// symflow/nn/mlp.hpp - two-layer feed-forward network, applied to every column (token).
//
// Shapes:   x: in x N  ->  y: out x N
// Forward:  u = W1 x + b1 (hidden x N);  a = GELU(u);  y = W2 a + b2
//           (two GEMMs over the whole batch; the bias add and GELU are one fused pass)
// Backward: da = W2^T dy;  du = da * GELU'(u);  dx = W1^T du;
//           dW2 += dy a^T, db2 += rowsum(dy), dW1 += du x^T, db1 += rowsum(du).
//           Reads the cached input view of x (x must stay alive until backward), u and a.
// Params:   PyTorch nn.Sequential(Linear(in, hidden), GELU(), Linear(hidden, out)) names:
//           "0.weight" (hidden, in), "0.bias" (hidden), "2.weight" (out, hidden), "2.bias" (out).
//           Init: PyTorch's default Linear init for both layers.
// Used as the DiT block's FFN ("ff") and as Param2Tok's row-wise FFN.
#pragma once
#include <string>

#include "symflow/core/gemm.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/activations.hpp"
#include "symflow/nn/linear.hpp"

namespace symflow::nn {

template <class S>
class Mlp {
 public:
  struct Cache {
    typename Linear<S>::Cache fc1, fc2;
    Mat<S> u, a;        // pre-activation and GELU output, hidden x N
    mutable Mat<S> da;  // backward scratch (hidden x N), reused across calls
  };

  Mlp() = default;
  Mlp(Index in, Index hidden, Index out) : fc1_(in, hidden), fc2_(hidden, out) {}

  Index inFeatures() const { return fc1_.inFeatures(); }
  Index hiddenFeatures() const { return fc1_.outFeatures(); }
  Index outFeatures() const { return fc2_.outFeatures(); }
  Index numParams() const { return fc1_.numParams() + fc2_.numParams(); }
  void bind(ParamCursor<S>& c) {
    fc1_.bind(c);
    fc2_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    fc1_.visitParams(joinName(prefix, "0"), f);
    fc2_.visitParams(joinName(prefix, "2"), f);
  }
  void init(Rng& rng) {
    fc1_.init(rng);
    fc2_.init(rng);
  }
  S penalty() const { return S(0); }
  const Linear<S>& fc1() const { return fc1_; }
  const Linear<S>& fc2() const { return fc2_; }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    if (x.rows() != inFeatures()) throw Error("Mlp: input has " + std::to_string(x.rows()) +
                                          " rows, expected " + std::to_string(inFeatures()));
    const Index N = x.cols(), H = hiddenFeatures();
    c.fc1.x = InputView<S>(x);
    c.u.resize(H, N);
    c.a.resize(H, N);
    const auto b1 = fc1_.bias();
    parallelRanges(N, gemmColumnsPerThread(inFeatures(), H), [&](Index lo, Index hi) {
      forChunks(lo, hi, kMlpChunkColumns, [&](Index j, Index len) {
        auto u = c.u.middleCols(j, len);
        u.colwise() = b1;
        gemm(u, fc1_.weightT().transpose(), x.middleCols(j, len), true);
        geluForward(u.data(), c.a.col(j).data(), len * H);  // while u is still in cache
      });
    });
    fc2_.forward(c.a, y, c.fc2);
  }

  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    if (!(dy.rows() == outFeatures() && dy.cols() == c.u.cols())) throw Error("Mlp: gradient shape mismatch");
    const Index N = dy.cols(), H = hiddenFeatures();
    fc2_.backward(c.fc2, dy, c.da);
    parallelRanges(N, itemsPerThread(16 * H), [&](Index lo, Index hi) {
      geluBackward(c.u.col(lo).data(), c.da.col(lo).data(), c.da.col(lo).data(), (hi - lo) * H);
    });
    fc1_.backward(c.fc1, c.da, dx);
  }

 private:
  static constexpr Index kMlpChunkColumns = 512;  // u chunk of 512 columns stays in L2
  Linear<S> fc1_, fc2_;
};

}  // namespace symflow::nn
