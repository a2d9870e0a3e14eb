// Streaming readers of CSV input for `streamfit observe` and `predict`.
//
// CsvRecordReader splits RFC 4180 text into records: fields separated by a
// one-character delimiter; a field in double quotes may hold delimiters,
// line breaks and "" (one quote); records end at LF or CRLF; empty lines are
// skipped. CsvRowReader turns records into numeric rows of a fixed width:
// an optional header line (naming the label column), the label in one
// column (or none), every other column a feature. Both read one record at a
// time, so any input length needs constant memory. Not thread-safe.
#ifndef STREAMFIT_CLIENT_CSV_RECORDS_H_
#define STREAMFIT_CLIENT_CSV_RECORDS_H_

#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace streamfit {

class CsvRecordReader {
 public:
  // Reads from `in`, which must outlive the reader.
  CsvRecordReader(std::istream& in, char delimiter)
      : in_(in), delimiter_(delimiter) {}

  // The next record's fields; nullopt at the end of the input.
  // INVALID_ARGUMENT naming the line for an unterminated quoted field or a
  // character after a closing quote.
  absl::StatusOr<std::optional<std::vector<std::string>>> Next();

  // The line (from 1) on which the last record returned began.
  size_t line() const { return record_line_; }

 private:
  std::istream& in_;
  const char delimiter_;
  size_t line_ = 1;  // of the next character
  size_t record_line_ = 0;
};

struct CsvRowOptions {
  char delimiter = ',';
  bool header = false;       // the first record names the columns
  std::string label_column;  // with header: the label's name; else column 0
  bool labeled = true;       // false: every column is a feature
};

// A batch of rows read by CsvRowReader.
struct CsvRows {
  size_t width = 0;            // features per row
  std::vector<float> values;   // rows x width, row-major
  std::vector<double> labels;  // one per row (0 when unlabeled)
  size_t first_line = 0;       // line of the first row
  size_t size() const { return labels.size(); }
};

class CsvRowReader {
 public:
  static absl::StatusOr<CsvRowReader> Create(std::istream& in,
                                             CsvRowOptions options);

  // Up to `max_rows` rows (fewer only at the end; empty at the end).
  // INVALID_ARGUMENT naming line and column for a field that is not a finite
  // number or a row of another width than the first.
  absl::StatusOr<CsvRows> NextRows(size_t max_rows);

  // Features per row: known after the first row (0 before).
  size_t width() const { return width_; }

 private:
  CsvRowReader(std::istream& in, CsvRowOptions options)
      : records_(in, options.delimiter), options_(std::move(options)) {}

  CsvRecordReader records_;
  CsvRowOptions options_;
  size_t label_index_ = 0;
  size_t width_ = 0;  // features; 0 until the first row
};

}  // namespace streamfit

#endif  // STREAMFIT_CLIENT_CSV_RECORDS_H_
