// symflow/core/precision.hpp - the run-time precision of the large float GEMMs.
//
//   Precision::fp32   every GEMM in float32 (Eigen): the default and the reference
//   Precision::bf16   the large float GEMMs of core/gemm.hpp round their two inputs to bfloat16
//                     (8 significant bits, round to nearest even) and accumulate and write in
//                     float32 (oneDNN matmul, core/gemm_bf16.hpp). Only the GEMM inputs are
//                     rounded: weights (the master copy), gradients, Adam moments, norms,
//                     softmax and losses stay float32. double GEMMs never change.
//   Precision::automatic
//                     bf16 when this program was compiled with oneDNN (SYMFLOW_USE_DNNL) and the
//                     CPU has native bfloat16 dot products (AVX512_BF16 or AMX-BF16, asked at
//                     run time, so one binary serves every machine), fp32 otherwise.
//
// setGemmPrecision(p) sets the process-wide setting (resolving automatic; bf16 without oneDNN
// is an Error) and returns what it chose; gemmPrecision() reads it (one relaxed atomic load per
// GEMM). Set it once before training or inference, not while GEMMs run on other threads.
// The library header stays free of oneDNN: without SYMFLOW_USE_DNNL the setting can only be fp32.
#pragma once
#include <atomic>
#include <string>

#include "symflow/core/gemm_bf16.hpp"
#include "symflow/core/types.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace symflow {

enum class Precision { fp32, bf16, automatic };

inline const char* precisionName(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::automatic: return "auto";
  }
  return "?";
}

/// "fp32" | "bf16" | "auto" (an Error names the accepted values otherwise).
inline Precision parsePrecision(const std::string& s) {
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  if (s == "auto") return Precision::automatic;
  throw Error("precision must be auto, fp32 or bf16, got '" + s + "'");
}

/// True when this build routes bf16 GEMMs through oneDNN (CMake option SYMFLOW_USE_DNNL).
constexpr bool bf16GemmCompiled() {
#ifdef SYMFLOW_USE_DNNL
  return true;
#else
  return false;
#endif
}

/// True when the CPU executes bfloat16 dot products natively (AVX512_BF16: cpuid leaf 7
/// sub-leaf 1 EAX bit 5; AMX-BF16: leaf 7 sub-leaf 0 EDX bit 22) and the OS saves the AVX-512
/// state (XCR0 bits 1, 2, 5-7). AMX tiles need the OS's permission as well, which oneDNN asks for.
inline bool cpuHasNativeBf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(1, 0, a, b, c, d);
  const bool osxsave = (c >> 27) & 1u;
  if (!osxsave) return false;
  unsigned xcr0lo = 0, xcr0hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0lo), "=d"(xcr0hi) : "c"(0));
  const bool avx512State = (xcr0lo & 0xE6u) == 0xE6u;
  __cpuid_count(7, 0, a, b, c, d);
  const bool amxBf16 = (d >> 22) & 1u;
  const unsigned maxSub = a;
  bool avx512Bf16 = false;
  if (maxSub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    avx512Bf16 = (a >> 5) & 1u;
  }
  return avx512State && (avx512Bf16 || amxBf16);
#else
  return false;
#endif
}

namespace detail {
inline std::atomic<Precision>& gemmPrecisionSetting() {
  static std::atomic<Precision> setting{Precision::fp32};
  return setting;
}
}  // namespace detail

/// What automatic resolves to on this machine with this build.
inline Precision resolvePrecision(Precision p) {
  if (p == Precision::automatic) {
#ifdef SYMFLOW_USE_DNNL
    return cpuHasNativeBf16() && detail::dnnlHasNativeBf16() ? Precision::bf16 : Precision::fp32;
#else
    return Precision::fp32;
#endif
  }
  if (p == Precision::bf16 && !bf16GemmCompiled())
    throw Error("precision bf16 needs a build with oneDNN (CMake option SYMFLOW_USE_DNNL; Debian: libdnnl-dev)");
  return p;
}

/// Sets the precision of the large float GEMMs for the whole process; returns fp32 or bf16.
inline Precision setGemmPrecision(Precision p) {
  const Precision r = resolvePrecision(p);
  detail::gemmPrecisionSetting().store(r, std::memory_order_relaxed);
  return r;
}

/// The current setting: fp32 (default) or bf16.
inline Precision gemmPrecision() { return detail::gemmPrecisionSetting().load(std::memory_order_relaxed); }

/// Sets the precision for the lifetime of the object and restores the previous one (tests, benches).
class ScopedGemmPrecision {
 public:
  explicit ScopedGemmPrecision(Precision p) : previous_(gemmPrecision()) { setGemmPrecision(p); }
  ~ScopedGemmPrecision() { detail::gemmPrecisionSetting().store(previous_, std::memory_order_relaxed); }
  ScopedGemmPrecision(const ScopedGemmPrecision&) = delete;
  ScopedGemmPrecision& operator=(const ScopedGemmPrecision&) = delete;

 private:
  Precision previous_;
};

}  // namespace symflow
