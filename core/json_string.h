// JSON string literals, for the server's JSON log lines and the CLI's JSON
// output.
#ifndef STREAMFIT_CORE_JSON_STRING_H_
#define STREAMFIT_CORE_JSON_STRING_H_

#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace streamfit {

// Appends `s` to `out` as a quoted JSON string: quote, backslash and the
// control characters escaped (\n, \r, \t by name, the others as \u00XX);
// other bytes are copied as they are (UTF-8 passes through).
inline void AppendJsonString(std::string& out, absl::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// `s` as a quoted JSON string.
inline std::string JsonString(absl::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

}  // namespace streamfit

#endif  // STREAMFIT_CORE_JSON_STRING_H_
