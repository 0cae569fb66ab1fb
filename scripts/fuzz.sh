#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and runs each on a copy
# of its committed seed corpus. Usage: scripts/fuzz.sh [SECONDS per target | -runs=N]
# (default 20 seconds). Exits non-zero on the first finding (the crashing input is kept in
# build-fuzz/findings/).
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-20}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DXBARNET_FUZZ=ON -DXBARNET_WERROR=OFF -DXBARNET_BUILD_TESTS=OFF -DXBARNET_BUILD_BENCH=OFF
cmake --build "$BUILD_DIR" -j 2 --target xbarnet-fuzz-npy xbarnet-fuzz-config xbarnet-fuzz-spice
mkdir -p "$BUILD_DIR/findings"
if [[ "$LIMIT" == -runs=* ]]; then BUDGET="$LIMIT"; else BUDGET="-max_total_time=$LIMIT"; fi
for target in npy config spice; do
  work="$BUILD_DIR/corpus-$target"
  rm -rf "$work" && mkdir -p "$work" && cp tests/fuzz/corpus/$target/* "$work/"
  echo "== fuzz $target ($BUDGET)"
  ASAN_OPTIONS=detect_leaks=1 "$BUILD_DIR/tests/fuzz/xbarnet-fuzz-$target" "$work" "$BUDGET" \
    -rss_limit_mb=2048 -max_len=4096 -artifact_prefix="$BUILD_DIR/findings/$target-" 2>&1 |
    grep -E "^#[0-9]+ +(DONE|INITED)|ERROR|SUMMARY|Done [0-9]+ runs|Test unit written" || true
  test "${PIPESTATUS[0]}" -eq 0
done
