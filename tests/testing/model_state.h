// Comparing two models' whole state, for tests that pin bit-identical
// continuation (recovery, retrain catch-up, the learner's publication).
#ifndef STREAMFIT_TESTS_TESTING_MODEL_STATE_H_
#define STREAMFIT_TESTS_TESTING_MODEL_STATE_H_

#include <gtest/gtest.h>

#include <vector>

#include "core/model/linear_model.h"

namespace streamfit::testing {

// Fails the test unless `a` and `b` are at the same version and export the
// same tensors, value for value (bit-identical doubles).
inline void ExpectIdenticalState(const LinearModel& a, const LinearModel& b) {
  EXPECT_EQ(a.version(), b.version());
  const std::vector<NamedTensor> sa = a.ExportState(), sb = b.ExportState();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].name, sb[i].name);
    EXPECT_EQ(sa[i].shape, sb[i].shape) << sa[i].name;
    EXPECT_EQ(sa[i].values, sb[i].values)
        << sa[i].name << " at version " << a.version();
  }
}

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_TESTING_MODEL_STATE_H_
