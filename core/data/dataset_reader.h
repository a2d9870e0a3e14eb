// Parses uploaded datasets (CSV, LIBSVM/SVMlight) into examples. Pure
// functions over bytes: no I/O, no global state, safe on any input (fuzzed by
// tests with truncated and random text).
#ifndef STREAMFIT_CORE_DATA_DATASET_READER_H_
#define STREAMFIT_CORE_DATA_DATASET_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/example_batch.h"

namespace streamfit {

enum class DatasetFormat {
  kCsv,     // label, f1, f2, ... (or a named label column with a header)
  kLibsvm,  // label idx:value idx:value ... (1-based ascending indices)
};

// Lower-case name ("csv", "libsvm") and its inverse (INVALID_ARGUMENT).
absl::string_view DatasetFormatName(DatasetFormat format);
absl::StatusOr<DatasetFormat> ParseDatasetFormat(absl::string_view name);

struct DatasetParseOptions {
  DatasetFormat format = DatasetFormat::kCsv;
  // CSV: the first non-blank line names the columns.
  bool has_header = false;
  // CSV with a header: the label column's name; empty means the first column.
  std::string label_column;
  // LIBSVM: the dense width; 0 means the largest index seen. Indices above a
  // non-zero width are errors.
  uint32_t num_features = 0;
  // LIBSVM: each index i is kept as the hashed feature HashFeatureIndex of
  // namespace "" and i (feature_hash.h), as a sparse-only model (hash_bits,
  // no dense features) learns it, instead of as a dense column; the examples
  // then have no dense features (a non-zero num_features still bounds the
  // indices).
  bool hashed_indices = false;
  // Skip malformed rows and count them instead of rejecting the dataset.
  bool skip_bad_rows = false;
};

struct ParsedDataset {
  ExampleBatch examples;  // weights are 1
  uint64_t skipped_rows = 0;
  // The first few skipped rows' reasons, "line 7: ..." (skip_bad_rows only).
  std::vector<std::string> skipped_reasons;
};

// Parses `text`. Blank lines and lines starting with '#' are ignored; CR LF
// line ends are accepted. A malformed row (not a finite number, a wrong
// column count, a bad or repeated index) is INVALID_ARGUMENT naming its line
// (from 1) and column or token, unless skip_bad_rows. INVALID_ARGUMENT too if
// no row is left or the header lacks label_column.
absl::StatusOr<ParsedDataset> ParseDataset(absl::string_view text,
                                           const DatasetParseOptions& options);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_DATA_DATASET_READER_H_
