// checkpoint_compare A.safetensors B.safetensors TOLERANCE
// Compares the model tensors (not the optimizer state, not metadata) of two symflow checkpoints:
// the same names and shapes, and max |a - b| / (1e-3 + max |a|) over all of them at most
// TOLERANCE. Prints the relative difference; exit status 0 (within), 1 (not), 2 (bad input).
// Used by tests/mpi_train_test.sh to compare 1-rank and 2-rank runs.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "symflow/io/checkpoint.hpp"
#include "symflow/io/safetensors.hpp"

int main(int argc, char** argv) {
  using namespace symflow;
  if (argc != 4) {
    std::cerr << "usage: checkpoint_compare A.safetensors B.safetensors TOLERANCE\n";
    return 2;
  }
  try {
    const auto a = io::SafetensorsFile::read(argv[1]);
    const auto b = io::SafetensorsFile::read(argv[2]);
    const double tolerance = std::stod(argv[3]);
    double diff = 0, scale = 0;
    std::size_t compared = 0;
    for (const auto& ta : a.view().tensors()) {
      if (io::isReservedCheckpointName(ta.name)) continue;  // optimizer state, symflow bookkeeping
      const io::TensorInfo* tb = b.view().find(ta.name);
      require(tb != nullptr, std::string(argv[2]) + " has no tensor '" + ta.name + "'");
      require(tb->shape == ta.shape, "tensor '" + ta.name + "' has different shapes");
      std::vector<float> va(ta.numel), vb(ta.numel);
      a.view().copyTensor(ta, va.data(), ta.numel, false);
      b.view().copyTensor(*tb, vb.data(), tb->numel, false);
      for (std::size_t i = 0; i < va.size(); ++i) {
        diff = std::max(diff, double(std::abs(va[i] - vb[i])));
        scale = std::max(scale, double(std::abs(va[i])));
      }
      ++compared;
    }
    require(compared > 0, "no model tensors to compare");
    const double rel = diff / (1e-3 + scale);
    std::cout << "relative difference " << rel << " over " << compared << " tensors (tolerance " << tolerance << ")\n";
    return rel <= tolerance ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "checkpoint_compare: " << e.what() << "\n";
    return 2;
  }
}
