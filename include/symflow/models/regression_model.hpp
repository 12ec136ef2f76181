// symflow/models/regression_model.hpp - feed-forward baselines: audio encoder + residual-MLP
// head predicting one parameter vector (FFN (MSE), FFN (Sort), FFN (Chamfer)).
//
// Shapes: features F x B -> z = encoder(features) (dz x B) -> xhat = head(z) (P x B).
//   head = ResMlp(dz, width, blocks, P) (input Linear, residual blocks, LayerNorm, output).
// Losses (train/losses.hpp): Mse - mean (xhat - x1)^2; Sort - the same on targets whose
// oscillators were sorted by frequency before the step (the caller sorts: the symmetry is
// broken in the labels); Chamfer - the set distance over the k rows of m parameters given by
// the group index map (invariant to the order of the rows).
// Params: "encoder.*", "head.*".
#pragma once
#include <string>
#include <vector>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/types.hpp"
#include "symflow/models/flow_model.hpp"
#include "symflow/nn/residual_mlp.hpp"
#include "symflow/train/losses.hpp"

namespace symflow::models {

enum class RegressionLoss { Mse, Sort, Chamfer };

struct HeadConfig {
  Index width = 256;
  Index blocks = 2;
};

template <class S, class Encoder>
class RegressionModel {
 public:
  struct StepCache {
    typename Encoder::Cache enc;
    typename nn::ResMlp<S>::Cache head;
    Mat<S> z, xhat, dxhat, dz;
  };

  RegressionModel() = default;
  /// groupIndex: k rows of m parameters (row i, slot s at flat index groupIndex[i*m + s]),
  /// used by the Chamfer loss.
  RegressionModel(Encoder encoder, Index condDim, Index paramDim, const HeadConfig& head, RegressionLoss loss,
                  Index k, Index m, std::vector<Index> groupIndex)
      : enc_(std::move(encoder)), head_(condDim, head.width, head.blocks, paramDim), loss_(loss), k_(k), m_(m),
        groupIndex_(std::move(groupIndex)), P_(paramDim) {}

  Encoder& encoder() { return enc_; }
  RegressionLoss loss() const { return loss_; }
  Index paramDim() const { return P_; }
  Index numParams() const { return enc_.numParams() + head_.numParams(); }
  void bind(ParamCursor<S>& c) {
    enc_.bind(c);
    head_.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    enc_.visitParams(joinName(prefix, "encoder"), f);
    head_.visitParams(joinName(prefix, "head"), f);
  }
  void init(Rng& rng) {
    enc_.init(rng);
    head_.init(rng);
  }
  S penalty() const { return S(0); }
  void setTraining(bool t) { detail::setTraining(enc_, t); }

  /// x1: the targets as the loss should see them (already sorted for RegressionLoss::Sort).
  StepLoss lossAndGradient(const CMatRef<S>& features, const CMatRef<S>& x1, StepCache& k) {
    require(features.cols() == x1.cols(), "RegressionModel: features and parameters disagree on the batch size");
    require(x1.rows() == P_, "RegressionModel: parameters have " + std::to_string(x1.rows()) + " rows, expected " +
                                 std::to_string(P_));
    detail::setTraining(enc_, true);
    enc_.forward(features, k.z, k.enc);
    detail::updateRunningStats(enc_, k.enc);
    head_.forward(k.z, k.xhat, k.head);
    StepLoss out;
    if (loss_ == RegressionLoss::Chamfer)
      out.data = double(train::chamferLoss<S>(k.xhat, x1, k_, m_, groupIndex_, k.dxhat));
    else
      out.data = double(train::mseLoss<S>(k.xhat, x1, k.dxhat));
    out.loss = out.data;
    head_.backward(k.head, k.dxhat, k.dz);
    enc_.backward(k.enc, k.dz, nullptr);
    return out;
  }

  /// Point predictions (BatchNorm on running statistics).
  void predict(const CMatRef<S>& features, Mat<S>& xhat) {
    detail::setTraining(enc_, false);
    typename Encoder::Cache ce;
    typename nn::ResMlp<S>::Cache ch;
    Mat<S> z;
    enc_.forward(features, z, ce);
    head_.forward(z, xhat, ch);
  }

 private:
  Encoder enc_;
  nn::ResMlp<S> head_;
  RegressionLoss loss_ = RegressionLoss::Mse;
  Index k_ = 1, m_ = 1;
  std::vector<Index> groupIndex_;
  Index P_ = 0;
};

}  // namespace symflow::models
