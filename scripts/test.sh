#!/usr/bin/env bash
# Builds xbarnet and runs the test suite (unit tests, closed forms, small ngspice cross-checks).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_EXTRA:-}
cmake --build "$BUILD_DIR" -j 2
ctest --test-dir "$BUILD_DIR" --output-on-failure -j 2
