#!/usr/bin/env bash
# Installs the Debian packages that fmala builds and tests with, when missing.
# The CUDA toolkit (nvcc, cuRAND, Thrust, CUB, cuBLAS) is a precondition of the
# machine, not a Debian package here: both back ends use its headers.
set -euo pipefail

packages=(cmake ninja-build g++ git python3 libgtest-dev libbenchmark-dev nlohmann-json3-dev
          libcli11-dev libopenblas-dev libfmt-dev zlib1g-dev libnetcdf-dev python3-venv
          libopenmpi-dev openmpi-bin
          dataset-fashion-mnist)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  echo "fmala: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null
fi

cuda_root=${CUDA_HOME:-/usr/local/cuda}
if [[ ! -f "$cuda_root/include/curand_kernel.h" ]]; then
  echo "fmala: error: the CUDA toolkit was not found in $cuda_root (no include/curand_kernel.h)." >&2
  echo "fmala: install the CUDA toolkit or set CUDA_HOME to its directory." >&2
  exit 2
fi
if ! command -v nvcc > /dev/null && [[ -x "$cuda_root/bin/nvcc" ]]; then
  echo "fmala: note: nvcc is in $cuda_root/bin but not on PATH; the build adds it."
fi
