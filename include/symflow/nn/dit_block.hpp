// symflow/nn/dit_block.hpp - Transformer block with adaptive layer norm (DiT, "basic adaLN").
//
// Shapes:   x: d x (B n) tokens (n per sample, contiguous), c: dc x B conditioning (one column
//           per sample)  ->  y: d x (B n)
// Forward:  (g1, b1, a1, g2, b2, a2) = Linear(dc, 6d)(GELU(c))       (each d x B, per sample)
//           h1 = g1 * LN1(x) + b1;           x1 = x + a1 * MHA(h1)
//           h2 = g2 * LN2(x1) + b2;          y  = x1 + a2 * FFN(h2)
//           FFN = Linear(d, d_ff) -> GELU -> Linear(d_ff, d); LN1, LN2 affine (nn.LayerNorm(d));
//           the per-sample vectors are broadcast over that sample's n tokens. No zero init.
//           setAttentionScale(s) multiplies MHA(h1) by s (default 1; not a parameter: a
//           training schedule, e.g. tokens computed alone before they may attend to each
//           other, TrainOptions::attnOff). At s = 0 the MHA is skipped and gets no gradient.
//           This is the peer's PyTorch DiTBlock (shared/peer/torch_kosc_bench.py) with
//           batch_first tensors (B, n, d) whose memory is x.
// Backward: writes dx (d x (B n)) and dc (dc x B, this block's part of the conditioning
//           gradient: a caller sharing c among blocks adds the blocks' dc), adds into every
//           parameter gradient. Reads the caches of its parts: LN xhat/rstd, the MHA cache,
//           the FFN cache, the modulation, the attention and FFN outputs and a copy of c.
//           The block keeps no view of x or c: both may be freed or overwritten after forward.
// Params:   PyTorch names and order: norm1.weight, norm1.bias, attn.in_proj_weight,
//           attn.in_proj_bias, attn.out_proj.weight, attn.out_proj.bias, norm2.weight,
//           norm2.bias, ff.0.weight, ff.0.bias, ff.2.weight, ff.2.bias, cond.1.weight,
//           cond.1.bias.
#pragma once
#include <string>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/adaln.hpp"
#include "symflow/nn/attention.hpp"
#include "symflow/nn/mlp.hpp"

namespace symflow::nn {

template <class S>
class DiTBlock {
 public:
  struct Cache {
    Index n = 0;
    Mat<S> mod;  // 6d x B: rows [0,d) g1, [d,2d) b1, [2d,3d) a1, [3d,4d) g2, [4d,5d) b2, [5d,6d) a2
    typename AdaLNModulation<S>::Cache cond;
    typename ModulatedLayerNorm<S>::Cache norm1, norm2;
    Mat<S> h1, h2;           // modulated LN outputs: inputs of MHA and FFN
    Mat<S> attnOut, ffOut;   // s MHA(h1) (s: the attention scale), FFN(h2)
    S attnScale = S(1);      // the scale of this forward
    typename MultiheadAttention<S>::Cache attn;
    typename Mlp<S>::Cache ff;
    mutable Mat<S> dmod, bufA, bufB, dx1;  // backward scratch, reused across calls
  };

  DiTBlock() = default;
  /// d: token width, heads: attention heads, ffDim: FFN hidden width, condDim: width of c
  /// (0 means d, as in the paper and the peer).
  DiTBlock(Index d, Index heads, Index ffDim, Index condDim = 0)
      : d_(d),
        norm1_(d, true),
        attn_(d, heads),
        norm2_(d, true),
        ff_(d, ffDim, d),
        cond_(condDim > 0 ? condDim : d, d, 6) {}

  Index width() const { return d_; }
  Index condDim() const { return cond_.condDim(); }
  Index numParams() const {
    return norm1_.numParams() + attn_.numParams() + norm2_.numParams() + ff_.numParams() +
           cond_.numParams();
  }
  void bind(ParamCursor<S>& c) {
    norm1_.bind(c);
    attn_.bind(c);
    norm2_.bind(c);
    ff_.bind(c);
    cond_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    norm1_.visitParams(joinName(prefix, "norm1"), f);
    attn_.visitParams(joinName(prefix, "attn"), f);
    norm2_.visitParams(joinName(prefix, "norm2"), f);
    ff_.visitParams(joinName(prefix, "ff"), f);
    cond_.visitParams(joinName(prefix, "cond"), f);
  }
  void init(Rng& rng) {
    norm1_.init(rng);
    attn_.init(rng);
    norm2_.init(rng);
    ff_.init(rng);
    cond_.init(rng);
  }
  S penalty() const { return S(0); }

  /// Scale of the attention branch (1: the plain block; 0: no token sees another).
  void setAttentionScale(S s) { attnScale_ = s; }
  S attentionScale() const { return attnScale_; }

  const ModulatedLayerNorm<S>& norm1() const { return norm1_; }
  const MultiheadAttention<S>& attn() const { return attn_; }
  const ModulatedLayerNorm<S>& norm2() const { return norm2_; }
  const Mlp<S>& ff() const { return ff_; }
  const AdaLNModulation<S>& cond() const { return cond_; }

  /// x: d x (B n), c: dc x B, n tokens per sample. y may be the matrix x itself (the token
  /// stream updated in place: x is read only before y is written).
  void forward(const CMatRef<S>& x, const CMatRef<S>& c, Index n, Mat<S>& y, Cache& k) const {
    const Index B = detail::samplesOf(x.cols(), n, "DiTBlock");
    if (x.rows() != d_) throw Error("DiTBlock: input has " + std::to_string(x.rows()) +
                                " rows, expected " + std::to_string(d_));
    if (c.cols() != B) throw Error("DiTBlock: conditioning has " + std::to_string(c.cols()) +
                               " columns, expected one per sample (" + std::to_string(B) + ")");
    if (c.rows() != condDim()) throw Error("DiTBlock: conditioning has " + std::to_string(c.rows()) +
                                       " rows, expected " + std::to_string(condDim()));
    const Index d = d_;
    k.n = 0;  // marks the cache incomplete until this forward has finished
    cond_.forward(c, k.mod, k.cond);
    norm1_.forward(x, k.mod.middleRows(0, d), k.mod.middleRows(d, d), n, k.h1, k.norm1);
    if (attnScale_ == S(0)) {
      k.attnOut.setZero(d, x.cols());
    } else {
      attn_.forward(k.h1, n, k.attnOut, k.attn);
      if (attnScale_ != S(1)) k.attnOut *= attnScale_;
    }
    k.attnScale = attnScale_;
    y.resize(d, x.cols());
    gatedResidualForward<S>(x, k.attnOut, k.mod.middleRows(2 * d, d), n, y);
    norm2_.forward(y, k.mod.middleRows(3 * d, d), k.mod.middleRows(4 * d, d), n, k.h2, k.norm2);
    ff_.forward(k.h2, k.ffOut, k.ff);
    gatedResidualForward<S>(y, k.ffOut, k.mod.middleRows(5 * d, d), n, y);
    k.n = n;
  }

  /// dy: d x (B n). Writes dx (d x (B n)) and dc (dc x B); adds into parameter gradients.
  void backward(const Cache& k, const CMatRef<S>& dy, Mat<S>& dx, Mat<S>& dc) const {
    if (k.n <= 0) throw Error("DiTBlock: backward without a forward on this cache");
    if (!(dy.rows() == d_ && dy.cols() == k.h1.cols())) throw Error("DiTBlock: gradient shape mismatch");
    const Index d = d_, n = k.n;
    k.dmod.resize(6 * d, k.mod.cols());
    // y = x1 + a2 * FFN(h2)
    gatedResidualBackward<S>(dy, k.ffOut, k.mod.middleRows(5 * d, d), n, k.bufA,
                             k.dmod.middleRows(5 * d, d));
    ff_.backward(k.ff, k.bufA, k.bufB);
    // h2 = g2 * LN2(x1) + b2;  dx1 = dy + LN2 backward
    norm2_.backward(k.norm2, k.bufB, k.dx1, k.dmod.middleRows(3 * d, d),
                    k.dmod.middleRows(4 * d, d), /*addend=*/&dy);
    // x1 = x + a1 * MHA(h1)
    gatedResidualBackward<S>(k.dx1, k.attnOut, k.mod.middleRows(2 * d, d), n, k.bufA,
                             k.dmod.middleRows(2 * d, d));
    if (k.attnScale == S(0)) {
      k.bufB.setZero(d, k.bufA.cols());
    } else {
      if (k.attnScale != S(1)) k.bufA *= k.attnScale;
      attn_.backward(k.attn, k.bufA, k.bufB);
    }
    // h1 = g1 * LN1(x) + b1;  dx = dx1 + LN1 backward
    const CMatRef<S> dx1(k.dx1);
    norm1_.backward(k.norm1, k.bufB, dx, k.dmod.middleRows(0, d), k.dmod.middleRows(d, d),
                    /*addend=*/&dx1);
    cond_.backward(k.cond, k.dmod, dc);
  }

 private:
  Index d_ = 0;
  ModulatedLayerNorm<S> norm1_;
  MultiheadAttention<S> attn_;
  ModulatedLayerNorm<S> norm2_;
  Mlp<S> ff_;
  AdaLNModulation<S> cond_;
  S attnScale_ = S(1);
};

}  // namespace symflow::nn
