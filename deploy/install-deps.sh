#!/usr/bin/env bash
# Installs the Debian 12 packages streamfit needs to build, test and run;
# installs only what is missing, so it is safe to run again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libeigen3-dev libabsl-dev libxxhash-dev liblbfgspp-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3-grpcio python3-grpc-tools python3-protobuf python3-numpy python3-xxhash
  python3-pip python3-setuptools python3-wheel python3-venv
  libspdlog-dev prometheus-cpp-dev python3-yaml openssl
  librdkafka-dev  # Kafka mode; its mock cluster runs the Kafka tests
  clang-14 libfuzzer-14-dev libclang-rt-14-dev  # clang gates: -Wthread-safety, ASan/UBSan, libFuzzer
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
