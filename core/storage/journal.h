// Where a Learner records each batch before it queues it: the model's sample
// log, of which the model is a deterministic view. An interface so that
// core/learner does not depend on files.
#ifndef STREAMFIT_CORE_STORAGE_JOURNAL_H_
#define STREAMFIT_CORE_STORAGE_JOURNAL_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/example_batch.h"

namespace streamfit {

// Thread-safety is the implementation's; a Learner calls Append, WhenDurable
// and Reopen under its admission lock (so the journal's order is the apply
// order, and no append slips between a failure and the reopen). A Learner
// applies a batch only once WhenDurable said it is durable.
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
  // After a WhenDurable error: makes the journal usable again once every
  // record past its durable end is gone for good (so an error ack means
  // "never applied"), and returns that end; the learner continues from
  // there. UNAVAILABLE while that is not (yet) possible.
  virtual absl::StatusOr<uint64_t> Reopen() = 0;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_STORAGE_JOURNAL_H_
