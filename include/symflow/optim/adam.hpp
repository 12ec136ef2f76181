// symflow/optim/adam.hpp - Adam / AdamW over a model's flat parameter buffer.
//
// Shapes: weights w, gradients g (a ParamStore's two flat buffers, length n) and the
// optimizer's own first and second moments m, v (length n, zero-initialized).
// One step (PyTorch torch.optim.Adam / AdamW semantics, amsgrad off), t = step count after
// incrementing, lr the rate for this step (e.g. from a schedule):
//   WeightDecay::L2 (torch.optim.Adam(weight_decay=wd)):   g <- g + wd * w
//   WeightDecay::Decoupled (torch.optim.AdamW):            w <- w * (1 - lr * wd)
//   m <- m + (1 - beta1) * (g - m)                  (PyTorch's lerp form of b1 m + (1-b1) g)
//   v <- beta2 * v + (1 - beta2) * g * g
//   w <- w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// eps is added after the square root (eps = 1e-8 by default, as in PyTorch). The bias
// corrections and step size are computed in double, the element-wise update in Scalar,
// vectorized with xsimd in one pass over (w, g, m, v). Weight decay applies to every
// parameter (PyTorch's single parameter group). The gradients are read, never modified.
//
// Learning-rate multipliers (parameter groups): setLrMultipliers({{offset, length, factor}, ...})
// gives the weights [offset, offset + length) the rate factor * lr (and the decoupled decay
// factor 1 - factor * lr * wd); every other weight keeps lr. Segments must not overlap.
// State for checkpoints: stepCount(), firstMoment() (m), secondMoment() (v); restore with
// setState(step, m, v). The configuration is not state: construct the optimizer with the
// same AdamConfig when resuming.
#pragma once
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "symflow/core/params.hpp"
#include "symflow/core/types.hpp"

namespace symflow::optim {

enum class WeightDecay {
  Decoupled,  // AdamW: w *= 1 - lr * wd, independent of the gradient statistics
  L2,         // classic Adam: wd * w added to the gradient
};

/// Weights [offset, offset + length) of the flat buffer update at factor x the step's lr.
struct LrSegment {
  Index offset = 0, length = 0;
  double factor = 1.0;
};

struct AdamConfig {
  double lr = 1e-3;  // used by step(store) without an explicit rate
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay = 0.0;
  WeightDecay decay = WeightDecay::Decoupled;

  void validate() const {
    require(lr >= 0 && std::isfinite(lr), "Adam: lr must be finite and >= 0");
    require(beta1 >= 0 && beta1 < 1, "Adam: beta1 must be in [0, 1)");
    require(beta2 >= 0 && beta2 < 1, "Adam: beta2 must be in [0, 1)");
    require(eps >= 0 && std::isfinite(eps), "Adam: eps must be finite and >= 0");
    require(weightDecay >= 0 && std::isfinite(weightDecay), "Adam: weightDecay must be finite and >= 0");
  }
};

template <class S>
class Adam {
 public:
  Adam() = default;
  explicit Adam(Index numParams, const AdamConfig& config = {}) : config_(config) {
    require(numParams >= 0, "Adam: negative parameter count");
    config_.validate();
    m_.setZero(numParams);
    v_.setZero(numParams);
  }
  explicit Adam(const ParamStore<S>& store, const AdamConfig& config = {}) : Adam(store.size(), config) {}

  const AdamConfig& config() const { return config_; }
  void setConfig(const AdamConfig& config) {
    config.validate();
    config_ = config;
  }
  Index size() const { return m_.size(); }
  std::int64_t stepCount() const { return step_; }
  const Vec<S>& firstMoment() const { return m_; }
  const Vec<S>& secondMoment() const { return v_; }

  /// Restores a saved state (checkpoint): step count and both moments.
  void setState(std::int64_t step, const Vec<S>& m, const Vec<S>& v) {
    require(step >= 0, "Adam::setState: negative step count");
    require(m.size() == size() && v.size() == size(),
            "Adam::setState: moments have " + std::to_string(m.size()) + " / " + std::to_string(v.size()) +
                " entries, the optimizer has " + std::to_string(size()));
    step_ = step;
    m_ = m;
    v_ = v;
  }
  /// Forgets all state (step 0, zero moments).
  void reset() {
    step_ = 0;
    m_.setZero();
    v_.setZero();
  }

  /// Parameter groups (see the header comment); an empty list means one rate for all.
  void setLrMultipliers(std::vector<LrSegment> segments) {
    std::sort(segments.begin(), segments.end(), [](const LrSegment& a, const LrSegment& b) { return a.offset < b.offset; });
    Index end = 0;
    for (const auto& seg : segments) {
      require(seg.offset >= end && seg.length >= 0 && seg.offset + seg.length <= size(),
              "Adam: learning-rate segments overlap or lie outside the parameters");
      require(seg.factor >= 0 && std::isfinite(seg.factor), "Adam: a learning-rate factor must be finite and >= 0");
      end = seg.offset + seg.length;
    }
    segments_ = std::move(segments);
  }
  const std::vector<LrSegment>& lrMultipliers() const { return segments_; }

  void step(ParamStore<S>& store) { step(store, config_.lr); }
  void step(ParamStore<S>& store, double lr) { step(store.weights().data(), store.grads().data(), store.size(), lr); }

  /// One update of n weights from their gradients.
  void step(S* weights, const S* grads, Index n, double lr) {
    require(n == size(), "Adam::step: " + std::to_string(n) + " parameters, the optimizer was made for " +
                             std::to_string(size()));
    require(lr >= 0 && std::isfinite(lr), "Adam::step: lr must be finite and >= 0");
    ++step_;
    const double t = double(step_);
    const double biasCorrection1 = 1.0 - std::pow(config_.beta1, t);
    const double biasCorrection2 = 1.0 - std::pow(config_.beta2, t);
    // The weights in runs of one factor: [pos, seg.offset) at lr, the segment at factor x lr, ...
    Index pos = 0;
    for (const auto& seg : segments_) {
      runRange(weights, grads, pos, seg.offset - pos, lr, biasCorrection1, biasCorrection2);
      runRange(weights, grads, seg.offset, seg.length, lr * seg.factor, biasCorrection1, biasCorrection2);
      pos = seg.offset + seg.length;
    }
    runRange(weights, grads, pos, n - pos, lr, biasCorrection1, biasCorrection2);
  }

 private:
  void runRange(S* weights, const S* grads, Index offset, Index count, double lr, double biasCorrection1,
                double biasCorrection2) {
    if (count <= 0) return;
    Constants<S> c;
    c.beta1Complement = S(1.0 - config_.beta1);
    c.beta2 = S(config_.beta2);
    c.beta2Complement = S(1.0 - config_.beta2);
    c.eps = S(config_.eps);
    c.stepSize = S(lr / biasCorrection1);
    c.biasCorrection2Sqrt = S(std::sqrt(biasCorrection2));
    c.l2 = S(config_.decay == WeightDecay::L2 ? config_.weightDecay : 0.0);
    c.decayFactor = S(config_.decay == WeightDecay::Decoupled ? 1.0 - lr * config_.weightDecay : 1.0);
    const bool l2 = config_.decay == WeightDecay::L2 && config_.weightDecay != 0;
    const bool decoupled = config_.decay == WeightDecay::Decoupled && config_.weightDecay != 0;
    if (l2) run<true, false>(weights, grads, offset, count, c);
    else if (decoupled) run<false, true>(weights, grads, offset, count, c);
    else run<false, false>(weights, grads, offset, count, c);
  }

  template <class T>
  struct Constants {
    T beta1Complement, beta2, beta2Complement, eps, stepSize, biasCorrection2Sqrt, l2, decayFactor;
  };

  // The update of one element (T = S) or one SIMD batch (T = xsimd::batch<S>).
  template <bool L2, bool Decoupled, class T>
  static void update(T& w, T g, T& m, T& v, const Constants<T>& c) {
    using std::sqrt;
    if constexpr (L2) g = g + c.l2 * w;
    if constexpr (Decoupled) w = w * c.decayFactor;
    m = m + c.beta1Complement * (g - m);
    v = c.beta2 * v + c.beta2Complement * (g * g);
    const T denom = sqrt(v) / c.biasCorrection2Sqrt + c.eps;
    w = w - c.stepSize * (m / denom);
  }

  template <bool L2, bool Decoupled>
  void run(S* w, const S* g, Index offset, Index n, const Constants<S>& c) {
    using B = xsimd::batch<S>;
    constexpr Index L = Index(B::size);
    const Constants<B> cb{B(c.beta1Complement), B(c.beta2),    B(c.beta2Complement), B(c.eps),
                          B(c.stepSize),        B(c.biasCorrection2Sqrt), B(c.l2),   B(c.decayFactor)};
    w += offset;
    g += offset;
    S* m = m_.data() + offset;
    S* v = v_.data() + offset;
    const Index vectorEnd = n - n % L;
    for (Index i = 0; i < vectorEnd; i += L) {
      B wb = xsimd::load_unaligned(w + i), mb = xsimd::load_unaligned(m + i), vb = xsimd::load_unaligned(v + i);
      update<L2, Decoupled>(wb, xsimd::load_unaligned(g + i), mb, vb, cb);
      wb.store_unaligned(w + i);
      mb.store_unaligned(m + i);
      vb.store_unaligned(v + i);
    }
    for (Index i = vectorEnd; i < n; ++i) update<L2, Decoupled>(w[i], g[i], m[i], v[i], c);
  }

  AdamConfig config_;
  std::vector<LrSegment> segments_;
  std::int64_t step_ = 0;
  Vec<S> m_, v_;
};

}  // namespace symflow::optim
