#include "core/model/drift_detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::StatusIs;

// Squared standard normal errors scaled by `scale`: the progressive squared
// loss of a model at its noise floor (heavy-tailed, mean scale^2).
class SquaredErrors {
 public:
  explicit SquaredErrors(uint32_t seed) : rng_(seed) {}
  double Next(double scale) {
    const double e = scale * normal_(rng_);
    return e * e;
  }

 private:
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
};

const char* Name(const DriftDetector& d) {
  return dynamic_cast<const Adwin*>(&d) != nullptr ? "adwin" : "page-hinkley";
}

std::vector<std::unique_ptr<DriftDetector>> BothDetectors() {
  std::vector<std::unique_ptr<DriftDetector>> d;
  d.push_back(std::make_unique<Adwin>(Adwin::Options{}));
  d.push_back(std::make_unique<PageHinkley>(PageHinkley::Options{}));
  return d;
}

TEST(DriftDetectorTest, NoAlarmOnAMillionStationaryHeavyTailedValues) {
  for (auto& detector : BothDetectors()) {
    SquaredErrors errors(1);
    int alarms = 0;
    for (int i = 0; i < 1'000'000; ++i) alarms += detector->Add(errors.Next(1));
    EXPECT_EQ(alarms, 0) << Name(*detector);
  }
}

TEST(DriftDetectorTest, NoAlarmWhileAModelLearnsAndItsLossFalls) {
  for (auto& detector : BothDetectors()) {
    SquaredErrors errors(2);
    int alarms = 0;
    for (int i = 0; i < 200'000; ++i) {
      const double scale = 1 + 10.0 / (1 + i / 100.0);  // a learning curve
      alarms += detector->Add(errors.Next(scale));
    }
    EXPECT_EQ(alarms, 0) << Name(*detector);
  }
}

TEST(DriftDetectorTest, FindsAnAbruptRiseWithinAFewHundredValues) {
  for (auto& detector : BothDetectors()) {
    SquaredErrors errors(3);
    int before = 0;
    for (int i = 0; i < 50'000; ++i) before += detector->Add(errors.Next(1));
    EXPECT_EQ(before, 0);
    // The loss quadruples (the noise's scale doubles).
    int delay = -1;
    for (int i = 0; i < 5'000 && delay < 0; ++i) {
      if (detector->Add(errors.Next(2))) delay = i + 1;
    }
    EXPECT_GT(delay, 0) << Name(*detector);
    EXPECT_LT(delay, 500) << Name(*detector);
  }
}

TEST(DriftDetectorTest, AFallIsNeverReported) {
  for (auto& detector : BothDetectors()) {
    SquaredErrors errors(4);
    int alarms = 0;
    for (int i = 0; i < 20'000; ++i) alarms += detector->Add(errors.Next(3));
    for (int i = 0; i < 20'000; ++i) alarms += detector->Add(errors.Next(1));
    EXPECT_EQ(alarms, 0) << Name(*detector);
  }
}

TEST(DriftDetectorTest, PageHinkleyIgnoresASingleOutlier) {
  PageHinkley detector({});
  SquaredErrors errors(5);
  int alarms = 0;
  for (int i = 0; i < 1000; ++i) alarms += detector.Add(errors.Next(1));
  alarms += detector.Add(1e12);  // clipped to 5 standard deviations
  for (int i = 0; i < 1000; ++i) alarms += detector.Add(errors.Next(1));
  EXPECT_EQ(alarms, 0);
}

TEST(DriftDetectorTest, AdwinWindowHoldsExactlyTheRecentValues) {
  Adwin adwin({});
  for (int i = 1; i <= 1000; ++i) adwin.Add(i % 7);  // stationary: no cut
  EXPECT_EQ(adwin.width(), 1000u);
  double sum = 0;
  for (int i = 1; i <= 1000; ++i) sum += i % 7;
  EXPECT_DOUBLE_EQ(adwin.mean(), sum / 1000);
  // A large rise: the window is cut to (about) the values after it.
  for (int i = 0; i < 1000; ++i) adwin.Add(100 + i % 7);
  EXPECT_LT(adwin.width(), 1100u);
  EXPECT_GT(adwin.mean(), 90);
}

TEST(DriftDetectorTest, ClonesAndExportedStatesContinueExactly) {
  for (size_t kind = 0; kind < 2; ++kind) {
    std::unique_ptr<DriftDetector> detector = std::move(BothDetectors()[kind]);
    SquaredErrors errors(6);
    for (int i = 0; i < 30'000; ++i) detector->Add(errors.Next(1));
    std::unique_ptr<DriftDetector> clone = detector->Clone();
    std::unique_ptr<DriftDetector> restored = std::move(BothDetectors()[kind]);
    ASSERT_TRUE(restored->Restore(detector->ExportState()).ok());
    EXPECT_EQ(restored->ExportState(), detector->ExportState());
    int alarms = 0;
    for (int i = 0; i < 30'000; ++i) {
      const double v = errors.Next(i < 10'000 ? 1 : 3);
      const bool alarm = detector->Add(v);
      alarms += alarm;
      ASSERT_EQ(clone->Add(v), alarm) << i;
      ASSERT_EQ(restored->Add(v), alarm) << i;
    }
    EXPECT_GT(alarms, 0) << Name(*detector);
    EXPECT_EQ(clone->ExportState(), detector->ExportState());
    EXPECT_EQ(restored->ExportState(), detector->ExportState());
  }
}

TEST(DriftDetectorTest, RestoreRefusesMalformedStates) {
  Adwin adwin({});
  PageHinkley ph({});
  for (const std::vector<double>& bad : std::vector<std::vector<double>>{
           {}, {1, 2}, {-1, 0, 0, 0, 0}, {1, 1, 0, 0, 1, 1, 1}}) {
    EXPECT_THAT(adwin.Restore(bad),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // A width that does not match its buckets, and a NaN.
  EXPECT_THAT(adwin.Restore({2, 1, 0, 1, 1, 1, 1, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ph.Restore({1, 0, -1, 0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ph.Restore({1, std::nan(""), 0, 0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(adwin.Restore({1, 1, 0, 1, 1, 1, 1, 0}).ok());
  EXPECT_EQ(adwin.width(), 1u);
}

}  // namespace
}  // namespace streamfit
