// The live models of one server, by name.
#ifndef STREAMFIT_SERVER_MODEL_REGISTRY_H_
#define STREAMFIT_SERVER_MODEL_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/learner.h"
#include "core/model_config.h"

namespace streamfit {

// One live model: its name, its full configuration and its learner. The
// learner is thread-safe; name and config are constant.
struct LiveModel {
  LiveModel(std::string name, const LinearModel& initial,
            const Learner::Options& options)
      : name(std::move(name)),
        config(initial.config()),
        learner(initial, options) {}

  const std::string name;
  const ModelConfig config;
  Learner learner;
};

// Names are 1-128 characters of [A-Za-z0-9_.-]. Thread-safe. A deleted
// model's learner is stopped at once (pending work gets ABORTED); callers
// holding its shared_ptr may still read its last state.
class ModelRegistry {
 public:
  explicit ModelRegistry(Learner::Options learner_options = {})
      : learner_options_(learner_options) {}
  ~ModelRegistry() { StopAll(); }

  // INVALID_ARGUMENT on a bad name or config, ALREADY_EXISTS on a taken name.
  absl::StatusOr<std::shared_ptr<LiveModel>> Create(absl::string_view name,
                                                    const ModelConfig& config);
  // NOT_FOUND on an unknown name, INVALID_ARGUMENT on an empty one.
  absl::StatusOr<std::shared_ptr<LiveModel>> Get(absl::string_view name) const;
  std::vector<std::shared_ptr<LiveModel>> List() const;  // by name
  absl::Status Delete(absl::string_view name);
  // Stops every learner (used at shutdown, after they drained).
  void StopAll();

 private:
  const Learner::Options learner_options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<LiveModel>, std::less<>> models_
      ABSL_GUARDED_BY(mu_);
};

// OK if `name` is a valid model name.
absl::Status ValidateModelName(absl::string_view name);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_MODEL_REGISTRY_H_
