// Tests of the PNG writer (symflow/io/png.hpp): checksums against published values, the
// deflate/zlib stream through an inflater written here (stored + fixed-Huffman blocks, with its
// length/distance tables derived from the RFC's rules rather than copied from the writer, and
// itself checked on a stream made by the real zlib), PNG files decoded by a minimal reader
// here (chunk CRCs, IHDR fields, unfiltering) and - when python3 is installed - by python3's
// zlib as an independent second decoder.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>

#include "symflow/core/rng.hpp"
#include "symflow/io/png.hpp"

using namespace symflow;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes bytesOf(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes randomBytes(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  Bytes b(n);
  for (auto& v : b) v = std::uint8_t(rng.next() & 0xFFu);
  return b;
}

// ---- inflate (RFC 1951), test-only: stored and fixed-Huffman blocks ---------------------------

struct Huffman {
  std::vector<int> count = std::vector<int>(16, 0);  // codes per length
  std::vector<int> symbol;                           // symbols ordered by code
  explicit Huffman(const std::vector<int>& lengths) {
    for (int len : lengths) ++count[std::size_t(len)];
    std::vector<int> offset(16, 0);
    for (int len = 1; len < 15; ++len) offset[std::size_t(len + 1)] = offset[std::size_t(len)] + count[std::size_t(len)];
    symbol.assign(lengths.size(), 0);
    for (std::size_t s = 0; s < lengths.size(); ++s)
      if (lengths[s] != 0) symbol[std::size_t(offset[std::size_t(lengths[s])]++)] = int(s);
  }
};

struct Inflated {
  Bytes data;
  std::vector<int> blockTypes;
};

class Inflater {
 public:
  explicit Inflater(const Bytes& in, std::size_t pos = 0) : in_(in), pos_(pos) {}

  Inflated run() {
    Inflated out;
    // Fixed code lengths (RFC 1951 3.2.6).
    std::vector<int> litLengths(288);
    for (int s = 0; s < 288; ++s) litLengths[std::size_t(s)] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    const Huffman lit(litLengths), dist(std::vector<int>(30, 5));
    // Length / distance bases from the rules of RFC 1951 3.2.5.
    std::vector<int> lenBase(29), lenExtra(29), distBase(30), distExtra(30);
    for (int i = 0, base = 3; i < 28; ++i) {
      lenExtra[std::size_t(i)] = i < 8 ? 0 : (i - 4) / 4;
      lenBase[std::size_t(i)] = base;
      base += 1 << lenExtra[std::size_t(i)];
    }
    lenBase[28] = 258, lenExtra[28] = 0;
    for (int i = 0, base = 1; i < 30; ++i) {
      distExtra[std::size_t(i)] = i < 4 ? 0 : (i - 2) / 2;
      distBase[std::size_t(i)] = base;
      base += 1 << distExtra[std::size_t(i)];
    }
    bool last = false;
    while (!last) {
      last = bits(1) == 1;
      const int type = int(bits(2));
      out.blockTypes.push_back(type);
      if (type == 0) {
        bitBuf_ = 0, bitCount_ = 0;  // to the byte boundary
        REQUIRE(pos_ + 4 <= in_.size());
        const unsigned len = in_[pos_] | unsigned(in_[pos_ + 1]) << 8;
        const unsigned nlen = in_[pos_ + 2] | unsigned(in_[pos_ + 3]) << 8;
        REQUIRE(len == (~nlen & 0xFFFFu));
        pos_ += 4;
        REQUIRE(pos_ + len <= in_.size());
        out.data.insert(out.data.end(), in_.begin() + long(pos_), in_.begin() + long(pos_ + len));
        pos_ += len;
      } else if (type == 1) {
        for (;;) {
          const int s = decode(lit);
          if (s < 256) {
            out.data.push_back(std::uint8_t(s));
          } else if (s == 256) {
            break;
          } else {
            const int li = s - 257;
            REQUIRE(li < 29);
            const int length = lenBase[std::size_t(li)] + int(bits(lenExtra[std::size_t(li)]));
            const int di = decode(dist);
            REQUIRE(di < 30);
            const std::size_t distance = std::size_t(distBase[std::size_t(di)] + int(bits(distExtra[std::size_t(di)])));
            REQUIRE(distance <= out.data.size());
            REQUIRE(distance <= 32768);
            for (int k = 0; k < length; ++k) out.data.push_back(out.data[out.data.size() - distance]);
          }
        }
      } else {
        FAIL("unexpected deflate block type " << type);
      }
    }
    end_ = pos_;
    return out;
  }
  std::size_t end() const { return end_; }

 private:
  std::uint32_t bits(int n) {
    std::uint64_t v = bitBuf_;
    while (bitCount_ < n) {
      REQUIRE(pos_ < in_.size());
      v |= std::uint64_t(in_[pos_++]) << bitCount_;
      bitCount_ += 8;
    }
    bitBuf_ = v >> n;
    bitCount_ -= n;
    return std::uint32_t(v & ((std::uint64_t(1) << n) - 1));
  }
  int decode(const Huffman& h) {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; ++len) {
      code |= int(bits(1));
      const int count = h.count[std::size_t(len)];
      if (code - count < first) return h.symbol[std::size_t(index + code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    FAIL("invalid Huffman code");
    return -1;
  }

  const Bytes& in_;
  std::size_t pos_, end_ = 0;
  std::uint64_t bitBuf_ = 0;
  int bitCount_ = 0;
};

std::uint32_t bigEndian32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

/// Inflates a zlib stream, checking its header and Adler-32 trailer.
Inflated zlibInflate(const Bytes& z) {
  REQUIRE(z.size() >= 6);
  CHECK((z[0] & 0x0F) == 8);                     // deflate
  CHECK((z[0] >> 4) <= 7);                       // window <= 32 KiB
  CHECK((unsigned(z[0]) * 256 + z[1]) % 31 == 0);
  CHECK((z[1] & 0x20) == 0);                     // no preset dictionary
  Inflater inf(z, 2);
  Inflated out = inf.run();
  REQUIRE(inf.end() + 4 == z.size());
  CHECK(bigEndian32(&z[inf.end()]) == io::adler32(out.data.data(), out.data.size()));
  return out;
}

// ---- PNG reader, test-only ------------------------------------------------------------------

struct DecodedPng {
  std::uint32_t width = 0, height = 0;
  int bitDepth = 0, colorType = 0, compression = -1, filter = -1, interlace = -1;
  std::vector<std::string> chunkTypes;
  std::vector<int> rowFilters, blockTypes;
  Bytes pixels;
};

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
}

DecodedPng decodePng(const Bytes& file) {
  DecodedPng png;
  const Bytes signature = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  REQUIRE(file.size() >= 8);
  REQUIRE(Bytes(file.begin(), file.begin() + 8) == signature);
  Bytes idat;
  std::size_t pos = 8;
  while (pos < file.size()) {
    REQUIRE(pos + 12 <= file.size());
    const std::uint32_t n = bigEndian32(&file[pos]);
    REQUIRE(pos + 12 + n <= file.size());
    const std::string type(file.begin() + long(pos + 4), file.begin() + long(pos + 8));
    const std::uint8_t* body = &file[pos + 8];
    CHECK_MESSAGE(bigEndian32(body + n) == io::crc32(&file[pos + 4], 4 + n), "CRC of chunk " << type);
    png.chunkTypes.push_back(type);
    if (type == "IHDR") {
      REQUIRE(n == 13);
      png.width = bigEndian32(body);
      png.height = bigEndian32(body + 4);
      png.bitDepth = body[8], png.colorType = body[9], png.compression = body[10];
      png.filter = body[11], png.interlace = body[12];
    } else if (type == "IDAT") {
      idat.insert(idat.end(), body, body + n);
    } else if (type == "IEND") {
      CHECK(n == 0);
    }
    pos += 12 + n;
  }
  REQUIRE(!png.chunkTypes.empty());
  CHECK(png.chunkTypes.front() == "IHDR");
  CHECK(png.chunkTypes.back() == "IEND");
  REQUIRE(png.bitDepth == 8);
  REQUIRE((png.colorType == 2 || png.colorType == 6));
  const Inflated raw = zlibInflate(idat);
  png.blockTypes = raw.blockTypes;
  const std::size_t bpp = png.colorType == 2 ? 3 : 4, stride = png.width * bpp;
  REQUIRE(raw.data.size() == png.height * (stride + 1));
  Bytes prev(stride, 0), row(stride);
  for (std::size_t y = 0; y < png.height; ++y) {
    const std::uint8_t* src = &raw.data[y * (stride + 1)];
    const int f = src[0];
    png.rowFilters.push_back(f);
    REQUIRE(f <= 4);
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      const int p = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : paeth(a, b, c);
      row[i] = std::uint8_t(src[1 + i] + p);
    }
    png.pixels.insert(png.pixels.end(), row.begin(), row.end());
    prev = row;
  }
  return png;
}

/// A fresh empty directory, removed when the object dies.
struct TempDir {
  fs::path path;
  TempDir() {
    Rng r(std::uint64_t(std::hash<std::string>{}(fs::current_path().string())) ^ 0x9E6);
    path = fs::temp_directory_path() / ("symflow_test_png_" + std::to_string(r.next() % 1000000007ULL));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

Bytes readFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

bool havePython() { return std::system("python3 -c 'import zlib' >/dev/null 2>&1") == 0; }

/// python3's zlib decodes `png` (chunk CRCs, zlib, unfiltering) and writes the raw pixels.
const char* kPythonPngReader = R"PY(
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'signature'
pos, idat = 8, b''
while pos < len(data):
    n, = struct.unpack('>I', data[pos:pos + 4])
    kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
    crc, = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
    assert zlib.crc32(kind + body) & 0xffffffff == crc, 'crc'
    if kind == b'IHDR':
        w, h, depth, ctype, comp, filt, inter = struct.unpack('>IIBBBBB', body)
        assert (depth, comp, filt, inter) == (8, 0, 0, 0) and ctype in (2, 6)
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
bpp = 3 if ctype == 2 else 4
stride = w * bpp
assert len(raw) == h * (stride + 1), 'size'
out, prev = bytearray(), bytearray(stride)
for y in range(h):
    f = raw[y * (stride + 1)]
    row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 0: p = 0
        elif f == 1: p = a
        elif f == 2: p = b
        elif f == 3: p = (a + b) // 2
        else:
            q = a + b - c
            pa, pb, pc = abs(q - a), abs(q - b), abs(q - c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        row[i] = (row[i] + p) & 255
    out += row
    prev = row
open(sys.argv[2], 'wb').write(out)
)PY";

/// The pixels python3 decodes from `png` (written to dir), or nullopt when python3 fails.
std::optional<Bytes> pythonDecode(const Bytes& png, const TempDir& dir) {
  const fs::path script = dir.path / "read_png.py", in = dir.path / "in.png", out = dir.path / "out.raw";
  std::ofstream(script) << kPythonPngReader;
  std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(png.data()), long(png.size()));
  fs::remove(out);
  const std::string cmd = "python3 '" + script.string() + "' '" + in.string() + "' '" + out.string() + "'";
  if (std::system(cmd.c_str()) != 0) return std::nullopt;
  return readFile(out);
}

}  // namespace

TEST_CASE("crc32 and adler32 match published check values") {
  const Bytes digits = bytesOf("123456789");
  CHECK(io::crc32(digits.data(), digits.size()) == 0xCBF43926u);
  CHECK(io::crc32(nullptr, 0) == 0u);
  const Bytes iend = bytesOf("IEND");  // every PNG ends with this chunk CRC: AE 42 60 82
  CHECK(io::crc32(iend.data(), 4) == 0xAE426082u);
  // Running value: crc of "1234" continued over "56789".
  CHECK(io::crc32(digits.data() + 4, 5, io::crc32(digits.data(), 4)) == 0xCBF43926u);

  const Bytes wiki = bytesOf("Wikipedia");
  CHECK(io::adler32(wiki.data(), wiki.size()) == 0x11E60398u);
  CHECK(io::adler32(nullptr, 0) == 1u);
  const Bytes hello = bytesOf("hello hello hello hello!");
  CHECK(io::adler32(hello.data(), hello.size()) == 0x70D508D2u);  // trailer of zlib's own stream below
  // Long input (the implementation reduces every 5552 bytes): against the definition.
  const Bytes big = randomBytes(100000, 7);
  std::uint32_t a = 1, b = 0;
  for (std::uint8_t v : big) a = (a + v) % 65521, b = (b + a) % 65521;
  CHECK(io::adler32(big.data(), big.size()) == (b << 16 | a));
  CHECK(io::adler32(big.data() + 40000, 60000, io::adler32(big.data(), 40000)) == (b << 16 | a));
}

TEST_CASE("the test inflater decodes a stream made by the real zlib") {
  // python3: zlib.compress(b'hello hello hello hello!', 1).hex() - a fixed-Huffman block with a
  // back reference.
  const Bytes z = {0x78, 0x01, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40,
                   0x27, 0x15, 0x01, 0x70, 0xd5, 0x08, 0xd2};
  const Inflated out = zlibInflate(z);
  CHECK(out.data == bytesOf("hello hello hello hello!"));
  CHECK(out.blockTypes == std::vector<int>{1});
}

TEST_CASE("zlibCompress round-trips and compresses") {
  SUBCASE("empty input") {
    const Bytes z = io::zlibCompress(nullptr, 0);
    CHECK(zlibInflate(z).data.empty());
  }
  SUBCASE("text with repeats, every byte value") {
    Bytes data = bytesOf("abracadabra abracadabra abracadabra, the quick brown fox; abracadabra");
    for (int v = 0; v < 256; ++v) data.push_back(std::uint8_t(v));  // 8- and 9-bit literal codes
    const Bytes z = io::zlibCompress(data.data(), data.size());
    CHECK(zlibInflate(z).data == data);
  }
  SUBCASE("a long run: matches of 258 at distance 1, several blocks") {
    const Bytes data(200000, 0x42);
    const Bytes z = io::zlibCompress(data.data(), data.size());
    const Inflated out = zlibInflate(z);
    CHECK(out.data == data);
    CHECK(out.blockTypes == std::vector<int>{1, 1, 1, 1});  // ceil(200000 / 65535) fixed blocks
    CHECK(z.size() < 1400);  // 13 bits per 258 bytes: about 1260 bytes
  }
  SUBCASE("a repeat at the largest distance, 32768, and one just beyond it") {
    // 1000 random bytes, zeros, the same 1000 bytes again `distance` bytes after the first.
    const Bytes head = randomBytes(1000, 3);
    const auto sizeFor = [&](std::size_t distance) {
      Bytes data = head;
      data.resize(distance, 0);
      data.insert(data.end(), head.begin(), head.end());
      const Bytes z = io::zlibCompress(data.data(), data.size());
      CHECK(zlibInflate(z).data == data);  // the inflater refuses distances > 32768
      return z.size();
    };
    const std::size_t reachable = sizeFor(32768), beyond = sizeFor(32769);
    MESSAGE("repeat at 32768: " << reachable << " bytes, at 32769: " << beyond << " bytes");
    CHECK(reachable < 1400);       // the repeat became matches
    CHECK(beyond > reachable + 900);  // out of the window: 1000 more literals
  }
  SUBCASE("random data is stored, block by block, and grows by a few bytes") {
    const Bytes data = randomBytes(150000, 11);
    const Bytes z = io::zlibCompress(data.data(), data.size());
    const Inflated out = zlibInflate(z);
    CHECK(out.data == data);
    CHECK(out.blockTypes == std::vector<int>{0, 0, 0});
    CHECK(z.size() <= data.size() + 2 + 4 + 3 * 5);
  }
  SUBCASE("deterministic") {
    const Bytes data = randomBytes(5000, 5);
    Bytes mixed = data;
    mixed.insert(mixed.end(), data.begin(), data.end());
    CHECK(io::zlibCompress(mixed.data(), mixed.size()) == io::zlibCompress(mixed.data(), mixed.size()));
  }
}

namespace {

/// Encodes, decodes with the test reader and checks layout and pixels; returns the decode.
DecodedPng roundTrip(const Bytes& pixels, Index w, Index h, int channels) {
  const Bytes png = io::encodePng(pixels, w, h, channels);
  DecodedPng d = decodePng(png);
  CHECK(d.chunkTypes == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  CHECK(d.width == std::uint32_t(w));
  CHECK(d.height == std::uint32_t(h));
  CHECK(d.bitDepth == 8);
  CHECK(d.colorType == (channels == 3 ? 2 : 6));
  CHECK(d.compression == 0);
  CHECK(d.filter == 0);
  CHECK(d.interlace == 0);
  CHECK(d.pixels == pixels);
  // Layout bytes: signature, then the IHDR length 13 and type right after it.
  const Bytes head(png.begin(), png.begin() + 16);
  CHECK(head == Bytes{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'});
  return d;
}

/// A smooth, banded picture like a spectrogram (compresses well).
Bytes smoothImage(Index w, Index h) {
  Bytes p;
  for (Index y = 0; y < h; ++y)
    for (Index x = 0; x < w; ++x) {
      const int band = int((y / 7) % 5);
      p.push_back(std::uint8_t(40 + 30 * band));
      p.push_back(std::uint8_t((x * 255) / w));
      p.push_back(std::uint8_t(200 - 20 * band));
    }
  return p;
}

}  // namespace

TEST_CASE("PNG round trip: sizes, channels, multiple deflate blocks") {
  SUBCASE("1 x 1 RGB and RGBA") {
    roundTrip({10, 200, 30}, 1, 1, 3);
    roundTrip({10, 200, 30, 128}, 1, 1, 4);
  }
  SUBCASE("odd widths") {
    roundTrip(randomBytes(7 * 5 * 3, 1), 7, 5, 3);
    roundTrip(randomBytes(13 * 3 * 4, 2), 13, 3, 4);
    roundTrip(randomBytes(1 * 9 * 3, 3), 1, 9, 3);
    roundTrip(randomBytes(9 * 1 * 3, 4), 9, 1, 3);
    roundTrip(smoothImage(101, 31), 101, 31, 3);
  }
  SUBCASE("random pixels over 65535 raw bytes: several stored blocks") {
    const DecodedPng d = roundTrip(randomBytes(301 * 100 * 3, 9), 301, 100, 3);
    CHECK(d.blockTypes.size() >= 2);
    CHECK(std::count(d.blockTypes.begin(), d.blockTypes.end(), 0) >= 1);
  }
  SUBCASE("a smooth 601 x 200 picture: several fixed-Huffman blocks, small file") {
    const Bytes pixels = smoothImage(601, 200);
    const DecodedPng d = roundTrip(pixels, 601, 200, 3);
    CHECK(d.blockTypes.size() >= 2);
    CHECK(std::count(d.blockTypes.begin(), d.blockTypes.end(), 1) == long(d.blockTypes.size()));
    const std::size_t size = io::encodePng(pixels, 601, 200).size();
    MESSAGE("601 x 200 smooth picture: " << size << " bytes (raw " << pixels.size() << ")");
    CHECK(size < pixels.size() / 20);
  }
}

TEST_CASE("PNG row filters: each of the five is chosen where it predicts best") {
  SUBCASE("None for a zero row") {
    CHECK(roundTrip(Bytes(3 * 4, 0), 4, 1, 3).rowFilters == std::vector<int>{0});
  }
  SUBCASE("Sub for a horizontal ramp") {
    Bytes p;
    for (int x = 0; x < 20; ++x) p.insert(p.end(), {std::uint8_t(7 * x + 50), std::uint8_t(3 * x + 1), std::uint8_t(x)});
    CHECK(roundTrip(p, 20, 1, 3).rowFilters == std::vector<int>{1});
  }
  SUBCASE("Up for repeated random rows") {
    const Bytes row = randomBytes(3 * 16, 21);
    Bytes p;
    for (int y = 0; y < 4; ++y) p.insert(p.end(), row.begin(), row.end());
    const DecodedPng d = roundTrip(p, 16, 4, 3);
    CHECK(std::vector<int>(d.rowFilters.begin() + 1, d.rowFilters.end()) == std::vector<int>{2, 2, 2});
  }
  SUBCASE("Average where each byte is the mean of its left and upper neighbours") {
    const Index w = 16, h = 5, stride = 3 * w;
    Bytes p = randomBytes(std::size_t(stride), 22);
    for (Index y = 1; y < h; ++y)
      for (Index i = 0; i < stride; ++i) {
        const int a = i >= 3 ? p[std::size_t(y * stride + i - 3)] : 0, b = p[std::size_t((y - 1) * stride + i)];
        p.push_back(std::uint8_t((a + b) / 2));
      }
    const DecodedPng d = roundTrip(p, w, h, 3);
    CHECK(std::vector<int>(d.rowFilters.begin() + 1, d.rowFilters.end()) == std::vector<int>{3, 3, 3, 3});
  }
  SUBCASE("Paeth for a plane x + y (random per channel offsets)") {
    const Bytes offsets = randomBytes(3, 23);
    Bytes p;
    for (int y = 0; y < 6; ++y)
      for (int x = 0; x < 10; ++x)
        for (int c = 0; c < 3; ++c) p.push_back(std::uint8_t(offsets[std::size_t(c)] + 5 * x + 9 * y));
    const DecodedPng d = roundTrip(p, 10, 6, 3);
    CHECK(std::vector<int>(d.rowFilters.begin() + 1, d.rowFilters.end()) == std::vector<int>{4, 4, 4, 4, 4});
  }
  SUBCASE("a curved surface mixes filters, Paeth with predictor ties among them") {
    Bytes p;
    for (int y = 0; y < 30; ++y)
      for (int x = 0; x < 40; ++x)
        for (int c = 0; c < 3; ++c) p.push_back(std::uint8_t((x * x + 3 * y * y + 50 * c) % 256));
    const DecodedPng d = roundTrip(p, 40, 30, 3);
    CHECK(std::set<int>(d.rowFilters.begin(), d.rowFilters.end()).size() >= 2);
    CHECK(std::count(d.rowFilters.begin(), d.rowFilters.end(), 4) >= 1);
  }
}

TEST_CASE("python3's zlib reads the same pixels (skipped without python3)") {
  if (!havePython()) {
    MESSAGE("python3 with zlib not found: second decoder skipped");
    return;
  }
  TempDir dir;
  struct Case {
    Bytes pixels;
    Index w, h;
    int channels;
  };
  const std::vector<Case> cases = {{{1, 2, 3}, 1, 1, 3},
                                   {randomBytes(13 * 7 * 4, 31), 13, 7, 4},
                                   {smoothImage(333, 101), 333, 101, 3},
                                   {randomBytes(257 * 90 * 3, 32), 257, 90, 3}};
  for (const Case& c : cases) {
    const auto decoded = pythonDecode(io::encodePng(c.pixels, c.w, c.h, c.channels), dir);
    REQUIRE_MESSAGE(decoded.has_value(), "python3 refused the PNG of " << c.w << " x " << c.h);
    CHECK(*decoded == c.pixels);
  }
}

TEST_CASE("writePng writes the encoded bytes atomically") {
  TempDir dir;
  const Bytes pixels = smoothImage(31, 17);
  const fs::path path = dir.path / "a.png";
  io::writePng(path.string(), pixels, 31, 17);
  CHECK(readFile(path) == io::encodePng(pixels, 31, 17));
  // Overwrite with another picture.
  const Bytes other = randomBytes(5 * 4 * 4, 41);
  io::writePng(path.string(), other, 5, 4, 4);
  CHECK(decodePng(readFile(path)).pixels == other);
  // A bad request leaves the existing file alone and no temporary file behind.
  CHECK_THROWS_AS(io::writePng(path.string(), other, 5, 5, 4), Error);
  CHECK(decodePng(readFile(path)).pixels == other);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  // A missing directory is an Error naming the file.
  const std::string missing = (dir.path / "no_such_dir" / "b.png").string();
  try {
    io::writePng(missing, pixels, 31, 17);
    FAIL("expected an Error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("b.png") != std::string::npos);
  }
}

TEST_CASE("encodePng refuses bad arguments") {
  const Bytes px(3 * 4 * 2, 0);
  CHECK_THROWS_AS(io::encodePng(px, 0, 2), Error);
  CHECK_THROWS_AS(io::encodePng(px, 4, 0), Error);
  CHECK_THROWS_AS(io::encodePng(px, -4, -2), Error);
  CHECK_THROWS_AS(io::encodePng(px, 4, 3), Error);                  // buffer too short
  CHECK_THROWS_AS(io::encodePng(px, 3, 2), Error);                  // buffer too long
  CHECK_THROWS_AS(io::encodePng(px, 4, 2, 4), Error);               // RGBA needs 32 bytes
  CHECK_THROWS_AS(io::encodePng(Bytes(8, 0), 4, 1, 2), Error);      // grey + alpha unsupported
  CHECK_THROWS_AS(io::encodePng(px, io::kPngMaxSide + 1, 1), Error);
  CHECK_NOTHROW(io::encodePng(px, 4, 2));
  try {
    io::encodePng(px, 4, 3);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("24 bytes") != std::string::npos);
  }
}
