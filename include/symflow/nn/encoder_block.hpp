// symflow/nn/encoder_block.hpp - pre-LN Transformer encoder block (no conditioning): the plain
// sibling of DiTBlock (dit_block.hpp), used by the AST encoder (ast_encoder.hpp).
//
// Shapes:   x: d x (B n) tokens (n per sample, contiguous)  ->  y: d x (B n)
// Forward:  x1 = x  + MHA(LN1(x))
//           y  = x1 + FFN(LN2(x1))
//           MHA: nn/attention.hpp (h heads, no mask: samples never mix); FFN = Linear(d, d_ff)
//           -> GELU -> Linear(d_ff, d) (nn/mlp.hpp); LN1, LN2 affine (nn.LayerNorm(d), eps 1e-5).
//           PyTorch: nn.TransformerEncoderLayer(d, h, d_ff, dropout=0, activation="gelu",
//           batch_first=True, norm_first=True), or the DiT block without its adaLN modulation.
// Backward: dx1 = dy + LN2'(FFN'(dy));  dx = dx1 + LN1'(MHA'(dx1))  (' = the part's backward),
//           adding into every parameter gradient. Reads the parts' caches: LN xhat / rstd,
//           h1 = LN1(x) and h2 = LN2(x1) (the MHA's and FFN's inputs, kept here), the MHA cache
//           (q, k, v, probabilities, head outputs) and the FFN cache (pre-activation, GELU).
//           The block keeps no view of x: x may be freed or overwritten after forward.
// Params:   names and order as DiTBlock without cond: norm1.weight, norm1.bias,
//           attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight, attn.out_proj.bias,
//           norm2.weight, norm2.bias, ff.0.weight, ff.0.bias, ff.2.weight, ff.2.bias.
//           (TransformerEncoderLayer calls them self_attn.*, linear1.*, linear2.*, norm1/2.*.)
//           4 d^2 + 2 d d_ff + 9 d + d_ff scalars. Init: the parts' PyTorch defaults.
// Cost:     per token 4 d^2 + 2 d d_ff multiply-adds (projections and FFN) plus 2 n d
//           (scores and weighted values); backward about twice the forward.
#pragma once
#include <string>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/attention.hpp"
#include "symflow/nn/layernorm.hpp"
#include "symflow/nn/mlp.hpp"

namespace symflow::nn {

template <class S>
class TransformerEncoderBlock {
 public:
  struct Cache {
    Index n = 0;  // tokens per sample of the last forward (0: incomplete / none)
    typename LayerNorm<S>::Cache norm1, norm2;
    Mat<S> h1, h2;  // LN1(x), LN2(x1): inputs of MHA and FFN (their caches view them)
    Mat<S> attnOut;
    typename MultiheadAttention<S>::Cache attn;
    typename Mlp<S>::Cache ff;
    mutable Mat<S> bufA, bufB, dx1;  // backward scratch, reused across calls
  };

  TransformerEncoderBlock() = default;
  TransformerEncoderBlock(Index d, Index heads, Index ffDim)
      : d_(d), norm1_(d), attn_(d, heads), norm2_(d), ff_(d, ffDim, d) {}

  Index width() const { return d_; }
  Index numParams() const {
    return norm1_.numParams() + attn_.numParams() + norm2_.numParams() + ff_.numParams();
  }
  void bind(ParamCursor<S>& c) {
    norm1_.bind(c);
    attn_.bind(c);
    norm2_.bind(c);
    ff_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    norm1_.visitParams(joinName(prefix, "norm1"), f);
    attn_.visitParams(joinName(prefix, "attn"), f);
    norm2_.visitParams(joinName(prefix, "norm2"), f);
    ff_.visitParams(joinName(prefix, "ff"), f);
  }
  void init(Rng& rng) {
    norm1_.init(rng);
    attn_.init(rng);
    norm2_.init(rng);
    ff_.init(rng);
  }
  S penalty() const { return S(0); }

  const LayerNorm<S>& norm1() const { return norm1_; }
  const MultiheadAttention<S>& attn() const { return attn_; }
  const LayerNorm<S>& norm2() const { return norm2_; }
  const Mlp<S>& ff() const { return ff_; }

  /// x: d x (B n), n tokens per sample -> y: d x (B n). y must not be x itself.
  void forward(const CMatRef<S>& x, Index n, Mat<S>& y, Cache& k) const {
    require(x.rows() == d_, "TransformerEncoderBlock: input has " + std::to_string(x.rows()) +
                                " rows, expected " + std::to_string(d_));
    require(n > 0 && x.cols() % n == 0, "TransformerEncoderBlock: " + std::to_string(x.cols()) +
                                            " token columns are not a positive multiple of n = " +
                                            std::to_string(n));
    require(y.data() == nullptr || y.data() != x.data(),
            "TransformerEncoderBlock: output must not alias the input");
    k.n = 0;  // marks the cache incomplete until this forward has finished
    norm1_.forward(x, k.h1, k.norm1);
    attn_.forward(k.h1, n, k.attnOut, k.attn);
    y.resize(d_, x.cols());
    y.noalias() = x + k.attnOut;
    norm2_.forward(y, k.h2, k.norm2);
    ff_.forward(k.h2, k.bufA, k.ff);  // bufA: FFN output (forward scratch)
    y += k.bufA;
    k.n = n;
  }

  /// dy: d x (B n)  ->  dx: d x (B n); adds into parameter gradients.
  void backward(const Cache& k, const CMatRef<S>& dy, Mat<S>& dx) const {
    require(k.n > 0, "TransformerEncoderBlock: backward without a forward on this cache");
    require(dy.rows() == d_ && dy.cols() == k.h1.cols(), "TransformerEncoderBlock: gradient shape mismatch");
    // y = x1 + FFN(LN2(x1))
    ff_.backward(k.ff, dy, k.bufA);
    norm2_.backward(k.norm2, k.bufA, k.dx1);
    k.dx1 += dy;
    // x1 = x + MHA(LN1(x))
    attn_.backward(k.attn, k.dx1, k.bufB);
    norm1_.backward(k.norm1, k.bufB, dx);
    dx += k.dx1;
  }

 private:
  Index d_ = 0;
  LayerNorm<S> norm1_;
  MultiheadAttention<S> attn_;
  LayerNorm<S> norm2_;
  Mlp<S> ff_;
};

}  // namespace symflow::nn
