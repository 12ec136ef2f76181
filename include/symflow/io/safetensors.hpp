// symflow/io/safetensors.hpp - the safetensors file format: strict reader, atomic writer.
//
// Layout (https://github.com/huggingface/safetensors, little-endian):
//   [8 bytes]  N, unsigned 64-bit: length of the header
//   [N bytes]  UTF-8 JSON object (may end with spaces; we pad it so data starts 8-aligned):
//                { "__metadata__": {"key": "string value", ...},            (optional)
//                  "<tensor name>": {"dtype": "F32", "shape": [out, in],
//                                    "data_offsets": [begin, end]}, ... }
//   [rest]     data section; tensor bytes are [begin, end) relative to its start, C order
//              (row-major), little-endian. The tensors cover it exactly: no gaps, no overlaps.
//
// Integrity: the writer stores two FNV-1a 64 checksums in the metadata, as 16 lowercase hex
// digits: "symflow.data_fnv1a64" over the whole data section and "symflow.header_fnv1a64"
// over the header content (every tensor's name, dtype, shape and offsets, and every other
// metadata pair; independent of JSON formatting). FNV-1a detects any change of a single
// byte with certainty. Files from other tools have no checksums; the reader verifies them
// when present and refuses files without them only if ReadOptions::requireChecksum.
//
// Reader: SafetensorsView::parse(bytes, size, source) works on a byte span in memory (the
// fuzzing entry point), never reads outside [bytes, bytes + size) and refuses, with a
// symflow::Error "safetensors '<source>': <problem>", a file shorter than 8 bytes, a header
// length beyond the file or above 100 MB, a header that is not a JSON object (strict JSON,
// see json.hpp), unknown dtypes or fields, negative / non-integer / overflowing shapes,
// data_offsets not matching shape x dtype size, out of bounds, overlapping, gaps, trailing
// bytes, duplicate names, non-string metadata, and checksum mismatches.
// SafetensorsFile::read(path) reads a whole file and parses it.
//
// loadTensors(view, targets, options) copies into a list of TensorRef<S> (a model's
// visitParams) after checking everything first, so a refused file leaves the model
// untouched: missing tensors, unexpected tensors (error unless allowed), shape mismatches,
// dtype (F32 <-> F64 only with allowDtypeConversion; PyTorch's I64 BatchNorm
// num_batches_tracked is converted to the model's scalar, and may be absent).
//
// Writer: writeSafetensors(path, tensors, metadata) writes atomically (AtomicFileWriter:
// "<path>.tmp.<pid>", fsync, rename, fsync directory); serializeSafetensors() builds the same
// bytes in memory.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symflow/core/params.hpp"
#include "symflow/core/types.hpp"
#include "symflow/io/atomic_file.hpp"
#include "symflow/io/json.hpp"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "symflow's safetensors I/O assumes a little-endian machine"
#endif

namespace symflow::io {

/// The safetensors element types (names as in the file).
enum class DType { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64 };

namespace detail {
struct DTypeDesc {
  DType dtype;
  const char* name;
  std::size_t size;
};
inline const std::vector<DTypeDesc>& dtypeTable() {
  static const std::vector<DTypeDesc> table = {
      {DType::BOOL, "BOOL", 1},    {DType::U8, "U8", 1},   {DType::I8, "I8", 1},
      {DType::F8_E5M2, "F8_E5M2", 1}, {DType::F8_E4M3, "F8_E4M3", 1},
      {DType::I16, "I16", 2},      {DType::U16, "U16", 2}, {DType::F16, "F16", 2},
      {DType::BF16, "BF16", 2},    {DType::I32, "I32", 4}, {DType::U32, "U32", 4},
      {DType::F32, "F32", 4},      {DType::I64, "I64", 8}, {DType::U64, "U64", 8},
      {DType::F64, "F64", 8}};
  return table;
}
}  // namespace detail

inline std::size_t dtypeSize(DType d) {
  for (const auto& e : detail::dtypeTable())
    if (e.dtype == d) return e.size;
  throw Error("dtypeSize: invalid DType");
}
inline std::string dtypeName(DType d) {
  for (const auto& e : detail::dtypeTable())
    if (e.dtype == d) return e.name;
  throw Error("dtypeName: invalid DType");
}
/// Looks a dtype up by its file name ("F32"); false if unknown.
inline bool dtypeFromName(std::string_view name, DType& out) {
  for (const auto& e : detail::dtypeTable())
    if (name == e.name) {
      out = e.dtype;
      return true;
    }
  return false;
}
template <class S> constexpr DType dtypeOf();
template <> constexpr DType dtypeOf<float>() { return DType::F32; }
template <> constexpr DType dtypeOf<double>() { return DType::F64; }

/// String-to-string metadata ("__metadata__"), sorted by key.
using Metadata = std::map<std::string, std::string>;

/// "(3, 4)"; "()" for a scalar.
inline std::string shapeString(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

/// One tensor entry of a parsed header. begin/end are byte offsets in the data section.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
  std::uint64_t numel = 0;  // product of shape (checked not to overflow)
  std::uint64_t byteSize() const { return end - begin; }
};

/// The header may not be longer than this (the limit of the reference implementation).
constexpr std::uint64_t kMaxHeaderBytes = 100000000;
inline const std::string kDataChecksumKey = "symflow.data_fnv1a64";
inline const std::string kHeaderChecksumKey = "symflow.header_fnv1a64";

/// FNV-1a, 64 bit.
class Fnv1a64 {
 public:
  void update(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t h = h_;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
    h_ = h;
  }
  void updateU64(std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    update(b, 8);
  }
  void updateString(std::string_view s) {
    updateU64(s.size());
    update(s.data(), s.size());
  }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

/// 16 lowercase hex digits.
inline std::string hex64(std::uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[std::size_t(i)] = digits[v & 15];
  return s;
}
/// Strict inverse of hex64 (exactly 16 lowercase hex digits).
inline bool parseHex64(std::string_view s, std::uint64_t& out) {
  if (s.size() != 16) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= std::uint64_t(c - '0');
    else if (c >= 'a' && c <= 'f') v |= std::uint64_t(c - 'a' + 10);
    else return false;
  }
  out = v;
  return true;
}

/// Checksum of the header content (order-independent, formatting-independent): tensors
/// sorted by name with dtype, shape and offsets, then metadata without the checksum keys.
inline std::uint64_t headerChecksum(const std::vector<TensorInfo>& tensors, const Metadata& meta) {
  std::vector<const TensorInfo*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->name < b->name; });
  Fnv1a64 h;
  h.updateString("safetensors-header-v1");
  h.updateU64(sorted.size());
  for (const TensorInfo* t : sorted) {
    h.updateString(t->name);
    h.updateString(dtypeName(t->dtype));
    h.updateU64(t->shape.size());
    for (std::int64_t d : t->shape) h.updateU64(std::uint64_t(d));
    h.updateU64(t->begin);
    h.updateU64(t->end);
  }
  for (const auto& [key, value] : meta) {
    if (key == kDataChecksumKey || key == kHeaderChecksumKey) continue;
    h.updateString(key);
    h.updateString(value);
  }
  return h.value();
}

struct ReadOptions {
  /// Refuse files without symflow's checksums (files written by other tools have none).
  bool requireChecksum = false;
};

struct LoadOptions {
  bool allowMissing = false;          // model tensors absent from the file keep their values
  bool allowUnexpected = false;       // file tensors the model does not have are ignored
  bool allowDtypeConversion = false;  // F32 file -> double model, F64 file -> float model
  /// PyTorch's BatchNorm counter "<prefix>num_batches_tracked" (shape (), I64 in PyTorch; a
  /// Scalar in symflow's BatchNorm1d; unused with a fixed momentum): an I64 count in the file
  /// is converted, and a count missing on either side is not an error.
  bool lenientNumBatchesTracked = true;
};

/// A parsed, validated, non-owning view of safetensors bytes (they must outlive it).
class SafetensorsView {
 public:
  SafetensorsView() = default;

  /// Parses and validates the bytes [data, data + size). `source` names them in errors.
  static SafetensorsView parse(const void* data, std::size_t size, const std::string& source,
                               const ReadOptions& options = {}) {
    SafetensorsView v;
    v.source_ = source;
    try {
      v.parseAndValidate(static_cast<const unsigned char*>(data), size, options);
    } catch (const std::bad_alloc&) {
      v.fail("out of memory while parsing the header");
    }
    return v;
  }

  const std::string& source() const { return source_; }
  /// The tensors in header order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const Metadata& metadata() const { return metadata_; }
  bool hasChecksums() const { return hasChecksums_; }
  /// Bytes from the start of the file to the data section (8 + header length).
  std::uint64_t dataOffset() const { return dataOffset_; }

  const TensorInfo* find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  const TensorInfo& at(const std::string& name) const {
    const TensorInfo* t = find(name);
    if (!t) fail("no tensor named '" + name + "'");
    return *t;
  }
  /// The metadata value of key, or an error naming the key.
  const std::string& metadataValue(const std::string& key) const {
    const auto it = metadata_.find(key);
    if (it == metadata_.end()) fail("missing metadata key '" + key + "'");
    return it->second;
  }
  /// The raw bytes of a tensor of this file (not necessarily aligned).
  const unsigned char* bytes(const TensorInfo& t) const { return data_ + t.begin; }

  /// Copies tensor t (n elements, F32 or F64) into dst. Conversion between F32 and F64 only
  /// when allowed.
  template <class S>
  void copyTensor(const TensorInfo& t, S* dst, std::uint64_t n, bool allowConversion) const {
    checkLoadable<S>(t, allowConversion);
    if (t.numel != n)
      fail("tensor '" + t.name + "' has " + std::to_string(t.numel) + " elements, expected " +
           std::to_string(n));
    if (n == 0) return;
    const unsigned char* src = bytes(t);
    if (t.dtype == dtypeOf<S>()) {
      std::memcpy(dst, src, n * sizeof(S));
    } else if (t.dtype == DType::F32) {
      for (std::uint64_t i = 0; i < n; ++i) {
        float x;
        std::memcpy(&x, src + 4 * i, 4);
        dst[i] = S(x);
      }
    } else {
      for (std::uint64_t i = 0; i < n; ++i) {
        double x;
        std::memcpy(&x, src + 8 * i, 8);
        dst[i] = S(x);
      }
    }
  }
  /// Throws unless tensor t can be read as S (same float type, or F32/F64 when converting).
  template <class S> void checkLoadable(const TensorInfo& t, bool allowConversion) const {
    if (t.dtype == dtypeOf<S>()) return;
    if (t.dtype != DType::F32 && t.dtype != DType::F64)
      fail("tensor '" + t.name + "' has dtype " + dtypeName(t.dtype) + ", which cannot be loaded into " +
           dtypeName(dtypeOf<S>()) + " (only F32 and F64 are supported)");
    if (!allowConversion)
      fail("tensor '" + t.name + "' is " + dtypeName(t.dtype) + " in the file but " +
           dtypeName(dtypeOf<S>()) + " in memory (allow dtype conversion to convert it)");
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw Error("safetensors '" + source_ + "': " + problem);
  }

 private:
  void parseAndValidate(const unsigned char* p, std::size_t size, const ReadOptions& options) {
    if (size < 8)
      fail("file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length (truncated?)");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | p[i];
    if (n > kMaxHeaderBytes)
      fail("header length " + std::to_string(n) + " is absurd (more than " + std::to_string(kMaxHeaderBytes) +
           " bytes)");
    if (n > size - 8)
      fail("header length " + std::to_string(n) + " exceeds the " + std::to_string(size - 8) +
           " bytes after the length field (truncated?)");
    dataOffset_ = 8 + n;
    data_ = p + dataOffset_;
    dataSize_ = size - dataOffset_;

    const std::string_view headerText(reinterpret_cast<const char*>(p + 8), std::size_t(n));
    json::ParseOptions jopt;
    jopt.maxDepth = 8;
    jopt.allowDuplicateKeys = true;  // reported below with a clearer message
    const json::Value root = json::parse(headerText, "safetensors '" + source_ + "': header is not valid JSON", jopt);
    if (!root.isObject()) fail("header is " + root.describe() + ", not a JSON object");

    bool sawMetadata = false;
    for (const auto& [name, entry] : root.asObject()) {
      if (name == "__metadata__") {
        if (sawMetadata) fail("duplicate __metadata__");
        sawMetadata = true;
        parseMetadata(entry);
        continue;
      }
      if (name.empty()) fail("a tensor has an empty name");
      if (!index_.emplace(name, tensors_.size()).second) fail("duplicate tensor name '" + name + "'");
      tensors_.push_back(parseTensorInfo(name, entry));
    }
    checkCoverage();
    checkChecksums(options);
  }

  void parseMetadata(const json::Value& entry) {
    if (!entry.isObject()) fail("__metadata__ is " + entry.describe() + ", not an object");
    for (const auto& [key, value] : entry.asObject()) {
      if (!value.isString()) fail("metadata '" + key + "' is " + value.describe() + ", not a string");
      if (!metadata_.emplace(key, value.asString()).second) fail("duplicate metadata key '" + key + "'");
    }
  }

  TensorInfo parseTensorInfo(const std::string& name, const json::Value& entry) const {
    const std::string what = "tensor '" + name + "'";
    if (!entry.isObject()) fail(what + ": entry is " + entry.describe() + ", not an object");
    const json::Value *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
    for (const auto& [key, value] : entry.asObject()) {
      const json::Value** slot = key == "dtype" ? &dtype
                                 : key == "shape" ? &shape
                                 : key == "data_offsets" ? &offsets
                                                         : nullptr;
      if (!slot) fail(what + ": unknown field '" + key + "'");
      if (*slot) fail(what + ": duplicate field '" + key + "'");
      *slot = &value;
    }
    if (!dtype) fail(what + ": no dtype");
    if (!shape) fail(what + ": no shape");
    if (!offsets) fail(what + ": no data_offsets");

    TensorInfo t;
    t.name = name;
    if (!dtype->isString()) fail(what + ": dtype is " + dtype->describe() + ", not a string");
    if (!dtypeFromName(dtype->asString(), t.dtype)) fail(what + ": unknown dtype '" + dtype->asString() + "'");

    if (!shape->isArray()) fail(what + ": shape is " + shape->describe() + ", not an array");
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : shape->asArray()) {
      if (!d.isInteger() || d.asInt64() < 0)
        fail(what + ": shape has an entry that is not a non-negative integer");
      t.shape.push_back(d.asInt64());
      overflow = overflow || __builtin_mul_overflow(numel, std::uint64_t(d.asInt64()), &numel);
    }
    std::uint64_t nbytes = 0;
    overflow = overflow || __builtin_mul_overflow(numel, std::uint64_t(dtypeSize(t.dtype)), &nbytes);
    if (overflow) fail(what + ": shape " + shapeString(t.shape) + " has too many elements (overflow)");
    t.numel = numel;

    if (!offsets->isArray() || offsets->asArray().size() != 2)
      fail(what + ": data_offsets is not an array of two integers");
    for (const auto& o : offsets->asArray())
      if (!o.isInteger() || o.asInt64() < 0) fail(what + ": data_offsets has an entry that is not a non-negative integer");
    t.begin = std::uint64_t(offsets->asArray()[0].asInt64());
    t.end = std::uint64_t(offsets->asArray()[1].asInt64());
    const std::string range = "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
    if (t.begin > t.end) fail(what + ": data_offsets " + range + " begin after they end");
    if (t.end > dataSize_)
      fail(what + ": data_offsets " + range + " reach beyond the data section of " + std::to_string(dataSize_) +
           " bytes (truncated?)");
    if (t.end - t.begin != nbytes)
      fail(what + ": data_offsets " + range + " hold " + std::to_string(t.end - t.begin) + " bytes but dtype " +
           dtypeName(t.dtype) + " and shape " + shapeString(t.shape) + " need " + std::to_string(nbytes));
    return t;
  }

  /// The tensors must tile the data section: sorted by offsets, each begins where the
  /// previous one ended, and the last ends at the end of the file.
  void checkCoverage() const {
    std::vector<const TensorInfo*> sorted;
    for (const auto& t : tensors_) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(), [](const TensorInfo* a, const TensorInfo* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    std::uint64_t covered = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo* t : sorted) {
      if (t->begin < covered)
        fail("tensors '" + previous->name + "' [" + std::to_string(previous->begin) + ", " +
             std::to_string(previous->end) + ") and '" + t->name + "' [" + std::to_string(t->begin) + ", " +
             std::to_string(t->end) + ") overlap");
      if (t->begin > covered)
        fail("bytes [" + std::to_string(covered) + ", " + std::to_string(t->begin) +
             ") of the data section belong to no tensor");
      covered = t->end;
      previous = t;
    }
    if (covered != dataSize_)
      fail(std::to_string(dataSize_ - covered) + " bytes of trailing garbage after the last tensor");
  }

  void checkChecksums(const ReadOptions& options) {
    const auto dataIt = metadata_.find(kDataChecksumKey);
    const auto headerIt = metadata_.find(kHeaderChecksumKey);
    hasChecksums_ = dataIt != metadata_.end() && headerIt != metadata_.end();
    if (options.requireChecksum && !hasChecksums_)
      fail("no checksums in the metadata (" + kDataChecksumKey + ", " + kHeaderChecksumKey +
           "): not written by symflow, or the metadata was damaged");
    if (headerIt != metadata_.end()) {
      std::uint64_t stored = 0;
      if (!parseHex64(headerIt->second, stored)) fail("metadata " + kHeaderChecksumKey + " is not 16 hex digits");
      const std::uint64_t computed = headerChecksum(tensors_, metadata_);
      if (stored != computed)
        fail("header checksum mismatch (stored " + headerIt->second + ", computed " + hex64(computed) +
             "): the header is corrupted");
    }
    if (dataIt != metadata_.end()) {
      std::uint64_t stored = 0;
      if (!parseHex64(dataIt->second, stored)) fail("metadata " + kDataChecksumKey + " is not 16 hex digits");
      Fnv1a64 h;
      h.update(data_, dataSize_);
      if (stored != h.value())
        fail("data checksum mismatch (stored " + dataIt->second + ", computed " + hex64(h.value()) +
             "): the tensor data is corrupted");
    }
  }

  std::string source_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;  // name -> position in tensors_
  Metadata metadata_;
  const unsigned char* data_ = nullptr;
  std::uint64_t dataSize_ = 0, dataOffset_ = 0;
  bool hasChecksums_ = false;
};

/// Reads a whole file into memory. Errors name the file.
inline std::vector<unsigned char> readFileBytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + path + "': " + detail::systemError(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error("cannot stat '" + path + "': " + detail::systemError(errno));
  if (!S_ISREG(st.st_mode)) throw Error("'" + path + "' is not a regular file");
  std::vector<unsigned char> bytes;
  try {
    bytes.resize(std::size_t(st.st_size));
  } catch (const std::bad_alloc&) {
    throw Error("'" + path + "' is too large to read into memory (" + std::to_string(st.st_size) + " bytes)");
  }
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ::ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot read '" + path + "': " + detail::systemError(errno));
    }
    if (r == 0) throw Error("'" + path + "' shrank while being read");
    got += std::size_t(r);
  }
  return bytes;
}

/// A safetensors file read into memory and validated.
class SafetensorsFile {
 public:
  static SafetensorsFile read(const std::string& path, const ReadOptions& options = {}) {
    SafetensorsFile f;
    f.bytes_ = readFileBytes(path);
    f.view_ = SafetensorsView::parse(f.bytes_.data(), f.bytes_.size(), path, options);
    return f;
  }
  /// Parses a copy of in-memory bytes.
  static SafetensorsFile fromBytes(std::vector<unsigned char> bytes, const std::string& source,
                                   const ReadOptions& options = {}) {
    SafetensorsFile f;
    f.bytes_ = std::move(bytes);
    f.view_ = SafetensorsView::parse(f.bytes_.data(), f.bytes_.size(), source, options);
    return f;
  }
  SafetensorsFile(SafetensorsFile&&) = default;  // the byte buffer moves, the view stays valid
  SafetensorsFile& operator=(SafetensorsFile&&) = default;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const SafetensorsView& view() const { return view_; }
  const std::vector<unsigned char>& bytes() const { return bytes_; }

 private:
  SafetensorsFile() = default;
  std::vector<unsigned char> bytes_;
  SafetensorsView view_;
};

namespace detail {
inline bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && std::string_view(s).substr(s.size() - suffix.size()) == suffix;
}
inline bool startsWithAny(const std::string& s, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (s.compare(0, p.size(), p) == 0) return true;
  return false;
}
inline std::string nameList(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < 5; ++i) s += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > 5) s += " and " + std::to_string(names.size() - 5) + " more";
  return s;
}
}  // namespace detail

/// Loads file tensors into `targets` by name (a model's TensorRef list). Everything is
/// checked before the first byte is copied, so on error the targets are unchanged.
/// File tensors whose names start with one of `skipPrefixes` are neither loaded nor
/// reported as unexpected (e.g. "optim." for optimizer state).
template <class S>
void loadTensors(const SafetensorsView& file, const std::vector<TensorRef<S>>& targets,
                 const LoadOptions& options = {}, const std::vector<std::string>& skipPrefixes = {}) {
  std::map<std::string, const TensorRef<S>*> byName;
  for (const auto& t : targets)
    require(byName.emplace(t.name, &t).second, "loadTensors: the model has two tensors named '" + t.name + "'");
  auto isCount = [&](const std::string& name) {
    return options.lenientNumBatchesTracked &&
           (name == "num_batches_tracked" || detail::endsWith(name, ".num_batches_tracked"));
  };

  std::vector<std::pair<const TensorInfo*, const TensorRef<S>*>> plan;
  std::vector<std::string> missing, unexpected;
  for (const auto& t : targets) {
    const TensorInfo* info = file.find(t.name);
    if (!info) {
      if (!isCount(t.name)) missing.push_back(t.name);
      continue;
    }
    std::vector<std::int64_t> want(t.shape.begin(), t.shape.end());
    if (info->shape != want)
      file.fail("tensor '" + t.name + "' has shape " + shapeString(info->shape) + " in the file but " +
                shapeString(want) + " in the model");
    if (!(isCount(t.name) && info->dtype == DType::I64)) file.checkLoadable<S>(*info, options.allowDtypeConversion);
    plan.emplace_back(info, &t);
  }
  for (const auto& info : file.tensors()) {
    if (byName.count(info.name) || detail::startsWithAny(info.name, skipPrefixes) || isCount(info.name)) continue;
    unexpected.push_back(info.name);
  }
  if (!missing.empty() && !options.allowMissing)
    file.fail("missing tensor" + std::string(missing.size() > 1 ? "s " : " ") + detail::nameList(missing) +
              " (the model has " + (missing.size() > 1 ? "them" : "it") + ", the file does not)");
  if (!unexpected.empty() && !options.allowUnexpected)
    file.fail("unexpected tensor" + std::string(unexpected.size() > 1 ? "s " : " ") +
              detail::nameList(unexpected) + " (in the file, not in the model)");
  for (const auto& [info, ref] : plan) {
    if (info->dtype == DType::I64 && dtypeOf<S>() != DType::I64) {  // a PyTorch count (see isCount)
      for (std::uint64_t i = 0; i < info->numel; ++i) {
        std::int64_t count;
        std::memcpy(&count, file.bytes(*info) + 8 * i, 8);
        ref->value[i] = S(count);
      }
    } else {
      file.copyTensor(*info, ref->value, std::uint64_t(ref->size()), options.allowDtypeConversion);
    }
  }
}

/// One tensor to write: `data` points at numel(shape) * dtypeSize(dtype) bytes, row-major.
struct TensorData {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
};
template <class S>
TensorData tensorData(std::string name, const std::vector<Index>& shape, const S* data) {
  return TensorData{std::move(name), dtypeOf<S>(), std::vector<std::int64_t>(shape.begin(), shape.end()), data};
}
template <class S> TensorData tensorData(const TensorRef<S>& t) { return tensorData<S>(t.name, t.shape, t.value); }

namespace detail {
struct PreparedFile {
  std::string header;  // JSON, padded with spaces to a multiple of 8 bytes
  std::vector<std::uint64_t> sizes;
};

/// Validates the tensors and builds the header (offsets, checksums).
inline PreparedFile prepareSafetensors(const std::vector<TensorData>& tensors, const Metadata& metadata) {
  PreparedFile out;
  std::vector<TensorInfo> infos;
  std::map<std::string, int> seen;
  std::uint64_t offset = 0;
  Fnv1a64 dataHash;
  for (const auto& t : tensors) {
    require(!t.name.empty(), "safetensors writer: a tensor has an empty name");
    require(t.name != "__metadata__", "safetensors writer: '__metadata__' is not a valid tensor name");
    require(seen.emplace(t.name, 0).second, "safetensors writer: two tensors named '" + t.name + "'");
    std::uint64_t numel = 1;
    bool overflow = false;
    for (std::int64_t d : t.shape) {
      require(d >= 0, "safetensors writer: tensor '" + t.name + "' has a negative dimension");
      overflow = overflow || __builtin_mul_overflow(numel, std::uint64_t(d), &numel);
    }
    std::uint64_t nbytes = 0;
    overflow = overflow || __builtin_mul_overflow(numel, std::uint64_t(dtypeSize(t.dtype)), &nbytes);
    require(!overflow, "safetensors writer: tensor '" + t.name + "' is too large");
    require(nbytes == 0 || t.data != nullptr, "safetensors writer: tensor '" + t.name + "' has no data");
    TensorInfo info;
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    info.begin = offset;
    info.end = offset + nbytes;
    info.numel = numel;
    offset = info.end;
    if (nbytes) dataHash.update(t.data, std::size_t(nbytes));
    out.sizes.push_back(nbytes);
    infos.push_back(std::move(info));
  }
  Metadata meta = metadata;
  require(!meta.count(kDataChecksumKey) && !meta.count(kHeaderChecksumKey),
          "safetensors writer: the checksum metadata keys are reserved");
  meta[kDataChecksumKey] = hex64(dataHash.value());
  meta[kHeaderChecksumKey] = hex64(headerChecksum(infos, meta));

  json::Value root = json::Value::object();
  json::Value metaJson = json::Value::object();
  for (const auto& [k, v] : meta) metaJson.set(k, v);
  root.set("__metadata__", std::move(metaJson));
  for (const auto& info : infos) {
    json::Value shape = json::Value::array();
    for (std::int64_t d : info.shape) shape.push(d);
    json::Value offsets = json::Value::array();
    offsets.push(info.begin).push(info.end);
    json::Value entry = json::Value::object();
    entry.set("dtype", dtypeName(info.dtype)).set("shape", std::move(shape)).set("data_offsets", std::move(offsets));
    root.set(info.name, std::move(entry));
  }
  out.header = json::dump(root);
  out.header.append((8 - out.header.size() % 8) % 8, ' ');
  require(out.header.size() <= kMaxHeaderBytes, "safetensors writer: header larger than 100 MB");
  return out;
}
inline void lengthPrefix(std::uint64_t n, unsigned char* b) {
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(n >> (8 * i));
}
}  // namespace detail

/// The bytes of a safetensors file holding `tensors` and `metadata` (plus checksums).
inline std::vector<unsigned char> serializeSafetensors(const std::vector<TensorData>& tensors,
                                                       const Metadata& metadata = {}) {
  const auto prep = detail::prepareSafetensors(tensors, metadata);
  std::vector<unsigned char> out(8);
  detail::lengthPrefix(prep.header.size(), out.data());
  out.insert(out.end(), prep.header.begin(), prep.header.end());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto* p = static_cast<const unsigned char*>(tensors[i].data);
    if (prep.sizes[i]) out.insert(out.end(), p, p + prep.sizes[i]);
  }
  return out;
}

/// Writes a safetensors file atomically (see AtomicFileWriter): the target is either the
/// old file or the complete new one, and no temporary file is left behind.
inline void writeSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                             const Metadata& metadata = {}) {
  const auto prep = detail::prepareSafetensors(tensors, metadata);
  AtomicFileWriter out(path);
  unsigned char len[8];
  detail::lengthPrefix(prep.header.size(), len);
  out.write(len, 8);
  out.write(prep.header.data(), prep.header.size());
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (prep.sizes[i]) out.write(tensors[i].data, std::size_t(prep.sizes[i]));
  out.commit();
}

}  // namespace symflow::io
