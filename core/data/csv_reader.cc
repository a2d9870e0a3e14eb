#include "core/data/csv_reader.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace streamfit {

absl::StatusOr<ExampleBatch> ParseCsv(absl::string_view text) {
  ExampleBatch batch;
  std::vector<float> row;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    row.clear();
    double label = 0;
    int column = 0;
    for (absl::string_view cell : absl::StrSplit(line, ',')) {
      ++column;
      double v;
      if (!absl::SimpleAtod(absl::StripAsciiWhitespace(cell), &v) ||
          !std::isfinite(column == 1 ? v : static_cast<float>(v))) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_number, " column ", column,
                         ": not a finite number: '", cell, "'"));
      }
      if (column == 1) {
        label = v;
      } else if (row.size() == kMaxFeatures) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_number, ": over ", kMaxFeatures,
                         " features (the limit)"));
      } else {
        row.push_back(static_cast<float>(v));
      }
    }
    if (row.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": needs a label and at least one feature"));
    }
    if (batch.size() == 0) batch.num_features = row.size();
    if (row.size() != batch.num_features) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", row.size(),
                       " features, earlier lines have ", batch.num_features));
    }
    batch.Add(row, label);
  }
  return batch;
}

absl::StatusOr<ExampleBatch> ReadCsvFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  absl::StatusOr<ExampleBatch> batch = ParseCsv(buffer.str());
  if (!batch.ok()) {
    return absl::Status(batch.status().code(),
                        absl::StrCat(path, ": ", batch.status().message()));
  }
  return batch;
}

}  // namespace streamfit
