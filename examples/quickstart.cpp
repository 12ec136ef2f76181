// The README's opening example: a Linear layer bound to a flat parameter store, one
// forward and backward pass, and a gradient check of it.
#include <iostream>

#include "symflow/symflow.hpp"

int main() {
  using namespace symflow;
  Rng rng(42);                                  // every random draw takes an explicit Rng
  nn::Linear<double> layer(4, 3);               // y = W x + b, applied to every column
  ParamStore<double> store(layer);              // one flat weight buffer, one gradient buffer
  layer.init(rng);                              // PyTorch's default Linear init

  Mat<double> x = testing::randomMatrix<double>(4, 8, rng);  // 8 samples as columns
  Mat<double> y, dx;
  nn::Linear<double>::Cache cache;              // what backward needs, owned by the caller
  layer.forward(x, y, cache);
  Mat<double> dy = Mat<double>::Ones(3, 8);     // dLoss/dy for loss = sum(y)
  layer.backward(cache, dy, dx);                // writes dx, adds into store.grads()

  auto check = testing::checkLayerGradients(layer, store, x, rng);
  std::cout << "params " << store.size() << ", loss " << y.sum() << "\n" << check.summary() << "\n";
  return check.ok() ? 0 : 1;
}
