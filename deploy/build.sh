#!/usr/bin/env bash
# Configures and builds streamfit into ${BUILD_DIR:-build} (Release build with
# debug info). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja "$@" >/dev/null
ninja -C "$build_dir" -j"$(nproc)"
