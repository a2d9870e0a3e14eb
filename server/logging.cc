#include "server/logging.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/json_string.h"

namespace streamfit::logging {
namespace {

ABSL_CONST_INIT absl::Mutex logger_mu(absl::kConstInit);
std::shared_ptr<spdlog::logger>* logger ABSL_GUARDED_BY(logger_mu) = nullptr;
std::atomic<Format> current_format{Format::kText};

std::shared_ptr<spdlog::logger> MakeLogger(
    Format format, std::shared_ptr<spdlog::sinks::sink> sink) {
  if (sink == nullptr) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto made = std::make_shared<spdlog::logger>("streamfit", std::move(sink));
  made->set_pattern(format == Format::kJson
                        ? R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})"
                        : "%Y-%m-%dT%H:%M:%S.%fZ %l %v",
                    spdlog::pattern_time_type::utc);
  made->flush_on(spdlog::level::trace);  // a line is visible once logged
  return made;
}

std::shared_ptr<spdlog::logger> Logger() {
  absl::MutexLock lock(&logger_mu);
  if (logger == nullptr) {
    logger =
        new std::shared_ptr<spdlog::logger>(MakeLogger(Format::kText, nullptr));
  }
  return *logger;
}

// A text value: bare if it has no space, quote or control character,
// otherwise quoted like a JSON string.
void AppendTextValue(std::string& out, absl::string_view s) {
  const bool bare = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && c != '"' && c != '\\' &&
           c != '=';
  });
  if (bare) {
    out.append(s.data(), s.size());
  } else {
    AppendJsonString(out, s);
  }
}

}  // namespace

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--log_format must be text or json, not '", name, "'"));
}

void Init(Format format, std::shared_ptr<spdlog::sinks::sink> sink) {
  auto made = MakeLogger(format, std::move(sink));
  absl::MutexLock lock(&logger_mu);
  if (logger == nullptr) {
    logger = new std::shared_ptr<spdlog::logger>(std::move(made));
  } else {
    *logger = std::move(made);
  }
  current_format.store(format, std::memory_order_relaxed);
}

std::string FormatEvent(Format format, absl::string_view event,
                        absl::string_view message,
                        std::initializer_list<Field> fields) {
  std::string line;
  if (format == Format::kJson) {
    line += "\"event\":";
    AppendJsonString(line, event);
    line += ",\"msg\":";
    AppendJsonString(line, message);
    for (const Field& field : fields) {
      if (field.value().empty()) continue;
      line += ',';
      AppendJsonString(line, field.key());
      line += ':';
      if (field.number()) {
        line.append(field.value().data(), field.value().size());
      } else {
        AppendJsonString(line, field.value());
      }
    }
    return line;
  }
  absl::StrAppend(&line, message, " event=", event);
  for (const Field& field : fields) {
    if (field.value().empty()) continue;
    absl::StrAppend(&line, " ", field.key(), "=");
    AppendTextValue(line, field.value());
  }
  return line;
}

void Event(Level level, absl::string_view event, absl::string_view message,
           std::initializer_list<Field> fields) {
  const std::string line = FormatEvent(
      current_format.load(std::memory_order_relaxed), event, message, fields);
  const spdlog::level::level_enum spd_level =
      level == Level::kError     ? spdlog::level::err
      : level == Level::kWarning ? spdlog::level::warn
                                 : spdlog::level::info;
  Logger()->log(spd_level, "{}", line);
}

}  // namespace streamfit::logging
