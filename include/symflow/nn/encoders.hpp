// symflow/nn/encoders.hpp - the audio encoders: the paper's spectral CNN encoder (CnnEncoder,
// cnn_encoder.hpp) and the cheap spectral-MLP encoder (SpectralMlpEncoder,
// spectral_mlp_encoder.hpp). Both map a batch of |rFFT| magnitude spectra, nBins x B, to a
// dOut x B conditioning matrix, share the layer interface (forward / backward /
// backwardParams / setTraining / updateRunningStats), and are interchangeable in a model.
#pragma once
#include "symflow/nn/cnn_encoder.hpp"
#include "symflow/nn/spectral_mlp_encoder.hpp"
