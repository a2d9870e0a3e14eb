// streamfit-quality: progressive validation of default-configured models on
// labeled CSV files (label first), the way ../shared/datasets/README.md
// measures scikit-learn and Vowpal Wabbit: each row is predicted, then
// learned, in file order.
//
//   streamfit-quality [--data_dir=tests/data] [--optimizer=..]
//       [--learning_rate=..] ...
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "core/csv_reader.h"
#include "core/linear_model.h"

ABSL_FLAG(std::string, data_dir, "tests/data",
          "folder with the shared datasets");
ABSL_FLAG(double, learning_rate, -1, "override the default (for exploring)");
ABSL_FLAG(double, power_t, -1, "override the default (for exploring)");
ABSL_FLAG(double, l2, -1, "override the default (for exploring)");
ABSL_FLAG(std::string, schedule, "", "constant or invscaling (exploring)");
ABSL_FLAG(std::string, optimizer, "",
          "sgd, adagrad, ftrl, adam or normalized (default: the model's)");

namespace {

struct Dataset {
  const char* file;
  streamfit::Task task;
  uint32_t classes;
  const char* metric;
  double best_reference;    // "best of these" column
  double scaler_reference;  // "sklearn + online StandardScaler" column
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::vector<Dataset> datasets = {
      {"diabetes.reg.csv", streamfit::Task::kRegression, 0, "MSE", 10246,
       10246},
      {"breast_cancer.bin.csv", streamfit::Task::kBinary, 0, "accuracy", 0.942,
       0.942},
      {"digits.multi10.csv", streamfit::Task::kMulticlass, 10, "accuracy",
       0.894, 0.860},
  };
  std::printf("%-24s %-9s %12s %12s %12s %8s\n", "dataset", "metric",
              "streamfit", "sk+scaler", "best-of", "beats");
  bool all = true;
  for (const Dataset& d : datasets) {
    auto data =
        streamfit::ReadCsvFile(absl::GetFlag(FLAGS_data_dir) + "/" + d.file);
    if (!data.ok()) {
      std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
      return 1;
    }
    streamfit::ModelConfig config;
    config.task = d.task;
    config.num_features = data->num_features;
    config.num_classes = d.classes;
    if (absl::GetFlag(FLAGS_learning_rate) > 0)
      config.learning_rate = absl::GetFlag(FLAGS_learning_rate);
    if (absl::GetFlag(FLAGS_power_t) >= 0)
      config.power_t = absl::GetFlag(FLAGS_power_t);
    if (absl::GetFlag(FLAGS_l2) >= 0) config.l2 = absl::GetFlag(FLAGS_l2);
    if (absl::GetFlag(FLAGS_schedule) == "constant")
      config.schedule = streamfit::Schedule::kConstant;
    for (auto o : {streamfit::Optimizer::kSgd, streamfit::Optimizer::kAdagrad,
                   streamfit::Optimizer::kFtrl, streamfit::Optimizer::kAdam,
                   streamfit::Optimizer::kNormalized}) {
      if (absl::GetFlag(FLAGS_optimizer) == streamfit::OptimizerName(o)) {
        config.optimizer = o;
      }
    }
    auto model = streamfit::LinearModel::Create(config);
    if (!model.ok()) {
      std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
      return 1;
    }
    for (size_t i = 0; i < data->size(); ++i) {
      model->Learn(data->view(i), data->labels[i], data->weights[i]);
    }
    const streamfit::MetricsSummary m = model->metrics();
    const bool regression = d.task == streamfit::Task::kRegression;
    const double value =
        regression ? m.progressive_mse : m.progressive_accuracy;
    const bool beats =
        regression ? value < d.best_reference : value > d.best_reference;
    all = all && beats;
    std::printf("%-24s %-9s %12.4g %12.4g %12.4g %8s\n", d.file, d.metric,
                value, d.scaler_reference, d.best_reference,
                beats ? "yes" : "no");
  }
  return all ? 0 : 3;
}
