#include "core/model/drift_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::StatusIs;

constexpr DriftDetectorKind kDetectors[] = {DriftDetectorKind::kAdwin,
                                            DriftDetectorKind::kPageHinkley};

// Squared errors of standard normal noise times `scale`.
struct Losses {
  explicit Losses(uint32_t seed) : rng(seed) {}
  double Next(double scale) {
    const double e = scale * normal(rng);
    return e * e;
  }
  std::mt19937_64 rng;
  std::normal_distribution<double> normal;
};

TEST(DriftMonitorTest, CountsADriftAtTheVersionWhereItIsFound) {
  for (DriftDetectorKind kind : kDetectors) {
    DriftMonitor monitor(kind);
    Losses losses(1);
    uint64_t version = 0;
    for (; version < 1'000'000;) monitor.Add(losses.Next(1), ++version);
    EXPECT_EQ(monitor.drifts_detected(), 0u);
    // The loss quadruples from version 1,000,001 on.
    while (monitor.drifts_detected() == 0 && version < 1'010'000) {
      monitor.Add(losses.Next(2), ++version);
    }
    EXPECT_EQ(monitor.drifts_detected(), 1u);
    EXPECT_EQ(monitor.last_drift_version(), version);
    EXPECT_LT(version - 1'000'000, 1'000u) << static_cast<int>(kind);
    EXPECT_EQ(version % DriftMonitor::kBlock, 0u);  // found at a block's end
  }
}

TEST(DriftMonitorTest, NoneNeverReports) {
  DriftMonitor monitor(DriftDetectorKind::kNone);
  Losses losses(2);
  for (uint64_t v = 1; v <= 10'000; ++v) {
    EXPECT_FALSE(monitor.Add(losses.Next(v < 5000 ? 1 : 10), v));
  }
  EXPECT_EQ(monitor.drifts_detected(), 0u);
}

TEST(DriftMonitorTest, CopiesAreIndependentAndStatesContinueExactly) {
  for (DriftDetectorKind kind : kDetectors) {
    DriftMonitor monitor(kind);
    Losses losses(3);
    uint64_t v = 0;
    for (; v < 20'005;) monitor.Add(losses.Next(1), ++v);  // mid-block
    DriftMonitor copy = monitor;
    DriftMonitor restored(kind);
    ASSERT_TRUE(restored.Restore(monitor.ExportState()).ok());
    for (uint64_t end = v + 20'000; v < end;) {
      const double loss = losses.Next(v < 30'000 ? 1 : 3);
      ++v;
      const bool drift = monitor.Add(loss, v);
      ASSERT_EQ(copy.Add(loss, v), drift);
      ASSERT_EQ(restored.Add(loss, v), drift);
    }
    EXPECT_GT(monitor.drifts_detected(), 0u);
    EXPECT_EQ(copy.ExportState(), monitor.ExportState());
    EXPECT_EQ(restored.ExportState(), monitor.ExportState());
  }
}

TEST(DriftMonitorTest, RestoreRefusesAnotherKindsOrAMalformedState) {
  DriftMonitor adwin(DriftDetectorKind::kAdwin);
  DriftMonitor none(DriftDetectorKind::kNone);
  for (int i = 1; i <= 100; ++i) adwin.Add(1, i);
  const std::vector<double> state = adwin.ExportState();
  EXPECT_THAT(none.Restore(state),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(adwin.Restore({0, 40, 0, 0}),  // a block of 40 of 32
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(adwin.Restore({0, 0, -1, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(adwin.ExportState(), state);  // unchanged by refusals
  EXPECT_TRUE(none.Restore({0.5, 1, 2, 64}).ok());
  EXPECT_EQ(none.drifts_detected(), 2u);
  EXPECT_EQ(none.last_drift_version(), 64u);
}

}  // namespace
}  // namespace streamfit
