// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/)
// with streamfit's own writers: SampleLog::Append, EncodeState,
// EncodeSnapshotFile, Manifest::Save, protobuf serialization. Run by
// tests/fuzz/make_seeds.sh; the output is committed.
//   make_seeds <corpus dir>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model/example_batch.h"
#include "core/model/feature_hash.h"
#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "core/storage/file_util.h"
#include "core/storage/sample_log.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "server/manifest.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"
#include "tests/fuzz/fuzz_input.h"

namespace streamfit {
namespace {

namespace fs = std::filesystem;

std::string out_dir;

void Check(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::exit(1);
  }
}

void Seed(const std::string& target, const std::string& name,
          const std::string& bytes) {
  const fs::path dir = fs::path(out_dir) / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string Byte(uint8_t b) { return std::string(1, static_cast<char>(b)); }

template <typename T>
std::string Le(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(T));
}

// --- dataset: flags byte, LIBSVM width byte, file ---
std::string ExampleStream(int rows) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  for (int i = 0; i < rows; ++i) {
    v1::Example e;
    e.mutable_features()->add_dense(0.5f * i);
    e.mutable_features()->add_dense(-1.0f);
    e.set_label(i % 2);
    if (i == 1) e.set_weight(2);
    coded.WriteVarint32(static_cast<uint32_t>(e.ByteSizeLong()));
    e.SerializeToCodedStream(&coded);
  }
  coded.Trim();
  return out;
}

void DatasetSeeds() {
  Seed("dataset", "csv",
       Byte(0) + Byte(0) + "1,0.5,2\n0,1e-3,-4\n# c\n\n1,3,4\r\n");
  Seed("dataset", "csv_header",
       Byte(4 | 16) + Byte(0) + "a,y,b\n0.5,1,2\n0.25,0,-1\n");
  Seed("dataset", "csv_skip", Byte(8) + Byte(0) + "1,2,3\n1,x,3\n0,2\n2,1,1\n");
  Seed("dataset", "libsvm", Byte(1) + Byte(0) + "1 1:0.5 3:2\n-1 2:1\n");
  Seed("dataset", "libsvm_width",
       Byte(1 | 8) + Byte(4) + "0 1:1 4:2\n1 5:1\n1 2:3 1:1\n");
  Seed("dataset", "examples", Byte(2) + Byte(0) + ExampleStream(4));
  Seed("dataset", "examples_skip",
       Byte(2 | 8) + Byte(0) + ExampleStream(3) + "\x02\x08");
}

// --- request: selector byte (config, Observe or Predict), message ---
void AddNamed(v1::Features* f, const std::string& ns, const std::string& name,
              float v) {
  v1::NamedFeature* n = f->add_named();
  n->set_namespace_(ns);
  n->set_name(name);
  n->set_value(v);
}

void RequestSeeds() {
  const int dense_widths[4] = {3, 2, 2, 0};
  for (int config = 0; config < 4; ++config) {
    const int d = dense_widths[config];
    v1::ObserveRequest observe;
    observe.set_model("m");
    for (int i = 0; i < 3; ++i) {
      v1::Example* e = observe.add_examples();
      for (int j = 0; j < d; ++j)
        e->mutable_features()->add_dense(i + 0.5f * j);
      if (config == 1 || config == 3) {
        e->mutable_features()->add_indices(7 + i);
        e->mutable_features()->add_values(1.5f);
        AddNamed(e->mutable_features(), "a", "red", 1);
        AddNamed(e->mutable_features(), "b", "big", 0);
      }
      e->set_label(config == 2 ? i % 3 : config == 1 ? i % 2 : 2.5 * i);
      if (i == 2) e->set_weight(0.5f);
    }
    if (d > 0) {
      v1::DenseBatch* b = observe.mutable_dense_batch();
      b->set_num_features(d);
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < d; ++j) b->add_values(1.0f - j);
        b->add_labels(config == 0 ? 4 : 1);
        b->add_weights(1);
      }
    }
    Seed("request", absl::StrCat("observe_", config),
         Byte(config) + observe.SerializeAsString());

    v1::PredictRequest predict;
    predict.set_model("m");
    for (const v1::Example& e : observe.examples()) {
      *predict.add_features() = e.features();
    }
    if (d > 0) {
      v1::DenseBatch* b = predict.mutable_dense_batch();
      b->set_num_features(d);
      for (int j = 0; j < d; ++j) b->add_values(2.0f);
    }
    predict.set_min_version(1);
    Seed("request", absl::StrCat("predict_", config),
         Byte(4 | config) + predict.SerializeAsString());
  }
}

// --- sample_log: flags byte, then per segment: start (u64), length (u32),
// bytes ---
ExampleBatch DenseBatch(uint32_t features, int n) {
  ExampleBatch b;
  b.num_features = features;
  for (int i = 0; i < n; ++i) {
    std::vector<float> x(features);
    for (uint32_t j = 0; j < features; ++j) x[j] = i - 0.5f * j;
    b.Add(x, i % 2);
  }
  return b;
}

ExampleBatch SparseBatch(uint32_t features, int n) {
  ExampleBatch b;
  b.num_features = features;
  for (int i = 0; i < n; ++i) {
    std::vector<float> x(features, 1.0f * i);
    const uint32_t hashes[2] = {HashFeatureName(HashNamespace("a"), "x"),
                                static_cast<uint32_t>(i)};
    const uint32_t namespaces[2] = {HashNamespace("a"), HashNamespace("")};
    const float values[2] = {1, 0.25f * i};
    const size_t m = i % 3 == 0 ? 0 : 2;  // some rows without any
    b.Add(ExampleView{x, {hashes, m}, {namespaces, m}, {values, m}}, i % 2);
  }
  return b;
}

// Appends `batches` to a fresh log (segments of `segment_bytes`) and packs
// its segment files as the target's input.
std::string LogImage(const std::vector<ExampleBatch>& batches,
                     uint64_t segment_bytes) {
  fuzz::ScratchDir dir;
  SampleLog::Options options;
  options.fsync.mode = FsyncPolicy::Mode::kNever;
  options.segment_bytes = segment_bytes;
  {
    absl::StatusOr<std::unique_ptr<SampleLog>> log =
        SampleLog::Open(dir.path(), options, nullptr);
    Check(log.status());
    uint64_t version = 0;
    for (const ExampleBatch& b : batches) {
      absl::StatusOr<uint64_t> end = (*log)->Append(version, b);
      Check(end.status());
      version = *end;
    }
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::string image = Byte(0);
  for (const fs::path& f : files) {
    const std::string name = f.filename().string();  // log-<20 digits>.seg
    const uint64_t start = std::stoull(name.substr(4, 20));
    absl::StatusOr<std::string> bytes = ReadWholeFile(f.string());
    Check(bytes.status());
    image += Le(start) + Le(static_cast<uint32_t>(bytes->size())) + *bytes;
  }
  return image;
}

void SampleLogSeeds() {
  Seed("sample_log", "dense",
       LogImage({DenseBatch(3, 2), DenseBatch(3, 5)}, 1 << 20));
  Seed("sample_log", "dense_segments",
       LogImage({DenseBatch(2, 3), DenseBatch(2, 1), DenseBatch(2, 4),
                 DenseBatch(2, 2)},
                64));
  Seed("sample_log", "sparse",
       LogImage({SparseBatch(2, 4), DenseBatch(2, 2)}, 1 << 20));
  Seed("sample_log", "sparse_only", LogImage({SparseBatch(0, 5)}, 1 << 20));
  std::string torn = LogImage({DenseBatch(3, 2), DenseBatch(3, 3)}, 1 << 20);
  torn.resize(torn.size() - 7);
  Seed("sample_log", "torn_tail", torn);
}

// --- snapshot: the bytes ---
LinearModel Trained(ModelConfig config) {
  absl::StatusOr<ModelTrainer> trainer = ModelTrainer::Create(config);
  Check(trainer.status());
  const ExampleBatch b = SparseBatch(config.num_features, 6);
  for (size_t i = 0; i < b.size(); ++i) {
    trainer->Learn(b.view(i), config.task == Task::kMulticlass ? i % 3 : i % 2);
  }
  return std::move(*trainer).TakeModel();
}

void SnapshotSeeds() {
  ModelConfig regression;
  regression.task = Task::kRegression;
  regression.num_features = 3;
  regression.hash_bits = 6;
  ModelConfig binary;
  binary.task = Task::kBinary;
  binary.num_features = 2;
  binary.hash_bits = 6;
  binary.optimizer = Optimizer::kFtrl;
  binary.interactions = {{"a", ""}};
  ModelConfig multiclass;
  multiclass.task = Task::kMulticlass;
  multiclass.num_features = 2;
  multiclass.num_classes = 3;
  multiclass.hash_bits = 4;
  multiclass.optimizer = Optimizer::kAdam;
  ModelConfig sparse_only;
  sparse_only.task = Task::kRegression;
  sparse_only.hash_bits = 5;
  sparse_only.optimizer = Optimizer::kSgd;
  const std::pair<const char*, ModelConfig> configs[] = {
      {"regression", regression},
      {"binary", binary},
      {"multiclass", multiclass},
      {"sparse_only", sparse_only}};
  for (const auto& [name, config] : configs) {
    const LinearModel model = Trained(config);
    Seed("snapshot", absl::StrCat("state_", name), EncodeState(name, model));
    v1::ModelSnapshot snapshot;
    ToSnapshot(name, model, &snapshot);
    Seed("snapshot", absl::StrCat("file_", name), EncodeSnapshotFile(snapshot));
  }
}

// --- manifest: flags byte (1: frame the payload), file or payload ---
void ManifestSeeds() {
  Manifest manifest;
  ModelConfig a;
  a.task = Task::kBinary;
  a.num_features = 4;
  ModelConfig b;
  b.task = Task::kMulticlass;
  b.num_features = 2;
  b.num_classes = 5;
  b.interactions = {{"u", "v"}};
  b.class_weights = {1, 2, 1, 1, 0.5};
  manifest.models["clicks"] = {3, a};
  manifest.models["digits"] = {7, b};
  manifest.next_incarnation = 8;
  fuzz::ScratchDir dir;
  const std::string path = dir.path() + "/MANIFEST";
  Check(manifest.Save(path));
  absl::StatusOr<std::string> file = ReadWholeFile(path);
  Check(file.status());
  Seed("manifest", "file", Byte(0) + *file);
  absl::StatusOr<std::string> payload = DecodeFramed("SFMANI1\n", *file, path);
  Check(payload.status());
  Seed("manifest", "payload", Byte(1) + *payload);
  Seed("manifest", "empty", Byte(1) + "next 1\n");
}

}  // namespace
}  // namespace streamfit

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <corpus dir>\n");
    return 2;
  }
  streamfit::out_dir = argv[1];
  streamfit::DatasetSeeds();
  streamfit::RequestSeeds();
  streamfit::SampleLogSeeds();
  streamfit::SnapshotSeeds();
  streamfit::ManifestSeeds();
  return 0;
}
