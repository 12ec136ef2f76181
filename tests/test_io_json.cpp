// The strict JSON reader/writer used for safetensors headers and checkpoint metadata.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "symflow/io/json.hpp"

using namespace symflow;

namespace {
// The error message of parsing text, or "" if it parses.
std::string parseError(const std::string& text) {
  try {
    json::parse(text, "test");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("JSON parses every kind of value") {
  const auto v = json::parse(R"( {"a": [1, -2.5, 1e3, true, false, null], "b": {"c": "x\"y\\z\n\u00e9\ud83d\ude00"},
                                 "big": 9007199254740993, "neg": -9223372036854775808, "huge": 18446744073709551616} )");
  REQUIRE(v.isObject());
  const auto& a = v.at("a").asArray();
  REQUIRE(a.size() == 6);
  CHECK(a[0].isInteger());
  CHECK(a[0].asInt64() == 1);
  CHECK(a[1].asDouble() == -2.5);
  CHECK_FALSE(a[1].isInteger());
  CHECK(a[2].asDouble() == 1000.0);
  CHECK_FALSE(a[2].isInteger());  // written with an exponent
  CHECK(a[3].asBool());
  CHECK_FALSE(a[4].asBool());
  CHECK(a[5].isNull());
  CHECK(v.at("b").at("c").asString() == "x\"y\\z\n\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v.at("big").asInt64() == 9007199254740993LL);  // exact beyond 2^53
  CHECK(v.at("neg").asInt64() == std::numeric_limits<std::int64_t>::min());
  CHECK_FALSE(v.at("huge").isInteger());  // beyond int64: a double only
  CHECK(v.at("huge").asDouble() == 18446744073709551616.0);
  CHECK(v.find("missing") == nullptr);
  CHECK_THROWS_AS(v.at("missing"), Error);
  CHECK_THROWS_AS(v.at("a").asString(), Error);
  CHECK_THROWS_AS(a[1].asInt64(), Error);
  // Member order is file order.
  CHECK(v.asObject()[0].first == "a");
  CHECK(v.asObject()[4].first == "huge");
}

TEST_CASE("JSON refuses malformed and non-strict input with a located message") {
  struct Bad {
    const char* text;
    const char* message;
  };
  const Bad cases[] = {
      {"", "unexpected end of text, expected a value at byte 0"},
      {"   ", "unexpected end of text"},
      {"{", "expected a string key"},
      {"{\"a\":1", "unexpected end of text inside object"},
      {"{\"a\" 1}", "expected ':'"},
      {"{\"a\":1,}", "expected a string key"},
      {"[1,]", "unexpected character, expected a value"},
      {"[1 2]", "expected ',' or ']'"},
      {"{a:1}", "expected a string key"},
      {"{\"a\":1}x", "unexpected text after the JSON value at byte 7"},
      {"{\"a\":1} {}", "unexpected text after the JSON value"},
      {"01", "leading zero"},
      {"-", "expected a digit"},
      {"1.", "expected a digit after the decimal point"},
      {"1e", "expected a digit in exponent"},
      {"+1", "unexpected character"},
      {".5", "unexpected character"},
      {"NaN", "unexpected character"},
      {"Infinity", "unexpected character"},
      {"1e400", "out of the range of a double"},
      {"tru", "invalid literal"},
      {"nul", "invalid literal"},
      {"\"abc", "unterminated string"},
      {"\"a\tb\"", "unescaped control character"},
      {"\"\\x\"", "invalid escape"},
      {"\"\\u12G4\"", "invalid hex digit"},
      {"\"\\u12\"", "truncated \\u escape"},
      {"\"\\ud800\"", "high surrogate not followed by a low surrogate"},
      {"\"\\ud800\\u0041\"", "high surrogate not followed by a low surrogate"},
      {"\"\\udc00\"", "lone low surrogate"},
      {"\"\xff\"", "invalid UTF-8"},
      {"\"\xc0\xaf\"", "invalid UTF-8"},          // overlong '/'
      {"\"\xed\xa0\x80\"", "invalid UTF-8"},      // encoded surrogate
      {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"},  // above U+10FFFF
      {"\"\xe2\x82\"", "invalid UTF-8"},          // truncated sequence
      {"{\"a\":1,\"a\":2}", "duplicate key \"a\" at byte 7"},
      {"// c\n{}", "unexpected character"},
  };
  for (const auto& c : cases) {
    INFO("input: " << std::string(c.text));
    const std::string msg = parseError(c.text);
    CHECK(msg.rfind("test: ", 0) == 0);
    CHECK(msg.find(c.message) != std::string::npos);
    if (msg.find(c.message) == std::string::npos) MESSAGE("got: " << msg);
  }
}

TEST_CASE("JSON nesting depth is limited (no stack overflow on hostile input)") {
  const std::string deep(100000, '[');
  CHECK(parseError(deep).find("nesting deeper than 64") != std::string::npos);
  std::string ok = std::string(64, '[') + std::string(64, ']');
  CHECK(parseError(ok).empty());
  std::string tooDeep = std::string(65, '[') + std::string(65, ']');
  CHECK_FALSE(parseError(tooDeep).empty());
  json::ParseOptions opt;
  opt.maxDepth = 2;
  CHECK_THROWS_AS(json::parse("[[[]]]", "x", opt), Error);
  CHECK_NOTHROW(json::parse("[[]]", "x", opt));
}

TEST_CASE("JSON duplicate keys can be kept for the caller to judge") {
  json::ParseOptions opt;
  opt.allowDuplicateKeys = true;
  const auto v = json::parse(R"({"a":1,"a":2})", "x", opt);
  CHECK(v.asObject().size() == 2);
}

TEST_CASE("JSON parse reads only the given span") {
  const char buffer[] = "[1,2]GARBAGE";
  CHECK(json::parse(std::string_view(buffer, 5)).asArray().size() == 2);
  CHECK_THROWS_AS(json::parse(std::string_view(buffer, 4)), Error);  // "[1,2" truncated
}

TEST_CASE("JSON dump round-trips and escapes") {
  json::Value v = json::Value::object();
  json::Value arr = json::Value::array();
  arr.push(1).push(-0.1).push(1e300).push(std::int64_t(-9007199254740993LL)).push(true).push(nullptr);
  v.set("arr", arr).set("s", "tab\there \"q\" \\ \x01 \xc3\xa9").set("o", json::Value::object());
  v.set("arr", arr);  // replacing keeps one member
  const std::string text = json::dump(v);
  CHECK(text.find("\\t") != std::string::npos);
  CHECK(text.find("\\u0001") != std::string::npos);
  const auto back = json::parse(text);
  CHECK(json::dump(back) == text);
  CHECK(back.asObject().size() == 3);
  CHECK(back.at("arr").asArray()[1].asDouble() == -0.1);  // shortest form reads back exactly
  CHECK(back.at("arr").asArray()[2].asDouble() == 1e300);
  CHECK(back.at("arr").asArray()[3].asInt64() == -9007199254740993LL);
  CHECK(back.at("s").asString() == "tab\there \"q\" \\ \x01 \xc3\xa9");
  const std::string pretty = json::dump(v, 2);
  CHECK(pretty.find("\n  \"arr\": [") != std::string::npos);
  CHECK(json::dump(json::parse(pretty)) == text);

  CHECK_THROWS_AS(json::dump(json::Value(std::nan(""))), Error);
  CHECK_THROWS_AS(json::dump(json::Value(std::numeric_limits<double>::infinity())), Error);
  CHECK_THROWS_AS(json::dump(json::Value("bad \xff utf8")), Error);
  CHECK(json::isValidUtf8("plain \xe2\x82\xac"));
  CHECK_FALSE(json::isValidUtf8("\xe2\x82"));
}
