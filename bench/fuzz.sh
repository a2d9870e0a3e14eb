#!/usr/bin/env bash
# A long fuzzing session: builds the clang ASan + UBSan build
# (deploy/build-clang.sh) and runs every fuzz target (or those named) for
# ${FUZZ_SECONDS:-3600} s each (or FUZZ_RUNS executions, if sooner), one at a
# time, under nice. The executions per
# target go in docs/TESTING.md. The corpora grow in build-clang/fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
((${#targets[@]})) || targets=(dataset request sample_log snapshot manifest)
deploy/build-clang.sh "${targets[@]/%/_fuzz}"
FUZZ_NICE=1 tests/fuzz/run.sh "${FUZZ_SECONDS:-3600}" "${targets[@]}"
