// symflow/models/surge_inversion.hpp - invert and score surge-simple sounds with a model.
//
// rankedSurgeCandidates: N candidate patches per sound (one model->predict over all B N
//   columns), each rendered by the synth with the sound's noise seed (noise is the only random
//   part of a rendering; a sound from outside has no seed: pass 0), ranked per sound by MSS to
//   the sound (audio/metrics.hpp; the paper's spectral distance, lower is better), so no
//   ground-truth parameters are needed. Shapes: audio numSamples x B; result params 93 x (B N),
//   audio numSamples x (B N), mss B N, column b N + j = rank j (0 = lowest MSS) of sound b.
//   Candidates are the model's raw predictions (the synth clamps to [-1, 1] when it renders).
//   A regression model gives N identical candidates: pass n = 1 for it.
// scoreSurge: the paper's four audio metrics of renderings against targets (one value per
//   column: MSS, wMFCC, SOT lower is better; RMS higher is better) and the parameter MSE in
//   model units (mean over the 93 parameters) twice: paramMse with the synth's clamping applied
//   to the predictions (the parameters that are heard), paramMseRaw on the raw predictions
//   (the authors' convention for parameter metrics; issue 17). The audio metrics are of the
//   renderings, i.e. of clamped parameters (the synth clamps), in both conventions.
#pragma once
#include <utility>
#include <vector>

#include "symflow/audio/metrics.hpp"
#include "symflow/models/ranking.hpp"
#include "symflow/models/surge_model.hpp"
#include "symflow/synth/surge.hpp"

namespace symflow::models {

struct SurgeScores {
  Vec<double> mss, wmfcc, sot, rms, paramMse, paramMseRaw;  // one entry per sound
};

/// Scores renderings (numSamples x B) against targets, and predicted against true parameters.
inline SurgeScores scoreSurge(audio::AudioMetrics<>& metrics, const Mat<float>& rendered, const Mat<float>& targets,
                              const Mat<float>& pred, const Mat<float>& truth) {
  require(rendered.rows() == targets.rows() && rendered.cols() == targets.cols(),
          "scoreSurge: renderings and targets differ in shape");
  require(pred.rows() == truth.rows() && pred.cols() == truth.cols() && pred.cols() == targets.cols(),
          "scoreSurge: predicted and true parameters differ in shape");
  SurgeScores s;
  s.mss = metrics.mssBatch(CMatRef<float>(rendered), CMatRef<float>(targets));
  s.wmfcc = metrics.wmfccBatch(CMatRef<float>(rendered), CMatRef<float>(targets));
  s.sot = metrics.sotBatch(CMatRef<float>(rendered), CMatRef<float>(targets));
  s.rms = metrics.rmsBatch(CMatRef<float>(rendered), CMatRef<float>(targets));
  s.paramMse = (pred.cwiseMax(-1.0f).cwiseMin(1.0f) - truth).cast<double>().array().square().colwise().mean().transpose();
  s.paramMseRaw = (pred - truth).cast<double>().array().square().colwise().mean().transpose();
  return s;
}

struct SurgeCandidates {
  Index sounds = 0, perSound = 0;
  Mat<float> params;  // 93 x (B N), ranked within each sound
  Mat<float> audio;   // numSamples x (B N), their renderings
  Vec<double> mss;    // B N, ascending within each sound
  Vec<double> firstMss;  // B: MSS of each sound's first draw (what one unranked sample gives)
  Index at(Index b, Index j) const { return b * perSound + j; }
};

inline SurgeCandidates rankedSurgeCandidates(SurgeModel& model, const synth::SurgeSynth& synth,
                                             SurgeFeatures& features, audio::AudioMetrics<>& metrics,
                                             const Mat<float>& audio, const std::vector<std::uint64_t>& seeds,
                                             Index n, const SampleOptions& so, Rng& rng) {
  require(n >= 1, "rankedSurgeCandidates: n must be at least 1");
  require(audio.rows() == synth.numSamples(), "rankedSurgeCandidates: sounds must have " +
                                                  std::to_string(synth.numSamples()) + " samples");
  require(Index(seeds.size()) == audio.cols(), "rankedSurgeCandidates: need one noise seed per sound");
  const Index B = audio.cols();
  Mat<float> f;
  features.compute(CMatRef<float>(audio), f);
  Mat<float> manyF(f.rows(), B * n), manyA(audio.rows(), B * n);
  std::vector<std::uint64_t> manySeeds(std::size_t(B * n));
  for (Index b = 0; b < B; ++b)
    for (Index j = 0; j < n; ++j) {
      manyF.col(b * n + j) = f.col(b);
      manyA.col(b * n + j) = audio.col(b);
      manySeeds[std::size_t(b * n + j)] = seeds[std::size_t(b)];
    }
  Mat<float> pred, rendered;
  model.predict(manyF, so, rng, pred);
  synth.render(pred, rendered, manySeeds);
  const Vec<double> mss = metrics.mssBatch(CMatRef<float>(rendered), CMatRef<float>(manyA));
  auto ranked = rankWithinSounds(pred, rendered, mss, B, n);
  SurgeCandidates r;
  r.sounds = B;
  r.perSound = n;
  r.params = std::move(ranked.params);
  r.audio = std::move(ranked.audio);
  r.mss = std::move(ranked.distance);
  r.firstMss = std::move(ranked.firstDistance);
  return r;
}

}  // namespace symflow::models
