// symflow/nn/tokenizers.hpp - parameter vector <-> token set maps of the vector field
// (paper.md "Tokenizers"; docs/tokenizers.md).
//
// Both tokenizers share one interface, so a vector field can be templated on either:
//   tokenize(x, tokens, TokenizeCache&) const            x: P x B  ->  tokens: d x (B*n)
//   tokenizeBackward(cache, dTokens, dx) const           writes dx (P x B), += param grads
//   detokenize(tokens, xOut, DetokenizeCache&) const     tokens: d x (B*n)  ->  xOut: P x B
//   detokenizeBackward(cache, dxOut, dTokens) const      writes dTokens, += param grads
//   paramDim() = P, numTokens() = n, tokenDim() = d, penalty(), numParams/bind/visitParams/init
// Tokens of one sample are contiguous columns (column b*n + i is token i of sample b).
// As for every layer, inputs may be kept as views (InputView): the caller keeps x and the
// tokens alive and unchanged until the matching backward.
//
// ---- FixedTokenizer: the "CNF (Equivariant)" model -------------------------------------------
// A GroupLayout maps (group g, slot s) -> flat parameter index, g < n = groups,
// s < perGroup, bijectively onto 0..P-1 (P = groups * perGroup). k-osc's flat vector is
// parameter-major [f_0..f_{k-1}, a_0.., w_0..]: GroupLayout::parameterMajor(k, 3), so
// oscillator i is (i, k+i, 2k+i).
// Forward:  g_{b,i}(s) = x(layout(i, s), b)                        (perGroup x (B*n) gather)
//           tokens_{b,i} = W_in g_{b,i} + b_in                     (one GEMM, shared Linear)
//           xOut(layout(i, s), b) = (W_out tokens_{b,i} + b_out)(s) (one GEMM, then scatter)
//           Permuting the groups of x permutes the tokens the same way, and detokenize maps a
//           permutation of the tokens back to the same permutation of the groups.
// Backward: the Linear backward of each direction plus the inverse gather/scatter.
//           tokenize reads the gathered g (cache); detokenize reads its input view.
// Params:   "in_proj.weight" (d, perGroup), "in_proj.bias" (d), "out_proj.weight"
//           (perGroup, d), "out_proj.bias" (perGroup). Init: PyTorch default Linear init.
//
// ---- Param2Tok (learned, relaxed equivariance; Hayes et al. 2025) ---------------------------
// Z (P x d), Z' (P x d), A (n x P), row-wise FFN h(u) = W2 GELU(W1 u + b1) + b2 (d -> d -> d).
// Definition (paper.md):
//           X0_b = A h(diag(x_b) Z)                    tokens of sample b (n x d)
//           xOut_b = (Z' o (A^T X_b)) 1_d,  i.e. xOut(p, b) = sum_r Z'(p, r) (A^T X_b)(p, r)
//           A is shared by both directions; Z' is a second learned matrix.
// Computed as (exactly the same map, reassociated so the big products shrink):
//           row (b, p) of diag(x_b) Z is x(p, b) Z_p, so its first FFN layer is
//             pre_{b,p} = x(p, b) q_p + b1,   q = W1 Z^T (d x P, one small GEMM),
//           and A commutes with the second (affine) layer:
//             X0_b(t) = W2 m_{b,t} + s_t b2,  m_{b,t} = sum_p A(t, p) GELU(pre_{b,p}),
//             s_t = sum_p A(t, p).
//           pre and GELU(pre) are d x (B*P) (column b*P + p); per sample, M_b = GELU(pre_b) A^T
//           is a (d x P)(P x n) GEMM written straight into the token layout, and W2 is one
//           GEMM over all B*n token columns (not the B*P parameter rows).
//           Detokenize: D_b = X_b A (d x P, per sample), xOut(p, b) = Z'_p . D_b(:, p).
//           Per-sample loops run in parallel (core/parallel.hpp) over chunks of kSampleChunk
//           samples; their contributions to parameter gradients are summed per chunk and
//           then in chunk order, so results do not depend on the thread count.
// Penalty:  penalty() = weight * mean_{t,p} |A(t, p)|   (weight default 0.01 [cfg]).
//           CONVENTION: penalty() returns the weighted value, and tokenizeBackward adds its
//           (sub)gradient weight * sign(A) / (n P) to A's gradient (sign(0) = 0);
//           detokenizeBackward does not. A model that tokenizes once per loss (the DiT vector
//           field) therefore gets the penalty gradient exactly once; one that tokenizes
//           several times per loss adds penalty() once per tokenize call.
// Backward: tokenize:   dW2 += M dTokens^T; db2 += sum_t s_t sum_b dT_{b,t};
//           dA(t, .) += b2 . sum_b dT_{b,t}; dM = W2^T dTokens; per sample
//           dA^T += GELU(pre_b)^T dM_b, dPre_b = (dM_b A) * GELU'(pre_b),
//           dx(p, b) = q_p . dPre_b(:, p), G += dPre_b diag(x_b), db1 += rowsum(dPre_b);
//           then dW1 += G Z, dZ^T += W1^T G; plus the penalty gradient on A.
//           Reads x (input view), q, pre, GELU(pre) and M (cache).
//           detokenize: per sample dD_b = Z'^T diag(dxOut_b), dZ'^T += D_b diag(dxOut_b),
//           dA^T += dD_b^T X_b, dX_b = dD_b A^T. Reads the tokens (input view) and D (cache).
//           Memory: the tokenize cache holds 2 d x (B*P) matrices (about 100 MB in float at
//           B = 1024, P = 96, d = 128), the detokenize cache one.
// Params:   PyTorch names and shapes of the peer module (shared/peer Param2Tok):
//           "p_in" (P, d) = Z;  "assign" (n, P) = A;  "p_out" (d, P) = Z'^T;
//           "ffn.0.weight" (d, d), "ffn.0.bias" (d), "ffn.2.weight" (d, d), "ffn.2.bias" (d).
// Init:     init() runs the constructor's choice (Param2TokInit, default Authors):
//           initAuthors(): the near-invariant init of paper.md [cfg]: every A(t, p) = 1/sqrt(n P) +
//           1e-4 N(0,1); every row of Z = v / sqrt(d) + 1e-4 N(0,1) with one shared
//           v ~ N(0, I_d); Z' = Z (i.e. p_out = p_in^T); FFN PyTorch default. Then the map
//           tokenize -> detokenize is almost invariant to any permutation of x.
//           initRandom(): the peer benchmark's unstructured init (p_in, p_out N(0, 1/d),
//           assign N(0, 1/P)).
//           initMixed(): p_in, p_out as initRandom (every parameter distinguishable from the
//           first step) and A as initAuthors (near-uniform: no grouping chosen yet).
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "symflow/core/init.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/nn/activations.hpp"
#include "symflow/nn/linear.hpp"

namespace symflow::nn {

/// Bijective map (group g, slot s) -> flat parameter index, g < groups, s < perGroup.
class GroupLayout {
 public:
  GroupLayout() = default;
  /// index[g * perGroup + s] is the flat index of slot s of group g; must be a permutation
  /// of 0 .. groups*perGroup - 1.
  GroupLayout(Index groups, Index perGroup, std::vector<Index> index)
      : groups_(groups), perGroup_(perGroup), index_(std::move(index)) {
    if (!(groups > 0 && perGroup > 0)) throw Error("GroupLayout: groups and perGroup must be positive");
    const Index P = groups * perGroup;
    if (Index(index_.size()) != P) throw Error("GroupLayout: index map has " + std::to_string(index_.size()) +
                                           " entries, expected groups * perGroup = " + std::to_string(P));
    std::vector<char> seen(size_t(P), 0);
    for (Index i : index_) {
      if (!(i >= 0 && i < P))
        throw Error("GroupLayout: parameter index " + std::to_string(i) + " out of range [0, " +
                                   std::to_string(P) + ")");
      if (!(!seen[size_t(i)]))
        throw Error("GroupLayout: parameter index " + std::to_string(i) + " used twice");
      seen[size_t(i)] = 1;
    }
  }
  /// Flat layout [slot 0 of every group, slot 1 of every group, ...]: index = s*groups + g.
  /// This is k-osc's [f_0..f_{k-1}, a_0..a_{k-1}, w_0..w_{k-1}] with perGroup = 3.
  static GroupLayout parameterMajor(Index groups, Index perGroup) {
    std::vector<Index> idx(size_t(std::max<Index>(0, groups * perGroup)));
    for (Index g = 0; g < groups; ++g)
      for (Index s = 0; s < perGroup; ++s) idx[size_t(g * perGroup + s)] = s * groups + g;
    return GroupLayout(groups, perGroup, std::move(idx));
  }
  /// Flat layout [group 0's slots, group 1's slots, ...]: index = g*perGroup + s.
  static GroupLayout groupMajor(Index groups, Index perGroup) {
    std::vector<Index> idx(size_t(std::max<Index>(0, groups * perGroup)));
    for (Index i = 0; i < groups * perGroup; ++i) idx[size_t(i)] = i;
    return GroupLayout(groups, perGroup, std::move(idx));
  }
  Index groups() const { return groups_; }
  Index perGroup() const { return perGroup_; }
  Index size() const { return groups_ * perGroup_; }
  Index at(Index g, Index s) const { return index_[size_t(g * perGroup_ + s)]; }
  const std::vector<Index>& indices() const { return index_; }

 private:
  Index groups_ = 0, perGroup_ = 0;
  std::vector<Index> index_;
};

// ------------------------------------------------------------------------------------------
template <class S>
class FixedTokenizer {
 public:
  struct TokenizeCache {
    Mat<S> grouped;  // perGroup x (B*n): the gathered input of in_proj
    typename Linear<S>::Cache proj;
    mutable Mat<S> groupedGrad;  // backward scratch
  };
  struct DetokenizeCache {
    typename Linear<S>::Cache proj;  // view of the tokens
    Index batch = 0;
    mutable Mat<S> groupedGrad;  // backward scratch
  };

  FixedTokenizer() = default;
  FixedTokenizer(GroupLayout layout, Index d)
      : layout_(std::move(layout)), in_(layout_.perGroup(), d), out_(d, layout_.perGroup()) {}

  const GroupLayout& layout() const { return layout_; }
  Index paramDim() const { return layout_.size(); }
  Index numTokens() const { return layout_.groups(); }
  Index tokenDim() const { return in_.outFeatures(); }
  Index numParams() const { return in_.numParams() + out_.numParams(); }
  void bind(ParamCursor<S>& c) {
    in_.bind(c);
    out_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    in_.visitParams(joinName(prefix, "in_proj"), f);
    out_.visitParams(joinName(prefix, "out_proj"), f);
  }
  void init(Rng& rng) {
    in_.init(rng);
    out_.init(rng);
  }
  S penalty() const { return S(0); }
  const Linear<S>& inProj() const { return in_; }
  const Linear<S>& outProj() const { return out_; }

  void tokenize(const CMatRef<S>& x, Mat<S>& tokens, TokenizeCache& c) const {
    if (x.rows() != paramDim())
      throw Error("FixedTokenizer: parameter vector has " + std::to_string(x.rows()) +
                                        " rows, expected " + std::to_string(paramDim()));
    gather(x, c.grouped);
    in_.forward(c.grouped, tokens, c.proj);
  }
  void tokenizeBackward(const TokenizeCache& c, const CMatRef<S>& dTokens, Mat<S>& dx) const {
    if (!(dTokens.rows() == tokenDim() && dTokens.cols() == c.grouped.cols()))
      throw Error("FixedTokenizer: token gradient shape mismatch");
    in_.backward(c.proj, dTokens, c.groupedGrad);
    scatter(c.groupedGrad, dx);
  }
  void detokenize(const CMatRef<S>& tokens, Mat<S>& xOut, DetokenizeCache& c) const {
    if (tokens.rows() != tokenDim())
      throw Error("FixedTokenizer: tokens have " + std::to_string(tokens.rows()) +
                                             " rows, expected " + std::to_string(tokenDim()));
    c.batch = batchOf(tokens.cols());
    Mat<S> grouped;
    out_.forward(tokens, grouped, c.proj);
    scatter(grouped, xOut);
  }
  void detokenizeBackward(const DetokenizeCache& c, const CMatRef<S>& dxOut, Mat<S>& dTokens) const {
    if (!(dxOut.rows() == paramDim() && dxOut.cols() == c.batch))
      throw Error("FixedTokenizer: parameter gradient shape mismatch");
    gather(dxOut, c.groupedGrad);
    out_.backward(c.proj, c.groupedGrad, dTokens);
  }

 private:
  Index batchOf(Index tokenCols) const {
    const Index n = numTokens();
    if (tokenCols % n != 0) throw Error("FixedTokenizer: " + std::to_string(tokenCols) +
                                    " token columns are not a whole number of sets of " + std::to_string(n));
    return tokenCols / n;
  }
  // x (P x B) -> g (perGroup x (B*n)), g(s, b*n + i) = x(layout(i, s), b)
  void gather(const CMatRef<S>& x, Mat<S>& g) const {
    const Index B = x.cols(), n = numTokens(), m = layout_.perGroup();
    g.resize(m, B * n);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i)
        for (Index s = 0; s < m; ++s) g(s, b * n + i) = x(layout_.at(i, s), b);
  }
  // inverse of gather
  void scatter(const Mat<S>& g, Mat<S>& x) const {
    const Index n = numTokens(), m = layout_.perGroup(), B = g.cols() / n;
    x.resize(paramDim(), B);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < n; ++i)
        for (Index s = 0; s < m; ++s) x(layout_.at(i, s), b) = g(s, b * n + i);
  }

  GroupLayout layout_;
  Linear<S> in_, out_;
};

// ------------------------------------------------------------------------------------------
/// Param2Tok's initialization (header comment "Init"): Authors = initAuthors(), Random =
/// initRandom(), Mixed = initMixed().
enum class Param2TokInit { Authors, Random, Mixed };
inline std::string toString(Param2TokInit i) {
  return i == Param2TokInit::Random ? "random" : i == Param2TokInit::Mixed ? "mixed" : "authors";
}
inline Param2TokInit parseParam2TokInit(const std::string& s) {
  if (s == "authors") return Param2TokInit::Authors;
  if (s == "random") return Param2TokInit::Random;
  if (s == "mixed") return Param2TokInit::Mixed;
  throw Error("unknown Param2Tok init '" + s + "' (expected authors, random or mixed)");
}

template <class S>
class Param2Tok {
 public:
  /// Samples per unit of work in the per-sample loops. Gradient sums over the batch are
  /// accumulated per chunk and then added in chunk order, so results do not depend on the
  /// number of threads.
  static constexpr Index kSampleChunk = 32;

  struct TokenizeCache {
    InputView<S> x;      // P x B
    Mat<S> q;            // d x P, q_p = W1 Z_p
    Mat<S> preact;       // d x (B*P), column b*P + p = x(p, b) q_p + b1
    Mat<S> act;          // d x (B*P), GELU(preact)
    Mat<S> mixed;        // d x (B*n), column b*n + t = m_{b,t} = sum_p A(t, p) act_{b,p}
    Mat<S> biasBlock;    // d x n, b2 s^T (s_t = sum_p A(t, p)), added to every sample's tokens
    mutable Mat<S> mixedGrad;                          // backward scratch, d x (B*n)
    mutable Mat<S> perToken, G;                        // backward scratch, d x n and d x P
    mutable Mat<S> gradScratch;                        // per-thread partial W2 gradients
    mutable std::vector<Mat<S>> threadPre;             // backward scratch per thread, d x P
    mutable std::vector<Mat<S>> partA, partG, partB1;  // backward per-chunk sums
  };
  struct DetokenizeCache {
    InputView<S> tokens;  // d x (B*n)
    Mat<S> dd;            // d x (B*P), column b*P + p = (X_b A)(:, p), i.e. (A^T X_b)(p, :)^T
    Mat<S> zoT;           // d x P, Z'^T
    mutable std::vector<Mat<S>> partA, partZ;  // backward per-chunk sums
    mutable Mat<S> dZoT;                       // backward scratch, d x P
    mutable std::vector<Mat<S>> threadD;       // backward scratch per thread, d x P
  };

  Param2Tok() = default;
  Param2Tok(Index paramDim, Index numTokens, Index d, double penaltyWeight = 0.01,
            Param2TokInit initKind = Param2TokInit::Authors)
      : P_(paramDim), n_(numTokens), d_(d), penaltyWeight_(penaltyWeight), initKind_(initKind) {
    if (!(paramDim > 0 && numTokens > 0 && d > 0)) throw Error("Param2Tok: sizes must be positive");
    if (penaltyWeight < 0) throw Error("Param2Tok: penalty weight must be non-negative");
    ffn0_ = Linear<S>(d, d);
    ffn2_ = Linear<S>(d, d);
  }

  Index paramDim() const { return P_; }
  Index numTokens() const { return n_; }
  Index tokenDim() const { return d_; }
  double penaltyWeight() const { return penaltyWeight_; }
  void setPenaltyWeight(double w) {
    if (w < 0) throw Error("Param2Tok: penalty weight must be non-negative");
    penaltyWeight_ = w;
  }

  Index numParams() const { return 2 * P_ * d_ + n_ * P_ + ffn0_.numParams() + ffn2_.numParams(); }
  void bind(ParamCursor<S>& c) {
    pin_ = c.take(P_ * d_);
    assign_ = c.take(n_ * P_);
    pout_ = c.take(d_ * P_);
    ffn0_.bind(c);
    ffn2_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    f(TensorRef<S>{joinName(prefix, "p_in"), {P_, d_}, pin_.w, pin_.g, true});
    f(TensorRef<S>{joinName(prefix, "assign"), {n_, P_}, assign_.w, assign_.g, true});
    f(TensorRef<S>{joinName(prefix, "p_out"), {d_, P_}, pout_.w, pout_.g, true});
    ffn0_.visitParams(joinName(prefix, "ffn.0"), f);
    ffn2_.visitParams(joinName(prefix, "ffn.2"), f);
  }

  Param2TokInit initKind() const { return initKind_; }
  /// The initialization the constructor chose: initAuthors(), initRandom() or initMixed().
  void init(Rng& rng) {
    switch (initKind_) {
      case Param2TokInit::Random: initRandom(rng); break;
      case Param2TokInit::Mixed: initMixed(rng); break;
      default: initAuthors(rng); break;
    }
  }
  /// Near-invariant initialization of paper.md [cfg] (see the header comment).
  void initAuthors(Rng& rng) {
    ffn0_.init(rng);
    ffn2_.init(rng);
    const double a0 = 1.0 / std::sqrt(double(n_ * P_));
    for (Index i = 0; i < assign_.size; ++i) assign_.w[i] = S(a0 + 1e-4 * rng.normal());
    Vec<double> v(d_);
    for (Index r = 0; r < d_; ++r) v[r] = rng.normal() / std::sqrt(double(d_));
    auto Zt = zT();
    for (Index p = 0; p < P_; ++p)
      for (Index r = 0; r < d_; ++r) Zt(r, p) = S(v[r] + 1e-4 * rng.normal());
    zOut() = Zt.transpose();  // Z' = Z, i.e. p_out = p_in^T
  }
  /// Unstructured random init of the peer benchmark: p_in, p_out N(0, 1/d), assign N(0, 1/P).
  void initRandom(Rng& rng) {
    ffn0_.init(rng);
    ffn2_.init(rng);
    init::normal(pin_.w, pin_.size, 0.0, 1.0 / std::sqrt(double(d_)), rng);
    init::normal(assign_.w, assign_.size, 0.0, 1.0 / std::sqrt(double(P_)), rng);
    init::normal(pout_.w, pout_.size, 0.0, 1.0 / std::sqrt(double(d_)), rng);
  }
  /// Random Z and Z' (initRandom's), near-uniform A (initAuthors').
  void initMixed(Rng& rng) {
    ffn0_.init(rng);
    ffn2_.init(rng);
    init::normal(pin_.w, pin_.size, 0.0, 1.0 / std::sqrt(double(d_)), rng);
    init::normal(pout_.w, pout_.size, 0.0, 1.0 / std::sqrt(double(d_)), rng);
    const double a0 = 1.0 / std::sqrt(double(n_ * P_));
    for (Index i = 0; i < assign_.size; ++i) assign_.w[i] = S(a0 + 1e-4 * rng.normal());
  }

  /// weight * mean |A|; its gradient is added by tokenizeBackward (see CONVENTION above).
  S penalty() const { return S(penaltyWeight_) * assignT().cwiseAbs().sum() / S(n_ * P_); }
  /// Adds d penalty / dA to A's gradient (tokenizeBackward calls this once).
  void addPenaltyGradient() const {
    if (penaltyWeight_ == 0) return;
    const S scale = S(penaltyWeight_) / S(n_ * P_);
    auto gA = assignTGrad();
    const auto A = assignT();
    for (Index i = 0; i < A.size(); ++i) {
      const S a = A.data()[i];
      gA.data()[i] += a > 0 ? scale : (a < 0 ? -scale : S(0));
    }
  }

  /// Z^T (d x P, column p = row p of Z); memory of "p_in" (P, d).
  MatMap<S> zT() const { return pin_.wmat(d_, P_); }
  MatMap<S> zTGrad() const { return pin_.gmat(d_, P_); }
  /// A^T (P x n, column t = row t of A); memory of "assign" (n, P).
  MatMap<S> assignT() const { return assign_.wmat(P_, n_); }
  MatMap<S> assignTGrad() const { return assign_.gmat(P_, n_); }
  /// Z' (P x d); memory of "p_out" (d, P).
  MatMap<S> zOut() const { return pout_.wmat(P_, d_); }
  MatMap<S> zOutGrad() const { return pout_.gmat(P_, d_); }
  const Linear<S>& ffn0() const { return ffn0_; }
  const Linear<S>& ffn2() const { return ffn2_; }

  void tokenize(const CMatRef<S>& x, Mat<S>& tokens, TokenizeCache& c) const {
    if (x.rows() != P_) throw Error("Param2Tok: parameter vector has " + std::to_string(x.rows()) +
                                " rows, expected " + std::to_string(P_));
    const Index B = x.cols();
    c.x = InputView<S>(x);
    // First FFN layer on the rank-1 rows x(p, b) Z_p:  W1 (x Z_p) + b1 = x q_p + b1
    c.q.resize(d_, P_);
    gemm(c.q, ffn0_.weightT().transpose(), zT());
    c.preact.resize(d_, B * P_);
    c.act.resize(d_, B * P_);
    c.mixed.resize(d_, B * n_);
    const auto b1 = ffn0_.bias();
    const auto At = assignT();
    parallelRanges(B, 8, [&](Index lo, Index hi) {
      for (Index b = lo; b < hi; ++b) {
        auto pre = c.preact.middleCols(b * P_, P_);
        pre.noalias() = c.q * x.col(b).asDiagonal();
        pre.colwise() += b1;
        geluForward(pre.data(), c.act.col(b * P_).data(), d_ * P_);
        // mix with A before the second layer: M_b = GELU(pre_b) A^T  (d x n)
        c.mixed.middleCols(b * n_, n_).noalias() = c.act.middleCols(b * P_, P_) * At;
      }
    });
    // tokens = W2 M + b2 s^T per sample, s_t = sum_p A(t, p)
    tokens.resize(d_, B * n_);
    productOverTokens(tokens, ffn2_.weightT().transpose(), c.mixed);
    c.biasBlock.noalias() = ffn2_.bias() * At.colwise().sum();  // d x n
    for (Index b = 0; b < B; ++b) tokens.middleCols(b * n_, n_) += c.biasBlock;
  }

  void tokenizeBackward(const TokenizeCache& c, const CMatRef<S>& dTokens, Mat<S>& dx) const {
    const Index B = c.act.cols() / P_;
    if (!(dTokens.rows() == d_ && dTokens.cols() == B * n_))
      throw Error("Param2Tok: token gradient shape mismatch");
    const auto At = assignT();
    auto dAt = assignTGrad();
    // second layer and its bias term b2 s_t
    addGradientOverTokens<S>(ffn2_.weightTGrad(), static_cast<S*>(nullptr), c.mixed, dTokens, c.gradScratch);
    Mat<S>& perToken = c.perToken;  // sum over samples of dTokens_{b,t}
    perToken.setZero(d_, n_);
    for (Index b = 0; b < B; ++b) perToken += dTokens.middleCols(b * n_, n_);
    ffn2_.biasGrad().noalias() += perToken * At.colwise().sum().transpose();
    dAt.rowwise() += ffn2_.bias().transpose() * perToken;  // d s_t / d A(t, p) = 1
    addPenaltyGradient();
    Mat<S>& dM = c.mixedGrad;
    dM.resize(d_, B * n_);
    productOverTokens(dM, ffn2_.weightT(), dTokens);
    // per sample: dA^T += act_b^T dM_b; dPre_b = (dM_b A) * GELU'(pre_b);
    // dx(p, b) = q_p . dPre_b(:, p);  G += dPre_b diag(x(:, b));  db1 += rowsum(dPre_b)
    const auto x = c.x.map();
    const Index chunks = (B + kSampleChunk - 1) / kSampleChunk;
    resizeParts(c.partA, chunks, P_, n_);
    resizeParts(c.partG, chunks, d_, P_);
    resizeParts(c.partB1, chunks, d_, 1);
    dx.resize(P_, B);
    reserveThreadScratch(c.threadPre);
    parallelRanges(chunks, 1, [&](Index lo, Index hi) {
      Mat<S>& dPre = threadScratch(c.threadPre, d_, P_);
      for (Index k = lo; k < hi; ++k) {
        for (Index b = k * kSampleChunk; b < std::min(B, (k + 1) * kSampleChunk); ++b) {
          const auto dMb = dM.middleCols(b * n_, n_);
          c.partA[size_t(k)].noalias() += c.act.middleCols(b * P_, P_).transpose() * dMb;
          dPre.noalias() = dMb * At.transpose();
          geluBackward(c.preact.col(b * P_).data(), dPre.data(), dPre.data(), d_ * P_);
          dx.col(b).noalias() = (c.q.array() * dPre.array()).colwise().sum().transpose().matrix();
          c.partG[size_t(k)].noalias() += dPre * x.col(b).asDiagonal();
          c.partB1[size_t(k)] += dPre.rowwise().sum();
        }
      }
    });
    Mat<S>& G = c.G;
    G.setZero(d_, P_);
    auto db1 = ffn0_.biasGrad();
    for (Index k = 0; k < chunks; ++k) {
      dAt += c.partA[size_t(k)];
      G += c.partG[size_t(k)];
      db1 += c.partB1[size_t(k)];
    }
    // q = W1 Z^T:  dW1^T += Z^T G^T,  dZ^T += W1^T G
    gemm(ffn0_.weightTGrad(), zT(), G.transpose(), true);
    gemm(zTGrad(), ffn0_.weightT(), G, true);
  }

  void detokenize(const CMatRef<S>& tokens, Mat<S>& xOut, DetokenizeCache& c) const {
    if (tokens.rows() != d_) throw Error("Param2Tok: tokens have " + std::to_string(tokens.rows()) +
                                     " rows, expected " + std::to_string(d_));
    if (tokens.cols() % n_ != 0) throw Error("Param2Tok: " + std::to_string(tokens.cols()) +
                                         " token columns are not a whole number of sets of " +
                                         std::to_string(n_));
    const Index B = tokens.cols() / n_;
    c.tokens = InputView<S>(tokens);
    c.dd.resize(d_, B * P_);
    c.zoT = zOut().transpose();  // d x P, column p = row p of Z'
    const Mat<S>& ZoT = c.zoT;
    const auto At = assignT();
    xOut.resize(P_, B);
    parallelRanges(B, 8, [&](Index lo, Index hi) {
      for (Index b = lo; b < hi; ++b) {
        auto Db = c.dd.middleCols(b * P_, P_);
        Db.noalias() = tokens.middleCols(b * n_, n_) * At.transpose();
        xOut.col(b).noalias() = (Db.array() * ZoT.array()).colwise().sum().transpose().matrix();
      }
    });
  }

  void detokenizeBackward(const DetokenizeCache& c, const CMatRef<S>& dxOut, Mat<S>& dTokens) const {
    const Index B = c.dd.cols() / P_;
    if (!(dxOut.rows() == P_ && dxOut.cols() == B))
      throw Error("Param2Tok: parameter gradient shape mismatch");
    const auto tokens = c.tokens.map();
    const Mat<S>& ZoT = c.zoT;  // (forward's copy: the weights have not changed since)
    const auto At = assignT();
    const Index chunks = (B + kSampleChunk - 1) / kSampleChunk;
    resizeParts(c.partA, chunks, P_, n_);
    resizeParts(c.partZ, chunks, d_, P_);
    dTokens.resize(d_, B * n_);
    // per sample: dD_b = Z'^T diag(dxOut_b); dZ'^T += D_b diag(dxOut_b);
    // dA^T += dD_b^T X_b;  dX_b = dD_b A^T
    reserveThreadScratch(c.threadD);
    parallelRanges(chunks, 1, [&](Index lo, Index hi) {
      Mat<S>& dD = threadScratch(c.threadD, d_, P_);
      for (Index k = lo; k < hi; ++k) {
        for (Index b = k * kSampleChunk; b < std::min(B, (k + 1) * kSampleChunk); ++b) {
          dD.noalias() = ZoT * dxOut.col(b).asDiagonal();
          c.partZ[size_t(k)].noalias() += c.dd.middleCols(b * P_, P_) * dxOut.col(b).asDiagonal();
          const auto Xb = tokens.middleCols(b * n_, n_);
          c.partA[size_t(k)].noalias() += dD.transpose() * Xb;
          dTokens.middleCols(b * n_, n_).noalias() = dD * At;
        }
      }
    });
    Mat<S>& dZoT = c.dZoT;
    dZoT.setZero(d_, P_);
    auto dAt = assignTGrad();
    for (Index k = 0; k < chunks; ++k) {
      dAt += c.partA[size_t(k)];
      dZoT += c.partZ[size_t(k)];
    }
    zOutGrad() += dZoT.transpose();
  }

 private:
  static void resizeParts(std::vector<Mat<S>>& parts, Index count, Index rows, Index cols) {
    parts.resize(size_t(count));
    for (auto& m : parts) m.setZero(rows, cols);
  }

  Index P_ = 0, n_ = 0, d_ = 0;
  double penaltyWeight_ = 0.01;
  Param2TokInit initKind_ = Param2TokInit::Authors;
  ParamSlot<S> pin_, assign_, pout_;
  Linear<S> ffn0_, ffn2_;
};

}  // namespace symflow::nn
