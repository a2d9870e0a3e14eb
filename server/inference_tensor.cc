#include "server/inference_tensor.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace streamfit {
namespace {

using inference::InferTensorContents;

// Reads `count` little-endian values of type T from `bytes`.
template <typename T>
void ReadLittleEndian(const std::string& bytes, size_t count,
                      std::vector<T>& out) {
  out.resize(count);
  std::memcpy(out.data(), bytes.data(), count * sizeof(T));
  if constexpr (std::endian::native == std::endian::big) {
    for (T& v : out) {
      auto* b = reinterpret_cast<unsigned char*>(&v);
      std::reverse(b, b + sizeof(T));
    }
  }
}

// The number of elements in the typed contents fields other than field
// number `used_field` (0: all of them).
size_t OtherContents(const InferTensorContents& c, int used_field) {
  const int sizes[] = {c.bool_contents_size(),   c.int_contents_size(),
                       c.int64_contents_size(),  c.uint_contents_size(),
                       c.uint64_contents_size(), c.fp32_contents_size(),
                       c.fp64_contents_size(),   c.bytes_contents_size()};
  size_t total = 0;
  for (int field = 1; field <= 8; ++field) {
    if (field != used_field) total += static_cast<size_t>(sizes[field - 1]);
  }
  return total;
}

size_t TypedCount(const InferTensorContents& c) {
  return OtherContents(c, /*used_field=*/0);
}

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& s) {
  return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
}

}  // namespace

absl::StatusOr<InferRows> DecodeInferRows(
    const inference::ModelInferRequest& request, uint32_t num_features) {
  if (request.inputs_size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs: expected 1 input tensor '", kInferInputName,
                     "' [N, ", num_features, "], got ", request.inputs_size()));
  }
  const auto& input = request.inputs(0);
  if (input.name() != kInferInputName) {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs[0].name: '", input.name(),
                     "' is not an input of the model; its input is '",
                     kInferInputName, "'"));
  }
  const bool fp32 = input.datatype() == "FP32";
  if (!fp32 && input.datatype() != "FP64") {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs[0].datatype: '", input.datatype(),
                     "' is not supported; use FP32 or FP64"));
  }
  if (input.shape_size() != 2 || input.shape(0) < 0 ||
      input.shape(1) != static_cast<int64_t>(num_features)) {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs[0].shape: expected [N, ", num_features, "], got ",
                     ShapeString(input.shape())));
  }
  const size_t elem_size = fp32 ? sizeof(float) : sizeof(double);
  const uint64_t rows = static_cast<uint64_t>(input.shape(0));
  if (num_features > 0 &&
      rows > std::numeric_limits<size_t>::max() / elem_size / num_features) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inputs[0].shape: ", ShapeString(input.shape()), " is too large"));
  }
  const size_t count = rows * num_features;

  InferRows out;
  out.count = rows;
  std::vector<double> wide;  // FP64 input before rounding
  if (request.raw_input_contents_size() > 0) {
    if (request.raw_input_contents_size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("raw_input_contents: expected 1 entry (one per input), "
                       "got ",
                       request.raw_input_contents_size()));
    }
    if (TypedCount(input.contents()) != 0) {
      return absl::InvalidArgumentError(
          "inputs[0].contents: must be empty when raw_input_contents is set");
    }
    const std::string& raw = request.raw_input_contents(0);
    if (raw.size() != count * elem_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("raw_input_contents[0]: expected ", count * elem_size,
                       " bytes for ", input.datatype(), " ",
                       ShapeString(input.shape()), ", got ", raw.size()));
    }
    out.raw = true;
    if (fp32) {
      ReadLittleEndian(raw, count, out.values);
    } else {
      ReadLittleEndian(raw, count, wide);
    }
  } else {
    const InferTensorContents& c = input.contents();
    const int field = fp32 ? InferTensorContents::kFp32ContentsFieldNumber
                           : InferTensorContents::kFp64ContentsFieldNumber;
    const char* field_name = fp32 ? "fp32_contents" : "fp64_contents";
    if (OtherContents(c, field) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("inputs[0].contents: ", input.datatype(),
                       " data goes in ", field_name, " only"));
    }
    const size_t given = static_cast<size_t>(fp32 ? c.fp32_contents_size()
                                                  : c.fp64_contents_size());
    if (given != count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "inputs[0].contents.", field_name, ": expected ", count,
          " values for ", ShapeString(input.shape()), ", got ", given));
    }
    if (fp32) {
      out.values.assign(c.fp32_contents().begin(), c.fp32_contents().end());
    } else {
      wide.assign(c.fp64_contents().begin(), c.fp64_contents().end());
    }
  }
  if (!fp32) {
    out.values.resize(count);
    for (size_t i = 0; i < count; ++i) {
      out.values[i] = static_cast<float>(wide[i]);
    }
  }
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(out.values[i])) {
      const double given = fp32 ? out.values[i] : wide[i];
      return absl::InvalidArgumentError(absl::StrCat(
          "inputs[0]: row ", i / num_features, ", column ", i % num_features,
          " is ", given, ", not a finite float"));
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> RequestedOutputs(
    const inference::ModelInferRequest& request,
    const std::vector<std::string>& available) {
  if (request.outputs_size() == 0) return available;
  std::vector<std::string> names;
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < request.outputs_size(); ++i) {
    const std::string& name = request.outputs(i).name();
    if (std::find(available.begin(), available.end(), name) ==
        available.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("outputs[", i, "].name: '", name,
                       "' is not an output of the model; its outputs are ",
                       absl::StrJoin(available, ", ")));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "outputs[", i, "].name: '", name, "' is requested twice"));
    }
    names.push_back(name);
  }
  return names;
}

void AppendFp64Output(const std::string& name, std::vector<int64_t> shape,
                      std::span<const double> values, bool raw,
                      inference::ModelInferResponse* response) {
  auto* out = response->add_outputs();
  out->set_name(name);
  out->set_datatype("FP64");
  out->mutable_shape()->Add(shape.begin(), shape.end());
  if (!raw) {
    out->mutable_contents()->mutable_fp64_contents()->Add(values.begin(),
                                                          values.end());
    return;
  }
  std::string* bytes = response->add_raw_output_contents();
  bytes->resize(values.size() * sizeof(double));
  std::memcpy(bytes->data(), values.data(), bytes->size());
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = 0; i < values.size(); ++i) {
      std::reverse(bytes->data() + i * sizeof(double),
                   bytes->data() + (i + 1) * sizeof(double));
    }
  }
}

}  // namespace streamfit
