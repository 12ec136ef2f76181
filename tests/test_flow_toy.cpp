// End-to-end flow matching on a toy problem with known modes: conditional training with
// CFG dropout, then RK4 sampling with guidance, must put samples on the
// right modes in the right proportions.
#include <doctest/doctest.h>

#include "symflow/models/flow_model.hpp"
#include "symflow/models/vector_fields.hpp"
#include "symflow/optim/adam.hpp"
#include "symflow/optim/clip.hpp"

using namespace symflow;

namespace {
// The conditioning input is already the embedding.
struct IdentityEncoder {
  struct Cache {};
  Index numParams() const { return 0; }
  void bind(ParamCursor<double>&) {}
  template <class F> void visitParams(const std::string&, F&&) {}
  void init(Rng&) {}
  void forward(const CMatRef<double>& x, Mat<double>& z, Cache&) const { z = x; }
  void backward(const Cache&, const CMatRef<double>&, Mat<double>*) const {}
};

// Condition 0: modes (-1,-1) with probability 0.3 and (1,1) with 0.7; condition 1: (1,-1).
void drawBatch(Index B, Rng& rng, Mat<double>& cond, Mat<double>& x1) {
  cond.setZero(2, B);
  x1.resize(2, B);
  for (Index b = 0; b < B; ++b) {
    const bool c1 = rng.uniform() < 0.5;
    cond(c1 ? 1 : 0, b) = 1.0;
    double m0 = 1, m1 = -1;
    if (!c1) m0 = m1 = rng.uniform() < 0.3 ? -1.0 : 1.0;
    x1(0, b) = m0 + 0.05 * rng.normal();
    x1(1, b) = m1 + 0.05 * rng.normal();
  }
}
}  // namespace

TEST_CASE("conditional flow matching learns a bimodal posterior with the right weights") {
  using VF = models::MlpVectorField<double>;
  VF::Config vc;
  vc.width = 64;
  vc.blocks = 2;
  vc.condDim = 2;
  models::FlowModel<double, IdentityEncoder, VF> model(IdentityEncoder{}, VF(2, vc), 2);
  ParamStore<double> store(model);
  Rng rng(123);
  model.init(rng);
  optim::AdamConfig ac;
  ac.lr = 3e-3;
  optim::Adam<double> adam(store, ac);
  decltype(model)::StepCache cache;
  models::FlowTrainOptions opt;
  // Independent coupling: minibatch OT pairs noise with data across conditions, so the noise
  // seen by one condition in training is no longer N(0, I) and the sampled weights shift.
  opt.otCoupling = false;
  Mat<double> cond, x1;
  double loss = 0;
  for (int step = 0; step < 1500; ++step) {
    drawBatch(256, rng, cond, x1);
    store.zeroGrad();
    loss = model.lossAndGradient(cond, x1, rng, opt, cache).loss;
    optim::clipGradNorm(store, 1.0);
    adam.step(store, step < 1200 ? 3e-3 : 1e-3);
  }
  CHECK(loss < 0.5);

  const Index N = 2000;
  for (int c = 0; c < 2; ++c) {
    Mat<double> z = Mat<double>::Zero(2, N), x;
    z.row(c).setOnes();
    model.sample(z, 40, 1.0, rng, x);
    Index nearA = 0, nearB = 0, nearC = 0;  // (-1,-1), (1,1), (1,-1)
    for (Index b = 0; b < N; ++b) {
      auto d = [&](double a0, double a1) { return std::hypot(x(0, b) - a0, x(1, b) - a1); };
      if (d(-1, -1) < 0.5) ++nearA;
      if (d(1, 1) < 0.5) ++nearB;
      if (d(1, -1) < 0.5) ++nearC;
    }
    INFO("condition " << c << ": near (-1,-1) " << nearA << ", (1,1) " << nearB << ", (1,-1) " << nearC);
    if (c == 0) {
      CHECK(double(nearA + nearB) / N > 0.9);
      CHECK(double(nearB) / double(nearA + nearB) == doctest::Approx(0.7).epsilon(0.1));
    } else {
      CHECK(double(nearC) / N > 0.9);
    }
  }
}
