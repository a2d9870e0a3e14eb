// Translation between the v1 protocol messages and core types, and from
// absl::Status to grpc::Status. The only place that knows both.
#ifndef STREAMFIT_SERVER_PROTO_CONVERT_H_
#define STREAMFIT_SERVER_PROTO_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"
#include "core/model/model_slot.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

grpc::Status ToGrpcStatus(const absl::Status& status);

ModelConfig FromProto(const v1::ModelConfig& proto);
v1::ModelConfig ToProto(const ModelConfig& config);
void ToProto(const MetricsSummary& metrics, v1::ModelMetrics* proto);

// The examples of one Observe message (`examples`, then `dense_batch`) as a
// batch for a model with `config`. INVALID_ARGUMENT (naming the example
// index, counted across both, and the field) if any example is invalid; an
// importance weight of 0 means 1.
absl::StatusOr<ExampleBatch> ToExampleBatch(const v1::ObserveRequest& request,
                                            const ModelConfig& config);

// Answers `request` from one published state. INVALID_ARGUMENT (naming the
// input index) if any input is invalid; `response` is then unspecified.
absl::Status PredictFromState(const LinearModel& state,
                              const v1::PredictRequest& request,
                              v1::PredictResponse* response);

void ToSnapshot(const std::string& name, const LinearModel& state,
                v1::ModelSnapshot* snapshot);
void ToModelInfo(const std::string& name, const LinearModel& state,
                 v1::ModelInfo* info);
// The challengers of `slot`, compared over its champion's promote_window,
// and the ones it dropped.
void ToProto(
    const PublishedSlot& slot,
    google::protobuf::RepeatedPtrField<v1::Challenger>* challengers,
    google::protobuf::RepeatedPtrField<v1::DroppedChallenger>* dropped);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_PROTO_CONVERT_H_
