// symflow/core/params.hpp - one flat buffer of weights and one of gradients.
//
// A model's trainable parameters live in two contiguous vectors owned by a ParamStore:
// weights and gradients, same length, same layout. Layers never own parameters; bind()
// hands each layer a ParamCursor from which it takes the slices it needs, in a fixed
// order, and keeps raw pointers (Eigen::Map views) into both buffers. The optimizer,
// gradient clipping and (later) MPI allreduce then work on one flat vector each.
//
// Every tensor is stored in PyTorch's layout: a weight of PyTorch shape (out, in) is the
// row-major (out, in) array, i.e. the column-major in x out matrix W^T. Layers therefore
// multiply by W^T's transpose; a checkpoint tensor is a contiguous slice of the buffer.
//
// Layers describe their tensors through visitParams(prefix, f), calling
//   f(const TensorRef<S>&)
// once per tensor with a PyTorch-style dotted name ("blocks.0.attn.in_proj_weight").
// Non-trainable state (BatchNorm running statistics) is visited too, with grad == nullptr
// and trainable == false; it lives in the layer object, not in the flat buffers.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "symflow/core/types.hpp"

namespace symflow {

template <class S>
struct TensorRef {
  std::string name;
  std::vector<Index> shape;  // PyTorch order, row-major
  S* value = nullptr;
  S* grad = nullptr;  // nullptr for non-trainable buffers
  bool trainable = true;
  Index size() const {
    Index n = 1;
    for (Index d : shape) n *= d;
    return n;
  }
};

/// Joins a module prefix and a child name the PyTorch way: join("blocks.0", "norm1").
inline std::string joinName(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

/// A pair of raw slices (weights, gradients) of the same length.
template <class S>
struct ParamSlot {
  S* w = nullptr;
  S* g = nullptr;
  Index size = 0;
  MatMap<S> wmat(Index rows, Index cols) const { return {w, rows, cols}; }
  MatMap<S> gmat(Index rows, Index cols) const { return {g, rows, cols}; }
  VecMap<S> wvec() const { return {w, size}; }
  VecMap<S> gvec() const { return {g, size}; }
};

/// Hands out consecutive slices of the two flat buffers during bind().
template <class S>
class ParamCursor {
 public:
  ParamCursor(S* w, S* g, Index n) : w_(w), g_(g), left_(n) {}
  ParamSlot<S> take(Index n) {
    require(n >= 0 && n <= left_, "ParamCursor: layer asks for more parameters than allocated");
    ParamSlot<S> s{w_, g_, n};
    w_ += n;
    g_ += n;
    left_ -= n;
    return s;
  }
  Index remaining() const { return left_; }

 private:
  S* w_;
  S* g_;
  Index left_;
};

/// Owns the flat weight and gradient buffers of one model (any layer or composite with
/// numParams() and bind(ParamCursor&)).
template <class S>
class ParamStore {
 public:
  ParamStore() = default;
  template <class Layer> explicit ParamStore(Layer& layer) { attach(layer); }

  /// Allocates numParams() zeros and binds the layer to them. Rebinding is allowed
  /// (the layer then points into the new buffers).
  template <class Layer> void attach(Layer& layer) {
    const Index n = layer.numParams();
    w_.setZero(n);
    g_.setZero(n);
    ParamCursor<S> c(w_.data(), g_.data(), n);
    layer.bind(c);
    require(c.remaining() == 0, "ParamStore: layer bound fewer parameters than numParams()");
  }
  Vec<S>& weights() { return w_; }
  const Vec<S>& weights() const { return w_; }
  Vec<S>& grads() { return g_; }
  const Vec<S>& grads() const { return g_; }
  Index size() const { return w_.size(); }
  void zeroGrad() { g_.setZero(); }

 private:
  Vec<S> w_, g_;
};

/// Collects a layer's tensor list (names, shapes, pointers) in visiting order.
template <class S, class Layer>
std::vector<TensorRef<S>> listTensors(Layer& layer, const std::string& prefix = "") {
  std::vector<TensorRef<S>> out;
  layer.visitParams(prefix, [&](const TensorRef<S>& t) { out.push_back(t); });
  return out;
}

}  // namespace symflow
