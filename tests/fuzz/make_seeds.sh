#!/usr/bin/env bash
# Rewrites tests/fuzz/corpus/ (the fuzz targets' seed corpora) with the
# make_seeds tool of a build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${BUILD_DIR:-build}
ninja -C "$build_dir" make_seeds
rm -rf tests/fuzz/corpus
"$build_dir/tests/fuzz/make_seeds" tests/fuzz/corpus
find tests/fuzz/corpus -type f | sort
