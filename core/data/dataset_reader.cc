#include "core/data/dataset_reader.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/model/feature_hash.h"

namespace streamfit {
namespace {

constexpr size_t kMaxReasons = 10;

// A parsed row before densifying: the label and (index, value) pairs, 0-based.
struct SparseRow {
  double label = 0;
  std::vector<std::pair<uint32_t, float>> entries;
};

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

// A number within kMaxAbsValue (as a float for features), as Observe
// accepts.
bool ParseNumber(absl::string_view cell, bool as_float, double& out) {
  cell = absl::StripAsciiWhitespace(cell);
  if (!absl::SimpleAtod(cell, &out)) return false;
  return std::abs(as_float ? static_cast<double>(static_cast<float>(out))
                           : out) <= kMaxAbsValue;
}

// Parses one CSV data line with the label in column `label_index` (0-based)
// and `columns` columns (0: the first data line decides).
absl::Status ParseCsvRow(absl::string_view line, int line_number,
                         size_t label_index, size_t& columns, SparseRow& row) {
  row.entries.clear();
  size_t column = 0;
  for (absl::string_view cell : absl::StrSplit(line, ',')) {
    double v;
    if (!ParseNumber(cell, column != label_index, v)) {
      return LineError(
          line_number,
          absl::StrCat("column ", column + 1,
                       ": not a finite number within 1e18 in magnitude: '",
                       cell, "'"));
    }
    if (column == label_index) {
      row.label = v;
    } else if (row.entries.size() == kMaxFeatures) {
      return LineError(line_number, absl::StrCat("over ", kMaxFeatures,
                                                 " features (the limit)"));
    } else {
      row.entries.emplace_back(row.entries.size(), static_cast<float>(v));
    }
    ++column;
  }
  if (column < 2 || column <= label_index) {
    return LineError(line_number, absl::StrCat(column,
                                               " columns; needs a label and at "
                                               "least one feature"));
  }
  if (columns != 0 && column != columns) {
    return LineError(line_number,
                     absl::StrCat(column, " columns, expected ", columns));
  }
  return absl::OkStatus();
}

absl::Status ParseLibsvmRow(absl::string_view line, int line_number,
                            uint32_t num_features, SparseRow& row) {
  row.entries.clear();
  // A trailing comment is allowed.
  line = line.substr(0, std::min(line.size(), line.find('#')));
  bool first = true;
  for (absl::string_view token :
       absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    if (first) {
      first = false;
      if (!ParseNumber(token, false, row.label)) {
        return LineError(
            line_number,
            absl::StrCat(
                "label is not a finite number within 1e18 in magnitude: '",
                token, "'"));
      }
      continue;
    }
    const size_t colon = token.find(':');
    uint32_t index;
    double v;
    if (colon == absl::string_view::npos ||
        !absl::SimpleAtoi(token.substr(0, colon), &index) || index == 0) {
      return LineError(line_number,
                       absl::StrCat("expected index:value with an index >= 1, "
                                    "got '",
                                    token, "'"));
    }
    if (!ParseNumber(token.substr(colon + 1), true, v)) {
      return LineError(
          line_number,
          absl::StrCat("feature ", index,
                       ": not a finite number within 1e18 in magnitude: '",
                       token.substr(colon + 1), "'"));
    }
    if (num_features != 0 && index > num_features) {
      return LineError(line_number, absl::StrCat("feature index ", index,
                                                 " is over ", num_features));
    }
    if (index > kMaxFeatures) {
      return LineError(line_number, absl::StrCat("feature index ", index,
                                                 " is over ", kMaxFeatures));
    }
    if (!row.entries.empty() && index - 1 <= row.entries.back().first) {
      return LineError(line_number,
                       absl::StrCat("feature index ", index,
                                    " is not above the one before it"));
    }
    row.entries.emplace_back(index - 1, static_cast<float>(v));
  }
  if (first) return LineError(line_number, "no label");
  return absl::OkStatus();
}

}  // namespace

absl::string_view DatasetFormatName(DatasetFormat format) {
  return format == DatasetFormat::kLibsvm ? "libsvm" : "csv";
}

absl::StatusOr<DatasetFormat> ParseDatasetFormat(absl::string_view name) {
  if (name == "csv") return DatasetFormat::kCsv;
  if (name == "libsvm" || name == "svmlight") return DatasetFormat::kLibsvm;
  return absl::InvalidArgumentError(
      absl::StrCat("dataset format must be csv or libsvm, not '", name, "'"));
}

absl::StatusOr<ParsedDataset> ParseDataset(absl::string_view text,
                                           const DatasetParseOptions& options) {
  const bool csv = options.format == DatasetFormat::kCsv;
  ParsedDataset out;
  std::vector<SparseRow> sparse;  // LIBSVM only: densified at the end
  uint32_t width = options.num_features;
  size_t label_index = 0, columns = 0;
  bool need_header = csv && options.has_header;
  if (!csv && options.has_header) {
    return absl::InvalidArgumentError("libsvm datasets have no header");
  }
  if (!options.label_column.empty() && !need_header) {
    return absl::InvalidArgumentError("a label column name needs a header");
  }
  const uint32_t ns = HashNamespace("");
  SparseRow row;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (need_header) {
      need_header = false;
      std::vector<absl::string_view> names = absl::StrSplit(line, ',');
      columns = names.size();
      if (options.label_column.empty()) continue;
      auto it = std::find_if(names.begin(), names.end(), [&](auto name) {
        return absl::StripAsciiWhitespace(name) == options.label_column;
      });
      if (it == names.end()) {
        return LineError(line_number, absl::StrCat("the header has no column '",
                                                   options.label_column, "'"));
      }
      label_index = it - names.begin();
      continue;
    }
    absl::Status status =
        csv ? ParseCsvRow(line, line_number, label_index, columns, row)
            : ParseLibsvmRow(line, line_number, options.num_features, row);
    if (!status.ok()) {
      if (!options.skip_bad_rows) return status;
      ++out.skipped_rows;
      if (out.skipped_reasons.size() < kMaxReasons) {
        out.skipped_reasons.emplace_back(status.message());
      }
      continue;
    }
    if (csv) {
      if (columns == 0) columns = row.entries.size() + 1;
      if (out.examples.size() == 0) {
        out.examples.num_features = row.entries.size();
      }
      for (const auto& [j, v] : row.entries) out.examples.values.push_back(v);
      out.examples.labels.push_back(row.label);
      out.examples.weights.push_back(1);
    } else if (options.hashed_indices) {
      for (const auto& [j, v] : row.entries) {
        out.examples.AddSparse(HashFeatureIndex(ns, j + 1), ns, v);
      }
      out.examples.Add(ExampleView{}, row.label);
    } else {
      if (!row.entries.empty()) {
        width = std::max(width, row.entries.back().first + 1);
      }
      sparse.push_back(std::move(row));
      row = SparseRow();
    }
  }
  if (!csv && !options.hashed_indices) {
    if (width == 0) width = 1;  // only labels: one all-zero feature
    ExampleBatch& b = out.examples;
    b.num_features = width;
    b.values.assign(sparse.size() * width, 0.0f);
    for (size_t i = 0; i < sparse.size(); ++i) {
      for (const auto& [j, v] : sparse[i].entries) b.values[i * width + j] = v;
      b.labels.push_back(sparse[i].label);
    }
    b.weights.assign(sparse.size(), 1.0f);
  }
  if (out.examples.size() == 0) {
    return absl::InvalidArgumentError(
        out.skipped_rows > 0 ? absl::StrCat("every row is malformed; first: ",
                                            out.skipped_reasons.front())
                             : "the dataset has no rows");
  }
  return out;
}

}  // namespace streamfit
