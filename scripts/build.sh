#!/usr/bin/env bash
# Configures and builds fmala into the directory $1 (default build/), in
# Release mode, with the CUDA back end whenever nvcc is found. Extra arguments
# are passed to cmake at configure time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$root/build}
shift || true
cuda_root=${CUDA_HOME:-/usr/local/cuda}
if ! command -v nvcc > /dev/null && [[ -x "$cuda_root/bin/nvcc" ]]; then
  export PATH="$cuda_root/bin:$PATH"
fi
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > "$build_dir.configure.log" 2>&1 || {
  cat "$build_dir.configure.log"; exit 1; }
grep -E "^-- fmala:" "$build_dir.configure.log" || true
cmake --build "$build_dir" -j "$(nproc)"
