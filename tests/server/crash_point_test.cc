// A crash at every step that changes the disk: the server runs a sequence of
// admin and Observe calls over a file system that "kills" the process just
// before its n-th change (nothing reaches the disk after it, as with
// kill -9), for every n the sequence has. A restart must then recover, and
// hold exactly the state after the last acknowledged call, or after the
// call the crash interrupted (its outcome is unknown to the client, as when
// a real process dies before answering).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/server/fault_server_fixture.h"

namespace streamfit::testing {
namespace {

class CrashPointTest : public FaultServerTest {
 protected:
  // What the server holds: model "m"'s version and state, and whether "n"
  // exists.
  std::string Holdings() {
    std::string out = GetModel("m").ok() ? State("m") : "no m";
    return out + (GetModel("n").ok() ? "|n" : "|no n");
  }

  // Runs the steps in order until one fails (the crashed process answers
  // nothing more); returns how many succeeded. With `holdings`, records
  // Holdings() before the first step and after each one.
  size_t RunSteps(std::vector<std::string>* holdings) {
    v1::ModelSnapshot at_20;
    const std::vector<std::function<grpc::Status()>> steps = {
        [&] { return CreateModel("m"); },
        [&] {
          grpc::Status s = ObserveRange(0, 20);
          if (s.ok()) {
            EXPECT_TRUE(SnapshotModel(*stub_, "m", &at_20).ok());
          }
          return s;
        },
        [&] { return ObserveRange(20, 40); },
        // A Restore writes a checkpoint, then the manifest.
        [&] { return RestoreModel(*stub_, "m", at_20); },
        [&] { return ObserveRange(40, 60); },
        [&] { return CreateModel("n"); },
        [&] { return DeleteModel("n"); },
    };
    if (holdings != nullptr) holdings->push_back(Holdings());
    size_t done = 0;
    for (const auto& step : steps) {
      if (!step().ok()) break;
      ++done;
      if (holdings != nullptr) holdings->push_back(Holdings());
    }
    return done;
  }
};

TEST_F(CrashPointTest, EveryCrashPointRecoversTheAcknowledgedState) {
  // The sequence without a crash: the holdings after each step, and how
  // many disk changes it makes, its clean shutdown (final checkpoints)
  // included.
  Start();
  std::vector<std::string> expected;
  const int before = fs_.DiskChanges();
  const size_t steps = RunSteps(&expected);
  ASSERT_EQ(steps + 1, expected.size());
  ASSERT_EQ(steps, 7u);
  server_->Shutdown(absl::Seconds(2));
  server_.reset();
  const int changes = fs_.DiskChanges() - before;
  ASSERT_GT(changes, 20);
  RecordProperty("crash_points", changes);
  Start();
  ASSERT_EQ(Holdings(), expected.back());  // a clean restart keeps it all
  server_->Shutdown(absl::Seconds(2));
  server_.reset();
  std::filesystem::remove_all(data_dir_);

  const std::string dir = data_dir_;
  for (int n = 1; n <= changes; ++n) {
    SCOPED_TRACE(absl::StrCat("crash before disk change ", n, " of ", changes));
    data_dir_ = absl::StrCat(dir, "_", n);
    Start();
    fs_.CrashAt(n);
    const size_t acked = RunSteps(nullptr);
    // The process dies: whatever it still tries to write is lost.
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    ASSERT_TRUE(fs_.crashed());
    fs_.Clear();
    Start();
    const std::string recovered = Holdings();
    if (acked == steps) {
      EXPECT_EQ(recovered, expected[steps]);  // crashed in the final stop
    } else {
      EXPECT_TRUE(recovered == expected[acked] ||
                  recovered == expected[acked + 1])
          << acked << " steps acknowledged; recovered " << recovered;
    }
    // And it goes on: the recovered server takes samples and restarts.
    if (GetModel("m").ok()) {
      EXPECT_TRUE(ObserveRange(60, 70).ok());
    }
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }
  data_dir_ = dir;
}

}  // namespace
}  // namespace streamfit::testing
