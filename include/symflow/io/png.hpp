// symflow/io/png.hpp - dependency-free PNG writer (8-bit RGB or RGBA, non-interlaced), with
// the checksums and the zlib/deflate compressor it needs.
//
// Pixels:   row-major, top row first, `channels` bytes per pixel (3 = R G B, 4 = R G B A),
//           width * height * channels bytes in all, no row padding.
// File:     the 8-byte PNG signature, then chunks (4-byte big-endian data length, 4-byte type,
//           data, CRC-32 of type + data): IHDR (width, height, bit depth 8, colour type 2 for
//           RGB or 6 for RGBA, compression 0, filter 0, interlace 0), one IDAT holding the
//           zlib stream of the filtered rows, IEND.
// Filters:  each row is stored with the PNG filter (None, Sub, Up, Average, Paeth) whose
//           output has the smallest sum of |byte as int8| (the usual libpng heuristic); the
//           filter type byte precedes the row.
// zlib:     header 0x78 0x01 (deflate, 32 KiB window), raw deflate data, Adler-32 of the
//           uncompressed data (big-endian).
// deflate:  the input is cut into blocks of at most 65535 bytes. Each block is LZ77-parsed
//           greedily (3-byte hash chains, at most kChainLimit candidates per position,
//           matches of 3..258 bytes at distances 1..32768 that may reach into earlier blocks)
//           and coded with the FIXED Huffman code of RFC 1951 section 3.2.6; when that is not
//           shorter than storing the block, the block is stored instead (so random data grows
//           by only 5 bytes per block). Deterministic: same input, same bytes.
// Checksums: crc32 is the CRC-32 of ISO 3309 / PNG / zlib (reflected polynomial 0xEDB88320,
//           initial and final xor 0xFFFFFFFF); crc32("123456789") = 0xCBF43926. adler32 is the
//           zlib Adler-32 (modulus 65521); adler32("Wikipedia") = 0x11E60398. Both take a
//           running value, so a checksum can be continued over several buffers.
// Files:    writePng goes through io::AtomicFileWriter (temporary file, fsync, rename): a
//           failed write leaves no partial file and never touches an existing one.
// Errors:   zero or too large sizes, a pixel buffer of the wrong length, a channel count other
//           than 3 or 4 throw symflow::Error naming the problem.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "symflow/core/types.hpp"
#include "symflow/io/atomic_file.hpp"

namespace symflow::io {

namespace png_detail {

inline const std::array<std::uint32_t, 256>& crcTable() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}

inline void putBigEndian32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(std::uint8_t(v >> 24));
  out.push_back(std::uint8_t(v >> 16));
  out.push_back(std::uint8_t(v >> 8));
  out.push_back(std::uint8_t(v));
}

}  // namespace png_detail

/// CRC-32 (PNG/zlib) of n bytes, continuing from a previous result `crc` (0 to start).
inline std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0) {
  const auto& table = png_detail::crcTable();
  std::uint32_t c = crc ^ 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/// Adler-32 (zlib) of n bytes, continuing from a previous result `adler` (1 to start).
inline std::uint32_t adler32(const std::uint8_t* data, std::size_t n, std::uint32_t adler = 1) {
  constexpr std::uint32_t kMod = 65521;
  std::uint32_t a = adler & 0xFFFFu, b = adler >> 16;
  while (n > 0) {
    // 5552 bytes is the largest run for which the 32-bit sums cannot overflow before the modulo.
    const std::size_t run = std::min<std::size_t>(n, 5552);
    for (std::size_t i = 0; i < run; ++i) {
      a += data[i];
      b += a;
    }
    a %= kMod;
    b %= kMod;
    data += run;
    n -= run;
  }
  return (b << 16) | a;
}

namespace png_detail {

/// Bits written least significant first, as deflate stores them.
class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  void putBits(std::uint32_t bits, int count) {  // count <= 24
    acc_ |= std::uint64_t(bits) << used_;
    used_ += count;
    while (used_ >= 8) {
      out_.push_back(std::uint8_t(acc_ & 0xFFu));
      acc_ >>= 8;
      used_ -= 8;
    }
  }
  /// A Huffman code: deflate sends its bits most significant first.
  void putCode(std::uint32_t code, int length) {
    std::uint32_t reversed = 0;
    for (int i = 0; i < length; ++i) reversed |= ((code >> i) & 1u) << (length - 1 - i);
    putBits(reversed, length);
  }
  void alignToByte() {
    if (used_ > 0) putBits(0, 8 - used_);
  }

 private:
  std::vector<std::uint8_t>& out_;
  std::uint64_t acc_ = 0;
  int used_ = 0;
};

// RFC 1951 3.2.5: length codes 257..285 and distance codes 0..29 (base value, extra bits).
constexpr std::array<std::uint16_t, 29> kLengthBase = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,
                                                       15, 17, 19, 23, 27, 31, 35, 43, 51,  59,
                                                       67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::array<std::uint8_t, 29> kLengthExtra = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::array<std::uint16_t, 30> kDistBase = {1,    2,    3,    4,    5,    7,     9,     13,
                                                     17,   25,   33,   49,   65,   97,    129,   193,
                                                     257,  385,  513,  769,  1025, 1537,  2049,  3073,
                                                     4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::array<std::uint8_t, 30> kDistExtra = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                     6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

constexpr int kMinMatch = 3, kMaxMatch = 258, kWindow = 32768;
constexpr int kChainLimit = 64;               ///< candidates tried per position (speed vs size)
constexpr std::size_t kBlockBytes = 65535;    ///< input bytes per block (the stored-block limit)

/// One LZ77 token: a literal byte (length 0) or a (length, distance) match.
struct Lz77Token {
  std::uint16_t length = 0;
  std::uint16_t distance = 0;
  std::uint8_t literal = 0;
};

/// Fixed-Huffman code (RFC 1951 3.2.6) of literal/length symbol s: (code, bit length).
inline std::pair<std::uint32_t, int> fixedLiteralCode(int s) {
  if (s < 144) return {std::uint32_t(0x30 + s), 8};
  if (s < 256) return {std::uint32_t(0x190 + s - 144), 9};
  if (s < 280) return {std::uint32_t(s - 256), 7};
  return {std::uint32_t(0xC0 + s - 280), 8};
}
inline int lengthIndex(int length) {  // index into kLengthBase (symbol 257 + index)
  int i = 28;
  while (kLengthBase[std::size_t(i)] > length) --i;
  return i;
}
inline int distanceIndex(int distance) {
  int i = 29;
  while (kDistBase[std::size_t(i)] > distance) --i;
  return i;
}
/// Bits that the fixed code spends on a token.
inline int fixedTokenBits(const Lz77Token& t) {
  if (t.length == 0) return fixedLiteralCode(t.literal).second;
  const int li = lengthIndex(t.length);
  return fixedLiteralCode(257 + li).second + kLengthExtra[std::size_t(li)] + 5 +
         kDistExtra[std::size_t(distanceIndex(t.distance))];
}

/// Greedy LZ77 parser with hash chains over the whole input (window 32 KiB).
class Lz77Matcher {
 public:
  Lz77Matcher(const std::uint8_t* data, std::size_t n)
      : data_(data), n_(n), head_(kHashSize, -1), prev_(std::size_t(kWindow), -1) {}

  /// Tokens for data[begin, end); matches never run past `end`.
  void parse(std::size_t begin, std::size_t end, std::vector<Lz77Token>& tokens) {
    tokens.clear();
    std::size_t pos = begin;
    while (pos < end) {
      int bestLength = 0, bestDistance = 0;
      const std::size_t maxLength = std::min<std::size_t>(kMaxMatch, end - pos);
      if (maxLength >= std::size_t(kMinMatch)) {
        long candidate = head_[hash(pos)];
        for (int tries = 0; tries < kChainLimit && candidate >= 0; ++tries) {
          const std::size_t distance = pos - std::size_t(candidate);
          if (distance > std::size_t(kWindow)) break;
          const std::uint8_t* a = data_ + candidate;
          const std::uint8_t* b = data_ + pos;
          if (a[bestLength] == b[bestLength]) {  // cheap reject: must beat the best so far
            std::size_t len = 0;
            while (len < maxLength && a[len] == b[len]) ++len;
            if (int(len) > bestLength) {
              bestLength = int(len);
              bestDistance = int(distance);
              if (len == maxLength) break;
            }
          }
          candidate = prev_[std::size_t(candidate) % std::size_t(kWindow)];
        }
      }
      if (bestLength >= kMinMatch) {
        tokens.push_back(Lz77Token{std::uint16_t(bestLength), std::uint16_t(bestDistance), 0});
        for (int i = 0; i < bestLength; ++i) insert(pos + std::size_t(i));
        pos += std::size_t(bestLength);
      } else {
        tokens.push_back(Lz77Token{0, 0, data_[pos]});
        insert(pos);
        ++pos;
      }
    }
  }

 private:
  static constexpr std::size_t kHashBits = 15, kHashSize = std::size_t(1) << kHashBits;
  std::size_t hash(std::size_t pos) const {
    const std::uint32_t v = std::uint32_t(data_[pos]) << 16 | std::uint32_t(data_[pos + 1]) << 8 | data_[pos + 2];
    return (v * 2654435761u) >> (32 - kHashBits);
  }
  void insert(std::size_t pos) {
    if (pos + 2 >= n_) return;  // fewer than 3 bytes left: nothing to hash
    const std::size_t h = hash(pos);
    prev_[pos % std::size_t(kWindow)] = head_[h];
    head_[h] = long(pos);
  }

  const std::uint8_t* data_;
  std::size_t n_;
  std::vector<long> head_, prev_;
};

inline void writeFixedBlock(BitWriter& bits, const std::vector<Lz77Token>& tokens, bool final) {
  bits.putBits(final ? 1u : 0u, 1);
  bits.putBits(1, 2);  // BTYPE 01: fixed Huffman
  for (const Lz77Token& t : tokens) {
    if (t.length == 0) {
      const auto code = fixedLiteralCode(t.literal);
      bits.putCode(code.first, code.second);
      continue;
    }
    const int li = lengthIndex(t.length);
    const auto code = fixedLiteralCode(257 + li);
    bits.putCode(code.first, code.second);
    bits.putBits(std::uint32_t(t.length - kLengthBase[std::size_t(li)]), kLengthExtra[std::size_t(li)]);
    const int di = distanceIndex(t.distance);
    bits.putCode(std::uint32_t(di), 5);
    bits.putBits(std::uint32_t(t.distance - kDistBase[std::size_t(di)]), kDistExtra[std::size_t(di)]);
  }
  const auto end = fixedLiteralCode(256);
  bits.putCode(end.first, end.second);
}

inline void writeStoredBlock(BitWriter& bits, std::vector<std::uint8_t>& out, const std::uint8_t* data,
                             std::size_t n, bool final) {
  bits.putBits(final ? 1u : 0u, 1);
  bits.putBits(0, 2);  // BTYPE 00: stored
  bits.alignToByte();
  const auto len = std::uint16_t(n);
  out.push_back(std::uint8_t(len & 0xFFu));
  out.push_back(std::uint8_t(len >> 8));
  out.push_back(std::uint8_t(~len & 0xFFu));
  out.push_back(std::uint8_t((~len >> 8) & 0xFFu));
  out.insert(out.end(), data, data + n);
}

}  // namespace png_detail

/// Raw deflate stream (RFC 1951) of n bytes: fixed-Huffman or stored blocks, see the header.
inline std::vector<std::uint8_t> deflateCompress(const std::uint8_t* data, std::size_t n) {
  using namespace png_detail;
  std::vector<std::uint8_t> out;
  BitWriter bits(out);
  if (n == 0) {  // one empty fixed block
    writeFixedBlock(bits, {}, true);
    bits.alignToByte();
    return out;
  }
  Lz77Matcher matcher(data, n);
  std::vector<Lz77Token> tokens;
  for (std::size_t begin = 0; begin < n; begin += kBlockBytes) {
    const std::size_t end = std::min(n, begin + kBlockBytes);
    const bool final = end == n;
    matcher.parse(begin, end, tokens);
    std::size_t fixedBits = 3 + 7;  // header + end-of-block code
    for (const Lz77Token& t : tokens) fixedBits += std::size_t(fixedTokenBits(t));
    const std::size_t storedBits = 3 + 7 + 32 + 8 * (end - begin);  // worst-case alignment
    if (fixedBits < storedBits)
      writeFixedBlock(bits, tokens, final);
    else
      writeStoredBlock(bits, out, data + begin, end - begin, final);
  }
  bits.alignToByte();
  return out;
}

/// zlib stream (RFC 1950): header 0x78 0x01, deflateCompress(data), Adler-32 big-endian.
inline std::vector<std::uint8_t> zlibCompress(const std::uint8_t* data, std::size_t n) {
  std::vector<std::uint8_t> out = {0x78, 0x01};  // (0x78 * 256 + 0x01) % 31 == 0
  const std::vector<std::uint8_t> body = deflateCompress(data, n);
  out.insert(out.end(), body.begin(), body.end());
  png_detail::putBigEndian32(out, adler32(data, n));
  return out;
}

namespace png_detail {

inline int paethPredictor(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

/// The filtered image data: per row one filter-type byte then the filtered row.
inline std::vector<std::uint8_t> filterRows(const std::uint8_t* pixels, std::size_t width, std::size_t height,
                                            std::size_t channels) {
  const std::size_t rowBytes = width * channels;
  std::vector<std::uint8_t> out;
  out.reserve(height * (rowBytes + 1));
  const std::vector<std::uint8_t> zeroRow(rowBytes, 0);
  std::array<std::vector<std::uint8_t>, 5> candidate;
  for (auto& c : candidate) c.resize(rowBytes);
  for (std::size_t y = 0; y < height; ++y) {
    const std::uint8_t* row = pixels + y * rowBytes;
    const std::uint8_t* up = y > 0 ? row - rowBytes : zeroRow.data();
    std::size_t bestFilter = 0, bestCost = ~std::size_t(0);
    for (std::size_t f = 0; f < 5; ++f) {
      std::size_t cost = 0;
      for (std::size_t i = 0; i < rowBytes; ++i) {
        const int a = i >= channels ? row[i - channels] : 0;  // left
        const int b = up[i];                                  // above
        const int c = i >= channels ? up[i - channels] : 0;   // above left
        int predicted = 0;
        switch (f) {
          case 1: predicted = a; break;
          case 2: predicted = b; break;
          case 3: predicted = (a + b) / 2; break;
          case 4: predicted = paethPredictor(a, b, c); break;
          default: break;
        }
        const auto v = std::uint8_t(row[i] - predicted);
        candidate[f][i] = v;
        cost += std::size_t(std::abs(int(std::int8_t(v))));
      }
      if (cost < bestCost) {
        bestCost = cost;
        bestFilter = f;
      }
    }
    out.push_back(std::uint8_t(bestFilter));
    out.insert(out.end(), candidate[bestFilter].begin(), candidate[bestFilter].end());
  }
  return out;
}

inline void putChunk(std::vector<std::uint8_t>& out, const char* type, const std::vector<std::uint8_t>& data) {
  putBigEndian32(out, std::uint32_t(data.size()));
  const std::size_t typeAt = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  putBigEndian32(out, crc32(out.data() + typeAt, 4 + data.size()));
}

}  // namespace png_detail

/// Largest width or height encodePng accepts, and the largest pixel buffer (1 GiB).
constexpr Index kPngMaxSide = Index(1) << 24;
constexpr std::size_t kPngMaxBytes = std::size_t(1) << 30;

/// The complete bytes of a PNG file: `pixels` holds width * height * channels bytes
/// (row-major, top row first), channels 3 (RGB) or 4 (RGBA).
inline std::vector<std::uint8_t> encodePng(const std::uint8_t* pixels, std::size_t numBytes, Index width,
                                           Index height, int channels = 3) {
  using namespace png_detail;
  require(channels == 3 || channels == 4,
          "PNG: 3 (RGB) or 4 (RGBA) channels supported, got " + std::to_string(channels));
  require(width > 0 && height > 0, "PNG: image size must be positive, got " + std::to_string(width) + " x " +
                                       std::to_string(height));
  require(width <= kPngMaxSide && height <= kPngMaxSide,
          "PNG: image of " + std::to_string(width) + " x " + std::to_string(height) + " is too large");
  const std::size_t expected = std::size_t(width) * std::size_t(height) * std::size_t(channels);
  require(expected <= kPngMaxBytes, "PNG: image of " + std::to_string(expected) + " bytes is too large");
  require(numBytes == expected, "PNG: pixel buffer has " + std::to_string(numBytes) + " bytes, expected " +
                                    std::to_string(width) + " x " + std::to_string(height) + " x " +
                                    std::to_string(channels) + " = " + std::to_string(expected));
  require(pixels != nullptr, "PNG: null pixel buffer");

  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> header;
  putBigEndian32(header, std::uint32_t(width));
  putBigEndian32(header, std::uint32_t(height));
  header.push_back(8);                         // bit depth
  header.push_back(channels == 3 ? 2 : 6);     // colour type: truecolour (with alpha)
  header.push_back(0);                         // compression: deflate
  header.push_back(0);                         // filter method: adaptive
  header.push_back(0);                         // no interlace
  putChunk(out, "IHDR", header);
  const std::vector<std::uint8_t> filtered =
      filterRows(pixels, std::size_t(width), std::size_t(height), std::size_t(channels));
  putChunk(out, "IDAT", zlibCompress(filtered.data(), filtered.size()));
  putChunk(out, "IEND", {});
  return out;
}

inline std::vector<std::uint8_t> encodePng(const std::vector<std::uint8_t>& pixels, Index width, Index height,
                                           int channels = 3) {
  return encodePng(pixels.data(), pixels.size(), width, height, channels);
}

/// Writes encodePng(...) to `path` atomically (see io/atomic_file.hpp).
inline void writePng(const std::string& path, const std::vector<std::uint8_t>& pixels, Index width, Index height,
                     int channels = 3) {
  const std::vector<std::uint8_t> bytes = encodePng(pixels, width, height, channels);
  AtomicFileWriter file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace symflow::io
