// symflow/core/rng.hpp - seeded random numbers, passed explicitly everywhere.
//
// Rng is xoshiro256++ (Blackman & Vigna) seeded through splitmix64. Its whole state is four
// 64-bit words (state()/setState()), so checkpoints can store and restore it exactly.
// normal() uses Box-Muller without caching a second value, so the state alone determines
// the stream. Same seed, same numbers, on every platform (no std:: distributions).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

namespace symflow {

class Rng {
 public:
  using State = std::array<std::uint64_t, 4>;

  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    std::uint64_t z = seed;
    for (auto& w : s_) w = splitmix64(z);
  }
  /// An independent generator for sub-stream `stream` of this seed (e.g. one per worker or
  /// per sample): derived by hashing, does not advance this generator.
  Rng fork(std::uint64_t stream) const {
    std::uint64_t z = s_[0] ^ (0x9e3779b97f4a7c15ULL * (stream + 1)) ^ s_[3];
    Rng r;
    for (auto& w : r.s_) w = splitmix64(z);
    return r;
  }

  const State& state() const { return s_; }
  void setState(const State& s) { s_ = s; }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n) (Lemire's multiply-shift, negligible bias for n << 2^64).
  std::uint64_t below(std::uint64_t n) {
    return std::uint64_t((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  /// Standard normal (Box-Muller, one value per call).
  double normal() {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
  }
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  /// Fill [first, last) with i.i.d. draws of gen(*this).
  template <class It, class Gen> void fill(It first, It last, Gen&& gen) {
    for (; first != last; ++first) *first = static_cast<std::decay_t<decltype(*first)>>(gen(*this));
  }
  template <class It> void fillNormal(It first, It last, double mean = 0, double stddev = 1) {
    fill(first, last, [&](Rng& r) { return r.normal(mean, stddev); });
  }
  template <class It> void fillUniform(It first, It last, double lo = 0, double hi = 1) {
    fill(first, last, [&](Rng& r) { return r.uniform(lo, hi); });
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& z) {
    std::uint64_t r = (z += 0x9e3779b97f4a7c15ULL);
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ULL;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebULL;
    return r ^ (r >> 31);
  }
  State s_{};
};

}  // namespace symflow
