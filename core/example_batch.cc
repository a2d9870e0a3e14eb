#include "core/example_batch.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace streamfit {
namespace {

std::string Describe(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return absl::StrCat(v);
}

// Checks one feature row; errors start with "<kind> <index>: <field>" (for
// example "example 3: features."), built only on error (this is a hot path).
absl::Status CheckRow(std::span<const float> row, const ModelConfig& config,
                      const char* kind, size_t index, const char* field) {
  auto where = [&] { return absl::StrCat(kind, " ", index, ": ", field); };
  if (row.size() != config.num_features) {
    return absl::InvalidArgumentError(absl::StrCat(
        where(), "dense has ", row.size(), " values, the model has ",
        config.num_features, " features"));
  }
  for (size_t j = 0; j < row.size(); ++j) {
    if (!std::isfinite(row[j])) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "dense[", j, "] is ", Describe(row[j])));
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
    if (!std::isfinite(x.values[j])) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "sparse value ", j, " is ", Describe(x.values[j])));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLabel(double label, const ModelConfig& config, size_t i) {
  auto bad = [&](const char* why) {
    return absl::InvalidArgumentError(
        absl::StrCat("example ", i, ": label ", Describe(label), " ", why));
  };
  if (!std::isfinite(label)) return bad("is not finite");
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
  return CheckRow(features, config, "features", index, "");
}

absl::Status ValidateFeatures(const ExampleView& features,
                              const ModelConfig& config, size_t index) {
  if (auto s = CheckRow(features.dense, config, "features", index, "");
      !s.ok()) {
    return s;
  }
  return CheckSparse(features, "features", index, "");
}

absl::Status ValidateBatch(const ExampleBatch& batch,
                           const ModelConfig& config) {
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
  for (size_t i = 0; i < batch.size(); ++i) {
    if (auto s = CheckRow(batch.row(i), config, "example", i, "features.");
        !s.ok()) {
      return s;
    }
    if (auto s = CheckSparse(batch.view(i), "example", i, "features.");
        !s.ok()) {
      return s;
    }
    if (auto s = CheckLabel(batch.labels[i], config, i); !s.ok()) return s;
    const float w = batch.weights[i];
    if (!std::isfinite(w) || w < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "example ", i, ": weight ", Describe(w), " must be finite and >= 0"));
    }
  }
  return absl::OkStatus();
}

}  // namespace streamfit
