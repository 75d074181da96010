#!/usr/bin/env bash
# Compiles (syntax only) gwo's LibTorch sources against LibTorch 2.x headers with the
# CUDA paths switched on (GWO_WITH_CUDA, GWO_WITH_TRAIN_KERNELS), on a machine without a
# GPU or a CUDA LibTorch: the headers come from Debian trixie's libtorch-dev (2.6),
# downloaded and unpacked under /tmp, never installed. It catches what Debian 12's
# LibTorch 1.13 cannot (the 2.4+ blocks: fused AdamW with a tensor lr, Kineto) before a
# device call does. The device has a newer LibTorch (2.11), so passing here is a lead.
#
#   bench/train/check_torch2_headers.sh [FILE...]   (default: every .cc that includes LibTorch)
# Needs a configured build/ (for the generated protobuf headers) and the CUDA headers
# in /usr/local/cuda/include. About 9 minutes on 2 cores for all files.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
cache=${TORCH2_CACHE:-/tmp/gwo-torch2-headers}
if [[ ! -d $cache/root/usr/include/torch ]]; then
  mkdir -p "$cache"/{lists,cache,etc}
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    >"$cache/etc/sources.list"
  apt_opts=(-o Dir::Etc::SourceList="$cache/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o Dir::State::Lists="$cache/lists" -o Dir::Cache="$cache/cache" -o Debug::NoLocking=1)
  apt-get "${apt_opts[@]}" update >/dev/null || { echo "apt-get update (trixie) failed"; exit 1; }
  (cd "$cache" && apt-get "${apt_opts[@]}" download libtorch-dev >/dev/null 2>&1) || { echo "download failed"; exit 1; }
  dpkg-deb -x "$cache"/libtorch-dev_*.deb "$cache/root"
fi
inc=$cache/root/usr/include
# The CUDA build's generated macros header, which a CPU package does not ship.
mkdir -p "$cache/fakecuda/c10/cuda/impl"
echo "#pragma once" >"$cache/fakecuda/c10/cuda/impl/cuda_cmake_macros.h"

files=("$@")
if ((${#files[@]} == 0)); then
  mapfile -t files < <(grep -rl 'torch/torch.h\|ATen\|c10/' worker tests/worker --include=*.cc | sort)
fi
logs=$(mktemp -d)
check() {
  local f=$1 log=$logs/$(echo "$1" | tr / _).log
  g++ -std=gnu++20 -fsyntax-only -DGWO_WITH_CUDA=1 -DGWO_WITH_TRAIN_KERNELS=1 -D_GLIBCXX_USE_CXX11_ABI=1 \
    -DGWO_TEST_SOURCE_DIR='"."' -I. -Ibuild/gen -Ibuild -isystem "$inc" -isystem "$inc/torch/csrc/api/include" \
    -isystem /usr/local/cuda/include -I"$cache/fakecuda" "$f" >"$log" 2>&1 && rm -f "$log"
}
export -f check
export logs inc cache
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -I{} bash -c 'check {}'
failed=0
for log in "$logs"/*.log; do
  [[ -f $log ]] || continue
  failed=1
  echo "== $(basename "$log" .log)"
  grep -m 10 "error" "$log"
done
echo "${#files[@]} file(s) checked against LibTorch $(sed -n 's/#define TORCH_VERSION_\(MAJOR\|MINOR\) //p' "$inc/torch/csrc/api/include/torch/version.h" | paste -sd.)"
rm -rf "$logs"
exit $failed
