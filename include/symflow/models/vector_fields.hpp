// symflow/models/vector_fields.hpp - the conditional vector fields v(xt, t, z) of the flows.
//
// Shapes (all models): xt: P x B (point on the path), t: B (time), z: dz x B (audio embedding,
// already with classifier-free-guidance nulls substituted)  ->  v: P x B.
// backward(cache, dv, dxt, dz) writes dxt (P x B) and dz (dz x B) and adds into every
// parameter gradient (including the tokenizer penalty's, once per forward).
//
// DitVectorField<S, Tokenizer> (CNF (Equivariant) with FixedTokenizer, CNF (Param2Tok) with
// Param2Tok) - the peer's ApproxEquivTransformer:
//   e = timeEncoding(t)                      (scalar: 1 x B, or sinusoidal: timeDim x B)
//   c = cond([z; e])                         Linear(dz + timeDim, d) -> GELU -> Linear(d, d)
//   h_0 = tokenizer.tokenize(xt)             d x (B n)
//   h_{l+1} = block_l(h_l, c)                L DiT blocks (adaLN from the shared c)
//   v = tokenizer.detokenize(h_L)
//   Backward: blocks in reverse, summing each block's dc; then the tokenizer (dxt) and the
//   conditioning MLP (whose input gradient's first dz rows are dz).
//   Params: "<tokName>.*" ("p2t" for Param2Tok, "tokenizer" for FixedTokenizer), "cond.0.*",
//   "cond.2.*", "blocks.<l>.*" (DiTBlock names).
//   Equivariance: with FixedTokenizer, v(P x) = P v(x) for any permutation P of the groups
//   (no positional encoding anywhere).
//   Per-layer conditioning (DitConfig::perLayerCond = true; the Surge model, paper.md "the
//   audio encoder gives one embedding per DiT layer"): z is dz x (B L), column b L + l the
//   embedding of sound b for layer l (the AST encoder's query layout, nn::queryColumns).
//     c = cond([z; e repeated])             d x (B L): the SAME conditioning MLP on every
//                                           column, column b L + l reading e(:, b)
//     h_{l+1} = block_l(h_l, c_l)           c_l = queryColumns(c, L, l), d x B (strided view)
//   Backward: block l's dc goes to the columns b L + l of dC; the conditioning MLP's backward
//   over all B L columns; dz (dz x (B L)) = its first dz rows. Same parameters and names as
//   the single-conditioning mode (which is unchanged: perLayerCond = false, z is dz x B).
//
// MlpVectorField (CNF (MLP), the non-equivariant baseline):
//   v = ResMlp([xt; e; z])                   input Linear(P + timeDim + dz, width), nBlocks
//                                            residual blocks, final LayerNorm, Linear(width, P)
//   Params: "mlp.*" (ResMlp names).
#pragma once
#include <string>
#include <vector>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/ast_encoder.hpp"
#include "symflow/nn/conditioning.hpp"
#include "symflow/nn/dit_block.hpp"
#include "symflow/nn/residual_mlp.hpp"
#include "symflow/nn/tokenizers.hpp"

namespace symflow::models {

/// Time encoding choice: timeDim == 0 means the scalar encoding (t itself, one row).
template <class S>
inline void encodeTime(Index timeDim, const Vec<S>& t, Mat<S>& e) {
  if (timeDim == 0) {
    nn::ScalarTimeEncoding<S>().encode(t, e);
  } else {
    nn::SinusoidalTimeEncoding<S>(timeDim).encode(t, e);
  }
}

/// Sizes of the DiT vector field (defaults: the paper's k-osc model [cfg]).
struct DitConfig {
  Index width = 128;    // d
  Index heads = 4;
  Index ffDim = 256;
  Index layers = 5;
  Index condDim = 128;  // dz, the audio embedding width
  Index timeDim = 0;    // 0: scalar time; otherwise sinusoidal of this (even) width
  bool perLayerCond = false;  // z is dz x (B layers), column b layers + l conditions layer l
};

template <class S, class Tokenizer>
class DitVectorField {
 public:
  using Config = DitConfig;
  struct Cache {
    Mat<S> e, eRep, c, v;  // eRep: per-layer mode, e repeated to timeDim x (B L)
    typename nn::ConditioningMlp<S>::Cache cond;
    typename Tokenizer::TokenizeCache tok;
    typename Tokenizer::DetokenizeCache detok;
    std::vector<typename nn::DiTBlock<S>::Cache> blocks;
    std::vector<Mat<S>> h;
    mutable Mat<S> dh, dhNext, dc, dcBlock, dInput;
  };

  DitVectorField() = default;
  DitVectorField(Tokenizer tokenizer, const Config& cfg, std::string tokName)
      : cfg_(cfg), tok_(std::move(tokenizer)), tokName_(std::move(tokName)),
        cond_(cfg.condDim, cfg.timeDim == 0 ? 1 : cfg.timeDim, cfg.width) {
    if (tok_.tokenDim() != cfg.width)
      throw Error("DitVectorField: tokenizer width differs from the model width");
    if (cfg.layers < 1) throw Error("DitVectorField: need at least one DiT layer");
    for (Index l = 0; l < cfg.layers; ++l) blocks_.emplace_back(cfg.width, cfg.heads, cfg.ffDim, cfg.width);
  }

  const Config& config() const { return cfg_; }
  Tokenizer& tokenizer() { return tok_; }
  const Tokenizer& tokenizer() const { return tok_; }
  Index paramDim() const { return tok_.paramDim(); }
  Index numTokens() const { return tok_.numTokens(); }

  Index numParams() const {
    Index n = tok_.numParams() + cond_.numParams();
    for (const auto& b : blocks_) n += b.numParams();
    return n;
  }
  void bind(ParamCursor<S>& c) {
    tok_.bind(c);
    cond_.bind(c);
    for (auto& b : blocks_) b.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    tok_.visitParams(joinName(prefix, tokName_), f);
    cond_.visitParams(joinName(prefix, "cond"), f);
    for (size_t l = 0; l < blocks_.size(); ++l) blocks_[l].visitParams(joinName(prefix, "blocks." + std::to_string(l)), f);
  }
  void init(Rng& rng) {
    tok_.init(rng);
    cond_.init(rng);
    for (auto& b : blocks_) b.init(rng);
  }
  S penalty() const { return tok_.penalty(); }
  /// Scales every block's attention branch (DiTBlock::setAttentionScale).
  void setAttentionScale(S s) {
    for (auto& b : blocks_) b.setAttentionScale(s);
  }

  /// Columns of z per sound: 1, or the number of layers L in per-layer mode.
  Index condColumnsPerSample() const { return cfg_.perLayerCond ? Index(blocks_.size()) : Index(1); }

  void forward(const CMatRef<S>& xt, const Vec<S>& t, const CMatRef<S>& z, Mat<S>& v, Cache& k) const {
    const Index B = xt.cols(), n = tok_.numTokens();
    const size_t L = blocks_.size();
    const Index perSample = condColumnsPerSample();
    if (xt.rows() != paramDim())
      throw Error("DitVectorField: xt has " + std::to_string(xt.rows()) + " rows, expected " +
                                         std::to_string(paramDim()));
    if (t.size() != B) throw Error("DitVectorField: xt and t disagree on the batch size");
    if (z.cols() != B * perSample)
      throw Error("DitVectorField: conditioning has " + std::to_string(z.cols()) + " columns, expected " +
                std::to_string(B * perSample) +
                (cfg_.perLayerCond ? " (per-layer mode: one per sound and layer)" : " (one per sound)"));
    if (z.rows() != cfg_.condDim) throw Error("DitVectorField: conditioning has " + std::to_string(z.rows()) +
                                          " rows, expected " + std::to_string(cfg_.condDim));
    encodeTime(cfg_.timeDim, t, k.e);
    if (cfg_.perLayerCond) {
      k.eRep.resize(k.e.rows(), B * perSample);
      for (Index b = 0; b < B; ++b) k.eRep.middleCols(b * perSample, perSample).colwise() = k.e.col(b);
      cond_.forward(z, k.eRep, k.c, k.cond);
    } else {
      cond_.forward(z, k.e, k.c, k.cond);
    }
    k.blocks.resize(L);
    k.h.resize(L + 1);
    tok_.tokenize(xt, k.h[0], k.tok);
    for (size_t l = 0; l < L; ++l) {
      if (cfg_.perLayerCond)
        blocks_[l].forward(k.h[l], nn::queryColumns<S>(k.c, perSample, Index(l)), n, k.h[l + 1], k.blocks[l]);
      else
        blocks_[l].forward(k.h[l], k.c, n, k.h[l + 1], k.blocks[l]);
    }
    tok_.detokenize(k.h[L], v, k.detok);
  }

  void backward(const Cache& k, const CMatRef<S>& dv, Mat<S>& dxt, Mat<S>& dz) const {
    tok_.detokenizeBackward(k.detok, dv, k.dh);
    k.dc.setZero(k.c.rows(), k.c.cols());
    for (size_t l = blocks_.size(); l-- > 0;) {
      blocks_[l].backward(k.blocks[l], k.dh, k.dhNext, k.dcBlock);
      if (cfg_.perLayerCond)
        nn::queryColumns<S>(k.dc, Index(blocks_.size()), Index(l)) = k.dcBlock;
      else
        k.dc += k.dcBlock;
      k.dh.swap(k.dhNext);
    }
    tok_.tokenizeBackward(k.tok, k.dh, dxt);
    cond_.backward(k.cond, k.dc, k.dInput);
    dz = k.dInput.topRows(cfg_.condDim);
  }

 private:
  Config cfg_;
  Tokenizer tok_;
  std::string tokName_;
  nn::ConditioningMlp<S> cond_;
  std::vector<nn::DiTBlock<S>> blocks_;
};

template <class S>
class MlpVectorField {
 public:
  struct Config {
    Index width = 192;
    Index blocks = 7;
    Index condDim = 128;
    Index timeDim = 0;  // 0: scalar time
  };
  struct Cache {
    Mat<S> input, e;
    typename nn::ResMlp<S>::Cache mlp;
    mutable Mat<S> dInput;
  };

  MlpVectorField() = default;
  MlpVectorField(Index paramDim, const Config& cfg)
      : cfg_(cfg), P_(paramDim),
        mlp_(paramDim + (cfg.timeDim == 0 ? 1 : cfg.timeDim) + cfg.condDim, cfg.width, cfg.blocks, paramDim) {}

  const Config& config() const { return cfg_; }
  Index paramDim() const { return P_; }
  Index numParams() const { return mlp_.numParams(); }
  void bind(ParamCursor<S>& c) { mlp_.bind(c); }
  template <class F> void visitParams(const std::string& prefix, F&& f) { mlp_.visitParams(joinName(prefix, "mlp"), f); }
  void init(Rng& rng) { mlp_.init(rng); }
  S penalty() const { return S(0); }

  void forward(const CMatRef<S>& xt, const Vec<S>& t, const CMatRef<S>& z, Mat<S>& v, Cache& k) const {
    const Index B = xt.cols();
    if (xt.rows() != P_)
      throw Error("MlpVectorField: xt has " + std::to_string(xt.rows()) + " rows, expected " +
                                 std::to_string(P_));
    if (!(t.size() == B && z.cols() == B))
      throw Error("MlpVectorField: xt, t and z disagree on the batch size");
    if (z.rows() != cfg_.condDim) throw Error("MlpVectorField: conditioning width mismatch");
    encodeTime(cfg_.timeDim, t, k.e);
    k.input.resize(P_ + k.e.rows() + z.rows(), B);
    k.input.topRows(P_) = xt;
    k.input.middleRows(P_, k.e.rows()) = k.e;
    k.input.bottomRows(z.rows()) = z;
    mlp_.forward(k.input, v, k.mlp);
  }
  void backward(const Cache& k, const CMatRef<S>& dv, Mat<S>& dxt, Mat<S>& dz) const {
    mlp_.backward(k.mlp, dv, k.dInput);
    dxt = k.dInput.topRows(P_);
    dz = k.dInput.bottomRows(cfg_.condDim);
  }

 private:
  Config cfg_;
  Index P_ = 0;
  nn::ResMlp<S> mlp_;
};

}  // namespace symflow::models
