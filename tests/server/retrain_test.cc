// Datasets and retrain jobs over gRPC: uploads, bad inputs, the G4
// swap with a producer streaming throughout, Predict during a retrain,
// cancel, swap policies and restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/batch_trainer.h"
#include "core/data/dataset_reader.h"
#include "core/model/model_trainer.h"
#include "core/storage/file_util.h"
#include "server/proto_convert.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr auto kWait = std::chrono::seconds(60);

// `n` rows "label,x0,x1,x2" of y = 3 x0 - 2 x1 + 0.5 x2 + 1 + noise.
std::string DatasetCsv(int n, uint32_t seed) {
  std::string out;
  for (const v1::Example& e : LinearExamples(n, seed)) {
    absl::StrAppend(&out, e.label());
    for (float v : e.features().dense()) absl::StrAppend(&out, ",", v);
    out += "\n";
  }
  return out;
}

class RetrainTest : public ServerTest {
 protected:
  grpc::Status Upload(const std::string& bytes, v1::UploadDatasetRequest spec,
                      v1::DatasetInfo* info, size_t chunk = 1000) {
    grpc::ClientContext context;
    auto writer = stub_->UploadDataset(&context, info);
    for (size_t at = 0; at == 0 || at < bytes.size(); at += chunk) {
      spec.set_data(bytes.substr(at, chunk));
      if (!writer->Write(spec)) break;
      spec.Clear();
    }
    writer->WritesDone();
    return writer->Finish();
  }

  v1::DatasetInfo UploadOk(const std::string& bytes) {
    v1::UploadDatasetRequest spec;
    spec.set_total_bytes(bytes.size());
    v1::DatasetInfo info;
    grpc::Status status = Upload(bytes, spec, &info);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info;
  }

  static v1::RetrainRequest Request(const std::string& model,
                                    const std::string& dataset_id,
                                    const std::string& algorithm) {
    v1::RetrainRequest request;
    request.set_model(model);
    request.set_dataset_id(dataset_id);
    request.set_algorithm(algorithm);
    return request;
  }

  grpc::Status Retrain(const v1::RetrainRequest& request, v1::RetrainJob* job) {
    grpc::ClientContext context;
    return stub_->Retrain(&context, request, job);
  }

  // Watches a job to its end; returns its last state.
  v1::RetrainJob WatchToEnd(const std::string& id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kWait);
    v1::GetRetrainJobRequest request;
    request.set_id(id);
    auto reader = stub_->WatchRetrainJob(&context, request);
    v1::RetrainJob job, last;
    while (reader->Read(&job)) last = job;
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return last;
  }

  v1::RetrainJob GetJob(const std::string& id, grpc::Status* status) {
    grpc::ClientContext context;
    v1::GetRetrainJobRequest request;
    request.set_id(id);
    v1::RetrainJob job;
    *status = stub_->GetRetrainJob(&context, request, &job);
    return job;
  }

  v1::ModelSnapshot Snap(const std::string& model) {
    grpc::ClientContext context;
    v1::SnapshotRequest request;
    request.set_model(model);
    v1::ModelSnapshot snapshot;
    EXPECT_TRUE(stub_->Snapshot(&context, request, &snapshot).ok());
    return snapshot;
  }

  // Files in the dataset directory.
  std::vector<std::string> DatasetFiles() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(data_dir_ / "datasets", ec)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(RetrainTest, UploadListDelete) {
  const std::string csv = "y,a,b\n1,2,3\n4,5,6\n";
  v1::UploadDatasetRequest spec;
  spec.set_has_header(true);
  spec.set_label_column("b");
  spec.set_name("tiny");
  v1::DatasetInfo info;
  ASSERT_TRUE(Upload(csv, spec, &info, 5).ok());
  EXPECT_EQ(info.rows(), 2u);
  EXPECT_EQ(info.num_features(), 2u);
  EXPECT_EQ(info.bytes(), csv.size());
  EXPECT_EQ(info.sha256().size(), 64u);
  EXPECT_EQ(info.name(), "tiny");
  EXPECT_THAT(info.id(), ::testing::StartsWith("ds-"));
  EXPECT_EQ(DatasetFiles(), (std::vector<std::string>{info.id() + ".data",
                                                      info.id() + ".meta"}));
  {
    grpc::ClientContext context;
    v1::ListDatasetsResponse list;
    ASSERT_TRUE(
        stub_->ListDatasets(&context, v1::ListDatasetsRequest(), &list).ok());
    ASSERT_EQ(list.datasets_size(), 1);
    EXPECT_EQ(list.datasets(0).id(), info.id());
  }
  for (grpc::StatusCode expected :
       {grpc::StatusCode::OK, grpc::StatusCode::NOT_FOUND}) {
    grpc::ClientContext context;
    v1::DeleteDatasetRequest request;
    request.set_id(info.id());
    v1::DeleteDatasetResponse response;
    EXPECT_EQ(stub_->DeleteDataset(&context, request, &response).error_code(),
              expected);
  }
  EXPECT_TRUE(DatasetFiles().empty());
}

TEST_F(RetrainTest, UploadLibsvmAndExampleStream) {
  v1::UploadDatasetRequest spec;
  spec.set_format(v1::DATASET_FORMAT_LIBSVM);
  v1::DatasetInfo info;
  ASSERT_TRUE(Upload("1 1:1 3:2\n0 2:5\n", spec, &info).ok());
  EXPECT_EQ(info.rows(), 2u);
  EXPECT_EQ(info.num_features(), 3u);

  std::string stream;
  for (const v1::Example& e : LinearExamples(10, 3)) {
    const std::string bytes = e.SerializeAsString();
    stream += static_cast<char>(bytes.size());  // < 128: a one-byte varint
    stream += bytes;
  }
  spec.set_format(v1::DATASET_FORMAT_EXAMPLES);
  ASSERT_TRUE(Upload(stream, spec, &info).ok());
  EXPECT_EQ(info.rows(), 10u);
  EXPECT_EQ(info.num_features(), 3u);
  // Truncated in the middle of a message.
  grpc::Status status =
      Upload(stream.substr(0, stream.size() - 3), spec, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("message 9"));
  // An example with a named feature is refused, not cut to its dense part.
  v1::Example named = LinearExamples(1, 3)[0];
  v1::NamedFeature* f = named.mutable_features()->add_named();
  f->set_namespace_("user");
  f->set_name("u1");
  const std::string bytes = named.SerializeAsString();
  status =
      Upload(stream + static_cast<char>(bytes.size()) + bytes, spec, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("message 10: has sparse or named features"));
}

TEST_F(RetrainTest, BadUploadsLeaveNoFiles) {
  v1::DatasetInfo info;
  v1::UploadDatasetRequest spec;
  // A malformed row, named by line.
  grpc::Status status = Upload("1,2\n3,4\n5,oops\n", spec, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("line 3"));
  // ... or skipped and counted when asked.
  spec.set_skip_bad_rows(true);
  ASSERT_TRUE(Upload("1,2\n3,4\n5,oops\n", spec, &info).ok());
  EXPECT_EQ(info.rows(), 2u);
  EXPECT_EQ(info.skipped_rows(), 1u);
  ASSERT_EQ(info.skipped_reasons_size(), 1);
  EXPECT_THAT(info.skipped_reasons(0), HasSubstr("line 3"));
  const std::vector<std::string> kept = DatasetFiles();

  // Truncated: fewer bytes than announced.
  spec = v1::UploadDatasetRequest();
  spec.set_total_bytes(1000);
  status = Upload("1,2\n3,4\n", spec, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(status.error_message(), HasSubstr("truncated"));
  // A wrong checksum.
  spec = v1::UploadDatasetRequest();
  spec.set_sha256(std::string(64, '0'));
  status = Upload("1,2\n3,4\n", spec, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS);
  // Cancelled by the client mid-stream.
  {
    grpc::ClientContext context;
    auto writer = stub_->UploadDataset(&context, &info);
    v1::UploadDatasetRequest chunk;
    chunk.set_data("1,2\n");
    ASSERT_TRUE(writer->Write(chunk));
    // Cancel once the server holds the upload's temporary file (it creates
    // it on its file worker, so it may come after the client's first write).
    for (int i = 0; i < 500 && DatasetFiles() == kept; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(DatasetFiles(), kept);
    context.TryCancel();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // The cancelled upload's file goes when the server ends its call.
  for (int i = 0; i < 500 && DatasetFiles() != kept; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(DatasetFiles(), kept);

  // Over the size limit.
  StreamfitServer::Options options;
  options.max_dataset_bytes = 100;
  Restart(options);
  status = Upload(DatasetCsv(50, 1), v1::UploadDatasetRequest(), &info, 30);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("100 bytes"));
  EXPECT_EQ(DatasetFiles(), kept);
}

TEST_F(RetrainTest, BadRetrainRequests) {
  Create("m", v1::TASK_REGRESSION, 3);
  Create("b", v1::TASK_BINARY, 3);
  Create("wide", v1::TASK_REGRESSION, 5);
  // A model that has learned a named feature: a dense fit would drop it.
  Create("hashed", v1::TASK_REGRESSION, 3);
  {
    v1::ObserveRequest message;
    message.set_model("hashed");
    for (double label : {4.0, 1.0, 7.0}) {
      v1::Example* e = message.add_examples();
      for (float x : {1.0f, 2.0f, 3.0f}) e->mutable_features()->add_dense(x);
      v1::NamedFeature* f = e->mutable_features()->add_named();
      f->set_namespace_("user");
      f->set_name("u7");
      e->set_label(label);
    }
    v1::ObserveResponse response;
    ASSERT_TRUE(Observe({message}, &response).ok());
  }
  const v1::DatasetInfo info = UploadOk(DatasetCsv(100, 1));
  struct Case {
    std::string model, dataset, algorithm;
    double holdout;
    grpc::StatusCode code;
    std::string message;
  } cases[] = {
      {"nope", info.id(), "", 0, grpc::StatusCode::NOT_FOUND, "model 'nope'"},
      {"m", "ds-0123", "", 0, grpc::StatusCode::NOT_FOUND, "ds-0123"},
      {"m", "../etc", "", 0, grpc::StatusCode::INVALID_ARGUMENT, "dataset id"},
      {"wide", info.id(), "", 0, grpc::StatusCode::INVALID_ARGUMENT,
       "has 3 features; model 'wide' takes 5"},
      {"b", info.id(), "least_squares", 0, grpc::StatusCode::INVALID_ARGUMENT,
       "regression"},
      {"m", info.id(), "newton", 0, grpc::StatusCode::INVALID_ARGUMENT,
       "algorithm"},
      {"m", info.id(), "", 1.0, grpc::StatusCode::INVALID_ARGUMENT,
       "holdout_fraction"},
      {"hashed", info.id(), "", 0, grpc::StatusCode::FAILED_PRECONDITION,
       "has learned hashed or named features"},
  };
  for (const Case& c : cases) {
    v1::RetrainRequest request;
    request.set_model(c.model);
    request.set_dataset_id(c.dataset);
    request.set_algorithm(c.algorithm);
    request.set_holdout_fraction(c.holdout);
    v1::RetrainJob job;
    grpc::Status status = Retrain(request, &job);
    EXPECT_EQ(status.error_code(), c.code) << c.message;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
  // A binary model and a dataset whose labels are not 0/1: the job fails.
  v1::RetrainRequest request;
  request.set_model("b");
  request.set_dataset_id(info.id());
  v1::RetrainJob job;
  ASSERT_TRUE(Retrain(request, &job).ok());
  job = WatchToEnd(job.id());
  EXPECT_EQ(job.state(), v1::RETRAIN_FAILED);
  EXPECT_THAT(job.error(), HasSubstr("example 0: label"));
  EXPECT_EQ(Snap("b").model_version(), 0u);
}

// G4: a producer streams samples throughout the retrain; after the swap the
// model equals fit(dataset) followed by the samples learned since the job's
// cutoff, bit for bit. Predict from several threads never fails meanwhile.
TEST_F(RetrainTest, SwapReplaysConcurrentSamplesBitEqualAndPredictNeverFails) {
  const v1::ModelInfo model = Create("m", v1::TASK_REGRESSION, 3);
  const std::string csv = DatasetCsv(20000, 7);
  const v1::DatasetInfo info = UploadOk(csv);
  const std::vector<v1::Example> samples = LinearExamples(200000, 99);
  std::atomic<bool> job_done{false};
  std::atomic<size_t> sent{0};

  std::atomic<bool> done{false};
  std::atomic<int> predict_errors{0}, predictions{0};
  std::vector<std::thread> predictors;
  for (int t = 0; t < 3; ++t) {
    predictors.emplace_back([&] {
      auto stub = v1::Learner::NewStub(grpc::CreateChannel(
          server_->address(), grpc::InsecureChannelCredentials()));
      v1::PredictRequest request;
      request.set_model("m");
      *request.add_features() = samples[0].features();
      while (!done) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(10));
        v1::PredictResponse response;
        if (!stub->Predict(&context, request, &response).ok() ||
            response.predictions_size() != 1) {
          ++predict_errors;
        }
        ++predictions;
      }
    });
  }
  // The producer: messages of 20 samples, in order, before, during and
  // after the job (10 messages after it ended).
  std::thread producer([&] {
    grpc::ClientContext context;
    v1::ObserveResponse response;
    auto writer = stub_->Observe(&context, &response);
    int after = 0;
    for (size_t i = 0; i + 20 <= samples.size() && after < 10; i += 20) {
      if (job_done) ++after;
      if (!writer->Write(Message("m", samples, i, i + 20))) break;
      sent = i + 20;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    writer->WritesDone();
    EXPECT_TRUE(writer->Finish().ok());
  });

  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  v1::RetrainRequest request = Request("m", info.id(), "minibatch_sgd");
  request.set_epochs(100);
  request.set_seed(5);
  v1::RetrainJob job;
  ASSERT_TRUE(Retrain(request, &job).ok());
  job = WatchToEnd(job.id());
  job_done = true;
  producer.join();
  done = true;
  for (auto& t : predictors) t.join();

  ASSERT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  EXPECT_TRUE(job.swapped());
  EXPECT_EQ(predict_errors, 0);
  EXPECT_GT(predictions, 0);
  EXPECT_EQ(job.replayed_samples(), job.swap_version() - job.cutoff_version());
  // Samples arrived before the job, during it (replayed) and after the swap.
  EXPECT_GT(job.cutoff_version(), 0u);
  EXPECT_GT(job.replayed_samples(), 0u);
  EXPECT_GT(sent.load(), job.swap_version());
  std::cerr << "cutoff " << job.cutoff_version() << ", swap at "
            << job.swap_version() << ", " << predictions
            << " predictions during the test\n";

  // The expected model, built offline.
  absl::StatusOr<ParsedDataset> data = ParseDataset(csv, {});
  ASSERT_TRUE(data.ok());
  const ModelConfig config = FromProto(model.config());
  FitOptions fit;
  fit.algorithm = FitAlgorithm::kMinibatchSgd;
  fit.epochs = 100;
  fit.seed = 5;
  absl::StatusOr<LinearModel> fitted = Fit(config, data->examples, fit);
  ASSERT_TRUE(fitted.ok());
  absl::StatusOr<LinearModel> from_cutoff = LinearModel::FromState(
      config, job.cutoff_version(), fitted->ExportState());
  ASSERT_TRUE(from_cutoff.ok());
  ModelTrainer expected(*std::move(from_cutoff));
  for (size_t i = job.cutoff_version(); i < sent; ++i) {
    const auto& d = samples[i].features().dense();
    expected.Learn({d.data(), static_cast<size_t>(d.size())},
                   samples[i].label(), 1);
  }
  // Wait until every sample is applied and published.
  v1::PredictRequest wait;
  wait.set_model("m");
  wait.set_min_version(sent);
  *wait.add_features() = samples[0].features();
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kWait);
    v1::PredictResponse response;
    ASSERT_TRUE(stub_->Predict(&context, wait, &response).ok());
  }
  const v1::ModelSnapshot snapshot = Snap("m");
  EXPECT_EQ(snapshot.model_version(), sent);
  const std::vector<NamedTensor> want = expected.model().ExportState();
  ASSERT_EQ(snapshot.state_size(), static_cast<int>(want.size()));
  for (size_t k = 0; k < want.size(); ++k) {
    const v1::Tensor& got = snapshot.state(k);
    EXPECT_EQ(got.name(), want[k].name);
    EXPECT_EQ(std::vector<double>(got.values().begin(), got.values().end()),
              want[k].values)
        << want[k].name;
  }
}

TEST_F(RetrainTest, CancelLeavesModelUntouched) {
  Create("m", v1::TASK_REGRESSION, 3);
  const v1::DatasetInfo info = UploadOk(DatasetCsv(20000, 2));
  v1::RetrainRequest request = Request("m", info.id(), "minibatch_sgd");
  request.set_epochs(1000000);
  v1::RetrainJob job;
  ASSERT_TRUE(Retrain(request, &job).ok());
  // A second job for the same model is refused while this one runs.
  v1::RetrainJob second;
  EXPECT_EQ(Retrain(request, &second).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Cancel once it is fitting.
  for (int i = 0; i < 500; ++i) {
    grpc::Status status;
    if (GetJob(job.id(), &status).progress().step() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    grpc::ClientContext context;
    v1::CancelRetrainJobRequest cancel;
    cancel.set_id(job.id());
    v1::RetrainJob response;
    ASSERT_TRUE(stub_->CancelRetrainJob(&context, cancel, &response).ok());
  }
  job = WatchToEnd(job.id());
  EXPECT_EQ(job.state(), v1::RETRAIN_CANCELLED);
  EXPECT_FALSE(job.swapped());
  EXPECT_EQ(Snap("m").model_version(), 0u);
  EXPECT_EQ(Snap("m").weights(0), 0);
  grpc::Status status;
  GetJob("job-nope", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RetrainTest, SwapPoliciesAndHoldoutMetrics) {
  Create("m", v1::TASK_REGRESSION, 3);
  const v1::DatasetInfo info = UploadOk(DatasetCsv(2000, 3));
  v1::RetrainRequest request = Request("m", info.id(), "least_squares");
  request.set_holdout_fraction(0.25);
  request.set_swap_policy(v1::SWAP_NEVER);
  v1::RetrainJob job;
  ASSERT_TRUE(Retrain(request, &job).ok());
  job = WatchToEnd(job.id());
  ASSERT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  EXPECT_FALSE(job.swapped());
  EXPECT_EQ(job.metrics().holdout_rows(), 500u);
  EXPECT_EQ(job.metrics().train_rows(), 1500u);
  // The fresh live model predicts 0: far worse than the fit (noise 0.1).
  EXPECT_LT(job.metrics().new_holdout_loss(), 0.05);
  EXPECT_GT(job.metrics().live_holdout_loss(), 1);
  EXPECT_EQ(Snap("m").weights(0), 0);

  request.set_swap_policy(v1::SWAP_IF_BETTER);
  ASSERT_TRUE(Retrain(request, &job).ok());
  job = WatchToEnd(job.id());
  ASSERT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  EXPECT_TRUE(job.swapped());
  EXPECT_NEAR(Snap("m").weights(0), 3, 0.05);
  // Now live is the fit: not better again, so no swap.
  ASSERT_TRUE(Retrain(request, &job).ok());
  job = WatchToEnd(job.id());
  EXPECT_FALSE(job.swapped());
  EXPECT_EQ(job.metrics().new_holdout_loss(),
            job.metrics().live_holdout_loss());

  grpc::ClientContext context;
  v1::ListRetrainJobsResponse list;
  ASSERT_TRUE(
      stub_->ListRetrainJobs(&context, v1::ListRetrainJobsRequest(), &list)
          .ok());
  EXPECT_EQ(list.jobs_size(), 3);
}

// The sample log holds samples, not fits: a swap must be checkpointed, or a
// restart would bring back the model from before it (same version).
TEST_F(RetrainTest, SwappedModelSurvivesARestart) {
  Create("m", v1::TASK_REGRESSION, 3);
  const v1::DatasetInfo info = UploadOk(DatasetCsv(2000, 3));
  v1::RetrainRequest request = Request("m", info.id(), "least_squares");
  v1::RetrainJob job;
  ASSERT_TRUE(Retrain(request, &job).ok());
  job = WatchToEnd(job.id());
  ASSERT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  ASSERT_TRUE(job.swapped());
  const v1::ModelSnapshot swapped = Snap("m");
  EXPECT_NEAR(swapped.weights(0), 3, 0.05);

  Restart();
  const v1::ModelSnapshot recovered = Snap("m");
  EXPECT_EQ(recovered.model_version(), swapped.model_version());
  ASSERT_EQ(recovered.state_size(), swapped.state_size());
  for (int i = 0; i < swapped.state_size(); ++i) {
    EXPECT_EQ(recovered.state(i).SerializeAsString(),
              swapped.state(i).SerializeAsString())
        << swapped.state(i).name();
  }
}

TEST_F(RetrainTest, RestartMarksUnfinishedJobsAborted) {
  Create("m", v1::TASK_REGRESSION, 3);
  const v1::DatasetInfo info = UploadOk(DatasetCsv(20000, 4));
  v1::RetrainRequest request = Request("m", info.id(), "minibatch_sgd");
  request.set_epochs(1000000);
  v1::RetrainJob job;
  ASSERT_TRUE(Retrain(request, &job).ok());
  // A record left RUNNING by a crash.
  v1::RetrainJob crashed;
  crashed.set_id("job-1-0");
  crashed.set_state(v1::RETRAIN_RUNNING);
  ASSERT_TRUE(WriteFileAtomically((data_dir_ / "jobs" / "job-1-0.job").string(),
                                  crashed.SerializeAsString())
                  .ok());
  Restart();
  for (const std::string& id : {job.id(), std::string("job-1-0")}) {
    grpc::Status status;
    const v1::RetrainJob after = GetJob(id, &status);
    ASSERT_TRUE(status.ok()) << id;
    EXPECT_EQ(after.state(), v1::RETRAIN_ABORTED) << id;
    EXPECT_THAT(after.error(), HasSubstr("server stopped")) << id;
  }
  // The dataset survived the restart.
  EXPECT_EQ(DatasetFiles().size(), 2u);
}

}  // namespace
}  // namespace streamfit::testing
