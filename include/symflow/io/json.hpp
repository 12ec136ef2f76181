// symflow/io/json.hpp - a small, strict JSON reader and writer (RFC 8259).
//
// Used for safetensors headers and checkpoint metadata; the library headers may not depend
// on nlohmann-json. The reader is written for untrusted input (it is fuzzed):
//   - parse() takes a byte span and never reads outside it; nesting is limited
//     (ParseOptions::maxDepth) so deep inputs cannot overflow the stack.
//   - Strict grammar: no comments, no trailing commas, no NaN/Infinity, no leading zeros,
//     no unescaped control characters, strings must be valid UTF-8 (no overlong forms, no
//     surrogates), \u escapes must pair surrogates correctly, numbers must fit a double,
//     nothing but whitespace after the value, duplicate object keys refused (unless
//     ParseOptions::allowDuplicateKeys).
//   - Every problem throws symflow::Error "<what>: <problem> at byte <offset>".
// Numbers keep their double value and, when written as an integer literal that fits
// int64, the exact integer (isInteger()/asInt64()), so sizes and offsets above 2^53 stay exact.
// Objects keep their members in insertion (file) order.
//
// The writer (dump) escapes '"', '\\' and control characters, writes doubles in the
// shortest form that reads back to the same value, and refuses NaN/Inf and strings that
// are not valid UTF-8 (which it would otherwise turn into an unreadable file).
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "symflow/core/types.hpp"

namespace symflow::json {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;

struct ParseOptions {
  int maxDepth = 64;                // arrays/objects nested deeper are refused
  bool allowDuplicateKeys = false;  // if true, duplicates are kept in order (caller decides)
};

namespace detail {
/// Length of the valid UTF-8 sequence starting at s[0] (1..4), or 0 if invalid/truncated.
inline std::size_t utf8SequenceLength(const unsigned char* s, std::size_t avail) {
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  std::size_t len;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07u;
  } else {
    return 0;  // continuation byte, overlong lead (C0/C1) or beyond U+10FFFF (F5..FF)
  }
  if (avail < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;  // overlong
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;                              // surrogate
  if (cp > 0x10FFFF) return 0;
  return len;
}
inline void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}
}  // namespace detail

/// True when s is valid UTF-8 (the encoding JSON text must use).
inline bool isValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t len = detail::utf8SequenceLength(p + i, s.size() - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(double d) : v_(Number{d, 0, false}) {}
  Value(float f) : Value(double(f)) {}
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Value(T v) : v_(Number{double(v), 0, false}) {
    auto& n = std::get<Number>(v_);
    if (std::is_signed_v<T> || std::uint64_t(v) <= std::uint64_t(std::numeric_limits<std::int64_t>::max())) {
      n.integer = std::int64_t(v);
      n.isInteger = true;
    }
  }
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : Value(std::string(s)) {}
  Value(const char* s) : Value(std::string(s)) {}
  Value(Array a) : v_(std::move(a)) {}
  Value(Object o) : v_(std::move(o)) {}

  static Value array() { return Value(Array{}); }
  static Value object() { return Value(Object{}); }

  Type type() const { return Type(v_.index()); }
  bool isNull() const { return type() == Type::Null; }
  bool isBool() const { return type() == Type::Bool; }
  bool isNumber() const { return type() == Type::Number; }
  /// A number written (or constructed) as an integer that fits int64.
  bool isInteger() const { return isNumber() && std::get<Number>(v_).isInteger; }
  bool isString() const { return type() == Type::String; }
  bool isArray() const { return type() == Type::Array; }
  bool isObject() const { return type() == Type::Object; }

  bool asBool() const { return get<bool>(Type::Bool); }
  double asDouble() const { return get<Number>(Type::Number).value; }
  std::int64_t asInt64() const {
    require(isInteger(), "JSON: expected an integer, found " + describe());
    return std::get<Number>(v_).integer;
  }
  const std::string& asString() const { return get<std::string>(Type::String); }
  const Array& asArray() const { return get<Array>(Type::Array); }
  Array& asArray() { return get<Array>(Type::Array); }
  const Object& asObject() const { return get<Object>(Type::Object); }
  Object& asObject() { return get<Object>(Type::Object); }

  /// Object member lookup: nullptr when absent (or when this is not an object).
  const Value* find(std::string_view key) const {
    if (!isObject()) return nullptr;
    for (const auto& m : std::get<Object>(v_))
      if (m.first == key) return &m.second;
    return nullptr;
  }
  const Value& at(std::string_view key) const {
    asObject();
    const Value* v = find(key);
    require(v != nullptr, "JSON: missing key \"" + std::string(key) + "\"");
    return *v;
  }
  /// Sets (replaces or appends) an object member; returns *this for chaining.
  Value& set(std::string key, Value v) {
    Object& o = asObject();
    for (auto& m : o)
      if (m.first == key) {
        m.second = std::move(v);
        return *this;
      }
    o.emplace_back(std::move(key), std::move(v));
    return *this;
  }
  Value& push(Value v) {
    asArray().push_back(std::move(v));
    return *this;
  }

  /// "null", "a bool", "a number", "a string", "an array", "an object".
  std::string describe() const { return describe(type()); }
  static std::string describe(Type t) {
    switch (t) {
      case Type::Null: return "null";
      case Type::Bool: return "a bool";
      case Type::Number: return "a number";
      case Type::String: return "a string";
      case Type::Array: return "an array";
      case Type::Object: return "an object";
    }
    return "?";
  }

 private:
  struct Number {
    double value = 0;
    std::int64_t integer = 0;
    bool isInteger = false;
  };
  template <class T> const T& get(Type t) const {
    if (type() != t) throw Error("JSON: expected " + describe(t) + ", found " + describe());
    return std::get<T>(v_);
  }
  template <class T> T& get(Type t) {
    if (type() != t) throw Error("JSON: expected " + describe(t) + ", found " + describe());
    return std::get<T>(v_);
  }

  // Alternative order matches Type.
  std::variant<std::monostate, bool, Number, std::string, Array, Object> v_;
};

namespace detail {

class Parser {
 public:
  Parser(std::string_view text, const std::string& what, const ParseOptions& opt)
      : s_(text), what_(what), opt_(opt) {}

  Value parseDocument() {
    skipWhitespace();
    Value v = parseValue(0);
    skipWhitespace();
    if (pos_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(what_ + ": " + msg + " at byte " + std::to_string(pos_));
  }
  bool atEnd() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }  // only after !atEnd()
  void skipWhitespace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  void expectChar(char c, const char* context) {
    if (atEnd()) fail(std::string("unexpected end of text, expected '") + c + "' " + context);
    if (peek() != c) fail(std::string("expected '") + c + "' " + context);
    ++pos_;
  }
  void expectLiteral(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) fail("invalid literal (expected " + std::string(lit) + ")");
    pos_ += lit.size();
  }

  Value parseValue(int depth) {
    if (atEnd()) fail("unexpected end of text, expected a value");
    switch (peek()) {
      case '{': return parseObject(depth + 1);
      case '[': return parseArray(depth + 1);
      case '"': return Value(parseString());
      case 't': expectLiteral("true"); return Value(true);
      case 'f': expectLiteral("false"); return Value(false);
      case 'n': expectLiteral("null"); return Value();
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parseNumber();
        fail("unexpected character, expected a value");
    }
  }

  Value parseObject(int depth) {
    if (depth > opt_.maxDepth) fail("nesting deeper than " + std::to_string(opt_.maxDepth));
    ++pos_;  // '{'
    Object members;
    std::unordered_set<std::string> keys;
    skipWhitespace();
    if (!atEnd() && peek() == '}') {
      ++pos_;
      return Value(std::move(members));
    }
    while (true) {
      skipWhitespace();
      if (atEnd() || peek() != '"') fail("expected a string key in object");
      const std::size_t keyPos = pos_;
      std::string key = parseString();
      if (!opt_.allowDuplicateKeys && !keys.insert(key).second) {
        pos_ = keyPos;
        fail("duplicate key \"" + key + "\"");
      }
      skipWhitespace();
      expectChar(':', "after object key");
      skipWhitespace();
      Value v = parseValue(depth);
      members.emplace_back(std::move(key), std::move(v));
      skipWhitespace();
      if (atEnd()) fail("unexpected end of text inside object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return Value(std::move(members));
      }
      fail("expected ',' or '}' in object");
    }
  }

  Value parseArray(int depth) {
    if (depth > opt_.maxDepth) fail("nesting deeper than " + std::to_string(opt_.maxDepth));
    ++pos_;  // '['
    Array items;
    skipWhitespace();
    if (!atEnd() && peek() == ']') {
      ++pos_;
      return Value(std::move(items));
    }
    while (true) {
      skipWhitespace();
      items.push_back(parseValue(depth));
      skipWhitespace();
      if (atEnd()) fail("unexpected end of text inside array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Value(std::move(items));
      }
      fail("expected ',' or ']' in array");
    }
  }

  std::uint32_t parseHex4() {
    if (s_.size() - pos_ < 4) fail("truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_ + i];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= std::uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= std::uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= std::uint32_t(c - 'A' + 10);
      else fail("invalid hex digit in \\u escape");
    }
    pos_ += 4;
    return v;
  }

  std::string parseString() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (atEnd()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("unescaped control character in string");
      if (c == '\\') {
        ++pos_;
        if (atEnd()) fail("unterminated escape in string");
        const char e = peek();
        ++pos_;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            std::uint32_t cp = parseHex4();
            if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (s_.substr(pos_, 2) != "\\u") fail("high surrogate not followed by a low surrogate");
              pos_ += 2;
              const std::uint32_t lo = parseHex4();
              if (lo < 0xDC00 || lo > 0xDFFF) fail("high surrogate not followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            appendUtf8(out, cp);
            break;
          }
          default: --pos_; fail("invalid escape in string");
        }
        continue;
      }
      if (c < 0x80) {
        out += char(c);
        ++pos_;
        continue;
      }
      const std::size_t len =
          utf8SequenceLength(reinterpret_cast<const unsigned char*>(s_.data()) + pos_, s_.size() - pos_);
      if (len == 0) fail("invalid UTF-8 in string");
      out.append(s_.data() + pos_, len);
      pos_ += len;
    }
  }

  Value parseNumber() {
    const std::size_t start = pos_;
    auto digit = [&] { return !atEnd() && peek() >= '0' && peek() <= '9'; };
    if (peek() == '-') ++pos_;
    if (!digit()) fail("expected a digit in number");
    if (peek() == '0') {
      ++pos_;
      if (digit()) fail("leading zero in number");
    } else {
      while (digit()) ++pos_;
    }
    bool integral = true;
    if (!atEnd() && peek() == '.') {
      integral = false;
      ++pos_;
      if (!digit()) fail("expected a digit after the decimal point");
      while (digit()) ++pos_;
    }
    if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!atEnd() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digit()) fail("expected a digit in exponent");
      while (digit()) ++pos_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    double d = 0;
    const auto rd = std::from_chars(first, last, d);
    if (rd.ec != std::errc() || rd.ptr != last) {
      pos_ = start;
      fail("number out of the range of a double");
    }
    Value v(d);
    if (integral) {
      std::int64_t i = 0;
      const auto ri = std::from_chars(first, last, i);
      if (ri.ec == std::errc() && ri.ptr == last) v = Value(i);
    }
    return v;
  }

  std::string_view s_;
  std::string what_;
  ParseOptions opt_;
  std::size_t pos_ = 0;
};

inline void dumpString(std::string& out, const std::string& s) {
  require(isValidUtf8(s), "JSON: cannot write a string that is not valid UTF-8");
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

inline void dumpValue(std::string& out, const Value& v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(std::size_t(indent) * std::size_t(lvl), ' ');
  };
  switch (v.type()) {
    case Value::Type::Null: out += "null"; break;
    case Value::Type::Bool: out += v.asBool() ? "true" : "false"; break;
    case Value::Type::Number: {
      char buf[64];
      std::to_chars_result r;
      if (v.isInteger()) {
        r = std::to_chars(buf, buf + sizeof buf, v.asInt64());
      } else {
        const double d = v.asDouble();
        require(d == d && d - d == 0, "JSON: cannot write a non-finite number (NaN or Inf)");
        // -0.0: to_chars gives "-0", which reads back as the integer 0 (found by fuzz/fuzz_json).
        if (d == 0 && std::signbit(d)) {
          out += "-0.0";
          break;
        }
        r = std::to_chars(buf, buf + sizeof buf, d);
      }
      out.append(buf, r.ptr);
      break;
    }
    case Value::Type::String: dumpString(out, v.asString()); break;
    case Value::Type::Array: {
      const auto& a = v.asArray();
      out += '[';
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        dumpValue(out, a[i], indent, level + 1);
      }
      if (!a.empty()) newline(level);
      out += ']';
      break;
    }
    case Value::Type::Object: {
      const auto& o = v.asObject();
      out += '{';
      for (std::size_t i = 0; i < o.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        dumpString(out, o[i].first);
        out += indent < 0 ? ":" : ": ";
        dumpValue(out, o[i].second, indent, level + 1);
      }
      if (!o.empty()) newline(level);
      out += '}';
      break;
    }
  }
}

}  // namespace detail

/// Parses one JSON document from text (any bytes; only text[0, size) is read).
/// `what` names the input in error messages ("checkpoint 'a.safetensors' header").
inline Value parse(std::string_view text, const std::string& what = "JSON",
                   const ParseOptions& options = {}) {
  return detail::Parser(text, what, options).parseDocument();
}

/// Writes v as JSON text: compact when indent < 0, else pretty with `indent` spaces.
inline std::string dump(const Value& v, int indent = -1) {
  std::string out;
  detail::dumpValue(out, v, indent, 0);
  return out;
}

}  // namespace symflow::json
