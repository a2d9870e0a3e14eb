// Reads labeled examples from CSV text: one example per line, the label in
// the first column and then the features. Blank lines are skipped.
#ifndef STREAMFIT_CORE_DATA_CSV_READER_H_
#define STREAMFIT_CORE_DATA_CSV_READER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/example_batch.h"

namespace streamfit {

// Every row must have the same number of columns (at least 2) and only finite
// numbers. INVALID_ARGUMENT names the line (from 1) and column on a bad row.
// Weights are 1.
absl::StatusOr<ExampleBatch> ParseCsv(absl::string_view text);

// ParseCsv on a file's contents; NOT_FOUND if it cannot be opened.
absl::StatusOr<ExampleBatch> ReadCsvFile(const std::string& path);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_DATA_CSV_READER_H_
