#!/usr/bin/env bash
# Installs everything xbarnet needs to build, test, benchmark and validate, from Debian packages.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
  build-essential cmake ninja-build pkg-config git \
  libeigen3-dev libsuitesparse-dev libopenblas-dev \
  libfmt-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libpng-dev zlib1g-dev \
  libplplot-dev plplot-driver-cairo fonts-dejavu-core \
  libgtest-dev libgmock-dev libbenchmark-dev \
  ngspice clang-format clang libclang-rt-14-dev libomp-dev \
  python3-numpy python3-scipy dataset-fashion-mnist \
  python3-dev pybind11-dev python3-pytest python3-matplotlib python3-torch
