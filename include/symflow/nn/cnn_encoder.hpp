// symflow/nn/cnn_encoder.hpp - the paper's spectral CNN encoder (the PyTorch peer's
// ResidualEncoder in ../shared/peer/torch_kosc_bench.py, layer for layer, same tensor names).
//
// Layout:   sequences as in conv1d.hpp: C x (B*L), one column per (sample, position).
// Input:    the |rFFT| magnitude spectrum, nBins x B (one sample per column; nBins = 513 for
//           1024-sample signals). Computing it from audio is preprocessing, outside the network.
//           Its memory is read as the 1-channel sequence 1 x (B*nBins) (no copy when contiguous).
// Output:   dOut x B (128 by default).
//
// ConvResBlock(cin, c)  [PyTorch ResBlock: conv1, bn1, conv2, bn2, skip]
//   Forward:  y = BN2(GELU(conv2(BN1(GELU(conv1(x)))))) + skip(x),
//             conv1: Conv1d(cin, c, 7, stride 1, padding 3), conv2: Conv1d(c, c, 1),
//             skip: identity when cin == c, else Conv1d(cin, c, 1) (with bias).
//   Backward: chain rule in reverse; dx = conv1'(...) + (dy or skip'(dy)).
//   Caches:   conv1 output a1, GELU output g1, BN1 output h1, conv2 output a2, GELU output g2,
//             one gradient workspace (two when cin != c); the input must stay alive.
// Downsample(c)  [PyTorch Downsample: bn, conv]
//   Forward:  y = GELU(conv(BN(x))), conv: Conv1d(c, 2c, 6, stride 3, padding 1)
//             (L_out = floor((L - 4) / 3) + 1).
// CnnEncoder(nBins = 513, base = 24, nStages = 4, dHidden = 512, dOut = 128)
//   net = [ConvResBlock(cin, c), ConvResBlock(c, c), Downsample(c)] per stage, cin = 1,
//         c = base, then cin = c = 2c after each stage (channels 24 -> 48 -> 96 -> 192 -> 384,
//         lengths 513 -> 170 -> 56 -> 18 -> 5 for nBins = 513);
//   h = flatten(net(x)) per sample in PyTorch order (channel-major: index c * L + l), so
//       nFlat = 384 * 5 = 1920;
//   y = mlp(proj(h)), proj: Linear(nFlat, dHidden), mlp: ResMlpBlock(dHidden, dHidden, dOut)
//       with a bias-free Linear residual (the peer's ResMLP).
//   Params (PyTorch state_dict order and names): net.<i>.conv1.{weight,bias},
//       net.<i>.bn1.{weight,bias,running_mean,running_var,num_batches_tracked}, net.<i>.conv2.*,
//       net.<i>.bn2.*, [net.0.skip.*], net.<3s+2>.bn.*, net.<3s+2>.conv.*, proj.*,
//       mlp.{norm,fc1,fc2,res}.*. Init: PyTorch defaults (conv/linear U(+-1/sqrt(fan_in)),
//       BN weight 1 bias 0, LayerNorm weight 1 bias 0).
//   BatchNorm: setTraining(bool) switches every BatchNorm between batch statistics (default)
//       and running statistics; after a training-mode forward, updateRunningStats(cache)
//       applies the momentum update to all of them (see batchnorm.hpp).
//   Backward reads the whole cache (every block's intermediates) and the input view.
// All intermediates and workspaces live in the caches: a reused cache does not allocate
// (apart from the packing buffers Eigen's GEMMs take per product). Memory: about 2.4 GB of
// cache at batch 1024 in float (every block's intermediates are kept for backward).
// GELU and its derivative run fused into the convolutions' chunk loops (Conv1d epilogue /
// prologue), on data still in cache. Element-wise passes (residual adds, BatchNorm) and the
// convolutions run on all OpenMP threads when compiled with OpenMP.
#pragma once
#include <string>
#include <vector>

#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/activations.hpp"
#include "symflow/nn/batchnorm.hpp"
#include "symflow/nn/conv1d.hpp"
#include "symflow/nn/linear.hpp"
#include "symflow/nn/residual_mlp.hpp"

namespace symflow::nn {

namespace detail {
constexpr Index kMinElementsPerThread = Index(1) << 15;

/// y += x (n elements).
template <class S> void parallelAdd(S* y, const S* x, Index n) {
  parallelRanges(n, kMinElementsPerThread, [&](Index i0, Index i1) {
    VecMap<S>(y + i0, i1 - i0) += CVecMap<S>(x + i0, i1 - i0);
  });
}
}  // namespace detail

template <class S>
class ConvResBlock {
 public:
  struct Cache {
    InputView<S> x;
    typename Conv1d<S>::Cache conv1, conv2, skip;
    typename BatchNorm1d<S>::Cache bn1, bn2;
    Mat<S> a1, g1, h1, a2, g2;
    mutable Mat<S> work, work2, work3;  // gradient workspaces (work2/3 only when needed)
  };

  ConvResBlock() = default;
  ConvResBlock(Index cin, Index c, Index length)
      : conv1_(cin, c, 7, 1, 3), conv2_(c, c, 1), bn1_(c), bn2_(c), hasSkip_(cin != c) {
    if (hasSkip_) skip_ = Conv1d<S>(cin, c, 1);
    conv1_.setInputLength(length);
    conv2_.setInputLength(length);
    if (hasSkip_) skip_.setInputLength(length);
  }
  Index inChannels() const { return conv1_.inChannels(); }
  Index outChannels() const { return conv1_.outChannels(); }
  Index length() const { return conv1_.inputLength(); }

  Index numParams() const {
    return conv1_.numParams() + bn1_.numParams() + conv2_.numParams() + bn2_.numParams() +
           (hasSkip_ ? skip_.numParams() : 0);
  }
  void bind(ParamCursor<S>& c) {
    conv1_.bind(c);
    bn1_.bind(c);
    conv2_.bind(c);
    bn2_.bind(c);
    if (hasSkip_) skip_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    conv1_.visitParams(joinName(prefix, "conv1"), f);
    bn1_.visitParams(joinName(prefix, "bn1"), f);
    conv2_.visitParams(joinName(prefix, "conv2"), f);
    bn2_.visitParams(joinName(prefix, "bn2"), f);
    if (hasSkip_) skip_.visitParams(joinName(prefix, "skip"), f);
  }
  void init(Rng& rng) {
    conv1_.init(rng);
    bn1_.init(rng);
    conv2_.init(rng);
    bn2_.init(rng);
    if (hasSkip_) skip_.init(rng);
  }
  S penalty() const { return S(0); }
  void setTraining(bool t) {
    bn1_.setTraining(t);
    bn2_.setTraining(t);
  }
  void updateRunningStats(const Cache& c) {
    bn1_.updateRunningStats(c.bn1);
    bn2_.updateRunningStats(c.bn2);
  }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    c.x = InputView<S>(x);
    const Index C = outChannels(), N = x.cols();
    // GELU is applied to each conv output chunk while it is in cache (Conv1d epilogue).
    c.g1.resize(C, N);
    conv1_.forward(x, c.a1, c.conv1, [&](Index col0, Index n) {
      geluForward(c.a1.data() + col0 * C, c.g1.data() + col0 * C, n * C);
    });
    bn1_.forward(c.g1, c.h1, c.bn1);
    c.g2.resize(C, N);
    conv2_.forward(c.h1, c.a2, c.conv2, [&](Index col0, Index n) {
      geluForward(c.a2.data() + col0 * C, c.g2.data() + col0 * C, n * C);
    });
    bn2_.forward(c.g2, y, c.bn2);
    if (hasSkip_) {
      skip_.forward(x, c.work, c.skip);  // the gradient workspace doubles as forward scratch
      detail::parallelAdd(y.data(), c.work.data(), y.size());
    } else {
      if (x.outerStride() != x.rows()) throw Error("ConvResBlock: input must be contiguous");
      detail::parallelAdd(y.data(), x.data(), y.size());
    }
  }

  /// Parameter gradients and, when dx != nullptr, the input gradient.
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>* dx) const {
    if (!(dy.rows() == outChannels() && dy.cols() == c.a1.cols() && dy.outerStride() == dy.rows()))
      throw Error("ConvResBlock: gradient shape mismatch");
    Mat<S>& w = c.work;
    // dL/dh1 goes to dx's memory when dx has its shape (no skip conv), else to work2.
    Mat<S>& dh1 = (!hasSkip_ && dx) ? *dx : c.work2;
    const Index C = outChannels();
    // dL/da = dL/dg * GELU'(a) is formed chunk by chunk inside the conv backward (prologue).
    bn2_.backward(c.bn2, dy, w);  // dL/dg2
    conv2_.backward(c.conv2, w, dh1, [&](Index col0, Index n, S* out) {
      geluBackward(c.a2.data() + col0 * C, w.data() + col0 * C, out, n * C);
    });                            // dL/dh1
    bn1_.backward(c.bn1, dh1, w);  // dL/dg1
    conv1_.backward(c.conv1, w, dx, [&](Index col0, Index n, S* out) {
      geluBackward(c.a1.data() + col0 * C, w.data() + col0 * C, out, n * C);
    });
    if (hasSkip_) {
      if (dx) {
        skip_.backward(c.skip, dy, c.work3);
        detail::parallelAdd(dx->data(), c.work3.data(), dx->size());
      } else {
        skip_.backwardParams(c.skip, dy);
      }
    } else if (dx) {
      detail::parallelAdd(dx->data(), dy.data(), dx->size());
    }
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const { backward(c, dy, &dx); }

 private:
  Conv1d<S> conv1_, conv2_, skip_;
  BatchNorm1d<S> bn1_, bn2_;
  bool hasSkip_ = false;
};

template <class S>
class Downsample {
 public:
  struct Cache {
    typename BatchNorm1d<S>::Cache bn;
    typename Conv1d<S>::Cache conv;
    Mat<S> h, a;  // BN output, conv output (pre-activation)
    mutable Mat<S> work;
  };

  Downsample() = default;
  Downsample(Index c, Index length) : bn_(c), conv_(c, 2 * c, 6, 3, 1) { conv_.setInputLength(length); }
  Index inChannels() const { return conv_.inChannels(); }
  Index outChannels() const { return conv_.outChannels(); }
  Index outputLength() const { return conv_.outputLength(); }

  Index numParams() const { return bn_.numParams() + conv_.numParams(); }
  void bind(ParamCursor<S>& c) {
    bn_.bind(c);
    conv_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    bn_.visitParams(joinName(prefix, "bn"), f);
    conv_.visitParams(joinName(prefix, "conv"), f);
  }
  void init(Rng& rng) {
    bn_.init(rng);
    conv_.init(rng);
  }
  S penalty() const { return S(0); }
  void setTraining(bool t) { bn_.setTraining(t); }
  void updateRunningStats(const Cache& c) { bn_.updateRunningStats(c.bn); }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    bn_.forward(x, c.h, c.bn);
    const Index C = outChannels();
    y.resize(C, x.cols() / conv_.inputLength() * conv_.outputLength());
    conv_.forward(c.h, c.a, c.conv, [&](Index col0, Index n) {
      geluForward(c.a.data() + col0 * C, y.data() + col0 * C, n * C);
    });
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    if (!(dy.rows() == c.a.rows() && dy.cols() == c.a.cols() && dy.outerStride() == dy.rows()))
      throw Error("Downsample: gradient shape mismatch");
    const Index C = outChannels();
    conv_.backward(c.conv, dy, c.work, [&](Index col0, Index n, S* out) {
      geluBackward(c.a.data() + col0 * C, dy.data() + col0 * C, out, n * C);
    });                                // dL/dh
    bn_.backward(c.bn, c.work, dx);
  }

 private:
  BatchNorm1d<S> bn_;
  Conv1d<S> conv_;
};

template <class S>
class CnnEncoder {
 public:
  struct Config {
    Index nBins = 513, base = 24, nStages = 4, dHidden = 512, dOut = 128;
  };
  struct Cache {
    Index batch = 0;
    Mat<S> input;  // contiguous copy of the spectrum, only when the caller's is not
    std::vector<typename ConvResBlock<S>::Cache> res;  // 2 per stage
    std::vector<typename Downsample<S>::Cache> down;   // 1 per stage
    std::vector<Mat<S>> out;                           // output of net.<i>
    Mat<S> flat, hidden;                               // flatten(net(x)), proj(flat)
    typename Linear<S>::Cache proj;
    typename ResMlpBlock<S>::Cache mlp;
    mutable Mat<S> dHidden, dFlat, dTop, dInput;
    mutable std::vector<Mat<S>> dStageA, dStageB;
  };

  CnnEncoder() : CnnEncoder(Config{}) {}
  explicit CnnEncoder(const Config& cfg) : cfg_(cfg) {
    if (!(cfg.nBins > 0 && cfg.base > 0 && cfg.nStages > 0 && cfg.dHidden > 0 && cfg.dOut > 0))
      throw Error("CnnEncoder: sizes must be positive");
    Index cin = 1, c = cfg.base, L = cfg.nBins;
    for (Index s = 0; s < cfg.nStages; ++s) {
      res_.emplace_back(cin, c, L);
      res_.emplace_back(c, c, L);
      down_.emplace_back(c, L);
      L = down_.back().outputLength();
      cin = c = 2 * c;
    }
    lastChannels_ = cin;
    lastLength_ = L;
    proj_ = Linear<S>(nFlat(), cfg.dHidden);
    mlp_ = ResMlpBlock<S>(cfg.dHidden, cfg.dHidden, cfg.dOut, ResidualKind::Linear);
  }

  const Config& config() const { return cfg_; }
  Index inFeatures() const { return cfg_.nBins; }
  Index outFeatures() const { return cfg_.dOut; }
  /// Channels x length of the last stage's output; nFlat = their product.
  Index finalChannels() const { return lastChannels_; }
  Index finalLength() const { return lastLength_; }
  Index nFlat() const { return lastChannels_ * lastLength_; }

  Index numParams() const {
    Index n = proj_.numParams() + mlp_.numParams();
    for (size_t s = 0; s < down_.size(); ++s)
      n += res_[2 * s].numParams() + res_[2 * s + 1].numParams() + down_[s].numParams();
    return n;
  }
  void bind(ParamCursor<S>& c) {
    for (size_t s = 0; s < down_.size(); ++s) {
      res_[2 * s].bind(c);
      res_[2 * s + 1].bind(c);
      down_[s].bind(c);
    }
    proj_.bind(c);
    mlp_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    const std::string net = joinName(prefix, "net");
    for (size_t s = 0; s < down_.size(); ++s) {
      res_[2 * s].visitParams(net + "." + std::to_string(3 * s), f);
      res_[2 * s + 1].visitParams(net + "." + std::to_string(3 * s + 1), f);
      down_[s].visitParams(net + "." + std::to_string(3 * s + 2), f);
    }
    proj_.visitParams(joinName(prefix, "proj"), f);
    mlp_.visitParams(joinName(prefix, "mlp"), f);
  }
  void init(Rng& rng) {
    for (size_t s = 0; s < down_.size(); ++s) {
      res_[2 * s].init(rng);
      res_[2 * s + 1].init(rng);
      down_[s].init(rng);
    }
    proj_.init(rng);
    mlp_.init(rng);
  }
  S penalty() const { return S(0); }

  /// Batch statistics (true, the default) or running statistics (false) in every BatchNorm.
  void setTraining(bool t) {
    for (auto& r : res_) r.setTraining(t);
    for (auto& d : down_) d.setTraining(t);
    training_ = t;
  }
  bool training() const { return training_; }
  /// Momentum update of every BatchNorm's running statistics from a training-mode forward.
  void updateRunningStats(const Cache& c) {
    for (size_t i = 0; i < res_.size(); ++i) res_[i].updateRunningStats(c.res[i]);
    for (size_t i = 0; i < down_.size(); ++i) down_[i].updateRunningStats(c.down[i]);
  }

  /// spectrum: nBins x B magnitudes -> y: dOut x B.
  void forward(const CMatRef<S>& spectrum, Mat<S>& y, Cache& c) const {
    if (spectrum.rows() != cfg_.nBins)
      throw Error("CnnEncoder: input has " + std::to_string(spectrum.rows()) +
                                               " rows (bins), expected " + std::to_string(cfg_.nBins));
    const Index B = spectrum.cols();
    if (B <= 0) throw Error("CnnEncoder: empty batch");
    c.batch = B;
    const S* src = spectrum.data();
    if (spectrum.outerStride() != spectrum.rows()) {
      c.input = spectrum;
      src = c.input.data();
    }
    const CMatMap<S> seq(src, 1, B * cfg_.nBins);  // the 1-channel sequence layout
    const size_t nNet = 3 * down_.size();
    c.res.resize(res_.size());
    c.down.resize(down_.size());
    c.out.resize(nNet);
    for (size_t s = 0; s < down_.size(); ++s) {
      if (s == 0)
        res_[0].forward(seq, c.out[0], c.res[0]);
      else
        res_[2 * s].forward(c.out[3 * s - 1], c.out[3 * s], c.res[2 * s]);
      res_[2 * s + 1].forward(c.out[3 * s], c.out[3 * s + 1], c.res[2 * s + 1]);
      down_[s].forward(c.out[3 * s + 1], c.out[3 * s + 2], c.down[s]);
    }
    // Flatten per sample in PyTorch's (C, L) row-major order: flat(ch * L + l, b) = h(ch, b*L + l).
    const Mat<S>& h = c.out[nNet - 1];
    const Index C = lastChannels_, L = lastLength_;
    c.flat.resize(C * L, B);
    for (Index b = 0; b < B; ++b) MatMap<S>(c.flat.col(b).data(), L, C) = h.middleCols(b * L, L).transpose();
    proj_.forward(c.flat, c.hidden, c.proj);
    mlp_.forward(c.hidden, y, c.mlp);
  }

  /// Parameter gradients and, when dx != nullptr, the gradient w.r.t. the spectrum (nBins x B).
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>* dx) const {
    const Index B = c.batch;
    if (!(dy.rows() == cfg_.dOut && dy.cols() == B)) throw Error("CnnEncoder: gradient shape mismatch");
    mlp_.backward(c.mlp, dy, c.dHidden);
    proj_.backward(c.proj, c.dHidden, c.dFlat);
    const Index C = lastChannels_, L = lastLength_;
    c.dTop.resize(C, B * L);
    for (Index b = 0; b < B; ++b)
      c.dTop.middleCols(b * L, L) = CMatMap<S>(c.dFlat.col(b).data(), L, C).transpose();
    // Per stage s, two gradient buffers of the stage's shape c_s x (B*L_s): fixed shapes, so
    // a reused cache does not reallocate.
    c.dStageA.resize(down_.size());
    c.dStageB.resize(down_.size());
    for (size_t s = down_.size(); s-- > 0;) {
      Mat<S>& gA = c.dStageA[s];
      Mat<S>& gB = c.dStageB[s];
      down_[s].backward(c.down[s], s + 1 == down_.size() ? c.dTop : c.dStageA[s + 1], gA);
      res_[2 * s + 1].backward(c.res[2 * s + 1], gA, gB);
      if (s > 0) {
        res_[2 * s].backward(c.res[2 * s], gB, gA);
      } else if (dx) {
        res_[0].backward(c.res[0], gB, c.dInput);  // 1 x (B*nBins): the spectrum's memory order
        dx->resize(cfg_.nBins, B);
        VecMap<S>(dx->data(), dx->size()) = VecMap<S>(c.dInput.data(), c.dInput.size());
      } else {
        res_[0].backward(c.res[0], gB, nullptr);
      }
    }
  }
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const { backward(c, dy, &dx); }
  /// Parameter gradients only (the spectrum needs no gradient in training).
  void backwardParams(const Cache& c, const CMatRef<S>& dy) const { backward(c, dy, nullptr); }

 private:
  Config cfg_;
  std::vector<ConvResBlock<S>> res_;
  std::vector<Downsample<S>> down_;
  Linear<S> proj_;
  ResMlpBlock<S> mlp_;
  Index lastChannels_ = 0, lastLength_ = 0;
  bool training_ = true;
};

}  // namespace symflow::nn
