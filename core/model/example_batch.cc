#include "core/model/example_batch.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model/feature_hash.h"

namespace streamfit {
namespace {

std::string Describe(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return absl::StrCat(v);
}

// Describes a feature value that failed InRange.
std::string DescribeBadValue(double v) {
  if (!std::isfinite(v)) return Describe(v);
  return absl::StrCat(v, ", over the limit of 1e18 in magnitude");
}

// True for a finite value within kMaxAbsValue; one comparison, false for NaN.
inline bool InRange(double v) { return std::abs(v) <= kMaxAbsValue; }

// The namespace hashes of the config's interactions.
std::vector<std::pair<uint32_t, uint32_t>> InteractionHashes(
    const ModelConfig& config) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& [a, b] : config.interactions) {
    out.emplace_back(HashNamespace(a), HashNamespace(b));
  }
  return out;
}

// Sparse features plus interaction pairs, counted as LinearModel::Gather
// forms them (within one namespace, each unordered pair of distinct
// features once).
uint64_t CountCoordinates(
    const ExampleView& x,
    const std::vector<std::pair<uint32_t, uint32_t>>& interactions) {
  uint64_t n = x.hashes.size();
  for (const auto& [a, b] : interactions) {
    uint64_t na = 0, nb = 0;
    for (uint32_t ns : x.namespaces) {
      na += ns == a;
      nb += ns == b;
    }
    n += a == b ? na * (na - (na > 0)) / 2 : na * nb;
  }
  return n;
}

// Checks the work one example costs; errors start like CheckRow's.
absl::Status CheckCoordinates(
    const ExampleView& x, const ModelConfig& config,
    const std::vector<std::pair<uint32_t, uint32_t>>& interactions,
    const char* kind, size_t index) {
  if (x.hashes.empty()) return absl::OkStatus();
  if (config.optimizer == Optimizer::kRls) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " ", index,
                     ": the model's optimizer rls takes dense features only, "
                     "got ",
                     x.hashes.size(), " sparse or named features"));
  }
  const uint64_t n = CountCoordinates(x, interactions);
  const uint64_t outputs = NumOutputs(config);
  if (n > kMaxExampleCoordinates || n * outputs > kMaxExampleWork) {
    return absl::InvalidArgumentError(absl::StrCat(
        kind, " ", index, ": ", x.hashes.size(), " sparse features form ", n,
        " hashed coordinates with the model's interactions; the limit is ",
        std::min(kMaxExampleCoordinates, kMaxExampleWork / outputs),
        " per example (", kMaxExampleWork, " divided by ", outputs,
        " outputs, at most ", kMaxExampleCoordinates, ")"));
  }
  return absl::OkStatus();
}

// Checks one feature row; errors start with "<kind> <index>: <dense>" (for
// example "example 3: features.dense"), value j named <dense>[offset + j],
// built only on error (this is a hot path).
absl::Status CheckRow(std::span<const float> row, const ModelConfig& config,
                      const char* kind, size_t index, const char* dense,
                      size_t offset = 0) {
  auto where = [&] { return absl::StrCat(kind, " ", index, ": ", dense); };
  if (row.size() != config.num_features) {
    return absl::InvalidArgumentError(
        absl::StrCat(where(), " has ", row.size(), " values, the model has ",
                     config.num_features, " features"));
  }
  for (size_t j = 0; j < row.size(); ++j) {
    if (!InRange(row[j])) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "[", offset + j, "] is ", DescribeBadValue(row[j])));
    }
  }
  return absl::OkStatus();
}

// Checks a row's sparse part; errors start like CheckRow's.
absl::Status CheckSparse(const ExampleView& x, const char* kind, size_t index,
                         const char* field) {
  auto where = [&] { return absl::StrCat(kind, " ", index, ": ", field); };
  if (x.namespaces.size() != x.hashes.size() ||
      x.values.size() != x.hashes.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where(), "sparse arrays differ in length"));
  }
  for (size_t j = 0; j < x.values.size(); ++j) {
    if (!InRange(x.values[j])) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "sparse value ", j, " is ", DescribeBadValue(x.values[j])));
    }
  }
  return absl::OkStatus();
}

// `field` names the label ("label" or "dense_batch.labels[r]").
absl::Status CheckLabel(double label, const ModelConfig& config, size_t i,
                        absl::string_view field) {
  auto bad = [&](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "example ", i, ": ", field, " ", Describe(label), " ", why));
  };
  if (!std::isfinite(label)) return bad("is not finite");
  if (!InRange(label)) return bad("is over the limit of 1e18 in magnitude");
  switch (config.task) {
    case Task::kBinary:
      if (label != 0 && label != 1) return bad("must be 0 or 1 for binary");
      break;
    case Task::kMulticlass:
      if (label < 0 || label >= config.num_classes ||
          label != std::floor(label)) {
        return bad(
            absl::StrCat("must be a class in 0..", config.num_classes - 1)
                .c_str());
      }
      break;
    default:
      if (config.loss == LossKind::kPoisson && label < 0) {
        return bad("must be >= 0 for poisson loss");
      }
      break;
  }
  return absl::OkStatus();
}

}  // namespace

size_t ExampleBatch::ByteSize() const {
  return values.size() * sizeof(float) + labels.size() * sizeof(double) +
         weights.size() * sizeof(float) +
         sparse_offsets.size() * sizeof(uint32_t) +
         sparse_hashes.size() * sizeof(uint32_t) +
         sparse_namespaces.size() * sizeof(uint32_t) +
         sparse_values.size() * sizeof(float);
}

void ExampleBatch::Add(std::span<const float> features, double label,
                       float weight) {
  values.insert(values.end(), features.begin(), features.end());
  labels.push_back(label);
  weights.push_back(weight);
  if (!sparse_offsets.empty()) sparse_offsets.push_back(sparse_hashes.size());
}

void ExampleBatch::Add(const ExampleView& features, double label,
                       float weight) {
  for (size_t f = 0; f < features.hashes.size(); ++f) {
    AddSparse(features.hashes[f], features.namespaces[f], features.values[f]);
  }
  Add(features.dense, label, weight);
}

void ExampleBatch::AddSparse(uint32_t hash, uint32_t ns, float value) {
  // The examples so far have none: offsets start here, all 0.
  if (sparse_offsets.empty()) sparse_offsets.assign(size() + 1, 0);
  sparse_hashes.push_back(hash);
  sparse_namespaces.push_back(ns);
  sparse_values.push_back(value);
}

void ExampleBatch::ReserveSparse(size_t examples, size_t entries) {
  sparse_offsets.reserve(examples + 1);
  sparse_hashes.reserve(entries);
  sparse_namespaces.reserve(entries);
  sparse_values.reserve(entries);
}

absl::Status ValidateFeatures(std::span<const float> features,
                              const ModelConfig& config, size_t index) {
  return CheckRow(features, config, "features", index, "dense");
}

uint64_t HashedCoordinates(const ExampleView& x, const ModelConfig& config) {
  return CountCoordinates(x, InteractionHashes(config));
}

absl::Status ValidateFeatures(const ExampleView& features,
                              const ModelConfig& config, size_t index) {
  if (auto s = CheckRow(features.dense, config, "features", index, "dense");
      !s.ok()) {
    return s;
  }
  if (auto s = CheckSparse(features, "features", index, ""); !s.ok()) {
    return s;
  }
  if (features.hashes.empty()) return absl::OkStatus();
  return CheckCoordinates(features, config, InteractionHashes(config),
                          "features", index);
}

absl::Status ValidateBatch(const ExampleBatch& batch, const ModelConfig& config,
                           size_t packed_from) {
  if (batch.values.size() != batch.size() * batch.num_features ||
      batch.weights.size() != batch.size()) {
    return absl::InvalidArgumentError("malformed batch: inconsistent sizes");
  }
  if (!batch.sparse_offsets.empty()) {
    const size_t total = batch.sparse_hashes.size();
    if (batch.sparse_offsets.size() != batch.size() + 1 ||
        batch.sparse_offsets.front() != 0 ||
        batch.sparse_offsets.back() != total ||
        batch.sparse_namespaces.size() != total ||
        batch.sparse_values.size() != total) {
      return absl::InvalidArgumentError(
          "malformed batch: inconsistent sparse sizes");
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch.sparse_offsets[i] > batch.sparse_offsets[i + 1]) {
        return absl::InvalidArgumentError(
            "malformed batch: decreasing sparse offsets");
      }
    }
  }
  const std::vector<std::pair<uint32_t, uint32_t>> interactions =
      batch.sparse_offsets.empty()
          ? std::vector<std::pair<uint32_t, uint32_t>>()
          : InteractionHashes(config);
  for (size_t i = 0; i < batch.size(); ++i) {
    const bool packed = i >= packed_from;
    const size_t r = packed ? i - packed_from : 0;  // the packed row
    if (auto s = packed ? CheckRow(batch.row(i), config, "example", i,
                                   "dense_batch.values", r * batch.num_features)
                        : CheckRow(batch.row(i), config, "example", i,
                                   "features.dense");
        !s.ok()) {
      return s;
    }
    if (auto s = CheckSparse(batch.view(i), "example", i, "features.");
        !s.ok()) {
      return s;
    }
    if (auto s =
            CheckCoordinates(batch.view(i), config, interactions, "example", i);
        !s.ok()) {
      return s;
    }
    if (auto s = CheckLabel(
            batch.labels[i], config, i,
            packed ? absl::StrCat("dense_batch.labels[", r, "]") : "label");
        !s.ok()) {
      return s;
    }
    const float w = batch.weights[i];
    if (!InRange(w) || w < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "example ", i, ": ",
          packed ? absl::StrCat("dense_batch.weights[", r, "]") : "weight", " ",
          Describe(w), " must be finite, >= 0 and at most 1e18"));
    }
  }
  return absl::OkStatus();
}

}  // namespace streamfit
