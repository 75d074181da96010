#!/usr/bin/env bash
# Installs what is missing and builds gwo into ./build (or $GWO_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
BUILD_DIR=${GWO_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# LibTorch translation units need ~2 GB each; two at once fit the smallest machines.
ninja -C "$BUILD_DIR" -j "${GWO_JOBS:-$(nproc)}"
