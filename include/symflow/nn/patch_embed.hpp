// symflow/nn/patch_embed.hpp - overlapping square patches of a spectrogram, projected to tokens
// (the Audio Spectrogram Transformer's patch embedding), plus a learned positional embedding.
//
// Input layout: a batch of B spectrograms of M mel bands x F frames is the (M F) x B matrix x,
//   one sound per column; within a column the M bands of frame 0 come first, then those of
//   frame 1, ...: entry x[f M + m, b] is band m of frame f. This is exactly the memory of the
//   batched mel spectrogram of audio/mel.hpp (nMels x (B F), frames of a sound contiguous), so
//   that M x (B F) matrix is viewed as (M F) x B without a copy (Eigen::Map).
// Patches: p x p squares (p frames x p bands) with stride s along both axes;
//   nMel  = floor((M - p) / s) + 1 patch positions along the bands,
//   nTime = floor((F - p) / s) + 1 positions along the frames,
//   T = nTime nMel patches per sound (the edge bands/frames past the last whole patch are
//   not covered, as in a PyTorch Conv2d without padding). Patch t = pt nMel + pm (time-major,
//   band fastest) has its top-left corner at frame pt s, band pm s. s < p overlaps (the
//   paper's 16 / 10); s > p is refused (it would skip input).
// im2col: cols is (p p) x (B T); column b T + t is patch t of sound b flattened with the band
//   offset fastest: cols[i p + j, b T + t] = x[(pt s + i) M + pm s + j, b] (i: frame offset,
//   j: band offset), so each patch is p contiguous runs of p input values.
// Forward:  y = W cols + bias (ONE GEMM over every patch of the batch: nn::Linear(p p, d)),
//           then y[:, b T + t] += pos[:, t]             ->  y: d x (B T) tokens, T per sound.
//           Equals PyTorch's Conv2d(1, d, kernel p, stride s) on the (B, 1, F, M) tensor whose
//           memory is x, flatten(2).transpose(1, 2), plus pos_embed (1, T, d) (the original AST
//           feeds (B, 1, M, F): the same layer with the two patch axes swapped).
// Backward: dpos += sum_b dy[:, b T + t];  dW += dy cols^T,  dbias += rowsum(dy);
//           dcols = W^T dy and dx = col2im(dcols) (the scatter-add of every patch's gradient
//           back onto the input positions it covers; overlapping patches add up).
//           Reads cols (the im2col matrix lives in the cache: the layer keeps no view of x,
//           which may be freed right after forward). backwardParams skips dcols and dx.
// Params:   "proj.weight" (d, p p) = Conv2d weight (d, 1, p, p) flattened, "proj.bias" (d):
//           PyTorch's default init U(+-1/sqrt(p p)); "pos_embed" (T, d): N(0, 0.02^2) (timm's
//           trunc_normal_(std=.02), whose cut at +-2 is 100 sigma away: no truncation).
// Cost:     forward B T p^2 d multiply-adds (the GEMM), backward twice that (once with
//           backwardParams); im2col/col2im move B T p^2 values. Threads split the sounds
//           (im2col, col2im, positional add) and the GEMM's token columns (core/gemm.hpp).
#pragma once
#include <algorithm>
#include <string>

#include "symflow/core/init.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/linear.hpp"

namespace symflow::nn {

template <class S>
class PatchEmbed {
 public:
  struct Cache {
    Index batch = 0;   // B of the last forward (0: no forward yet)
    Mat<S> cols;       // (p p) x (B T) im2col matrix, the projection's input
    typename Linear<S>::Cache proj;
    mutable Mat<S> dcols;  // backward scratch (p p) x (B T)
  };

  /// Patch positions along an axis of `length` cells: floor((length - patch) / stride) + 1.
  static Index patchesAlong(Index length, Index patch, Index stride) {
    require(patch > 0 && stride > 0, "PatchEmbed: patch size and stride must be positive");
    require(length >= patch, "PatchEmbed: axis of length " + std::to_string(length) +
                                 " is shorter than the patch size " + std::to_string(patch));
    return (length - patch) / stride + 1;
  }

  PatchEmbed() = default;
  /// mels M, frames F, patch size p, stride s (1 <= s <= p), token width d.
  PatchEmbed(Index mels, Index frames, Index patch, Index stride, Index width)
      : mels_(mels), frames_(frames), patch_(patch), stride_(stride), d_(width) {
    require(mels > 0 && frames > 0 && width > 0, "PatchEmbed: sizes must be positive");
    require(patch > 0 && stride > 0 && stride <= patch,
            "PatchEmbed: need 1 <= stride <= patch, got patch " + std::to_string(patch) +
                ", stride " + std::to_string(stride) + " (a stride above the patch skips input)");
    nMel_ = patchesAlong(mels, patch, stride);
    nTime_ = patchesAlong(frames, patch, stride);
    proj_ = Linear<S>(patch * patch, width);
  }

  Index mels() const { return mels_; }
  Index frames() const { return frames_; }
  Index patchSize() const { return patch_; }
  Index stride() const { return stride_; }
  Index width() const { return d_; }
  Index patchesPerMelAxis() const { return nMel_; }
  Index patchesPerTimeAxis() const { return nTime_; }
  /// T, tokens per sound.
  Index numPatches() const { return nMel_ * nTime_; }
  Index inFeatures() const { return mels_ * frames_; }
  Index outFeatures() const { return d_; }
  const Linear<S>& proj() const { return proj_; }

  Index numParams() const { return proj_.numParams() + numPatches() * d_; }
  void bind(ParamCursor<S>& c) {
    proj_.bind(c);
    pos_ = c.take(numPatches() * d_);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    proj_.visitParams(joinName(prefix, "proj"), f);
    f(TensorRef<S>{joinName(prefix, "pos_embed"), {numPatches(), d_}, pos_.w, pos_.g, true});
  }
  void init(Rng& rng) {
    proj_.init(rng);
    init::normal(pos_.w, pos_.size, 0.0, 0.02, rng);
  }
  S penalty() const { return S(0); }

  /// The positional embedding as a d x T matrix (column t: patch t's embedding).
  MatMap<S> posEmbed() const { return pos_.wmat(d_, numPatches()); }
  MatMap<S> posEmbedGrad() const { return pos_.gmat(d_, numPatches()); }

  /// x: (M F) x B  ->  cols: (p p) x (B T)   (layout in the header comment).
  void im2col(const CMatRef<S>& x, Mat<S>& cols) const {
    checkInput(x);
    const Index B = x.cols(), T = numPatches(), p = patch_;
    cols.resize(p * p, B * T);
    parallelRanges(B, itemsPerThread(T * p * p), [&](Index lo, Index hi) {
      for (Index b = lo; b < hi; ++b) {
        const S* xb = x.col(b).data();
        for (Index pt = 0; pt < nTime_; ++pt)
          for (Index pm = 0; pm < nMel_; ++pm) {
            S* dst = cols.col(b * T + pt * nMel_ + pm).data();
            const S* src = xb + (pt * stride_) * mels_ + pm * stride_;
            for (Index i = 0; i < p; ++i) std::copy(src + i * mels_, src + i * mels_ + p, dst + i * p);
          }
      }
    });
  }

  /// Adjoint of im2col: dx = 0, then every patch column is added back onto the input cells it
  /// covers. dcols: (p p) x (B T)  ->  dx: (M F) x B.
  void col2im(const CMatRef<S>& dcols, Mat<S>& dx) const {
    const Index T = numPatches(), p = patch_;
    require(dcols.rows() == p * p && dcols.cols() % T == 0, "PatchEmbed: col2im shape mismatch");
    const Index B = dcols.cols() / T;
    dx.resize(inFeatures(), B);
    parallelRanges(B, itemsPerThread(T * p * p), [&](Index lo, Index hi) {
      for (Index b = lo; b < hi; ++b) {
        S* xb = dx.col(b).data();
        std::fill(xb, xb + inFeatures(), S(0));
        for (Index pt = 0; pt < nTime_; ++pt)
          for (Index pm = 0; pm < nMel_; ++pm) {
            const S* src = dcols.col(b * T + pt * nMel_ + pm).data();
            S* dst = xb + (pt * stride_) * mels_ + pm * stride_;
            for (Index i = 0; i < p; ++i)
              for (Index j = 0; j < p; ++j) dst[i * mels_ + j] += src[i * p + j];
          }
      }
    });
  }

  /// x: (M F) x B spectrograms  ->  y: d x (B T) tokens.
  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    c.batch = 0;
    im2col(x, c.cols);
    proj_.forward(c.cols, y, c.proj);
    const Index B = x.cols(), T = numPatches();
    const auto pos = posEmbed();
    parallelRanges(B, itemsPerThread(T * d_), [&](Index lo, Index hi) {
      for (Index b = lo; b < hi; ++b) y.middleCols(b * T, T) += pos;
    });
    c.batch = B;
  }

  /// dy: d x (B T). Adds into the parameter gradients; writes dx ((M F) x B) when not null.
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>* dx) const {
    const Index T = numPatches();
    require(c.batch > 0, "PatchEmbed: backward without a forward on this cache");
    require(dy.rows() == d_ && dy.cols() == c.batch * T,
            "PatchEmbed: gradient is " + std::to_string(dy.rows()) + " x " + std::to_string(dy.cols()) +
                ", expected " + std::to_string(d_) + " x " + std::to_string(c.batch * T));
    auto dpos = posEmbedGrad();
    for (Index b = 0; b < c.batch; ++b) dpos += dy.middleCols(b * T, T);
    if (dx) {
      proj_.backward(c.proj, dy, c.dcols);
      col2im(c.dcols, *dx);
    } else {
      proj_.backwardParams(c.proj, dy);
    }
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const { backward(c, dy, &dx); }
  /// Parameter gradients only (the spectrogram needs no gradient in training).
  void backwardParams(const Cache& c, const CMatRef<S>& dy) const { backward(c, dy, nullptr); }

 private:
  void checkInput(const CMatRef<S>& x) const {
    require(x.rows() == inFeatures(),
            "PatchEmbed: input has " + std::to_string(x.rows()) + " rows, expected mels x frames = " +
                std::to_string(mels_) + " x " + std::to_string(frames_) + " = " + std::to_string(inFeatures()));
    require(x.cols() > 0, "PatchEmbed: empty batch");
  }

  Index mels_ = 0, frames_ = 0, patch_ = 1, stride_ = 1, d_ = 0, nMel_ = 0, nTime_ = 0;
  Linear<S> proj_;
  ParamSlot<S> pos_;
};

}  // namespace symflow::nn
