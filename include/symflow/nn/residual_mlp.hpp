// symflow/nn/residual_mlp.hpp - pre-norm residual MLP block and a residual-MLP stack.
//
// ResMlpBlock (the PyTorch peer's ResMLP: modules norm, fc1, fc2, res):
//   Shapes:   x: d_in x N  ->  y: d_out x N   (each column separately)
//   Forward:  y = fc2(GELU(fc1(LayerNorm(x)))) + r(x),
//             fc1: Linear(d_in, d_hidden), fc2: Linear(d_hidden, d_out),
//             r(x) = x (ResidualKind::Identity, needs d_in == d_out) or
//             r(x) = res(x), a bias-free Linear(d_in, d_out) (ResidualKind::Linear).
//             The default kind is Identity when d_in == d_out and Linear otherwise; the peer's
//             encoder head ResMLP(512, 128) is ResMlpBlock(512, 512, 128).
//   Backward: the chain rule through the four layers plus the residual path:
//             dx = norm'(fc1'(GELU'(fc2'(dy)))) + (dy or res^T dy).
//             Reads the block's cache (normalized input, fc1 output, GELU output) and the
//             input view (x must stay alive until backward).
//   Params:   norm.weight (d_in), norm.bias, fc1.weight (d_hidden, d_in), fc1.bias,
//             fc2.weight (d_out, d_hidden), fc2.bias, [res.weight (d_out, d_in)].
//
// ResMlp (a stack, e.g. the "CNF (MLP)" vector field body: 7 blocks of width 192):
//   Forward:  h0 = input(x)  (Linear(d_in, width)),
//             h_{i+1} = block_i(h_i)  (ResMlpBlock(width, d_hidden, width), identity residual),
//             y = output(norm(h_n))  (final LayerNorm(width) when finalNorm, then
//             Linear(width, d_out)).
//   Params:   input.*, blocks.<i>.{norm,fc1,fc2}.*, norm.* (when finalNorm), output.*
//             (the names of the PyTorch module with attributes input, blocks (ModuleList),
//             norm, output).
// Caches hold every intermediate and workspace: a reused cache does not allocate.
#pragma once
#include <string>
#include <vector>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/activations.hpp"
#include "symflow/nn/layernorm.hpp"
#include "symflow/nn/linear.hpp"

namespace symflow::nn {

enum class ResidualKind { Identity, Linear };

template <class S>
class ResMlpBlock {
 public:
  struct Cache {
    InputView<S> x;
    typename LayerNorm<S>::Cache norm;
    typename Linear<S>::Cache fc1, fc2, res;
    Mat<S> n, h, g, o;     // norm(x), fc1 output, GELU output, fc2 output (Linear residual)
    mutable Mat<S> dA, dB;  // backward workspaces: d_hidden x N and d_in x N
  };

  ResMlpBlock() = default;
  ResMlpBlock(Index dIn, Index dHidden, Index dOut)
      : ResMlpBlock(dIn, dHidden, dOut, dIn == dOut ? ResidualKind::Identity : ResidualKind::Linear) {}
  ResMlpBlock(Index dIn, Index dHidden, Index dOut, ResidualKind kind)
      : kind_(kind), norm_(dIn), fc1_(dIn, dHidden), fc2_(dHidden, dOut) {
    if (!(kind == ResidualKind::Linear || dIn == dOut))
      throw Error("ResMlpBlock: an identity residual needs d_in == d_out (" + std::to_string(dIn) +
                " != " + std::to_string(dOut) + ")");
    if (kind == ResidualKind::Linear) res_ = Linear<S>(dIn, dOut, false);
  }

  Index inFeatures() const { return fc1_.inFeatures(); }
  Index outFeatures() const { return fc2_.outFeatures(); }
  ResidualKind residualKind() const { return kind_; }

  Index numParams() const {
    return norm_.numParams() + fc1_.numParams() + fc2_.numParams() +
           (kind_ == ResidualKind::Linear ? res_.numParams() : 0);
  }
  void bind(ParamCursor<S>& c) {
    norm_.bind(c);
    fc1_.bind(c);
    fc2_.bind(c);
    if (kind_ == ResidualKind::Linear) res_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    norm_.visitParams(joinName(prefix, "norm"), f);
    fc1_.visitParams(joinName(prefix, "fc1"), f);
    fc2_.visitParams(joinName(prefix, "fc2"), f);
    if (kind_ == ResidualKind::Linear) res_.visitParams(joinName(prefix, "res"), f);
  }
  void init(Rng& rng) {
    norm_.init(rng);
    fc1_.init(rng);
    fc2_.init(rng);
    if (kind_ == ResidualKind::Linear) res_.init(rng);
  }
  S penalty() const { return S(0); }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    if (x.rows() != inFeatures()) throw Error("ResMlpBlock: input has " + std::to_string(x.rows()) +
                                          " rows, expected " + std::to_string(inFeatures()));
    c.x = InputView<S>(x);
    norm_.forward(x, c.n, c.norm);
    fc1_.forward(c.n, c.h, c.fc1);
    c.g.resize(c.h.rows(), c.h.cols());
    geluForward(c.h.data(), c.g.data(), c.h.size());
    if (kind_ == ResidualKind::Linear) {
      res_.forward(x, y, c.res);  // y = res(x)
      fc2_.forward(c.g, c.o, c.fc2);
      y += c.o;
    } else {
      fc2_.forward(c.g, y, c.fc2);
      y += x;
    }
  }

  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    if (!(dy.rows() == outFeatures() && dy.cols() == c.x.cols))
      throw Error("ResMlpBlock: gradient shape mismatch");
    fc2_.backward(c.fc2, dy, c.dA);  // dA = dL/dg
    geluBackward(c.h.data(), c.dA.data(), c.dA.data(), c.dA.size());  // dA = dL/dh (in place)
    fc1_.backward(c.fc1, c.dA, c.dB);                                 // dB = dL/dn
    norm_.backward(c.norm, c.dB, dx);
    if (kind_ == ResidualKind::Linear) {
      res_.backward(c.res, dy, c.dB);
      dx += c.dB;
    } else {
      dx += dy;
    }
  }

 private:
  ResidualKind kind_ = ResidualKind::Identity;
  LayerNorm<S> norm_;
  Linear<S> fc1_, fc2_, res_;
};

template <class S>
class ResMlp {
 public:
  struct Cache {
    typename Linear<S>::Cache input, output;
    typename LayerNorm<S>::Cache norm;
    std::vector<typename ResMlpBlock<S>::Cache> blocks;
    std::vector<Mat<S>> h;  // h[0] = input(x), h[i+1] = block_i(h[i])
    Mat<S> hn;              // norm(h_n) (when finalNorm)
    mutable Mat<S> dA, dB;
  };

  ResMlp() = default;
  /// dHidden = 0 means dHidden = width.
  ResMlp(Index dIn, Index width, Index nBlocks, Index dOut, Index dHidden = 0, bool finalNorm = true)
      : input_(dIn, width), output_(width, dOut), finalNorm_(finalNorm) {
    if (nBlocks < 0) throw Error("ResMlp: block count must be non-negative");
    if (dHidden == 0) dHidden = width;
    for (Index i = 0; i < nBlocks; ++i) blocks_.emplace_back(width, dHidden, width, ResidualKind::Identity);
    if (finalNorm) norm_ = LayerNorm<S>(width);
  }

  Index inFeatures() const { return input_.inFeatures(); }
  Index outFeatures() const { return output_.outFeatures(); }
  Index numBlocks() const { return Index(blocks_.size()); }

  Index numParams() const {
    Index n = input_.numParams() + output_.numParams() + (finalNorm_ ? norm_.numParams() : 0);
    for (const auto& b : blocks_) n += b.numParams();
    return n;
  }
  void bind(ParamCursor<S>& c) {
    input_.bind(c);
    for (auto& b : blocks_) b.bind(c);
    if (finalNorm_) norm_.bind(c);
    output_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    input_.visitParams(joinName(prefix, "input"), f);
    for (size_t i = 0; i < blocks_.size(); ++i)
      blocks_[i].visitParams(joinName(prefix, "blocks." + std::to_string(i)), f);
    if (finalNorm_) norm_.visitParams(joinName(prefix, "norm"), f);
    output_.visitParams(joinName(prefix, "output"), f);
  }
  void init(Rng& rng) {
    input_.init(rng);
    for (auto& b : blocks_) b.init(rng);
    if (finalNorm_) norm_.init(rng);
    output_.init(rng);
  }
  S penalty() const { return S(0); }

  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c) const {
    const size_t nb = blocks_.size();
    c.blocks.resize(nb);
    c.h.resize(nb + 1);
    input_.forward(x, c.h[0], c.input);
    for (size_t i = 0; i < nb; ++i) blocks_[i].forward(c.h[i], c.h[i + 1], c.blocks[i]);
    if (finalNorm_) {
      norm_.forward(c.h[nb], c.hn, c.norm);
      output_.forward(c.hn, y, c.output);
    } else {
      output_.forward(c.h[nb], y, c.output);
    }
  }

  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx) const {
    const size_t nb = blocks_.size();
    output_.backward(c.output, dy, c.dA);
    if (finalNorm_) {
      norm_.backward(c.norm, c.dA, c.dB);
      c.dA.swap(c.dB);
    }
    for (size_t i = nb; i-- > 0;) {
      blocks_[i].backward(c.blocks[i], c.dA, c.dB);
      c.dA.swap(c.dB);
    }
    input_.backward(c.input, c.dA, dx);
  }

 private:
  Linear<S> input_, output_;
  std::vector<ResMlpBlock<S>> blocks_;
  LayerNorm<S> norm_;
  bool finalNorm_ = true;
};

}  // namespace symflow::nn
