#!/usr/bin/env bash
# Set-up command 2: installs what is missing, builds, and runs every test and
# gate (docs/TESTING.md):
#   1. GCC build with -Wall -Wextra -Werror; the whole ctest suite (unit,
#      integration against a real server on loopback, Python interop, CLI,
#      crash, manifests, bench smoke, each fuzz target over its seeds).
#   2. clang 14 build with -Wthread-safety -Werror, AddressSanitizer and
#      UndefinedBehaviorSanitizer (${CLANG_BUILD_DIR:-build-clang}): the core
#      and server suites, then every libFuzzer target for FUZZ_SECONDS
#      (default 15) each.
#   3. ThreadSanitizer build (${TSAN_BUILD_DIR:-build-tsan}): the core and
#      server suites.
# STREAMFIT_SKIP_CLANG=1 or STREAMFIT_SKIP_TSAN=1 skips step 2 or 3.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 300 -j2)

# Any sanitizer report exits non-zero: ASan/UBSan stop at the first one
# (-fno-sanitize-recover=all); TSan's options and suppressions are compiled
# into its test binaries (tests/tsan/).
if [[ "${STREAMFIT_SKIP_CLANG:-0}" != 1 ]]; then
  clang_dir=${CLANG_BUILD_DIR:-build-clang}
  deploy/build-clang.sh core_tests server_tests dataset_fuzz request_fuzz \
    sample_log_fuzz snapshot_fuzz manifest_fuzz
  "$clang_dir/tests/core/core_tests" --gtest_brief=1
  "$clang_dir/tests/server/server_tests" --gtest_brief=1
  tests/fuzz/run.sh "${FUZZ_SECONDS:-15}"
fi

if [[ "${STREAMFIT_SKIP_TSAN:-0}" != 1 ]]; then
  # Only the test executables: TSan slows compiles and runs several-fold.
  tsan_dir=${TSAN_BUILD_DIR:-build-tsan}
  cmake -S . -B "$tsan_dir" -G Ninja -DSTREAMFIT_SANITIZE=thread \
    -DSTREAMFIT_BUILD_BENCH=OFF >/dev/null
  ninja -C "$tsan_dir" -j"$(nproc)" core_tests server_tests
  "$tsan_dir/tests/core/core_tests" --gtest_brief=1
  "$tsan_dir/tests/server/server_tests" --gtest_brief=1
fi
