// Shared by the k-osc tests: a model config small enough to train in milliseconds (k = 2, the
// spectral-MLP encoder, which has no BatchNorm; a 2-layer DiT of width 16).
#pragma once
#include "symflow/models/kosc_model.hpp"

namespace symflow::testing {

inline models::KOscModelConfig tinyKOscConfig(models::ModelKind kind,
                                              models::EncoderKind encoder = models::EncoderKind::SpectralMlp) {
  models::KOscModelConfig c;
  c.k = 2;
  c.kind = kind;
  c.encoder = encoder;
  c.embedDim = 16;
  c.dit.width = 16;
  c.dit.heads = 2;
  c.dit.ffDim = 32;
  c.dit.layers = 2;
  c.mlpWidth = 24;
  c.mlpBlocks = 2;
  c.head.width = 24;
  c.head.blocks = 1;
  c.spectralWidth = 32;
  c.spectralBlocks = 1;
  return c;
}

}  // namespace symflow::testing
