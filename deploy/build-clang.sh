#!/usr/bin/env bash
# Configures and builds the clang gate build into ${CLANG_BUILD_DIR:-build-clang}:
# Debian's clang 14 with -Wthread-safety -Werror (the ABSL_GUARDED_BY
# contracts are checked), AddressSanitizer + UndefinedBehaviorSanitizer
# (-fno-sanitize-recover=all: the first report aborts), and the libFuzzer
# targets of tests/fuzz/. -O1 and line tables only: enough for sanitizer
# stacks, and a much faster compile. Arguments are ninja targets (default:
# everything).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CLANG_BUILD_DIR:-build-clang}
cmake -S . -B "$dir" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSTREAMFIT_SANITIZE=address \
  -DSTREAMFIT_BUILD_FUZZ=ON \
  -DSTREAMFIT_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" >/dev/null
ninja -C "$dir" -j"$(nproc)" "$@"
