// ModelConfig.policies at work: the retrains and gap measurements the server
// starts by itself.
#ifndef STREAMFIT_SERVER_MODEL_POLICIES_H_
#define STREAMFIT_SERVER_MODEL_POLICIES_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>

#include "server/file_worker.h"
#include "server/learner_service.h"
#include "server/model_registry.h"
#include "server/retrain_jobs.h"

namespace streamfit {

// For every model of the registry: makes its automatic promotions durable
// (ModelPolicies.promote_confidence; LearnerService::RecordPromotion); starts
// the policy retrain (a fit of the
// model's recent samples, or of its policy dataset) when its drift detector
// finds a drift under DRIFT_POLICY_RETRAIN, or when a measured gap reaches
// batch_gap_retrain_ratio; measures the online-vs-batch gap every
// batch_gap_every samples. A retrain is not started while the model has one
// pending or running. Check() is called by one thread (the server's
// checkpoint loop) and never waits on the disk: measurements and
// submissions run on the runner's own thread, one at a time. The registry,
// service and jobs outlive the runner.
class ModelPolicyRunner {
 public:
  ModelPolicyRunner(ModelRegistry* registry, LearnerService* service,
                    RetrainJobs* jobs)
      : registry_(registry), service_(service), jobs_(jobs) {}

  // Looks at every model once; first once the models are recovered, before
  // serving. Not thread-safe: one caller.
  void Check();

 private:
  // What the runner has seen of one model. The first Check (at start, once
  // the models are recovered) counts what each model has as handled, so a
  // restart starts nothing for the past; a model created or restored later
  // starts from the drifts of the state it began with, and has its gap
  // measured once it has `batch_gap_every` samples.
  struct Seen {
    std::weak_ptr<LiveModel> model;
    uint64_t drifts = 0;
    uint64_t gap_version = 0;  // the version the last measurement began at
    int64_t installed_ms = 0;  // the newest lineage event's time
    std::shared_ptr<std::atomic<bool>> busy =
        std::make_shared<std::atomic<bool>>(false);  // work on the worker
  };
  // Starts the policy retrain of `model` (on the worker); `reason` is logged.
  void StartRetrain(std::shared_ptr<LiveModel> model, std::string reason);

  ModelRegistry* const registry_;
  LearnerService* const service_;
  RetrainJobs* const jobs_;
  std::map<const LiveModel*, Seen> seen_;
  bool started_ = false;  // Check ran before
  // Last: destroyed first, running the work handed to it.
  FileWorker worker_{1};
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_MODEL_POLICIES_H_
