// symflow/nn/conv1d.hpp - 1-D convolution (PyTorch nn.Conv1d, zero padding), as GEMMs over
// unfolded windows.
//
// Layout:   a batch of B sequences with C channels and length L is a C x (B*L) column-major
//           matrix: one column per (sample, position), the L positions of a sample contiguous
//           (column b*L + l). The time-major alternative (column l*B + b) would make the
//           downsampling and flatten steps gathers; this one makes
//             - a 1x1 convolution exactly a Linear layer on the columns (one GEMM), and
//             - the window of output position lo of sample b, the k input columns
//               b*L + lo*s - p + j (j = 0..k-1), k*C CONSECUTIVE numbers in memory, so
//               unfolding a window (im2col) is one memcpy (edge windows get zero fill).
//           The input length L is part of the layer's configuration (setInputLength), so the
//           layer keeps the standard forward(x, y, cache) interface; B = x.cols() / L.
// Shapes:   x: C_in x (B*L_in)  ->  y: C_out x (B*L_out),  L_out = floor((L_in + 2p - k) / s) + 1
// Forward:  y[o, b*L_out + lo] = bias[o] + sum_{i<C_in, j<k} W[o, i, j] x[i, b*L_in + lo*s - p + j]
//           (x taken as 0 outside [0, L_in)). Computed chunk by chunk of samples as
//           y_chunk = Wk^T U with U ((k*C_in) x cols) the unfolded windows, row j*C_in + i of a
//           column = x[i, pos + j], and Wk the weight reordered to these k-major rows
//           ((k*C_in) x C_out, rebuilt in the cache by every forward). 1x1 convolutions with
//           stride 1 and no padding skip the unfolding: y = W x.
// Backward: dbias += sum over columns of dy;  dWk += U dy^T (U unfolded again chunk by chunk,
//           never stored whole);  dU = Wk dy;  dx = col2im(dU) (each input column the sum
//           of the window rows that copied it).  Reads the cached input view (x must stay
//           alive and unchanged until backward, see InputView) and the cached Wk.
// Params:   "weight" (C_out, C_in, k) row-major [PyTorch layout: the column-major
//           (C_in*k) x C_out matrix with row i*k + j], "bias" (C_out) when enabled.
//           Init: PyTorch default, U(+-1/sqrt(C_in*k)) for weight and bias.
// Fusion:   forward(x, y, cache, epilogue) calls epilogue(col0, n) right after output columns
//           [col0, col0 + n) of a chunk are written (still in cache, on the worker thread), e.g.
//           to apply GELU; backward(cache, dy, dx, prologue) asks prologue(col0, n, out) for
//           the effective output gradient of those columns (written to out, C_out x n), e.g.
//           dy * GELU'(pre-activation), instead of reading dy. Without hooks: plain conv.
// Threads:  with OpenMP the batch is split into one contiguous range of samples per thread
//           (parallelRanges), each with its own unfold workspace and weight-gradient
//           accumulator in the cache (summed after); GEMMs inside run single-threaded.
//           All workspaces live in the cache: a cache reused for the same shapes does not
//           allocate (the GEMMs are core/gemm.hpp's gemm(), packing into per-thread buffers).
#pragma once
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "symflow/core/gemm.hpp"
#include "symflow/core/init.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"

namespace symflow::nn {

template <class S>
class Conv1d {
 public:
  /// Per-thread workspaces (one per contiguous range of samples).
  struct Slot {
    Mat<S> cols;   // unfolded windows, (k*C_in) x (chunk columns)
    Mat<S> dcols;  // their gradient
    Mat<S> dwk;    // weight-gradient accumulator, (k*C_in) x C_out (k-major rows)
    Vec<S> dbias;
    Mat<S> dy;     // effective output gradient of a chunk (with a backward prologue)
  };
  struct Cache {
    InputView<S> x;
    Index batch = 0;
    Mat<S> wk;  // the weight in k-major rows, as used by forward
    mutable std::vector<Slot> slots;
  };

  Conv1d() = default;
  Conv1d(Index inChannels, Index outChannels, Index kernel, Index stride = 1, Index padding = 0,
         bool bias = true)
      : in_(inChannels), out_(outChannels), k_(kernel), s_(stride), p_(padding), hasBias_(bias) {
    if (!(inChannels > 0 && outChannels > 0)) throw Error("Conv1d: channel counts must be positive");
    if (kernel <= 0) throw Error("Conv1d: kernel size must be positive");
    if (stride <= 0) throw Error("Conv1d: stride must be positive");
    if (!(padding >= 0 && padding < kernel)) throw Error("Conv1d: padding must be in [0, kernel)");
  }

  Index inChannels() const { return in_; }
  Index outChannels() const { return out_; }
  Index kernel() const { return k_; }
  Index stride() const { return s_; }
  Index padding() const { return p_; }
  bool hasBias() const { return hasBias_; }

  /// Output length for an input of length L (throws if the input is shorter than one window).
  Index outputLength(Index L) const {
    if (L + 2 * p_ < k_)  // (the message is built only on failure: this runs per chunk)
      throw Error("Conv1d: input length " + std::to_string(L) + " is shorter than the kernel (" +
                  std::to_string(k_) + ") after padding");
    return (L + 2 * p_ - k_) / s_ + 1;
  }
  /// The sequence length forward() expects (B = x.cols() / L).
  void setInputLength(Index L) {
    if (L <= 0) throw Error("Conv1d: input length must be positive");
    outputLength(L);
    len_ = L;
  }
  Index inputLength() const { return len_; }
  Index outputLength() const {
    if (len_ <= 0) throw Error("Conv1d: input length not set (setInputLength)");
    return outputLength(len_);
  }
  /// Unfolded-matrix size per chunk (elements); tuning knob for the cache footprint.
  void setChunkElements(Index n) { chunkElems_ = std::max<Index>(1, n); }
  /// Work (multiply-adds) below which a forward or backward stays on one thread (default 2^20).
  void setMinMacsPerThread(Index n) { minMacsPerThread_ = std::max<Index>(1, n); }

  Index numParams() const { return out_ * in_ * k_ + (hasBias_ ? out_ : 0); }
  void bind(ParamCursor<S>& c) {
    w_ = c.take(out_ * in_ * k_);
    if (hasBias_) b_ = c.take(out_);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    f(TensorRef<S>{joinName(prefix, "weight"), {out_, in_, k_}, w_.w, w_.g, true});
    if (hasBias_) f(TensorRef<S>{joinName(prefix, "bias"), {out_}, b_.w, b_.g, true});
  }
  void init(Rng& rng) {
    init::torchLinear(w_.w, w_.size, in_ * k_, rng);
    if (hasBias_) init::torchLinear(b_.w, b_.size, in_ * k_, rng);
  }
  S penalty() const { return S(0); }

  /// The PyTorch weight as the column-major (C_in*k) x C_out matrix (row i*k + j).
  MatMap<S> weightT() const { return w_.wmat(in_ * k_, out_); }
  MatMap<S> weightTGrad() const { return w_.gmat(in_ * k_, out_); }
  VecMap<S> bias() const { return b_.wvec(); }
  VecMap<S> biasGrad() const { return b_.gvec(); }

  /// No-op forward epilogue / marker for "use dy as is" in backward.
  struct NoHook {
    void operator()(Index, Index) const {}
  };

  template <class Epilogue = NoHook>
  void forward(const CMatRef<S>& x, Mat<S>& y, Cache& c, Epilogue&& epilogue = Epilogue{}) const {
    if (len_ <= 0) throw Error("Conv1d: call setInputLength() before forward()");
    if (x.rows() != in_) throw Error("Conv1d: input has " + std::to_string(x.rows()) +
                                 " channels (rows), expected " + std::to_string(in_));
    if (x.cols() % len_ != 0) throw Error("Conv1d: input has " + std::to_string(x.cols()) +
                                      " columns, not a multiple of the length " +
                                      std::to_string(len_));
    const Index B = x.cols() / len_, Lout = outputLength(len_);
    c.x = InputView<S>(x);
    c.batch = B;
    y.resize(out_, B * Lout);
    if (!pointwise()) reorderWeight(c.wk);
    const Index nSlots = prepareSlots(c, B);
    parallelRanges(nSlots, 1, [&](Index t0, Index t1) {
      for (Index t = t0; t < t1; ++t) {
        const Index b0 = B * t / nSlots, b1 = B * (t + 1) / nSlots;
        forwardSamples(c, b0, b1, y, c.slots[size_t(t)], epilogue);
      }
    });
  }

  /// Parameter gradients and, when dx != nullptr, the input gradient.
  template <class Prologue = NoHook>
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>* dx, Prologue&& prologue = Prologue{}) const {
    const Index B = c.batch, Lout = outputLength(len_);
    if (!(dy.rows() == out_ && dy.cols() == B * Lout)) throw Error("Conv1d: gradient shape mismatch");
    if (dx) dx->resize(in_, B * len_);
    const Index nSlots = Index(c.slots.size());
    parallelRanges(nSlots, 1, [&](Index t0, Index t1) {
      for (Index t = t0; t < t1; ++t) {
        const Index b0 = B * t / nSlots, b1 = B * (t + 1) / nSlots;
        backwardSamples(c, b0, b1, dy, dx, c.slots[size_t(t)], prologue);
      }
    });
    // Sum the per-thread accumulators into the PyTorch-layout gradients.
    MatMap<S> gT = weightTGrad();  // (C_in*k) x C_out, row i*k + j
    for (size_t t = 0; t < c.slots.size(); ++t) {
      const Slot& sl = c.slots[t];
      if (pointwise()) {
        gT += sl.dwk;
      } else {
        for (Index o = 0; o < out_; ++o)
          for (Index i = 0; i < in_; ++i)
            for (Index j = 0; j < k_; ++j) gT(i * k_ + j, o) += sl.dwk(j * in_ + i, o);
      }
      if (hasBias_) biasGrad() += sl.dbias;
    }
  }
  template <class Prologue = NoHook>
  void backward(const Cache& c, const CMatRef<S>& dy, Mat<S>& dx, Prologue&& prologue = Prologue{}) const {
    backward(c, dy, &dx, prologue);
  }
  /// Parameter gradients only (for a first layer whose input needs no gradient).
  template <class Prologue = NoHook>
  void backwardParams(const Cache& c, const CMatRef<S>& dy, Prologue&& prologue = Prologue{}) const {
    backward(c, dy, static_cast<Mat<S>*>(nullptr), prologue);
  }

 private:
  bool pointwise() const { return k_ == 1 && s_ == 1 && p_ == 0; }

  /// Threads: at most one per sample and per minMacsPerThread multiply-adds.
  Index prepareSlots(Cache& c, Index B) const {
    const Index macs = B * outputLength(len_) * out_ * in_ * k_;
    const Index nSlots = std::max<Index>(
        1, std::min({Index(availableThreads()), B, macs / minMacsPerThread_}));
    if (Index(c.slots.size()) != nSlots) c.slots.resize(size_t(nSlots));
    return nSlots;
  }
  /// Samples per unfolded chunk.
  Index chunkSamples() const {
    const Index colsPerSample = outputLength(len_);
    const Index rows = pointwise() ? std::max(in_, out_) : k_ * in_;
    return std::max<Index>(1, chunkElems_ / (rows * colsPerSample));
  }

  void reorderWeight(Mat<S>& wk) const {
    wk.resize(k_ * in_, out_);
    const S* w = w_.w;
    for (Index o = 0; o < out_; ++o)
      for (Index i = 0; i < in_; ++i)
        for (Index j = 0; j < k_; ++j) wk(j * in_ + i, o) = w[(o * in_ + i) * k_ + j];
  }

  /// Unfolds the windows of samples [b0, b0 + nb) into u (its first nb * L_out columns).
  void unfold(const InputView<S>& x, Index b0, Index nb, Mat<S>& u) const {
    const Index C = in_, L = len_, Lout = outputLength(len_), kC = k_ * C;
    const bool contiguous = x.stride == C;
    for (Index b = b0; b < b0 + nb; ++b) {
      for (Index lo = 0; lo < Lout; ++lo) {
        S* dst = u.data() + ((b - b0) * Lout + lo) * kC;
        const Index start = lo * s_ - p_;
        if (contiguous && start >= 0 && start + k_ <= L) {
          std::memcpy(dst, x.data + (b * L + start) * C, size_t(kC) * sizeof(S));
          continue;
        }
        for (Index j = 0; j < k_; ++j) {
          const Index pos = start + j;
          if (pos < 0 || pos >= L)
            std::fill(dst + j * C, dst + (j + 1) * C, S(0));
          else
            std::memcpy(dst + j * C, x.data + (b * L + pos) * x.stride, size_t(C) * sizeof(S));
        }
      }
    }
  }
  /// Writes dx for samples [b0, b0 + nb) from their unfolded gradient (col2im, as a gather:
  /// input position pos collects rows j*C..(j+1)*C of every window column lo with
  /// lo*s - p + j == pos; each dx column is written once, positions no window covers get 0).
  void fold(const Mat<S>& du, Index b0, Index nb, Mat<S>& dx) const {
    const Index C = in_, L = len_, Lout = outputLength(len_), kC = k_ * C;
    for (Index b = b0; b < b0 + nb; ++b) {
      const S* src = du.data() + (b - b0) * Lout * kC;
      for (Index pos = 0; pos < L; ++pos) {
        S* d = dx.data() + (b * L + pos) * C;
        bool first = true;
        // j = pos + p - lo*s for lo from the largest valid one down (j increasing).
        const Index loMax = std::min(Lout - 1, (pos + p_) / s_);
        for (Index lo = loMax; lo >= 0; --lo) {
          const Index j = pos + p_ - lo * s_;
          if (j >= k_) break;
          const S* g = src + lo * kC + j * C;
          if (first) {
            for (Index i = 0; i < C; ++i) d[i] = g[i];
            first = false;
          } else {
            for (Index i = 0; i < C; ++i) d[i] += g[i];
          }
        }
        if (first) std::fill(d, d + C, S(0));
      }
    }
  }

  template <class Epilogue>
  void forwardSamples(const Cache& c, Index b0, Index b1, Mat<S>& y, Slot& sl, Epilogue& epilogue) const {
    if (b0 >= b1) return;
    const Index L = len_, Lout = outputLength(len_), chunk = chunkSamples();
    if (!pointwise()) sl.cols.resize(k_ * in_, std::min(chunk, b1 - b0) * Lout);
    for (Index b = b0; b < b1; b += chunk) {
      const Index nb = std::min(chunk, b1 - b), n = nb * Lout;
      auto ys = y.middleCols(b * Lout, n);
      if (hasBias_) ys.colwise() = bias();  // the product adds onto the bias: no extra pass
      if (pointwise()) {
        gemm(ys, weightT().transpose(), c.x.map().middleCols(b * L, nb * L), hasBias_);
      } else {
        unfold(c.x, b, nb, sl.cols);
        gemm(ys, c.wk.transpose(), sl.cols.leftCols(n), hasBias_);
      }
      epilogue(b * Lout, n);
    }
  }

  template <class Prologue>
  void backwardSamples(const Cache& c, Index b0, Index b1, const CMatRef<S>& dy, Mat<S>* dx, Slot& sl,
                       Prologue& prologue) const {
    constexpr bool direct = std::is_same<std::decay_t<Prologue>, NoHook>::value;
    const Index L = len_, Lout = outputLength(len_), chunk = chunkSamples();
    sl.dwk.setZero(k_ * in_, out_);
    if (hasBias_) sl.dbias.setZero(out_);
    if (b0 >= b1) return;
    const Index maxCols = std::min(chunk, b1 - b0) * Lout;
    if (!pointwise()) sl.cols.resize(k_ * in_, maxCols);
    if (!pointwise() && dx) sl.dcols.resize(k_ * in_, maxCols);
    if (!direct) sl.dy.resize(out_, maxCols);
    for (Index b = b0; b < b1; b += chunk) {
      const Index nb = std::min(chunk, b1 - b), n = nb * Lout;
      auto step = [&](const auto& dys) {
        if (hasBias_) sl.dbias += dys.rowwise().sum();
        if (pointwise()) {
          const auto xs = c.x.map().middleCols(b * L, nb * L);
          gemm(sl.dwk, xs, dys.transpose(), true);
          if (dx) gemm(dx->middleCols(b * L, nb * L), weightT(), dys);
        } else {
          unfold(c.x, b, nb, sl.cols);
          gemm(sl.dwk, sl.cols.leftCols(n), dys.transpose(), true);
          if (dx) {
            gemm(sl.dcols.leftCols(n), c.wk, dys);
            fold(sl.dcols, b, nb, *dx);
          }
        }
      };
      if constexpr (direct) {
        step(dy.middleCols(b * Lout, n));
      } else {
        prologue(b * Lout, n, sl.dy.data());
        step(sl.dy.leftCols(n));
      }
    }
  }

  Index in_ = 0, out_ = 0, k_ = 1, s_ = 1, p_ = 0, len_ = 0;
  Index minMacsPerThread_ = Index(1) << 20;
  Index chunkElems_ = Index(1) << 18;
  bool hasBias_ = true;
  ParamSlot<S> w_, b_;
};

}  // namespace symflow::nn
