#!/usr/bin/env bash
# Builds the programs that scripts/gpu-check.sh runs, for sm_90, on a machine
# without a GPU, and packs them with the shared libraries they need into
# gpu-bundle.tar.xz, to be carried to a GPU machine that has the CUDA
# libraries but not the project's other dependencies (OpenBLAS, netCDF, fmt).
#
# Usage: [JOBS=n] [CUDA_ARCHITECTURES=90] scripts/gpu-bundle.sh
# Output: gpu-bundle.tar.xz at the repository root, with bundle/bin
# (fmala, fmala-bench, test_gpu_backend), bundle/lib and bundle/info.txt.
# info.txt lists the hash of the sources (scripts/source-hash.sh), which
# gpu-check.sh compares with the checkout it runs in, the commit and the
# architectures. The C library, the loader, the CUDA driver and cuBLAS
# (hundreds of MB) are not packed: the GPU machine's own are used.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${source_dir}/build-gpu-bundle"
jobs="${JOBS:-2}"
architectures="${CUDA_ARCHITECTURES:-90}"
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH="/usr/local/cuda/bin:${PATH}"
fi

cmake -S "${source_dir}" -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES="${architectures}" -DFMALA_ENABLE_MPI=OFF >/dev/null
if ! grep -q '^CMAKE_CUDA_COMPILER:.*nvcc' "${build_dir}/CMakeCache.txt"; then
  echo "gpu-bundle: no CUDA compiler found, so the CUDA back end would not be built" >&2
  exit 1
fi
targets=(fmala_cli test_gpu_backend)
# grep reads the whole list: with -q it may exit first, and the broken pipe
# would fail the pipeline under pipefail.
if cmake --build "${build_dir}" --target help | grep '^fmala_bench:' >/dev/null; then
  targets+=(fmala_bench)
fi
cmake --build "${build_dir}" -j "${jobs}" --target "${targets[@]}"

stage="$(mktemp -d)"
trap 'rm -rf "${stage}"' EXIT
mkdir -p "${stage}/bundle/bin" "${stage}/bundle/lib"
binaries=("${build_dir}/fmala" "${build_dir}/tests/test_gpu_backend")
if [[ -x "${build_dir}/bench/fmala-bench" ]]; then
  binaries+=("${build_dir}/bench/fmala-bench")
fi
cp "${binaries[@]}" "${stage}/bundle/bin/"
if commit=$(git -C "${source_dir}" rev-parse --short=12 HEAD 2>/dev/null); then
  git -C "${source_dir}" diff --quiet HEAD -- || commit="${commit}-dirty"
else
  commit=unknown
fi
{
  echo "sources $("${source_dir}/scripts/source-hash.sh" "${source_dir}")"
  echo "commit ${commit}"
  echo "architectures ${architectures}"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"${stage}/bundle/info.txt"
# Every shared library the programs load, except the ones the GPU machine
# must provide itself.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libcuda\.so|libcublas(Lt)?\.so)'
for binary in "${binaries[@]}"; do
  ldd "${binary}" | awk '$3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  if [[ ! "${name}" =~ ${skip} ]]; then
    cp -L "${path}" "${stage}/bundle/lib/${name}"
  fi
done
tar -C "${stage}" -cJf "${source_dir}/gpu-bundle.tar.xz" bundle
size=$(stat -c %s "${source_dir}/gpu-bundle.tar.xz")
echo "gpu-bundle: wrote gpu-bundle.tar.xz ($((size / 1048576)) MiB, $(ls "${stage}/bundle/lib" | wc -l) libraries)"
if ((size > 60 * 1048576)); then
  echo "gpu-bundle: the bundle is larger than 60 MiB and may not fit what can be carried" >&2
  exit 1
fi
