#!/usr/bin/env bash
# Set-up command 2: installs what is missing, builds, and runs every test
# (unit, integration against a real server on loopback, Python interop, CLI),
# then the core and server suites (learner concurrency; G1 with many
# producers and readers through a real in-process gRPC server) again under
# ThreadSanitizer in a separate build (${TSAN_BUILD_DIR:-build-tsan};
# STREAMFIT_SKIP_TSAN=1 skips it). See docs/PERFORMANCE.md, "ThreadSanitizer".
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 300 -j2)

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
