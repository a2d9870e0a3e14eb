// Translation between Open Inference Protocol tensors and streamfit's dense
// rows and predictions. Pure functions; thread-safe.
//
// A streamfit model takes one input tensor named "features": FP32 or FP64,
// shape [N, num_features], in typed `contents` (fp32_contents/fp64_contents)
// or in raw_input_contents (row-major, little-endian). FP64 values are
// rounded to float, the precision streamfit's features have. Outputs are
// FP64: "predictions" [N] (Prediction.value) and, for classifiers that give
// probabilities, "probabilities" [N, classes].
#ifndef STREAMFIT_SERVER_INFERENCE_TENSOR_H_
#define STREAMFIT_SERVER_INFERENCE_TENSOR_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/grpc_service.pb.h"

namespace streamfit {

inline constexpr char kInferInputName[] = "features";
inline constexpr char kInferPredictionsName[] = "predictions";
inline constexpr char kInferProbabilitiesName[] = "probabilities";

// The rows of a request's input tensor.
struct InferRows {
  size_t count = 0;           // N
  std::vector<float> values;  // N * num_features, row-major
  bool raw = false;           // given in raw_input_contents
};

// Decodes and validates the one input tensor of `request` for a model with
// `num_features` dense inputs. INVALID_ARGUMENT naming the offending field
// (inputs, inputs[0].name, .datatype, .shape, .contents,
// raw_input_contents[0]) for a wrong count, name, datatype, shape or content
// size, and for a value that is not a finite float (naming row and column).
absl::StatusOr<InferRows> DecodeInferRows(
    const inference::ModelInferRequest& request, uint32_t num_features);

// The output names the request asks for, in its order, each one of
// `available`; all of `available` when it names none. INVALID_ARGUMENT
// naming outputs[i].name for an unknown or repeated name.
absl::StatusOr<std::vector<std::string>> RequestedOutputs(
    const inference::ModelInferRequest& request,
    const std::vector<std::string>& available);

// Appends an FP64 output tensor: typed contents, or when `raw` an entry of
// raw_output_contents (little-endian).
void AppendFp64Output(const std::string& name, std::vector<int64_t> shape,
                      std::span<const double> values, bool raw,
                      inference::ModelInferResponse* response);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_INFERENCE_TENSOR_H_
