// gMock matchers for absl::Status and absl::StatusOr (Debian's Abseil
// 20220623 has no status_matchers.h).
#ifndef STREAMFIT_TESTS_TESTING_STATUS_MATCHERS_H_
#define STREAMFIT_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace streamfit::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// EXPECT_THAT(f(), StatusIs(absl::StatusCode::kInvalidArgument,
//                           HasSubstr("example 3")));
MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(s.message()), result_listener);
}
MATCHER_P(StatusIs, code, "") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}
MATCHER(IsOk, "") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.ok();
}

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_TESTING_STATUS_MATCHERS_H_
