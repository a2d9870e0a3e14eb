// streamfit-quality: progressive validation of default-configured models on
// labeled CSV files (label first), the way docs/LEARNING.md ("Quality")
// measures scikit-learn and Vowpal Wabbit: each row is predicted, then
// learned, in file order.
//
//   streamfit-quality [--data_dir=tests/data] [--optimizer=..] [--serving=..]
//       [--learning_rate=..] ...
//   streamfit-quality --files=my.bin.csv,other.multi7.csv,prices.reg.csv
//
// --files measures other files the same way (no reference to beat); the
// task comes from the name: NAME.reg.csv, NAME.bin.csv or NAME.multiK.csv.
// NAME.{reg,bin,multiK}.svm is LIBSVM text (label, then index:value), learned
// as hashed index features by a sparse-only model, as a client sending
// Features.indices would.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/data/csv_reader.h"
#include "core/data/dataset_reader.h"
#include "core/model/model_trainer.h"

ABSL_FLAG(std::string, data_dir, "tests/data",
          "folder with the shared datasets");
ABSL_FLAG(double, learning_rate, -1, "override the default (for exploring)");
ABSL_FLAG(double, power_t, -1, "override the default (for exploring)");
ABSL_FLAG(double, l2, -1, "override the default (for exploring)");
ABSL_FLAG(std::string, schedule, "", "constant or invscaling (exploring)");
ABSL_FLAG(std::string, optimizer, "",
          "sgd, adagrad, ftrl, adam, normalized or rls (default: the "
          "model's; rls applies to regression files only)");
ABSL_FLAG(std::string, serving, "",
          "auto, live or averaged (default: the model's, auto)");
ABSL_FLAG(bool, standardize, true, "online standardization (exploring)");
ABSL_FLAG(std::vector<std::string>, files, {},
          "other files (NAME.reg.csv, NAME.bin.csv, NAME.multiK.csv, or .svm "
          "for LIBSVM) to measure instead of the shared datasets");

namespace {

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

struct Dataset {
  std::string file;
  streamfit::Task task;
  uint32_t classes;
  const char* metric;
  double best_reference;    // "best of these" column (kNone: none)
  double scaler_reference;  // "sklearn + online StandardScaler" column
};

bool IsLibsvm(const std::string& path) { return absl::EndsWith(path, ".svm"); }

// A --files entry, its task read from its name; false if the name has none.
bool FromName(const std::string& path, Dataset& d) {
  d = {path, streamfit::Task::kBinary, 0, "accuracy", kNone, kNone};
  if (!absl::EndsWith(path, ".csv") && !IsLibsvm(path)) return false;
  const std::string stem = path.substr(0, path.size() - 4);
  if (absl::EndsWith(stem, ".reg")) {
    d.task = streamfit::Task::kRegression;
    d.metric = "MSE";
    return true;
  }
  if (absl::EndsWith(stem, ".bin")) return true;
  const size_t multi = stem.rfind(".multi");
  d.task = streamfit::Task::kMulticlass;
  return multi != std::string::npos &&
         absl::SimpleAtoi(stem.substr(multi + 6), &d.classes) && d.classes >= 2;
}

// A LIBSVM file's rows as hashed index features, no dense features.
absl::StatusOr<streamfit::ExampleBatch> ReadLibsvmFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream text;
  text << in.rdbuf();
  streamfit::DatasetParseOptions options;
  options.format = streamfit::DatasetFormat::kLibsvm;
  options.hashed_indices = true;
  absl::StatusOr<streamfit::ParsedDataset> parsed =
      streamfit::ParseDataset(text.str(), options);
  if (!parsed.ok()) {
    return absl::Status(parsed.status().code(),
                        absl::StrCat(path, ": ", parsed.status().message()));
  }
  return std::move(parsed->examples);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<Dataset> datasets;
  for (const std::string& path : absl::GetFlag(FLAGS_files)) {
    if (!FromName(path, datasets.emplace_back())) {
      std::fprintf(stderr,
                   "%s: name it NAME.reg.csv, NAME.bin.csv or "
                   "NAME.multiK.csv\n",
                   path.c_str());
      return 1;
    }
  }
  if (datasets.empty()) {
    const std::string dir = absl::GetFlag(FLAGS_data_dir) + "/";
    datasets = {
        {dir + "diabetes.reg.csv", streamfit::Task::kRegression, 0, "MSE",
         10246, 10246},
        {dir + "breast_cancer.bin.csv", streamfit::Task::kBinary, 0, "accuracy",
         0.942, 0.942},
        {dir + "digits.multi10.csv", streamfit::Task::kMulticlass, 10,
         "accuracy", 0.894, 0.860},
    };
  }
  std::printf("%-24s %-9s %12s %12s %12s %8s\n", "dataset", "metric",
              "streamfit", "sk+scaler", "best-of", "beats");
  bool all = true;
  for (const Dataset& d : datasets) {
    auto data = IsLibsvm(d.file) ? ReadLibsvmFile(d.file)
                                 : streamfit::ReadCsvFile(d.file);
    if (!data.ok()) {
      std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
      return 1;
    }
    streamfit::ModelConfig config;
    config.task = d.task;
    config.num_features = data->num_features;
    config.num_classes = d.classes;
    if (IsLibsvm(d.file)) config.hash_bits = streamfit::kDefaultHashBits;
    if (absl::GetFlag(FLAGS_learning_rate) > 0)
      config.learning_rate = absl::GetFlag(FLAGS_learning_rate);
    if (absl::GetFlag(FLAGS_power_t) >= 0)
      config.power_t = absl::GetFlag(FLAGS_power_t);
    if (absl::GetFlag(FLAGS_l2) >= 0) config.l2 = absl::GetFlag(FLAGS_l2);
    config.standardize = absl::GetFlag(FLAGS_standardize);
    if (absl::GetFlag(FLAGS_schedule) == "constant")
      config.schedule = streamfit::Schedule::kConstant;
    for (auto o :
         {streamfit::Optimizer::kSgd, streamfit::Optimizer::kAdagrad,
          streamfit::Optimizer::kFtrl, streamfit::Optimizer::kAdam,
          streamfit::Optimizer::kNormalized, streamfit::Optimizer::kRls}) {
      if (absl::GetFlag(FLAGS_optimizer) == streamfit::OptimizerName(o) &&
          (o != streamfit::Optimizer::kRls ||
           d.task == streamfit::Task::kRegression)) {
        config.optimizer = o;
      }
    }
    const std::string serving = absl::GetFlag(FLAGS_serving);
    if (serving == "live") config.serving = streamfit::Serving::kLive;
    if (serving == "averaged") config.serving = streamfit::Serving::kAveraged;
    if (config.optimizer == streamfit::Optimizer::kRls) {
      config.serving = streamfit::Serving::kUnspecified;  // rls serves live
    }
    auto trainer = streamfit::ModelTrainer::Create(config);
    if (!trainer.ok()) {
      std::fprintf(stderr, "%s\n", trainer.status().ToString().c_str());
      return 1;
    }
    trainer->LearnBatch(*data);
    const streamfit::MetricsSummary m = trainer->model().metrics();
    const bool regression = d.task == streamfit::Task::kRegression;
    const double value =
        regression ? m.progressive_mse : m.progressive_accuracy;
    const bool beats =
        regression ? value < d.best_reference : value > d.best_reference;
    const bool reference = !std::isnan(d.best_reference);
    all = all && (beats || !reference);
    const std::string name = d.file.substr(d.file.rfind('/') + 1);
    if (!reference) {
      std::printf("%-24s %-9s %12.4g %12s %12s %8s\n", name.c_str(), d.metric,
                  value, "-", "-", "-");
      continue;
    }
    std::printf("%-24s %-9s %12.4g %12.4g %12.4g %8s\n", name.c_str(), d.metric,
                value, d.scaler_reference, d.best_reference,
                beats ? "yes" : "no");
  }
  return all ? 0 : 3;
}
