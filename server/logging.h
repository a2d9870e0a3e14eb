// Structured logs: one line per lifecycle event or admin action, on stderr,
// as text ("TIME LEVEL MESSAGE key=value ...") or as one JSON object per
// line (--log_format=json), through spdlog.
//
// An event has a stable name ("model.create"), a human message and fields
// (model, version, job, peer, role, ...). Nothing that takes a credential is
// ever passed here: callers log a token's configured name, never the token.
// Thread-safe; Init is meant for the top of main (events logged before it go
// to stderr as text).
#ifndef STREAMFIT_SERVER_LOGGING_H_
#define STREAMFIT_SERVER_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace spdlog::sinks {
class sink;
}

namespace streamfit::logging {

enum class Format { kText, kJson };

// "text" or "json"; INVALID_ARGUMENT otherwise.
absl::StatusOr<Format> ParseFormat(absl::string_view name);

// Sends every later event to `sink` (stderr when null) in `format`.
void Init(Format format, std::shared_ptr<spdlog::sinks::sink> sink = nullptr);

// One key=value of an event. Numbers stay numbers in JSON; a field whose
// string value is empty is left out of the line.
class Field {
 public:
  Field(absl::string_view key, absl::string_view value)
      : key_(key), value_(value), number_(false) {}
  Field(absl::string_view key, const char* value)
      : Field(key, absl::string_view(value)) {}
  Field(absl::string_view key, const std::string& value)
      : Field(key, absl::string_view(value)) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T> &&
                                                    !std::is_same_v<T, bool>>>
  Field(absl::string_view key, T value)
      : key_(key), value_(absl::StrCat(value)), number_(true) {}
  Field(absl::string_view key, bool value)
      : key_(key), value_(value ? "true" : "false"), number_(true) {}

  absl::string_view key() const { return key_; }
  absl::string_view value() const { return value_; }
  bool number() const { return number_; }

 private:
  absl::string_view key_;
  std::string value_;
  bool number_;
};

enum class Level { kInfo, kWarning, kError };

// Logs one event.
void Event(Level level, absl::string_view event, absl::string_view message,
           std::initializer_list<Field> fields = {});
inline void Info(absl::string_view event, absl::string_view message,
                 std::initializer_list<Field> fields = {}) {
  Event(Level::kInfo, event, message, fields);
}
inline void Warning(absl::string_view event, absl::string_view message,
                    std::initializer_list<Field> fields = {}) {
  Event(Level::kWarning, event, message, fields);
}
inline void Error(absl::string_view event, absl::string_view message,
                  std::initializer_list<Field> fields = {}) {
  Event(Level::kError, event, message, fields);
}

// The line Event writes for these arguments, without time and level (for
// tests of the format).
std::string FormatEvent(Format format, absl::string_view event,
                        absl::string_view message,
                        std::initializer_list<Field> fields);

}  // namespace streamfit::logging

#endif  // STREAMFIT_SERVER_LOGGING_H_
