// Fuzz target: the uploaded-dataset parsers (CSV and LIBSVM in
// core/data/dataset_reader.cc, the length-delimited Example stream in
// server/dataset_store.cc, LIBSVM indices kept as hashed features) and the
// plain CSV reader (core/data/csv_reader.cc).
// Input: a flags byte (format, header, skip_bad_rows, label column), a
// LIBSVM width byte, then the file's bytes.
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "core/data/csv_reader.h"
#include "core/data/dataset_reader.h"
#include "server/dataset_store.h"
#include "tests/fuzz/fuzz_input.h"

namespace streamfit {
namespace {

// A parsed dataset is usable as it is: rows of the stated width, finite
// values and labels, importance weights finite and >= 0.
void CheckBatch(const ExampleBatch& b) {
  if (b.values.size() != b.size() * b.num_features ||
      b.weights.size() != b.size()) {
    std::abort();
  }
  for (float v : b.values) {
    if (!std::isfinite(v)) std::abort();
  }
  for (double y : b.labels) {
    if (!std::isfinite(y)) std::abort();
  }
  for (float w : b.weights) {
    if (!std::isfinite(w) || w < 0) std::abort();
  }
  // Sparse features, if any: offsets that frame each row's entries, finite
  // values.
  if (!b.sparse_offsets.empty()) {
    if (b.sparse_offsets.size() != b.size() + 1 ||
        b.sparse_offsets.front() != 0 ||
        b.sparse_offsets.back() != b.sparse_hashes.size() ||
        b.sparse_namespaces.size() != b.sparse_hashes.size() ||
        b.sparse_values.size() != b.sparse_hashes.size()) {
      std::abort();
    }
    for (size_t i = 0; i + 1 < b.sparse_offsets.size(); ++i) {
      if (b.sparse_offsets[i] > b.sparse_offsets[i + 1]) std::abort();
    }
    for (float v : b.sparse_values) {
      if (!std::isfinite(v)) std::abort();
    }
  }
}

}  // namespace
}  // namespace streamfit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streamfit;
  fuzz::FuzzInput in(data, size);
  const uint8_t flags = in.Byte();
  const uint8_t width = in.Byte();
  const absl::string_view text = in.Rest();

  v1::DatasetInfo info;
  switch (flags & 3) {
    case 0:
      info.set_format(v1::DATASET_FORMAT_CSV);
      break;
    case 1:
      info.set_format(v1::DATASET_FORMAT_LIBSVM);
      break;
    default:
      info.set_format(v1::DATASET_FORMAT_EXAMPLES);
      break;
  }
  info.set_has_header(flags & 4);
  info.set_skip_bad_rows(flags & 8);
  if (flags & 16) info.set_label_column("y");
  info.set_num_features(width);
  absl::StatusOr<ParsedDataset> parsed = ParseDatasetBytes(text, info);
  if (parsed.ok()) {
    if (parsed->examples.size() == 0) std::abort();
    CheckBatch(parsed->examples);
  }

  if ((flags & 3) == 0) {
    absl::StatusOr<ExampleBatch> csv = ParseCsv(text);
    if (csv.ok()) CheckBatch(*csv);
  }
  if ((flags & 3) == 1) {  // LIBSVM indices as hashed features
    DatasetParseOptions options;
    options.format = DatasetFormat::kLibsvm;
    options.hashed_indices = true;
    options.skip_bad_rows = flags & 8;
    options.num_features = width;
    absl::StatusOr<ParsedDataset> hashed = ParseDataset(text, options);
    if (hashed.ok()) {
      if (hashed->examples.num_features != 0) std::abort();
      CheckBatch(hashed->examples);
    }
  }
  return 0;
}
