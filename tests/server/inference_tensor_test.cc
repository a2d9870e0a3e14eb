// Decoding Open Inference Protocol input tensors and encoding outputs.
#include "server/inference_tensor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "tests/testing/status_matchers.h"

namespace streamfit::testing {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

ModelInferRequest TypedRequest(const std::string& datatype,
                               std::vector<int64_t> shape,
                               std::vector<double> values) {
  ModelInferRequest request;
  auto* input = request.add_inputs();
  input->set_name("features");
  input->set_datatype(datatype);
  input->mutable_shape()->Add(shape.begin(), shape.end());
  for (double v : values) {
    if (datatype == "FP32") {
      input->mutable_contents()->add_fp32_contents(static_cast<float>(v));
    } else {
      input->mutable_contents()->add_fp64_contents(v);
    }
  }
  return request;
}

template <typename T>
ModelInferRequest RawRequest(const std::string& datatype,
                             std::vector<int64_t> shape,
                             const std::vector<T>& values) {
  ModelInferRequest request;
  auto* input = request.add_inputs();
  input->set_name("features");
  input->set_datatype(datatype);
  input->mutable_shape()->Add(shape.begin(), shape.end());
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());  // little-endian host
  request.add_raw_input_contents(bytes);
  return request;
}

TEST(InferenceTensorTest, DecodesTypedFp32AndFp64Rows) {
  for (const char* datatype : {"FP32", "FP64"}) {
    absl::StatusOr<InferRows> rows = DecodeInferRows(
        TypedRequest(datatype, {2, 3}, {1, 2, 3, 4.5, -5, 6}), 3);
    ASSERT_THAT(rows, IsOk()) << datatype;
    EXPECT_EQ(rows->count, 2u);
    EXPECT_FALSE(rows->raw);
    EXPECT_THAT(rows->values, ElementsAre(1, 2, 3, 4.5, -5, 6));
  }
}

TEST(InferenceTensorTest, DecodesRawLittleEndianRows) {
  absl::StatusOr<InferRows> f32 =
      DecodeInferRows(RawRequest<float>("FP32", {1, 2}, {0.25f, -8}), 2);
  ASSERT_THAT(f32, IsOk());
  EXPECT_TRUE(f32->raw);
  EXPECT_THAT(f32->values, ElementsAre(0.25f, -8));
  absl::StatusOr<InferRows> f64 =
      DecodeInferRows(RawRequest<double>("FP64", {2, 1}, {1.5, 1e-3}), 1);
  ASSERT_THAT(f64, IsOk());
  EXPECT_THAT(f64->values, ElementsAre(1.5f, 1e-3f));
}

TEST(InferenceTensorTest, AcceptsAnEmptyBatch) {
  absl::StatusOr<InferRows> rows =
      DecodeInferRows(TypedRequest("FP32", {0, 4}, {}), 4);
  ASSERT_THAT(rows, IsOk());
  EXPECT_EQ(rows->count, 0u);
}

TEST(InferenceTensorTest, RefusesWrongInputCountAndName) {
  ModelInferRequest none;
  EXPECT_THAT(DecodeInferRows(none, 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inputs: expected 1 input tensor")));
  ModelInferRequest two = TypedRequest("FP32", {1, 2}, {1, 2});
  *two.add_inputs() = two.inputs(0);
  EXPECT_THAT(DecodeInferRows(two, 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 2")));
  ModelInferRequest renamed = TypedRequest("FP32", {1, 2}, {1, 2});
  renamed.mutable_inputs(0)->set_name("input-0");
  EXPECT_THAT(DecodeInferRows(renamed, 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inputs[0].name: 'input-0'")));
}

TEST(InferenceTensorTest, RefusesOtherDatatypes) {
  ModelInferRequest request = TypedRequest("FP32", {1, 1}, {1});
  request.mutable_inputs(0)->set_datatype("INT64");
  EXPECT_THAT(DecodeInferRows(request, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inputs[0].datatype: 'INT64'")));
}

TEST(InferenceTensorTest, RefusesShapesThatAreNotRowsOfTheModelWidth) {
  for (std::vector<int64_t> shape :
       std::vector<std::vector<int64_t>>{{3}, {1, 3, 1}, {1, 2}, {-1, 3}}) {
    EXPECT_THAT(DecodeInferRows(TypedRequest("FP32", shape, {1, 2, 3}), 3),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("inputs[0].shape: expected [N, 3]")));
  }
  EXPECT_THAT(
      DecodeInferRows(
          TypedRequest("FP32", {std::numeric_limits<int64_t>::max(), 3}, {}),
          3),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too large")));
}

TEST(InferenceTensorTest, RefusesContentsOfTheWrongSizeOrField) {
  EXPECT_THAT(DecodeInferRows(TypedRequest("FP32", {2, 2}, {1, 2, 3}), 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inputs[0].contents.fp32_contents: expected "
                                 "4 values for [2, 2], got 3")));
  ModelInferRequest wrong_field = TypedRequest("FP64", {1, 1}, {});
  wrong_field.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
  EXPECT_THAT(DecodeInferRows(wrong_field, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("FP64 data goes in fp64_contents only")));
  EXPECT_THAT(
      DecodeInferRows(RawRequest<float>("FP64", {1, 2}, {1, 2}), 2),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("raw_input_contents[0]: expected 16 bytes for FP64 "
                         "[1, 2], got 8")));
  ModelInferRequest both = RawRequest<float>("FP32", {1, 1}, {1});
  both.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
  EXPECT_THAT(DecodeInferRows(both, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inputs[0].contents: must be empty")));
  ModelInferRequest extra = RawRequest<float>("FP32", {1, 1}, {1});
  extra.add_raw_input_contents("");
  EXPECT_THAT(DecodeInferRows(extra, 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("raw_input_contents: expected 1 entry")));
}

TEST(InferenceTensorTest, RefusesValuesThatAreNotFiniteFloats) {
  EXPECT_THAT(DecodeInferRows(TypedRequest("FP32", {2, 2}, {1, 2, 3, NAN}), 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inputs[0]: row 1, column 1 is nan")));
  EXPECT_THAT(DecodeInferRows(TypedRequest("FP64", {1, 2}, {1e300, 0}), 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("row 0, column 0 is 1e+300")));
}

TEST(InferenceTensorTest, RequestedOutputsAreCheckedByName) {
  const std::vector<std::string> available = {"predictions", "probabilities"};
  ModelInferRequest request;
  EXPECT_THAT(*RequestedOutputs(request, available),
              ElementsAre("predictions", "probabilities"));
  request.add_outputs()->set_name("probabilities");
  EXPECT_THAT(*RequestedOutputs(request, available),
              ElementsAre("probabilities"));
  request.add_outputs()->set_name("probabilities");
  EXPECT_THAT(RequestedOutputs(request, available),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("outputs[1].name: 'probabilities' is "
                                 "requested twice")));
  request.mutable_outputs(1)->set_name("scores");
  EXPECT_THAT(
      RequestedOutputs(request, available),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("outputs[1].name: 'scores' is not an output")));
}

TEST(InferenceTensorTest, AppendsTypedOrRawFp64Outputs) {
  const std::vector<double> values = {0.5, -2};
  ModelInferResponse typed;
  AppendFp64Output("predictions", {2}, values, /*raw=*/false, &typed);
  ASSERT_EQ(typed.outputs_size(), 1);
  EXPECT_EQ(typed.outputs(0).datatype(), "FP64");
  EXPECT_THAT(typed.outputs(0).shape(), ElementsAre(2));
  EXPECT_THAT(typed.outputs(0).contents().fp64_contents(),
              ElementsAre(0.5, -2));
  EXPECT_EQ(typed.raw_output_contents_size(), 0);

  ModelInferResponse raw;
  AppendFp64Output("predictions", {2}, values, /*raw=*/true, &raw);
  ASSERT_EQ(raw.raw_output_contents_size(), 1);
  EXPECT_EQ(raw.outputs(0).contents().fp64_contents_size(), 0);
  std::vector<double> decoded(2);
  ASSERT_EQ(raw.raw_output_contents(0).size(), 16u);
  std::memcpy(decoded.data(), raw.raw_output_contents(0).data(), 16);
  EXPECT_THAT(decoded, ElementsAre(0.5, -2));
}

}  // namespace
}  // namespace streamfit::testing
