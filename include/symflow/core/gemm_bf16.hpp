// symflow/core/gemm_bf16.hpp - float GEMMs through oneDNN's matmul, with bfloat16 inputs and
// float32 accumulation and output (the bf16 path of core/gemm.hpp; core/precision.hpp). Only
// compiled with SYMFLOW_USE_DNNL (CMake option; links DNNL::dnnl); without it this header is empty.
//
//   dnnlGemm(c, ldc, m, n, k, a, aRowStride, aColStride, b, bRowStride, bColStride, accumulate, type)
//     C = A B  (C += A B when accumulate), C m x n column-major with leading dimension ldc,
//     A(i, p) = a[i aRowStride + p aColStride], B(p, j) = b[p bRowStride + j bColStride]
//     (one of the two strides of each operand is 1: column-major, or row-major = a transpose).
//     type bf16: A and B are rounded to bfloat16 (round to nearest even, NaN kept) into packed
//     buffers of the calling thread, then multiplied by oneDNN with float32 accumulation.
//     type f32: oneDNN's float32 matmul on the operands as they are (benchmarks compare it).
//
// oneDNN is row-major, so the product is handed over transposed: C^T (n x m) = B^T A^T.
// Primitives are created once per (shape, strides, accumulate, type) and kept per thread
// together with their memory objects; a call only sets data handles and executes through
// oneDNN's C API (no argument map), with a user scratchpad that belongs to the thread and only
// grows, so steady-state calls do not allocate on symflow's side. Serial like gemm(): oneDNN
// (OpenMP runtime) runs on the calling thread only (the OpenMP thread count of the calling
// thread is set to 1 around creation and execution outside a parallel region).
#pragma once
#ifdef SYMFLOW_USE_DNNL
#include <cstdint>
#include <cstring>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "symflow/core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace symflow {
namespace detail {

enum class DnnlGemmType { f32, bf16 };

/// float -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN.
inline std::uint16_t floatToBf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return std::uint16_t(u >> 16);
}

inline float bf16ToFloat(std::uint16_t h) {
  const std::uint32_t u = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// dst[0, n) = bf16(src[0, n)) (vectorized by the compiler).
inline void roundToBf16(const float* src, std::uint16_t* dst, Index n) {
  for (Index i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, src + i, sizeof u);
    const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const std::uint32_t nan = (u >> 16) | 0x40u;
    dst[i] = std::uint16_t((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
  }
}

/// Packs the rows x cols operand X(i, j) = x[i rs + j cs] as bfloat16, keeping its storage order
/// (column-major when rs == 1, else row-major) with no gaps; returns the packed strides.
inline void packBf16(const float* x, Index rows, Index cols, Index rs, Index cs, std::uint16_t* out,
                     Index& prs, Index& pcs) {
  if (rs == 1) {
    for (Index j = 0; j < cols; ++j) roundToBf16(x + j * cs, out + j * rows, rows);
    prs = 1;
    pcs = rows;
  } else {
    for (Index i = 0; i < rows; ++i) roundToBf16(x + i * rs, out + i * cols, cols);
    prs = cols;
    pcs = 1;
  }
}

inline dnnl::engine& dnnlEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

/// Sets the calling thread's OpenMP thread count to 1 for its lifetime (outside a parallel
/// region), so oneDNN's OpenMP runtime creates and runs serial primitives.
class DnnlSerialScope {
 public:
  DnnlSerialScope() {
#ifdef _OPENMP
    previous_ = omp_get_max_threads();
    if (previous_ != 1) omp_set_num_threads(1);
#endif
  }
  ~DnnlSerialScope() {
#ifdef _OPENMP
    if (previous_ != 1) omp_set_num_threads(previous_);
#endif
  }
  DnnlSerialScope(const DnnlSerialScope&) = delete;
  DnnlSerialScope& operator=(const DnnlSerialScope&) = delete;

 private:
  int previous_ = 1;
};

struct DnnlGemmKey {
  Index m, n, k, ldc, ars, acs, brs, bcs;
  bool accumulate;
  DnnlGemmType type;
  bool operator==(const DnnlGemmKey& o) const {
    return m == o.m && n == o.n && k == o.k && ldc == o.ldc && ars == o.ars && acs == o.acs && brs == o.brs &&
           bcs == o.bcs && accumulate == o.accumulate && type == o.type;
  }
};

struct DnnlGemmEntry {
  DnnlGemmKey key;
  dnnl::matmul primitive;
  dnnl::memory src, weights, dst, scratchpad;
  size_t scratchpadBytes = 0;
  std::string implementation;
};

/// Most primitives a thread keeps (a training run uses a few dozen shapes).
constexpr size_t kMaxDnnlGemmEntries = 256;

/// Per-thread primitives, packing and scratchpad buffers, and stream.
struct DnnlGemmThreadState {
  std::vector<DnnlGemmEntry> entries;
  std::uint16_t* packA = nullptr;
  std::uint16_t* packB = nullptr;
  unsigned char* scratch = nullptr;
  Index sizeA = 0, sizeB = 0, sizeScratch = 0;
  dnnl::stream stream{dnnlEngine()};
  DnnlGemmThreadState() = default;
  DnnlGemmThreadState(const DnnlGemmThreadState&) = delete;
  DnnlGemmThreadState& operator=(const DnnlGemmThreadState&) = delete;
  ~DnnlGemmThreadState() {
    Eigen::internal::aligned_free(packA);
    Eigen::internal::aligned_free(packB);
    Eigen::internal::aligned_free(scratch);
  }
  template <class T> static T* grow(T*& p, Index& have, Index need) {
    if (need > have) {
      Eigen::internal::aligned_free(p);
      p = static_cast<T*>(Eigen::internal::aligned_malloc(size_t(need) * sizeof(T)));
      have = need;
    }
    return p;
  }
};

inline DnnlGemmThreadState& dnnlGemmThreadState() {
  static thread_local DnnlGemmThreadState state;
  return state;
}

/// The primitive for key (created on first use; see the header comment for the transposition).
inline DnnlGemmEntry& dnnlGemmEntry(const DnnlGemmKey& key) {
  auto& st = dnnlGemmThreadState();
  for (auto& e : st.entries)
    if (e.key == key) return e;
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  const dt in = key.type == DnnlGemmType::bf16 ? dt::bf16 : dt::f32;
  // src = B^T (n x k): element (j, p) = B(p, j); weights = A^T (k x m); dst = C^T (n x m)
  const dnnl::memory::desc srcMd(dims{key.n, key.k}, in, dims{key.bcs, key.brs});
  const dnnl::memory::desc weiMd(dims{key.k, key.m}, in, dims{key.acs, key.ars});
  const dnnl::memory::desc dstMd(dims{key.n, key.m}, dt::f32, dims{key.ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (key.accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  auto& engine = dnnlEngine();
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(srcMd, weiMd, dstMd), attr, engine);
  DnnlGemmEntry e;
  e.key = key;
  e.primitive = dnnl::matmul(pd);
  e.src = dnnl::memory(srcMd, engine, nullptr);
  e.weights = dnnl::memory(weiMd, engine, nullptr);
  e.dst = dnnl::memory(dstMd, engine, nullptr);
  e.scratchpadBytes = pd.scratchpad_desc().get_size();
  if (e.scratchpadBytes > 0) e.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine, nullptr);
  e.implementation = pd.impl_info_str();
  // a program that sees ever new shapes (e.g. inference on arbitrary batch sizes) must not
  // grow this list without end: start over past kMaxDnnlGemmEntries (oneDNN keeps its own
  // cache of compiled kernels, so re-creating a primitive is cheap)
  if (st.entries.size() >= kMaxDnnlGemmEntries) st.entries.clear();
  st.entries.push_back(std::move(e));
  return st.entries.back();
}

/// C = A B or C += A B through oneDNN (see the header comment). Throws dnnl::error when oneDNN
/// has no implementation (e.g. bf16 on a CPU without AVX-512).
inline void dnnlGemm(float* c, Index ldc, Index m, Index n, Index k, const float* a, Index ars, Index acs,
                     const float* b, Index brs, Index bcs, bool accumulate, DnnlGemmType type) {
  DnnlSerialScope serial;
  auto& st = dnnlGemmThreadState();
  const void* aData = a;
  const void* bData = b;
  if (type == DnnlGemmType::bf16) {
    auto* pa = DnnlGemmThreadState::grow(st.packA, st.sizeA, m * k);
    auto* pb = DnnlGemmThreadState::grow(st.packB, st.sizeB, k * n);
    packBf16(a, m, k, ars, acs, pa, ars, acs);
    packBf16(b, k, n, brs, bcs, pb, brs, bcs);
    aData = pa;
    bData = pb;
  }
  DnnlGemmEntry& e = dnnlGemmEntry(DnnlGemmKey{m, n, k, ldc, ars, acs, brs, bcs, accumulate, type});
  e.src.set_data_handle(const_cast<void*>(bData));
  e.weights.set_data_handle(const_cast<void*>(aData));
  e.dst.set_data_handle(c);
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e.src.get()}, {DNNL_ARG_WEIGHTS, e.weights.get()},
                             {DNNL_ARG_DST, e.dst.get()}, {DNNL_ARG_SCRATCHPAD, nullptr}};
  int nargs = 3;
  if (e.scratchpadBytes > 0) {
    e.scratchpad.set_data_handle(
        DnnlGemmThreadState::grow(st.scratch, st.sizeScratch, Index(e.scratchpadBytes)));
    args[3].memory = e.scratchpad.get();
    nargs = 4;
  }
  dnnl::error::wrap_c_api(dnnl_primitive_execute(e.primitive.get(), st.stream.get(), nargs, args),
                          "symflow: oneDNN matmul failed");
  st.stream.wait();
}

/// The oneDNN implementation name the calling thread's primitive for this problem uses
/// (e.g. "brg:avx512_core_bf16"), for benchmarks and logs.
inline std::string dnnlGemmImplementation(Index m, Index n, Index k, DnnlGemmType type) {
  auto& st = dnnlGemmThreadState();
  for (auto& e : st.entries)
    if (e.key.m == m && e.key.n == n && e.key.k == k && e.key.type == type) return e.implementation;
  return "";
}

/// True when oneDNN's effective ISA has native bfloat16 dot products (avx512_core_bf16 or AMX).
inline bool dnnlHasNativeBf16() {
  const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const unsigned bf16 = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
  return (isa & bf16) == bf16;
}

}  // namespace detail
}  // namespace symflow
#endif  // SYMFLOW_USE_DNNL
