// Shared by the surge-simple tests: a model config small enough to train in milliseconds
// (8 kHz, 0.25 s sounds, 16 mel bands, one AST layer of width 16, a 2-layer DiT of width 16).
#pragma once
#include "symflow/models/surge_model.hpp"

namespace symflow::testing {

inline models::SurgeModelConfig tinySurgeConfig(models::SurgeModelKind kind) {
  models::SurgeModelConfig c;
  c.kind = kind;
  c.sampleRate = 8000;
  c.seconds = 0.25;  // 2000 samples
  c.feature.mels = 16;
  c.ast.patch = 4;
  c.ast.stride = 4;
  c.ast.width = 16;
  c.ast.heads = 2;
  c.ast.layers = 1;
  c.ast.ffDim = 32;
  c.ast.queries = 2;
  c.dit.width = 16;
  c.dit.heads = 2;
  c.dit.ffDim = 32;
  c.dit.layers = 2;
  c.dit.timeDim = 8;
  c.tokens = 8;
  c.mlpWidth = 32;
  c.mlpBlocks = 1;
  c.head.width = 32;
  c.head.blocks = 1;
  return c;
}

}  // namespace symflow::testing
