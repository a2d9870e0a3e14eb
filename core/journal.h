// Where a Learner records each batch before it queues it: the model's sample
// log (DESIGN.md principle 1). An interface so that core/learner does not
// depend on files.
#ifndef STREAMFIT_CORE_JOURNAL_H_
#define STREAMFIT_CORE_JOURNAL_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/example_batch.h"

namespace streamfit {

// Thread-safety is the implementation's; a Learner calls Append under its
// admission lock (so the journal's order is the apply order) and WhenDurable
// outside it.
class Journal {
 public:
  virtual ~Journal() = default;
  // Records `batch`, the samples after `start_version`, and returns the
  // version after its last sample. On error nothing of the batch is recorded
  // and the learner must not apply it.
  virtual absl::StatusOr<uint64_t> Append(uint64_t start_version,
                                          const ExampleBatch& batch) = 0;
  // Calls `done` once every record up to `end_version` is as durable as the
  // journal promises (at once if it already is), or with the error that
  // prevented it. `done` must not block.
  virtual void WhenDurable(uint64_t end_version,
                           absl::AnyInvocable<void(absl::Status)> done) = 0;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_JOURNAL_H_
