#!/usr/bin/env bash
# Set-up command 2: installs what is missing, builds, and runs every gate
# (docs/TESTING.md):
# 1. GCC with -Wall -Wextra -Werror: every test (unit, integration against a
#    real server on loopback, Python interop, CLI, crash, fuzz seeds).
# 2. clang 14 (${CLANG_BUILD_DIR:-build-clang}, deploy/build-clang.sh): the
#    whole project with -Wthread-safety -Werror, AddressSanitizer and
#    UndefinedBehaviorSanitizer; the core and server suites under them, then
#    each libFuzzer target for ${FUZZ_SECONDS:-20} s. STREAMFIT_SKIP_CLANG=1
#    skips it.
# 3. ThreadSanitizer (${TSAN_BUILD_DIR:-build-tsan}): the core and server
#    suites (learner concurrency; G1 with many producers and readers through
#    a real in-process gRPC server). STREAMFIT_SKIP_TSAN=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 300 -j2)

if [[ "${STREAMFIT_SKIP_CLANG:-0}" != 1 ]]; then
  clang_dir=${CLANG_BUILD_DIR:-build-clang}
  CLANG_BUILD_DIR=$clang_dir deploy/build-clang.sh
  # Any sanitizer report aborts the process (-fno-sanitize-recover=all);
  # LeakSanitizer reports leaks at exit.
  "$clang_dir/tests/core/core_tests" --gtest_brief=1
  "$clang_dir/tests/server/server_tests" --gtest_brief=1
  CLANG_BUILD_DIR=$clang_dir tests/fuzz/run.sh "${FUZZ_SECONDS:-20}" \
    dataset request sample_log snapshot manifest
fi

if [[ "${STREAMFIT_SKIP_TSAN:-0}" != 1 ]]; then
  # Only the test executable: TSan slows compiles and runs several-fold.
  tsan_dir=${TSAN_BUILD_DIR:-build-tsan}
  cmake -S . -B "$tsan_dir" -G Ninja -DSTREAMFIT_SANITIZE=thread \
    -DSTREAMFIT_BUILD_BENCH=OFF >/dev/null
  ninja -C "$tsan_dir" -j"$(nproc)" core_tests server_tests
  # Options and suppressions are compiled into the test binaries
  # (tests/tsan/absl_sync_annotations.cc): any report exits non-zero.
  # The whole core suite (about a minute): races in the threaded parts,
  # and heap misuse anywhere. Then the whole server suite (about a minute):
  # the reactors, the learner and Predict under concurrent RPCs.
  "$tsan_dir/tests/core/core_tests" --gtest_brief=1
  "$tsan_dir/tests/server/server_tests" --gtest_brief=1
fi
