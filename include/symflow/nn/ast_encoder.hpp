// symflow/nn/ast_encoder.hpp - Audio Spectrogram Transformer with learned conditioning queries
// (the paper's Task 2 encoder: "one learned query token per DiT layer").
//
// Input:    x: (M F) x B log-mel spectrograms, one sound per column, band fastest (the layout
//           of patch_embed.hpp: the memory of audio/mel.hpp's M x (B F) output).
// Forward:  xs = BandStandardizer(x)                     per-band (x - mean) / sqrt(var + eps),
//                                                        training-set statistics (fixed buffers)
//           P  = PatchEmbed(xs)                          d x (B T): p x p patches, stride s,
//                                                        one GEMM, + pos_embed; T = nTime nMel,
//                                                        nX = floor((X - p) / s) + 1
//           z0 = per sound [P_b, Q]                      d x (B n), n = T + L: the sound's T
//                                                        patch tokens, then the L learned query
//                                                        tokens Q (d x L, shared by all sounds)
//           z_{i+1} = Block_i(z_i), i < N                pre-LN encoder blocks (MHA + GELU FFN,
//                                                        residuals; nn/encoder_block.hpp)
//           queries = LN(z_N at the query positions)     d x (B L), column b L + l
//           y = queries                                  (Config::pooled = false), or
//           y = mean over l of queries (d x B)           (Config::pooled = true: the regression
//                                                        and MLP-vector-field baselines)
//           Query l of sound b (column b L + l) conditions DiT layer l; queryColumns(y, L, l)
//           is that d x B matrix as a strided view (no copy; binds to CMatRef).
//           Attention never mixes sounds: sound b's outputs depend on x[:, b] alone.
// Backward: pooled: dqueries = dy / L broadcast over the L queries; then the final LN's
//           backward, the query positions of dz_N set from it (the patch positions of dz_N are
//           0: only the queries are read out), the blocks' backward in reverse, dQ += the sum
//           over sounds of dz_0's query columns, PatchEmbed's backward with dz_0's patch
//           columns, and (when dx is wanted) dx = dxs * rstd of the standardizer.
//           Reads: every block's cache, the final LN's xhat / rstd, PatchEmbed's im2col matrix.
//           The encoder keeps no view of x (x may be freed right after forward).
// Params:   (PyTorch-style names, bind order) patch_embed.proj.weight (d, p p),
//           patch_embed.proj.bias (d), patch_embed.pos_embed (T, d), queries (L, d),
//           blocks.<i>.{norm1, attn, norm2, ff.0, ff.2}.*, norm.weight (d), norm.bias (d).
//           Buffers (non-trainable, saved with the model): input_norm.{mean, var} (M),
//           input_norm.count ({}).  numParams = p^2 d + d + T d + L d
//           + N (4 d^2 + 2 d d_ff + 9 d + d_ff) + 2 d.
//           Init: PyTorch defaults for Linear / LayerNorm / MHA; pos_embed and queries
//           N(0, 0.02^2) (timm's ViT init for pos_embed and cls_token).
// Cost:     multiply-adds per sound, forward: T p^2 d (patches) + N [n (4 d^2 + 2 d d_ff)
//           + 2 n^2 d] (blocks); backward about twice that (forwardMultiplyAddsPerSound()).
//           Memory: each block caches ~ (10 d + 2 d_ff) n + h n^2 scalars per sound.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "symflow/core/init.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/band_standardizer.hpp"
#include "symflow/nn/encoder_block.hpp"
#include "symflow/nn/layernorm.hpp"
#include "symflow/nn/patch_embed.hpp"

namespace symflow::nn {

/// Column l of every sound in a d x (B L) query matrix: the d x B conditioning of DiT layer l
/// (a strided view; it binds to CMatRef<S> without a copy).
template <class S>
Eigen::Map<const Mat<S>, 0, Eigen::OuterStride<>> queryColumns(const Mat<S>& queries, Index L, Index l) {
  require(L > 0 && queries.cols() % L == 0 && l >= 0 && l < L, "queryColumns: bad query index or layout");
  return {queries.data() + l * queries.rows(), queries.rows(), queries.cols() / L,
          Eigen::OuterStride<>(L * queries.rows())};
}
/// Writable version (to scatter the gradient of DiT layer l into a d x (B L) matrix).
template <class S>
Eigen::Map<Mat<S>, 0, Eigen::OuterStride<>> queryColumns(Mat<S>& queries, Index L, Index l) {
  require(L > 0 && queries.cols() % L == 0 && l >= 0 && l < L, "queryColumns: bad query index or layout");
  return {queries.data() + l * queries.rows(), queries.rows(), queries.cols() / L,
          Eigen::OuterStride<>(L * queries.rows())};
}

struct AstEncoderConfig {
  Index mels = 64;      // M, mel bands
  Index frames = 201;   // F, frames (2 s at 16 kHz, 10 ms hop, centred frames)
  Index patch = 16;     // p
  Index stride = 10;    // s (< p: overlapping patches)
  Index width = 128;    // d, token width
  Index heads = 4;
  Index layers = 4;     // N encoder blocks
  Index ffDim = 256;    // FFN hidden width
  Index queries = 5;    // L, one per DiT layer
  bool pooled = false;  // output the mean of the queries (d x B) instead of all (d x (B L))
  double standardizeEps = 1e-5;

  Index patchesPerMelAxis() const { return PatchEmbed<float>::patchesAlong(mels, patch, stride); }
  Index patchesPerTimeAxis() const { return PatchEmbed<float>::patchesAlong(frames, patch, stride); }
  /// T, patch tokens per sound.
  Index numPatches() const { return patchesPerMelAxis() * patchesPerTimeAxis(); }
  /// n = T + L, tokens per sound inside the encoder.
  Index tokensPerSound() const { return numPatches() + queries; }

  /// Throws Error naming the first bad field.
  void validate() const {
    auto field = [](const char* name, Index v) { return std::string(name) + " = " + std::to_string(v); };
    require(mels > 0, "AstEncoder: mels must be positive, got " + field("mels", mels));
    require(frames > 0, "AstEncoder: frames must be positive, got " + field("frames", frames));
    require(patch > 0, "AstEncoder: patch size must be positive, got " + field("patch", patch));
    require(stride > 0 && stride <= patch,
            "AstEncoder: need 1 <= stride <= patch, got " + field("stride", stride) + ", " + field("patch", patch));
    require(patch <= mels, "AstEncoder: patch " + std::to_string(patch) + " is larger than the " +
                               std::to_string(mels) + " mel bands");
    require(patch <= frames, "AstEncoder: patch " + std::to_string(patch) + " is longer than the " +
                                 std::to_string(frames) + " frames");
    require(width > 0, "AstEncoder: width must be positive, got " + field("width", width));
    require(heads > 0 && width % heads == 0,
            "AstEncoder: heads must divide the width, got " + field("heads", heads) + ", " + field("width", width));
    require(layers > 0, "AstEncoder: need at least one encoder layer, got " + field("layers", layers));
    require(ffDim > 0, "AstEncoder: ffDim must be positive, got " + field("ffDim", ffDim));
    require(queries > 0, "AstEncoder: need at least one query token, got " + field("queries", queries));
    require(standardizeEps > 0, "AstEncoder: standardizeEps must be positive");
  }

  /// Trainable scalars (the formula in the header comment).
  Index numParams() const {
    validate();
    const Index d = width, T = numPatches();
    return patch * patch * d + d + T * d + queries * d +
           layers * (4 * d * d + 2 * d * ffDim + 9 * d + ffDim) + 2 * d;
  }
  /// Forward multiply-adds per sound (GEMMs and attention products; element-wise work omitted).
  double forwardMultiplyAddsPerSound() const {
    const double d = double(width), n = double(tokensPerSound()), T = double(numPatches()),
                 p2 = double(patch * patch);
    return T * p2 * d + double(layers) * (n * (4 * d * d + 2 * d * double(ffDim)) + 2 * n * n * d);
  }
};

template <class S>
class AstEncoder {
 public:
  using Config = AstEncoderConfig;
  struct Cache {
    Index batch = 0;  // B of the last complete forward (0: none)
    Mat<S> xs;        // standardized input (M F) x B
    typename BandStandardizer<S>::Cache standardize;
    typename PatchEmbed<S>::Cache patch;
    Mat<S> tokens;    // d x (B T): patch tokens
    Mat<S> seq[2];    // d x (B n): token streams, ping-pong between blocks (blocks keep no view)
    std::vector<typename TransformerEncoderBlock<S>::Cache> blocks;
    Mat<S> q;         // d x (B L): the query positions of the last stream (final LN's input)
    typename LayerNorm<S>::Cache norm;
    Mat<S> queries;   // d x (B L): the query outputs (pooled mode; else they are the output y)
    mutable Mat<S> dq, dqPre, dseq[2], dtokens, dxs;  // backward scratch, reused across calls
  };

  AstEncoder() : AstEncoder(Config{}) {}
  explicit AstEncoder(const Config& cfg) : cfg_((cfg.validate(), cfg)) {
    inputNorm_ = BandStandardizer<S>(cfg.mels, cfg.standardizeEps);
    patch_ = PatchEmbed<S>(cfg.mels, cfg.frames, cfg.patch, cfg.stride, cfg.width);
    for (Index i = 0; i < cfg.layers; ++i) blocks_.emplace_back(cfg.width, cfg.heads, cfg.ffDim);
    norm_ = LayerNorm<S>(cfg.width);
  }

  const Config& config() const { return cfg_; }
  Index inFeatures() const { return cfg_.mels * cfg_.frames; }
  /// d (rows of the output).
  Index outFeatures() const { return cfg_.width; }
  /// Output columns per sound: L, or 1 when pooled.
  Index outputsPerSound() const { return cfg_.pooled ? 1 : cfg_.queries; }
  Index numQueries() const { return cfg_.queries; }
  Index numPatches() const { return patch_.numPatches(); }
  Index tokensPerSound() const { return numPatches() + cfg_.queries; }

  Index numParams() const {
    Index n = patch_.numParams() + cfg_.queries * cfg_.width + norm_.numParams();
    for (const auto& b : blocks_) n += b.numParams();
    return n;
  }
  void bind(ParamCursor<S>& c) {
    patch_.bind(c);
    queries_ = c.take(cfg_.queries * cfg_.width);
    for (auto& b : blocks_) b.bind(c);
    norm_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    inputNorm_.visitParams(joinName(prefix, "input_norm"), f);
    patch_.visitParams(joinName(prefix, "patch_embed"), f);
    f(TensorRef<S>{joinName(prefix, "queries"), {cfg_.queries, cfg_.width}, queries_.w, queries_.g, true});
    for (size_t i = 0; i < blocks_.size(); ++i) blocks_[i].visitParams(joinName(prefix, "blocks." + std::to_string(i)), f);
    norm_.visitParams(joinName(prefix, "norm"), f);
  }
  /// Initializes the weights; the input statistics are left as they are (see band_standardizer.hpp).
  void init(Rng& rng) {
    patch_.init(rng);
    init::normal(queries_.w, queries_.size, 0.0, 0.02, rng);
    for (auto& b : blocks_) b.init(rng);
    norm_.init(rng);
  }
  S penalty() const { return S(0); }
  // No BatchNorm: training and eval behave the same (kept for a uniform encoder interface).
  void setTraining(bool) {}
  void updateRunningStats(const Cache&) {}

  /// The per-band input statistics (measure with BandStatistics, then setStatistics).
  BandStandardizer<S>& inputNorm() { return inputNorm_; }
  const BandStandardizer<S>& inputNorm() const { return inputNorm_; }
  const PatchEmbed<S>& patchEmbed() const { return patch_; }
  const TransformerEncoderBlock<S>& block(Index i) const { return blocks_[size_t(i)]; }
  /// The learned query tokens Q as a d x L matrix (column l: query l).
  MatMap<S> queryTokens() const { return queries_.wmat(cfg_.width, cfg_.queries); }
  MatMap<S> queryTokensGrad() const { return queries_.gmat(cfg_.width, cfg_.queries); }

  /// x: (M F) x B  ->  y: d x (B L) query outputs, or d x B (pooled).
  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    require(x.rows() == inFeatures(), "AstEncoder: input has " + std::to_string(x.rows()) +
                                          " rows, expected mels x frames = " + std::to_string(cfg_.mels) + " x " +
                                          std::to_string(cfg_.frames) + " = " + std::to_string(inFeatures()));
    require(x.cols() > 0, "AstEncoder: empty batch");
    c.batch = 0;
    const Index B = x.cols(), T = numPatches(), L = cfg_.queries, n = T + L, d = cfg_.width;
    inputNorm_.forward(x, c.xs, c.standardize);
    patch_.forward(c.xs, c.tokens, c.patch);
    Mat<S>& z0 = c.seq[0];
    z0.resize(d, B * n);
    const auto Q = queryTokens();
    for (Index b = 0; b < B; ++b) {
      z0.middleCols(b * n, T) = c.tokens.middleCols(b * T, T);
      z0.middleCols(b * n + T, L) = Q;
    }
    c.blocks.resize(blocks_.size());
    for (size_t i = 0; i < blocks_.size(); ++i)
      blocks_[i].forward(c.seq[i % 2], n, c.seq[(i + 1) % 2], c.blocks[i]);
    const Mat<S>& zN = c.seq[blocks_.size() % 2];
    c.q.resize(d, B * L);
    for (Index b = 0; b < B; ++b) c.q.middleCols(b * L, L) = zN.middleCols(b * n + T, L);
    if (cfg_.pooled) {
      norm_.forward(c.q, c.queries, c.norm);
      y.resize(d, B);
      for (Index b = 0; b < B; ++b) y.col(b) = c.queries.middleCols(b * L, L).rowwise().mean();
    } else {
      norm_.forward(c.q, y, c.norm);
    }
    c.batch = B;
  }

  /// dy: like y. Adds into the parameter gradients; writes dx ((M F) x B) when not null.
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>* dx) const {
    require(c.batch > 0, "AstEncoder: backward without a forward on this cache");
    const Index B = c.batch, T = numPatches(), L = cfg_.queries, n = T + L, d = cfg_.width;
    require(dy.rows() == d && dy.cols() == B * outputsPerSound(),
            "AstEncoder: gradient is " + std::to_string(dy.rows()) + " x " + std::to_string(dy.cols()) +
                ", expected " + std::to_string(d) + " x " + std::to_string(B * outputsPerSound()));
    if (cfg_.pooled) {
      c.dq.resize(d, B * L);
      for (Index b = 0; b < B; ++b) c.dq.middleCols(b * L, L).colwise() = dy.col(b) / S(L);
      norm_.backward(c.norm, c.dq, c.dqPre);
    } else {
      norm_.backward(c.norm, dy, c.dqPre);
    }
    Mat<S>* dcur = &c.dseq[0];
    Mat<S>* dnext = &c.dseq[1];
    dcur->setZero(d, B * n);
    for (Index b = 0; b < B; ++b) dcur->middleCols(b * n + T, L) = c.dqPre.middleCols(b * L, L);
    for (size_t i = blocks_.size(); i-- > 0;) {
      blocks_[i].backward(c.blocks[i], *dcur, *dnext);
      std::swap(dcur, dnext);
    }
    auto dQ = queryTokensGrad();
    c.dtokens.resize(d, B * T);
    for (Index b = 0; b < B; ++b) {
      dQ += dcur->middleCols(b * n + T, L);
      c.dtokens.middleCols(b * T, T) = dcur->middleCols(b * n, T);
    }
    if (dx) {
      patch_.backward(c.patch, c.dtokens, &c.dxs);
      inputNorm_.backward(c.standardize, c.dxs, *dx);
    } else {
      patch_.backwardParams(c.patch, c.dtokens);
    }
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const { backward(c, dy, &dx); }
  /// Parameter gradients only (the spectrogram needs no gradient in training).
  void backwardParams(const Cache& c, const CMatRef<S>& dy) const { backward(c, dy, nullptr); }

 private:
  Config cfg_;
  BandStandardizer<S> inputNorm_;
  PatchEmbed<S> patch_;
  ParamSlot<S> queries_;
  std::vector<TransformerEncoderBlock<S>> blocks_;
  LayerNorm<S> norm_;
};

}  // namespace symflow::nn
