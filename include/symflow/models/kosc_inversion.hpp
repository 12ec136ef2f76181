// symflow/models/kosc_inversion.hpp - invert k-osc sounds with a model: draw N candidate
// parameter sets per sound, render each with the synth and rank them by LSD to the sound.
//
// Shapes: signals 1024 x B (the sounds), result params 3k x (B N) and audio 1024 x (B N) with
// column b N + j holding rank j (0 = lowest LSD) of sound b; lsd has the same B N entries,
// ascending within each sound. Candidates are the model's raw predictions (a flow's samples
// may leave [-1, 1]; the synth clamps when it renders, so ranking sees what is heard). A
// regression model gives N identical candidates: pass n = 1 for it.
//
// This is "best of N" (issue 6): the distance used is the task's audio distance, LSD
// (metrics/kosc.hpp), so no ground-truth parameters are needed; `symflow invert`, `symflow
// eval --best-of` and `symflow demo` share it. Rng use: one model->predict call over all B N
// columns, so results depend on (model, signals, n, options, rng state).
#pragma once
#include <utility>

#include "symflow/metrics/kosc.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/models/ranking.hpp"
#include "symflow/synth/kosc.hpp"

namespace symflow::models {

struct KOscCandidates {
  Index sounds = 0, perSound = 0;
  Mat<float> params;  // 3k x (B N), ranked within each sound
  Mat<float> audio;   // 1024 x (B N), their renderings
  Vec<double> lsd;    // B N, ascending within each sound
  Vec<double> firstLsd;  // B: LSD of each sound's first draw (what one unranked sample gives)
  /// Column index of rank j of sound b.
  Index at(Index b, Index j) const { return b * perSound + j; }
};

inline KOscCandidates rankedCandidates(KOscModel& model, const synth::KOsc<float>& synth, audio::RealFft<float>& fft,
                                       const Mat<float>& signals, Index n, const SampleOptions& so, Rng& rng) {
  require(n >= 1, "rankedCandidates: n must be at least 1");
  require(signals.rows() == synth::KOscConstants::numSamples, "rankedCandidates: signals must have 1024 rows");
  require(model.config().k == synth.numOscillators() && model.config().variant == synth.variant(),
          "rankedCandidates: the model and the synth differ in k or variant");
  const Index B = signals.cols();
  Mat<float> features, many(signals.rows(), B * n);
  for (Index b = 0; b < B; ++b)
    for (Index j = 0; j < n; ++j) many.col(b * n + j) = signals.col(b);
  models::kOscFeatures<float>(many, fft, features);
  Mat<float> pred;
  model.predict(features, so, rng, pred);
  const Mat<float> audio = synth.render(pred);
  const Vec<double> lsd = metrics::lsdPerSound<float>(audio, many);
  auto ranked = rankWithinSounds(pred, audio, lsd, B, n);
  KOscCandidates r;
  r.sounds = B;
  r.perSound = n;
  r.params = std::move(ranked.params);
  r.audio = std::move(ranked.audio);
  r.lsd = std::move(ranked.distance);
  r.firstLsd = std::move(ranked.firstDistance);
  return r;
}

}  // namespace symflow::models
