// symflow/symflow.hpp - umbrella header: includes every public part of the library.
// (Including it pulls in Eigen's FFT module; a program that wants FFTW as Eigen's FFT
// backend defines SYMFLOW_USE_FFTW on its command line, see audio/fft.hpp.)
#pragma once
#include "symflow/core/types.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/init.hpp"
#include "symflow/core/parallel.hpp"
#include "symflow/core/gemm.hpp"
#include "symflow/core/assignment.hpp"

#include "symflow/nn/linear.hpp"
#include "symflow/nn/activations.hpp"
#include "symflow/nn/layernorm.hpp"
#include "symflow/nn/mlp.hpp"
#include "symflow/nn/adaln.hpp"
#include "symflow/nn/attention.hpp"
#include "symflow/nn/dit_block.hpp"
#include "symflow/nn/residual_mlp.hpp"
#include "symflow/nn/conv1d.hpp"
#include "symflow/nn/batchnorm.hpp"
#include "symflow/nn/deepsets.hpp"
#include "symflow/nn/pooling.hpp"
#include "symflow/nn/tokenizers.hpp"
#include "symflow/nn/conditioning.hpp"
#include "symflow/nn/encoders.hpp"

#include "symflow/flow/path.hpp"
#include "symflow/flow/coupling.hpp"
#include "symflow/flow/guidance.hpp"
#include "symflow/flow/solvers.hpp"

#include "symflow/optim/adam.hpp"
#include "symflow/optim/clip.hpp"
#include "symflow/optim/schedule.hpp"

#include "symflow/synth/param_spec.hpp"
#include "symflow/synth/kosc.hpp"
#include "symflow/synth/surge_spec.hpp"
#include "symflow/synth/surge.hpp"

#include "symflow/audio/fft.hpp"
#include "symflow/audio/window.hpp"
#include "symflow/audio/stft.hpp"
#include "symflow/audio/mel.hpp"
#include "symflow/audio/mfcc.hpp"
#include "symflow/audio/dtw.hpp"
#include "symflow/audio/metrics.hpp"

#include "symflow/metrics/kosc.hpp"

#include "symflow/io/json.hpp"
#include "symflow/io/atomic_file.hpp"
#include "symflow/io/safetensors.hpp"
#include "symflow/io/checkpoint.hpp"
#include "symflow/io/wav.hpp"
#include "symflow/io/png.hpp"

#include "symflow/viz/image.hpp"
#include "symflow/viz/colormap.hpp"
#include "symflow/viz/waveform.hpp"
#include "symflow/viz/spectrogram.hpp"
#include "symflow/viz/heatmap.hpp"

#include "symflow/models/vector_fields.hpp"
#include "symflow/models/flow_model.hpp"
#include "symflow/models/regression_model.hpp"
#include "symflow/models/kosc_model.hpp"
#include "symflow/models/kosc_inversion.hpp"

#include "symflow/train/losses.hpp"
#include "symflow/train/progress.hpp"
#include "symflow/train/interrupt.hpp"
#include "symflow/train/kosc_trainer.hpp"

#include "symflow/testing/gradcheck.hpp"
