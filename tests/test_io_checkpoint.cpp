// safetensors reader/writer and checkpoints: bit-exact round trips, the file layout, refusal
// of every kind of bad file with its message, atomic writes.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "symflow/core/params.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/io/checkpoint.hpp"
#include "symflow/io/safetensors.hpp"
#include "symflow/nn/linear.hpp"
#include "symflow/optim/adam.hpp"
#include "symflow/optim/clip.hpp"
#include "symflow/optim/schedule.hpp"

using namespace symflow;
namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

namespace {

// A small composite in PyTorch naming: layers.0 = Linear(in, hidden), layers.2 =
// Linear(hidden, hidden), norm.running_mean = a non-trainable buffer, head = Linear(hidden,
// out, bias = false) (optional, to make "missing tensor" files).
template <class S>
struct TinyNet {
  nn::Linear<S> l1, l2, head;
  Vec<S> runningMean;
  Index hidden;
  bool withHead;

  TinyNet(Index in, Index hid, Index out, bool hasHead = true)
      : l1(in, hid), l2(hid, hid), head(hid, out, false), runningMean(Vec<S>::Zero(hid)), hidden(hid),
        withHead(hasHead) {}
  Index numParams() const { return l1.numParams() + l2.numParams() + (withHead ? head.numParams() : 0); }
  void bind(ParamCursor<S>& c) {
    l1.bind(c);
    l2.bind(c);
    if (withHead) head.bind(c);
  }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    l1.visitParams(joinName(prefix, "layers.0"), f);
    l2.visitParams(joinName(prefix, "layers.2"), f);
    f(TensorRef<S>{joinName(prefix, "norm.running_mean"), {hidden}, runningMean.data(), nullptr, false});
    if (withHead) head.visitParams(joinName(prefix, "head"), f);
  }
  void init(Rng& rng) {
    l1.init(rng);
    l2.init(rng);
    if (withHead) head.init(rng);
    rng.fillNormal(runningMean.data(), runningMean.data() + hidden);
  }
};

// A model, its parameter store and optimizer, trained on data drawn from dataRng.
template <class S>
struct Trainer {
  TinyNet<S> net;
  ParamStore<S> store;
  optim::Adam<S> adam;
  optim::CosineSchedule schedule{1e-2, 2, 20, 1e-4};
  Rng dataRng;

  Trainer(std::uint64_t initSeed, std::uint64_t dataSeed) : net(4, 6, 3), store(net), dataRng(dataSeed) {
    Rng rng(initSeed);
    net.init(rng);
    optim::AdamConfig cfg;
    cfg.weightDecay = 0.01;
    adam = optim::Adam<S>(store, cfg);
  }
  void train(int steps) {
    for (int s = 0; s < steps; ++s) {
      Mat<S> x(4, 8), target(3, 8), h1, h2, y, dh2, dh1;
      dataRng.fillNormal(x.data(), x.data() + x.size());
      dataRng.fillNormal(target.data(), target.data() + target.size());
      typename nn::Linear<S>::Cache c1, c2, c3;
      net.l1.forward(x, h1, c1);
      net.l2.forward(h1, h2, c2);
      net.head.forward(h2, y, c3);
      net.runningMean = S(0.9) * net.runningMean + S(0.1) * h1.rowwise().mean();
      store.zeroGrad();
      const Mat<S> dy = y - target;
      net.head.backward(c3, dy, dh2);
      net.l2.backward(c2, dh2, dh1);
      net.l1.backwardParams(c1, dh1);
      optim::clipGradNorm(store, 1.0);
      adam.step(store, schedule.lr(adam.stepCount()));
    }
  }
};

template <class S> bool sameBits(const S* a, const S* b, Index n) {
  return std::memcmp(a, b, sizeof(S) * std::size_t(n)) == 0;
}

template <class S> bool sameState(Trainer<S>& a, Trainer<S>& b) {
  auto ta = listTensors<S>(a.net), tb = listTensors<S>(b.net);
  if (ta.size() != tb.size()) return false;
  for (std::size_t i = 0; i < ta.size(); ++i)
    if (ta[i].name != tb[i].name || !sameBits(ta[i].value, tb[i].value, ta[i].size())) return false;
  return a.adam.stepCount() == b.adam.stepCount() &&
         sameBits(a.adam.firstMoment().data(), b.adam.firstMoment().data(), a.adam.size()) &&
         sameBits(a.adam.secondMoment().data(), b.adam.secondMoment().data(), a.adam.size()) &&
         a.dataRng.state() == b.dataRng.state();
}

// A fresh temporary directory, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "symflow-ckpt-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

Bytes readBytes(const std::string& path) { return io::readFileBytes(path); }
void writeBytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
std::uint64_t headerLength(const Bytes& b) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[std::size_t(i)];
  return n;
}
void setHeaderLength(Bytes& b, std::uint64_t n) {
  for (int i = 0; i < 8; ++i) b[std::size_t(i)] = static_cast<unsigned char>(n >> (8 * i));
}
// A raw file from a header text and data bytes (no checksums unless the header has them).
Bytes rawFile(const std::string& header, const Bytes& data) {
  Bytes b(8);
  setHeaderLength(b, header.size());
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
// The message with which the reader refuses bytes ("" if accepted).
std::string parseRefusal(const Bytes& b, const io::ReadOptions& opt = {}) {
  try {
    io::SafetensorsView::parse(b.data(), b.size(), "mem.safetensors", opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
template <class S, class Model>
std::string loadRefusal(const std::string& path, Model& model, optim::Adam<S>* adam,
                        const io::CheckpointLoadOptions& opt = {}) {
  try {
    io::loadCheckpoint<S>(path, model, adam, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

template <class S> void checkRoundTrip() {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  Trainer<S> a(1, 2);
  a.train(3);
  io::Metadata meta{{"model.config", R"({"in":4,"hidden":6,"out":3})"},
                    {"train.step", std::to_string(a.adam.stepCount())},
                    {"train.data_rng", io::encodeRngState(a.dataRng)},
                    {"note", "unicode \xc3\xa9 and \"quotes\""}};
  io::saveCheckpoint(path, a.net, &a.adam, meta);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});  // no temporary left

  Trainer<S> b(99, 98);  // different weights, moments, data position
  b.train(1);
  CHECK_FALSE(sameState(a, b));
  const io::Metadata back = io::loadCheckpoint(path, b.net, &b.adam);
  CHECK(back == meta);  // the caller's metadata exactly, reserved keys stripped
  b.dataRng.setState(io::decodeRngState(back.at("train.data_rng")));
  CHECK(io::metadataInt64(back, "train.step") == 3);
  CHECK(sameState(a, b));

  // Continuing both gives bit-identical results.
  a.train(4);
  b.train(4);
  CHECK(sameState(a, b));
  CHECK(b.adam.stepCount() == 7);
}

}  // namespace

TEST_CASE("checkpoint round trip restores model, buffers, optimizer and Rng bit-exactly (float)") {
  checkRoundTrip<float>();
}
TEST_CASE("checkpoint round trip restores model, buffers, optimizer and Rng bit-exactly (double)") {
  checkRoundTrip<double>();
}

TEST_CASE("the file is standard safetensors with PyTorch names, shapes and row-major data") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  Trainer<float> t(1, 2);
  io::saveCheckpoint<float>(path, t.net, nullptr, {{"k", "v"}});
  const Bytes b = readBytes(path);
  const std::uint64_t n = headerLength(b);
  CHECK(n % 8 == 0);  // padded so the data starts 8-byte aligned
  const std::string header(b.begin() + 8, b.begin() + 8 + long(n));
  CHECK(header.front() == '{');
  CHECK(header.find_last_not_of(' ') == header.find_last_of('}'));
  CHECK(contains(header, R"("layers.0.weight":{"dtype":"F32","shape":[6,4],"data_offsets":[0,96]})"));
  CHECK(contains(header, R"("layers.0.bias":{"dtype":"F32","shape":[6],"data_offsets":[96,120]})"));
  CHECK(contains(header, R"("norm.running_mean":{"dtype":"F32","shape":[6])"));
  CHECK(contains(header, R"("head.weight":{"dtype":"F32","shape":[3,6])"));
  CHECK_FALSE(contains(header, "head.bias"));
  CHECK(contains(header, R"("__metadata__":{)"));
  CHECK(contains(header, R"("symflow.format":"symflow-checkpoint-1")"));
  CHECK_FALSE(contains(header, "optim.adam"));
  // The data section starts with layers.0.weight in PyTorch (out, in) row-major order:
  // element (o, i) is W(o, i) = weightT()(i, o).
  float w01;
  std::memcpy(&w01, b.data() + 8 + n + 4 * (0 * 4 + 1), 4);
  CHECK(w01 == t.net.l1.weightT()(1, 0));
  float w10;
  std::memcpy(&w10, b.data() + 8 + n + 4 * (1 * 4 + 0), 4);
  CHECK(w10 == t.net.l1.weightT()(0, 1));
  CHECK(b.size() == 8 + n + 4 * std::size_t(t.net.numParams() + 6));

  // Plain safetensors files (no symflow metadata) load with loadWeights, not as checkpoints.
  Trainer<float> u(5, 6);
  const auto tensors = listTensors<float>(t.net);
  std::vector<io::TensorData> data;
  for (const auto& ref : tensors) data.push_back(io::tensorData(ref));
  const std::string plain = dir.file("plain.safetensors");
  writeBytes(plain, io::serializeSafetensors(data));
  CHECK(contains(loadRefusal<float>(plain, u.net, nullptr), "not a symflow checkpoint"));
  io::loadWeights<float>(plain, u.net);
  auto tu = listTensors<float>(u.net);
  for (std::size_t i = 0; i < tu.size(); ++i) CHECK(sameBits(tu[i].value, tensors[i].value, tu[i].size()));
}

TEST_CASE("safetensors reader: in-memory round trip of all dtypes, scalars and empty tensors") {
  const std::vector<float> f{1.5f, -2.0f, 3.25f};
  const std::vector<std::int64_t> i64{7, -8};
  const std::vector<std::uint8_t> u8{1, 2, 3, 4, 5};
  const double scalar = 42.0;
  std::vector<io::TensorData> data{{"f", io::DType::F32, {3}, f.data()},
                                   {"empty", io::DType::F64, {0, 5}, nullptr},
                                   {"i", io::DType::I64, {2, 1}, i64.data()},
                                   {"u", io::DType::U8, {5}, u8.data()},
                                   {"s", io::DType::F64, {}, &scalar}};
  const Bytes b = io::serializeSafetensors(data, {{"a", "b"}});
  const auto file = io::SafetensorsFile::fromBytes(b, "mem");
  const auto& v = file.view();
  REQUIRE(v.tensors().size() == 5);
  CHECK(v.tensors()[0].name == "f");  // header order = writing order
  CHECK(v.hasChecksums());
  CHECK(v.metadata().at("a") == "b");
  CHECK(v.at("empty").numel == 0);
  CHECK(v.at("s").shape.empty());
  CHECK(v.at("s").numel == 1);
  CHECK(v.at("i").dtype == io::DType::I64);
  std::int64_t back[2];
  std::memcpy(back, v.bytes(v.at("i")), 16);
  CHECK(back[1] == -8);
  std::vector<double> fd(3);
  v.copyTensor(v.at("f"), fd.data(), 3, true);  // F32 -> double, exact
  CHECK(fd[2] == 3.25);
  std::vector<float> ff(3);
  CHECK_THROWS_AS(v.copyTensor(v.at("i"), ff.data(), 2, true), Error);  // I64 is not loadable
  CHECK_THROWS_AS(v.copyTensor(v.at("f"), fd.data(), 3, false), Error);  // conversion not allowed
  CHECK_THROWS_AS(v.at("nope"), Error);

  // Writer refuses bad input before writing anything.
  CHECK_THROWS_AS(io::serializeSafetensors({{"", io::DType::F32, {1}, f.data()}}), Error);
  CHECK_THROWS_AS(io::serializeSafetensors({{"x", io::DType::F32, {1}, f.data()}, {"x", io::DType::F32, {1}, f.data()}}), Error);
  CHECK_THROWS_AS(io::serializeSafetensors({{"x", io::DType::F32, {-1}, f.data()}}), Error);
  CHECK_THROWS_AS(io::serializeSafetensors({{"x", io::DType::F32, {2}, nullptr}}), Error);
  CHECK_THROWS_AS(io::serializeSafetensors({}, {{io::kDataChecksumKey, "0"}}), Error);
  CHECK_THROWS_AS(io::serializeSafetensors({}, {{"bad", "\xff"}}), Error);
  // An empty file is valid too.
  CHECK(parseRefusal(io::serializeSafetensors({})).empty());
}

TEST_CASE("safetensors reader refuses each kind of malformed file with its message") {
  const std::vector<float> vals{1, 2, 3, 4, 5, 6};
  const Bytes d24(reinterpret_cast<const unsigned char*>(vals.data()),
                  reinterpret_cast<const unsigned char*>(vals.data()) + 24);
  const Bytes good = io::serializeSafetensors({{"a", io::DType::F32, {2, 1}, vals.data()},
                                               {"b", io::DType::F32, {4}, vals.data() + 2}},
                                              {{"k", "v"}});
  REQUIRE(parseRefusal(good).empty());
  const std::uint64_t n = headerLength(good);

  struct Case {
    std::string label;
    Bytes bytes;
    std::string message;
  };
  std::vector<Case> cases;
  // Truncation at several points.
  cases.push_back({"empty file", Bytes{}, "file is 0 bytes, shorter than the 8-byte header length"});
  cases.push_back({"cut in length", Bytes(good.begin(), good.begin() + 5), "file is 5 bytes"});
  cases.push_back({"cut after length", Bytes(good.begin(), good.begin() + 8), "exceeds the 0 bytes after the length field"});
  cases.push_back({"cut in header", Bytes(good.begin(), good.begin() + 8 + long(n) / 2), "exceeds the"});
  cases.push_back({"cut after header", Bytes(good.begin(), good.begin() + 8 + long(n)), "reach beyond the data section of 0 bytes"});
  cases.push_back({"cut in data", Bytes(good.begin(), good.end() - 5), "reach beyond the data section of 19 bytes (truncated?)"});
  // Header length field.
  Bytes absurd = good;
  setHeaderLength(absurd, 1ULL << 40);
  cases.push_back({"absurd header length", absurd, "header length 1099511627776 is absurd"});
  Bytes beyond = good;
  setHeaderLength(beyond, good.size());
  cases.push_back({"header length beyond file", beyond, "exceeds the"});
  Bytes huge = good;
  setHeaderLength(huge, ~0ULL);
  cases.push_back({"header length 2^64-1", huge, "is absurd"});
  // Header content (hand-written, no checksums).
  cases.push_back({"broken JSON", rawFile(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]})", d24),
                   "header is not valid JSON: unexpected end of text inside object"});
  cases.push_back({"not an object", rawFile("[1,2]", {}), "header is an array, not a JSON object"});
  cases.push_back({"garbage header", rawFile("\x01\x02garbage", {}), "header is not valid JSON"});
  cases.push_back({"unknown dtype", rawFile(R"({"a":{"dtype":"F17","shape":[6],"data_offsets":[0,24]}})", d24),
                   "tensor 'a': unknown dtype 'F17'"});
  cases.push_back({"dtype not a string", rawFile(R"({"a":{"dtype":4,"shape":[6],"data_offsets":[0,24]}})", d24),
                   "tensor 'a': dtype is a number, not a string"});
  cases.push_back({"negative shape", rawFile(R"({"a":{"dtype":"F32","shape":[-6],"data_offsets":[0,24]}})", d24),
                   "tensor 'a': shape has an entry that is not a non-negative integer"});
  cases.push_back({"fractional shape", rawFile(R"({"a":{"dtype":"F32","shape":[6.0],"data_offsets":[0,24]}})", d24),
                   "not a non-negative integer"});
  cases.push_back({"overflowing shape",
                   rawFile(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,24]}})", d24),
                   "has too many elements (overflow)"});
  cases.push_back({"bytes overflow", rawFile(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,24]}})", d24),
                   "overflow"});
  cases.push_back({"wrong shape for offsets", rawFile(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]}})", d24),
                   "tensor 'a': data_offsets [0, 24] hold 24 bytes but dtype F32 and shape (2, 2) need 16"});
  cases.push_back({"wrong dtype for offsets", rawFile(R"({"a":{"dtype":"F64","shape":[6],"data_offsets":[0,24]}})", d24),
                   "need 48"});
  cases.push_back({"offsets out of bounds", rawFile(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[4,28]}})", d24),
                   "tensor 'a': data_offsets [4, 28] reach beyond the data section of 24 bytes"});
  cases.push_back({"offsets reversed", rawFile(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", d24),
                   "begin after they end"});
  cases.push_back({"offsets not two", rawFile(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0]}})", d24),
                   "data_offsets is not an array of two integers"});
  cases.push_back({"huge offset", rawFile(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[18446744073709551592,18446744073709551616]}})", d24),
                   "data_offsets has an entry that is not a non-negative integer"});
  cases.push_back({"overlapping tensors",
                   rawFile(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", d24),
                   "tensors 'a' [0, 16) and 'b' [8, 24) overlap"});
  cases.push_back({"same range twice",
                   rawFile(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},"b":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})", d24),
                   "overlap"});
  cases.push_back({"gap", rawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})", d24),
                   "bytes [8, 16) of the data section belong to no tensor"});
  cases.push_back({"trailing garbage", rawFile(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", d24),
                   "8 bytes of trailing garbage after the last tensor"});
  Bytes appended = good;
  appended.push_back(0);
  cases.push_back({"byte appended to a good file", appended, "1 bytes of trailing garbage"});
  cases.push_back({"duplicate names",
                   rawFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"a":{"dtype":"F32","shape":[3],"data_offsets":[12,24]}})", d24),
                   "duplicate tensor name 'a'"});
  cases.push_back({"unknown field", rawFile(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24],"x":1}})", d24),
                   "tensor 'a': unknown field 'x'"});
  cases.push_back({"missing field", rawFile(R"({"a":{"dtype":"F32","data_offsets":[0,24]}})", d24), "tensor 'a': no shape"});
  cases.push_back({"entry not an object", rawFile(R"({"a":[1]})", {}), "tensor 'a': entry is an array, not an object"});
  cases.push_back({"empty name", rawFile(R"({"":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})", d24), "empty name"});
  cases.push_back({"metadata not strings", rawFile(R"({"__metadata__":{"step":3}})", {}), "metadata 'step' is a number, not a string"});
  cases.push_back({"metadata not an object", rawFile(R"({"__metadata__":"x"})", {}), "__metadata__ is a string, not an object"});
  cases.push_back({"duplicate metadata", rawFile(R"({"__metadata__":{},"__metadata__":{}})", {}), "duplicate __metadata__"});
  cases.push_back({"bad checksum text", rawFile(R"({"__metadata__":{"symflow.data_fnv1a64":"xyz"}})", {}),
                   "symflow.data_fnv1a64 is not 16 hex digits"});
  cases.push_back({"deep nesting", rawFile(std::string(5000, '['), {}), "nesting deeper than 8"});
  // Corruption caught only by the checksums.
  Bytes dataFlip = good;
  dataFlip[dataFlip.size() - 3] ^= 0x10;
  cases.push_back({"bit flip in data", dataFlip, "data checksum mismatch"});
  Bytes metaFlip = good;
  const std::string goodHeader(good.begin() + 8, good.begin() + 8 + long(n));
  metaFlip[8 + goodHeader.find("\"k\":\"v\"") + 5] = 'w';
  cases.push_back({"changed metadata value", metaFlip, "header checksum mismatch"});
  Bytes shapeSwap = good;  // "shape":[2,1] -> [1,2]: consistent sizes, different meaning
  const auto at = goodHeader.find("[2,1]");
  REQUIRE(at != std::string::npos);
  shapeSwap[8 + at + 1] = '1';
  shapeSwap[8 + at + 3] = '2';
  cases.push_back({"swapped shape", shapeSwap, "header checksum mismatch"});

  for (const auto& c : cases) {
    INFO(c.label);
    const std::string msg = parseRefusal(c.bytes);
    CHECK(msg.rfind("safetensors 'mem.safetensors': ", 0) == 0);
    CHECK(contains(msg, c.message));
    if (!contains(msg, c.message)) MESSAGE("got: " << msg);
  }

  // Truncation at every possible length is refused, and so is every single-bit change of
  // the header or data when checksums are required (as loadCheckpoint does: a flip in the
  // name of a checksum key would otherwise turn the file into one without that checksum).
  io::ReadOptions strict;
  strict.requireChecksum = true;
  for (std::size_t len = 0; len < good.size(); ++len) {
    INFO("truncated to " << len);
    CHECK_FALSE(parseRefusal(Bytes(good.begin(), good.begin() + long(len))).empty());
  }
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes flipped = good;
      flipped[i] ^= static_cast<unsigned char>(1u << bit);
      INFO("byte " << i << " bit " << bit << " flipped");
      CHECK_FALSE(parseRefusal(flipped, strict).empty());
    }
  }
  // Files from other tools have no checksums: accepted unless required.
  const Bytes foreign = rawFile(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})", d24);
  CHECK(parseRefusal(foreign).empty());
  CHECK(contains(parseRefusal(foreign, strict), "no checksums in the metadata"));
}

TEST_CASE("loading refuses bad checkpoint files and mismatched models, naming file and problem") {
  TempDir dir;
  const std::string path = dir.file("good.safetensors");
  Trainer<float> src(1, 2);
  src.train(2);
  io::saveCheckpoint(path, src.net, &src.adam, {{"step", "2"}});
  const Bytes good = readBytes(path);

  Trainer<float> dst(3, 4);
  const auto before = listTensors<float>(dst.net);
  std::vector<std::vector<float>> snapshot;
  for (const auto& t : before) snapshot.emplace_back(t.value, t.value + t.size());
  const Vec<float> m0 = dst.adam.firstMoment();
  auto unchanged = [&] {
    auto now = listTensors<float>(dst.net);
    for (std::size_t i = 0; i < now.size(); ++i)
      if (!sameBits(now[i].value, snapshot[i].data(), now[i].size())) return false;
    return dst.adam.stepCount() == 0 && dst.adam.firstMoment() == m0;
  };
  auto refusedFile = [&](const std::string& label, const Bytes& bytes, const std::string& message) {
    const std::string p = dir.file(label + ".safetensors");
    writeBytes(p, bytes);
    const std::string msg = loadRefusal(p, dst.net, &dst.adam);
    INFO(label << ": " << msg);
    CHECK(msg.rfind("safetensors '" + p + "': ", 0) == 0);
    CHECK(contains(msg, message));
    CHECK(unchanged());
  };

  const std::uint64_t n = headerLength(good);
  refusedFile("truncated-4", Bytes(good.begin(), good.begin() + 4), "shorter than the 8-byte header length");
  refusedFile("truncated-header", Bytes(good.begin(), good.begin() + 8 + long(n) - 20), "exceeds the");
  refusedFile("truncated-data", Bytes(good.begin(), good.end() - 100), "(truncated?)");
  Bytes big = good;
  setHeaderLength(big, 200000000);
  refusedFile("header-length", big, "is absurd");
  Bytes brokenJson = good;
  brokenJson[8] = '[';
  refusedFile("broken-json", brokenJson, "header is not valid JSON");
  Bytes flip = good;
  flip[8 + n + 37] ^= 0x04;
  refusedFile("bit-flip", flip, "data checksum mismatch");
  Bytes dtype = good;
  const std::string header(good.begin() + 8, good.begin() + 8 + long(n));
  dtype[8 + header.find("\"dtype\":\"F32\"") + 10] = '1';  // "F12"
  refusedFile("dtype", dtype, "unknown dtype 'F12'");
  Bytes shape = good;
  shape[8 + header.find("\"shape\":[6,4]") + 9] = '5';  // [5,4]: 80 bytes, offsets hold 96
  refusedFile("shape", shape, "hold 96 bytes but dtype F32 and shape (5, 4) need 80");
  refusedFile("missing", Bytes{}, "file is 0 bytes");
  CHECK(contains(loadRefusal(dir.file("does-not-exist"), dst.net, &dst.adam), "cannot open"));
  CHECK(contains(loadRefusal(dir.path.string(), dst.net, &dst.adam), "is not a regular file"));

  // Well-formed files that do not match the model.
  auto writeFrom = [&](auto& net, const std::string& name) {
    const std::string p = dir.file(name);
    io::saveCheckpoint<float>(p, net, nullptr);
    return p;
  };
  TinyNet<float> noHead(4, 6, 3, false), wider(4, 7, 3);
  ParamStore<float> s1(noHead), s2(wider);
  {
    const std::string p = writeFrom(noHead, "no-head.safetensors");
    const std::string msg = loadRefusal<float>(p, dst.net, nullptr);
    CHECK(contains(msg, "missing tensor 'head.weight' (the model has it, the file does not)"));
    CHECK(unchanged());
    io::CheckpointLoadOptions lenient;
    lenient.allowMissing = true;
    CHECK(loadRefusal<float>(p, dst.net, nullptr, lenient).empty());
    // ... and the other way round: the file has a tensor the model lacks.
    TinyNet<float> target(4, 6, 3, false);
    ParamStore<float> st(target);
    const std::string p2 = writeFrom(dst.net, "with-head.safetensors");
    CHECK(contains(loadRefusal<float>(p2, target, nullptr), "unexpected tensor 'head.weight' (in the file, not in the model)"));
    io::CheckpointLoadOptions extra;
    extra.allowUnexpected = true;
    CHECK(loadRefusal<float>(p2, target, nullptr, extra).empty());
    for (std::size_t i = 0; i < snapshot.size(); ++i) {  // restore dst for the checks below
      auto now = listTensors<float>(dst.net);
      std::memcpy(now[i].value, snapshot[i].data(), snapshot[i].size() * sizeof(float));
    }
  }
  {
    const std::string p = writeFrom(wider, "wider.safetensors");
    CHECK(contains(loadRefusal<float>(p, dst.net, nullptr),
                   "tensor 'layers.0.weight' has shape (7, 4) in the file but (6, 4) in the model"));
    CHECK(unchanged());
  }
  {  // Weights only, but an optimizer asked for.
    const std::string p = writeFrom(src.net, "no-optim.safetensors");
    CHECK(contains(loadRefusal(p, dst.net, &dst.adam), "no optimizer state"));
    CHECK(unchanged());
  }
  {  // dtype: a double checkpoint into a float model needs explicit conversion.
    Trainer<double> d(1, 2);
    const std::string p = dir.file("double.safetensors");
    io::saveCheckpoint(p, d.net, &d.adam);
    CHECK(contains(loadRefusal(p, dst.net, &dst.adam),
                   "is F64 in the file but F32 in memory (allow dtype conversion"));
    CHECK(unchanged());
    io::CheckpointLoadOptions convert;
    convert.allowDtypeConversion = true;
    CHECK(loadRefusal(p, dst.net, &dst.adam, convert).empty());
    CHECK(dst.net.l1.weightT()(2, 3) == float(d.net.l1.weightT()(2, 3)));
    CHECK(dst.net.runningMean[4] == float(d.net.runningMean[4]));
  }
  {  // A dtype that cannot hold weights.
    const std::vector<std::int32_t> ints(24, 1);
    const std::string p = dir.file("ints.safetensors");
    io::writeSafetensors(p, {{"layers.0.weight", io::DType::I32, {6, 4}, ints.data()}},
                         {{io::kCheckpointFormatKey, io::kCheckpointFormat}});
    CHECK(contains(loadRefusal<float>(p, dst.net, nullptr), "has dtype I32, which cannot be loaded into F32"));
  }
  {  // Optimizer of the wrong size; reserved metadata keys.
    optim::Adam<float> wrong(5);
    CHECK(contains(loadRefusal(path, dst.net, &wrong), "the optimizer has 5 parameters"));
    CHECK_THROWS_AS(io::saveCheckpoint(dir.file("x"), src.net, &wrong), Error);
    CHECK_THROWS_AS(io::saveCheckpoint(dir.file("x"), src.net, &src.adam, {{"optim.lr", "1"}}), Error);
    CHECK_THROWS_AS(io::saveCheckpoint(dir.file("x"), src.net, &src.adam, {{"symflow.format", "1"}}), Error);
  }
  {  // PyTorch's BatchNorm num_batches_tracked (I64): skipped when the model has no counter.
    auto tensors = listTensors<float>(src.net);
    std::vector<io::TensorData> data;
    for (const auto& t : tensors) data.push_back(io::tensorData(t));
    const std::int64_t count = 17;
    data.push_back({"norm.num_batches_tracked", io::DType::I64, {}, &count});
    const std::string p = dir.file("torch.safetensors");
    io::writeSafetensors(p, data);
    Trainer<float> t(7, 8);
    io::loadWeights<float>(p, t.net);
    CHECK(t.net.runningMean == src.net.runningMean);
    io::LoadOptions strictNames;
    strictNames.lenientNumBatchesTracked = false;
    CHECK_THROWS_WITH_AS(io::loadWeights<float>(p, t.net, strictNames),
                         doctest::Contains("unexpected tensor 'norm.num_batches_tracked'"), Error);
  }
}

// A model with a BatchNorm-style counter kept as a Scalar of shape () (as nn::BatchNorm1d).
struct CountNet {
  nn::Linear<float> lin{2, 2};
  float numBatchesTracked = 0;
  Index numParams() const { return lin.numParams(); }
  void bind(ParamCursor<float>& c) { lin.bind(c); }
  template <class F> void visitParams(const std::string& prefix, F&& f) {
    lin.visitParams(joinName(prefix, "lin"), f);
    f(TensorRef<float>{joinName(prefix, "bn.num_batches_tracked"), {}, &numBatchesTracked, nullptr, false});
  }
};

TEST_CASE("num_batches_tracked: saved as a scalar, read from PyTorch's I64, optional on load") {
  TempDir dir;
  CountNet a;
  ParamStore<float> sa(a);
  Rng rng(1);
  a.lin.init(rng);
  a.numBatchesTracked = 5;
  const std::string own = dir.file("own.safetensors");
  io::saveCheckpoint<float>(own, a, nullptr);
  CountNet b;
  ParamStore<float> sb(b);
  io::loadCheckpoint<float>(own, b, nullptr);
  CHECK(b.numBatchesTracked == 5);
  CHECK(sb.weights() == sa.weights());

  // A PyTorch state_dict: the count is I64.
  auto tensors = listTensors<float>(a);
  const std::int64_t count = 1234;
  const std::string torchFile = dir.file("torch.safetensors");
  io::writeSafetensors(torchFile, {io::tensorData(tensors[0]), io::tensorData(tensors[1]),
                                   {"bn.num_batches_tracked", io::DType::I64, {}, &count}});
  io::loadWeights<float>(torchFile, b);
  CHECK(b.numBatchesTracked == 1234);
  io::LoadOptions strict;
  strict.lenientNumBatchesTracked = false;
  CHECK_THROWS_WITH_AS(io::loadWeights<float>(torchFile, b, strict),
                       doctest::Contains("has dtype I64, which cannot be loaded into F32"), Error);

  // A file without the count (an old PyTorch file, or a hand-made one) loads; the count stays.
  const std::string noCount = dir.file("nocount.safetensors");
  io::writeSafetensors(noCount, {io::tensorData(tensors[0]), io::tensorData(tensors[1])});
  io::loadWeights<float>(noCount, b);
  CHECK(b.numBatchesTracked == 1234);
  CHECK_THROWS_WITH_AS(io::loadWeights<float>(noCount, b, strict),
                       doctest::Contains("missing tensor 'bn.num_batches_tracked'"), Error);
}

TEST_CASE("metadata helpers are strict") {
  Rng rng(123);
  rng.next();
  const std::string text = io::encodeRngState(rng);
  CHECK(text.size() == 67);
  CHECK(io::decodeRngState(text) == rng.state());
  CHECK_THROWS_AS(io::decodeRngState(text.substr(1)), Error);
  CHECK_THROWS_AS(io::decodeRngState(text + " "), Error);
  std::string upper = text;
  upper[0] = 'G';
  CHECK_THROWS_AS(io::decodeRngState(upper), Error);
  CHECK_THROWS_AS(io::decodeRngState(std::string(16, '0') + " " + std::string(16, '0') + " " +
                                     std::string(16, '0') + " " + std::string(16, '0')),
                  Error);
  CHECK(io::parseInt64("-42", "x") == -42);
  CHECK(io::parseInt64("0", "x") == 0);
  for (const char* bad : {"", "+1", "01", " 1", "1 ", "1.0", "9223372036854775808", "-0"})
    CHECK_THROWS_AS(io::parseInt64(bad, "x"), Error);
  io::Metadata meta{{"a", "7"}};
  CHECK(io::metadataInt64(meta, "a") == 7);
  CHECK_THROWS_WITH_AS(io::metadataInt64(meta, "b"), doctest::Contains("no key 'b'"), Error);
}

TEST_CASE("atomic writes: no temporary left behind, old file intact when a write fails") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  Trainer<float> t(1, 2);
  io::saveCheckpoint(path, t.net, &t.adam);
  const Bytes first = readBytes(path);
  t.train(1);
  io::saveCheckpoint(path, t.net, &t.adam);  // overwrite
  const Bytes second = readBytes(path);
  CHECK(first != second);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});

  // A directory that does not exist: clean failure naming the path, nothing created.
  const std::string nowhere = dir.file("no/such/dir/ckpt.safetensors");
  CHECK_THROWS_WITH_AS(io::saveCheckpoint(nowhere, t.net, &t.adam), doctest::Contains("No such file or directory"),
                       Error);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});

  // The target is a directory: the rename fails, the temporary is removed.
  fs::create_directory(dir.file("adir"));
  CHECK_THROWS_WITH_AS(io::saveCheckpoint(dir.file("adir"), t.net, &t.adam), doctest::Contains("cannot rename"), Error);
  CHECK(dir.entries() == std::vector<std::string>{"adir", "ckpt.safetensors"});

  // Invalid metadata is refused before any file is opened.
  CHECK_THROWS_AS(io::saveCheckpoint(dir.file("bad.safetensors"), t.net, &t.adam, {{"x", "\xff"}}), Error);
  CHECK(dir.entries() == std::vector<std::string>{"adir", "ckpt.safetensors"});

  // Out of space in the middle of the data (a file-size limit below the file size; SIGXFSZ
  // ignored so write() fails with EFBIG): the old checkpoint survives untouched.
  t.train(1);
  struct rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 200;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string message;
  try {
    io::saveCheckpoint(path, t.net, &t.adam);
  } catch (const Error& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, oldHandler);
  CHECK(contains(message, "cannot write '" + path + ".tmp."));
  CHECK(contains(message, "File too large"));
  CHECK(readBytes(path) == second);
  CHECK(dir.entries() == std::vector<std::string>{"adir", "ckpt.safetensors"});
}
