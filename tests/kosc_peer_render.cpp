// Renders k-osc parameters given as raw float64 for tests/kosc_peer_test.py, which compares the
// result with the numpy peer (shared/peer/kosc_data.py) sample by sample.
//
//   kosc_peer_render K sym|asym float|double IN OUT
// IN: B x 3k float64 values (sound by sound, flat parameter-major layout); OUT: B x 1024 values
// in the chosen precision (float32 or float64), sound by sound. The parameters are rounded to
// the chosen precision first, as numpy's params.astype(dtype).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "symflow/synth/kosc.hpp"

template <class S> int run(symflow::Index k, symflow::synth::KOscVariant v, const std::vector<double>& in,
                           const std::string& outPath) {
  using namespace symflow;
  const Index B = Index(in.size()) / (3 * k);
  Mat<S> p(3 * k, B);
  for (Index b = 0; b < B; ++b)
    for (Index r = 0; r < 3 * k; ++r) p(r, b) = S(in[std::size_t(b * 3 * k + r)]);
  const Mat<S> sig = synth::KOsc<S>(k, v).render(p);
  std::ofstream out(outPath, std::ios::binary);
  out.write(reinterpret_cast<const char*>(sig.data()), std::streamsize(sig.size() * sizeof(S)));
  return out ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: kosc_peer_render K sym|asym float|double IN OUT\n";
    return 2;
  }
  const long k = std::stol(argv[1]);
  const auto variant = symflow::synth::kOscVariantFromString(argv[2]);
  std::ifstream f(argv[4], std::ios::binary | std::ios::ate);
  const auto bytes = std::size_t(f.tellg());
  std::vector<double> in(bytes / sizeof(double));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(in.data()), std::streamsize(bytes));
  if (!f || in.size() % std::size_t(3 * k) != 0) {
    std::cerr << "kosc_peer_render: bad input file\n";
    return 2;
  }
  return std::string(argv[3]) == "float" ? run<float>(k, variant, in, argv[5]) : run<double>(k, variant, in, argv[5]);
}
