#!/usr/bin/env bash
# Set-up command 1: installs what is missing, builds, and starts the server on
# 127.0.0.1:50051 with a default model and its data in ./streamfit-data.
# Extra arguments go to streamfit-server (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh
exec build/server/streamfit-server --address=127.0.0.1:50051 \
  --data_dir=./streamfit-data "$@"
