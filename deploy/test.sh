#!/usr/bin/env bash
# Set-up command 2: installs what is missing, builds, and runs every test
# (unit, integration against a real server on loopback, Python interop, CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 -j2
