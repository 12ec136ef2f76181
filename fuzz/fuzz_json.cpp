// fuzz/fuzz_json.cpp - libFuzzer harness for symflow's own JSON reader/writer (io/json.hpp),
// which parses safetensors headers and checkpoint metadata.
//
// Input: any bytes, parsed as JSON with the default options and with those of the safetensors
// reader (depth 8, duplicate keys kept). Checked beyond "no crash / no sanitizer report":
//   - every failure is a symflow::Error (anything else escapes and libFuzzer reports it);
//   - a parsed value round-trips: parse(dump(v)) succeeds and dumps to the same text, with
//     and without indentation (dump must not write what parse refuses, or change values).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "symflow/io/json.hpp"

namespace {
void roundTrip(const symflow::json::Value& v, const symflow::json::ParseOptions& opt) {
  const std::string compact = symflow::json::dump(v);
  const std::string again = symflow::json::dump(symflow::json::parse(compact, "round trip", opt));
  if (again != compact) std::abort();  // dump/parse disagree
  const std::string pretty = symflow::json::dump(v, 2);
  if (symflow::json::dump(symflow::json::parse(pretty, "round trip (indented)", opt)) != compact) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  symflow::json::ParseOptions strict;
  symflow::json::ParseOptions header;
  header.maxDepth = 8;
  header.allowDuplicateKeys = true;
  for (const auto& opt : {strict, header}) {
    try {
      const symflow::json::Value v = symflow::json::parse(text, "fuzz", opt);
      roundTrip(v, opt);
    } catch (const symflow::Error&) {
    }
  }
  return 0;
}
