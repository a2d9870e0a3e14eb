#include "server/proto_convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "client/hashed_features.h"
#include "core/model/feature_hash.h"
#include "core/model/model_trainer.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

ModelConfig Binary(uint32_t features) {
  ModelConfig config;
  config.task = Task::kBinary;
  config.num_features = features;
  return *WithDefaults(config);
}

v1::Example* AddExample(v1::ObserveRequest& request, std::vector<float> dense,
                        double label) {
  v1::Example* e = request.add_examples();
  e->mutable_features()->mutable_dense()->Add(dense.begin(), dense.end());
  e->set_label(label);
  return e;
}

void AddNamed(v1::Features* f, const std::string& ns, const std::string& name,
              float value) {
  v1::NamedFeature* n = f->add_named();
  n->set_namespace_(ns);
  n->set_name(name);
  n->set_value(value);
}

TEST(ProtoConvertTest, ConfigRoundTripsEveryField) {
  ModelConfig config = Binary(2);
  config.optimizer = Optimizer::kFtrl;
  config.loss = LossKind::kHinge;
  config.l1 = 0.5;
  config.ftrl_beta = 2;
  config.max_gradient = 3;
  config.hash_bits = 20;
  config.interactions = {{"a", "b"}, {"", "c"}};
  config.class_weights = {1, 4};
  config.serving = Serving::kAveraged;
  EXPECT_EQ(FromProto(ToProto(config)), config);
}

TEST(ProtoConvertTest, SparseAndNamedFeaturesAreHashedIntoTheBatch) {
  v1::ObserveRequest request;
  AddExample(request, {1, 2}, 0);  // dense only
  v1::Example* e = AddExample(request, {3, 4}, 1);
  e->mutable_features()->add_indices(42);
  e->mutable_features()->add_values(0.5);
  AddNamed(e->mutable_features(), "user", "alice", 0);  // 0 means 1
  request.mutable_dense_batch()->set_num_features(2);
  request.mutable_dense_batch()->add_values(5);
  request.mutable_dense_batch()->add_values(6);
  request.mutable_dense_batch()->add_labels(1);
  absl::StatusOr<ExampleBatch> batch = ToExampleBatch(request, Binary(2));
  ASSERT_THAT(batch, IsOk());
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_THAT(batch->sparse_offsets, ElementsAre(0, 0, 2, 2));
  const uint32_t user = HashNamespace("user"), index_ns = HashNamespace("");
  EXPECT_THAT(batch->sparse_hashes,
              ElementsAre(HashFeatureIndex(index_ns, 42),
                          HashFeatureName(user, "alice")));
  EXPECT_THAT(batch->sparse_namespaces, ElementsAre(index_ns, user));
  EXPECT_THAT(batch->sparse_values, ElementsAre(0.5f, 1.0f));
  EXPECT_EQ(batch->view(1).dense[1], 4);
  EXPECT_TRUE(batch->view(2).hashes.empty());
}

TEST(ProtoConvertTest, NamedFeaturesHashedByTheClientMakeTheSameBatch) {
  v1::ObserveRequest named, hashed;
  v1::Features* f = AddExample(named, {1}, 0)->mutable_features();
  AddNamed(f, "user", "alice", 0);
  AddNamed(f, "item", "x", 2.5);
  AddNamed(f, "", "plain", -1);
  f = AddExample(hashed, {1}, 0)->mutable_features();
  HashedNamespace("user").Add(*f, "alice");
  HashedNamespace("item").Add(*f, "x", 2.5);
  HashedNamespace("").Add(*f, "plain", -1);
  const absl::StatusOr<ExampleBatch> a = ToExampleBatch(named, Binary(1));
  const absl::StatusOr<ExampleBatch> b = ToExampleBatch(hashed, Binary(1));
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->sparse_hashes, a->sparse_hashes);
  EXPECT_EQ(b->sparse_namespaces, a->sparse_namespaces);
  EXPECT_EQ(b->sparse_values, a->sparse_values);
  EXPECT_EQ(b->sparse_offsets, a->sparse_offsets);
  EXPECT_THAT(b->sparse_values, ElementsAre(1.0f, 2.5f, -1.0f));
}

TEST(ProtoConvertTest, BadSparseFeaturesNameExampleAndField) {
  v1::ObserveRequest request;
  AddExample(request, {1}, 0);
  v1::Example* e = AddExample(request, {1}, 0);
  e->mutable_features()->add_indices(1);
  e->mutable_features()->add_indices(2);
  e->mutable_features()->add_values(1);
  EXPECT_THAT(ToExampleBatch(request, Binary(1)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 1: features.indices has 2 entries "
                                 "but features.values has 1")));
  request.clear_examples();
  e = AddExample(request, {1}, 0);
  AddNamed(e->mutable_features(), "u", "x", NAN);
  EXPECT_THAT(ToExampleBatch(request, Binary(1)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 0: features.named[0].value is nan")));
  request.clear_examples();
  v1::Features* f = AddExample(request, {1}, 0)->mutable_features();
  HashedNamespace("u").Add(*f, "x", INFINITY);
  EXPECT_THAT(ToExampleBatch(request, Binary(1)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 0: features.hashed_values[0] is "
                                 "inf")));
  f->set_hashed_values(0, 1);
  f->add_hashes(7);
  EXPECT_THAT(ToExampleBatch(request, Binary(1)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 0: features.hashes has 2 entries, "
                                 "hashed_namespaces 1 and hashed_values 1")));
}

TEST(ProtoConvertTest, PredictUsesSparseFeatures) {
  ModelConfig config = Binary(1);
  absl::StatusOr<ModelTrainer> trainer = ModelTrainer::Create(config);
  ASSERT_THAT(trainer, IsOk());
  v1::ObserveRequest observe;
  for (int i = 0; i < 50; ++i) {
    v1::Example* e = AddExample(observe, {0}, i % 2);
    AddNamed(e->mutable_features(), "w", i % 2 ? "yes" : "no", 1);
  }
  absl::StatusOr<ExampleBatch> batch = ToExampleBatch(observe, config);
  ASSERT_THAT(batch, IsOk());
  trainer->LearnBatch(*batch);
  v1::PredictRequest request;
  for (const char* word : {"yes", "no"}) {
    v1::Features* f = request.add_features();
    f->add_dense(0);
    AddNamed(f, "w", word, 1);
  }
  v1::PredictResponse response;
  ASSERT_THAT(PredictFromState(trainer->model(), request, &response), IsOk());
  ASSERT_EQ(response.predictions_size(), 2);
  EXPECT_GT(response.predictions(0).value(), 0.8);
  EXPECT_LT(response.predictions(1).value(), 0.2);
}

TEST(ProtoConvertTest, DenseBatchErrorsNameTheDenseBatchFields) {
  v1::ObserveRequest request;
  AddExample(request, {1, 2}, 1);  // example 0
  v1::DenseBatch* dense = request.mutable_dense_batch();
  dense->set_num_features(2);
  for (float v : {1.f, 2.f, 3.f, NAN}) dense->add_values(v);
  dense->add_labels(0);
  dense->add_labels(1);
  EXPECT_THAT(ToExampleBatch(request, Binary(2)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 2: dense_batch.values[3] is NaN")));
  dense->set_values(3, 4);
  dense->set_labels(0, 3);
  EXPECT_THAT(ToExampleBatch(request, Binary(2)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 1: dense_batch.labels[0] 3")));
}

TEST(ProtoConvertTest, PredictRefusesSparseInputsOverTheWorkLimit) {
  ModelConfig config = Binary(1);
  config.interactions = {{"", ""}};
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  ASSERT_THAT(model, IsOk());
  v1::PredictRequest request;
  v1::Features* f = request.add_features();
  f->add_dense(0);
  for (uint32_t j = 0; j < 6000; ++j) {
    f->add_indices(j);
    f->add_values(1);
  }
  v1::PredictResponse response;
  EXPECT_THAT(PredictFromState(*model, request, &response),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("features 0: 6000 sparse features")));
}

}  // namespace
}  // namespace streamfit
