#include "client/csv_records.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace streamfit {

absl::StatusOr<std::optional<std::vector<std::string>>>
CsvRecordReader::Next() {
  std::vector<std::string> fields;
  std::string field;
  bool in_record = false;
  for (;;) {
    int c = in_.get();
    if (c == EOF) {
      if (!in_record) return std::nullopt;
      fields.push_back(std::move(field));
      return fields;
    }
    if (!in_record) {
      if (c == '\n') {  // an empty line
        ++line_;
        continue;
      }
      if (c == '\r' && in_.peek() == '\n') continue;
      in_record = true;
      record_line_ = line_;
    }
    if (c == '"' && field.empty()) {  // a quoted field
      const size_t quote_line = line_;
      for (;;) {
        c = in_.get();
        if (c == EOF) {
          return absl::InvalidArgumentError(
              absl::StrCat("line ", quote_line,
                           ": a quoted field is not closed before the end"));
        }
        if (c == '"') {
          if (in_.peek() != '"') break;
          in_.get();
        } else if (c == '\n') {
          ++line_;
        }
        field.push_back(static_cast<char>(c));
      }
      c = in_.peek();
      if (c != EOF && c != delimiter_ && c != '\n' && c != '\r') {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_, ": '", std::string(1, c),
                         "' after a closing quote (a quote inside a field "
                         "is written \"\")"));
      }
      continue;
    }
    if (c == delimiter_) {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || (c == '\r' && in_.peek() == '\n')) {
      if (c == '\r') in_.get();
      ++line_;
      fields.push_back(std::move(field));
      return fields;
    } else {
      field.push_back(static_cast<char>(c));
    }
  }
}

absl::StatusOr<CsvRowReader> CsvRowReader::Create(std::istream& in,
                                                  CsvRowOptions options) {
  if (!options.label_column.empty() && !options.header) {
    return absl::InvalidArgumentError("--label_column needs --header");
  }
  CsvRowReader reader(in, std::move(options));
  if (!reader.options_.header) return reader;
  absl::StatusOr<std::optional<std::vector<std::string>>> header =
      reader.records_.Next();
  if (!header.ok()) return header.status();
  if (!header->has_value()) {
    return absl::InvalidArgumentError("the input is empty (no header line)");
  }
  if (!reader.options_.label_column.empty()) {
    const std::vector<std::string>& names = **header;
    const std::string& label = reader.options_.label_column;
    size_t i = 0;
    while (i < names.size() && absl::StripAsciiWhitespace(names[i]) != label) {
      ++i;
    }
    if (i == names.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the header has no column '", label, "'"));
    }
    reader.label_index_ = i;
  }
  return reader;
}

absl::StatusOr<CsvRows> CsvRowReader::NextRows(size_t max_rows) {
  CsvRows rows;
  rows.width = width_;
  size_t count = 0;
  while (count < max_rows) {
    absl::StatusOr<std::optional<std::vector<std::string>>> record =
        records_.Next();
    if (!record.ok()) return record.status();
    if (!record->has_value()) break;
    const std::vector<std::string>& fields = **record;
    const size_t line = records_.line();
    const size_t features = fields.size() - (options_.labeled ? 1 : 0);
    if (options_.labeled && fields.size() <= label_index_) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line, ": ", fields.size(),
                       " columns, no label column ", label_index_ + 1));
    }
    if (width_ == 0) {
      if (features == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line, ": no feature columns"));
      }
      width_ = rows.width = features;
    } else if (features != width_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line, ": ", features, " features, earlier rows ", width_));
    }
    if (count == 0) rows.first_line = line;
    for (size_t i = 0; i < fields.size(); ++i) {
      const absl::string_view text = absl::StripAsciiWhitespace(fields[i]);
      double value;
      if (!absl::SimpleAtod(text, &value) || !std::isfinite(value) ||
          (!(options_.labeled && i == label_index_) &&
           !std::isfinite(static_cast<float>(value)))) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line, ", column ", i + 1, ": '", text,
                         "' is not a finite number"));
      }
      if (options_.labeled && i == label_index_) {
        rows.labels.push_back(value);
      } else {
        rows.values.push_back(static_cast<float>(value));
      }
    }
    if (!options_.labeled) rows.labels.push_back(0);
    ++count;
  }
  return rows;
}

}  // namespace streamfit
