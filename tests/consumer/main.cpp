// Built against the installed package: uses the umbrella header and checks one gradient.
#include <iostream>

#include <symflow/symflow.hpp>

int main() {
  symflow::Rng rng(7);
  symflow::nn::Linear<double> layer(3, 2);
  symflow::ParamStore<double> store(layer);
  layer.init(rng);
  auto r = symflow::testing::checkLayerGradients(
      layer, store, symflow::testing::randomMatrix<double>(3, 5, rng), rng);
  std::cout << "consumer: " << r.summary() << "\n";
  return r.ok() ? 0 : 1;
}
