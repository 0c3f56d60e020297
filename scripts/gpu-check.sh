#!/usr/bin/env bash
# Checks the CUDA back end on a machine with an NVIDIA GPU, in one command.
# It builds into build-gpu/ (Release, sm_90) and runs the GPU tests (ctest -L gpu).
# Then it samples the 10-D funnel on the GPU and, with fewer chains, on the CPU,
# and runs a short subset of fmala-bench when that was built. The budget is
# about 4 minutes on 16 cores (an estimate), and every step has its own time limit.
#
# Usage: [OUT=dir] [JOBS=n] [CUDA_ARCHITECTURES=90] scripts/gpu-check.sh
# Every log and output goes under ${OUT:-gpu-results}; status.txt lists each
# step as "name exit-status seconds". A failing step is logged and the next
# one still runs; the script exits 1 when any step failed.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-gpu-results}"
mkdir -p "${out}"
out="$(cd "${out}" && pwd)"
build_dir="${source_dir}/build-gpu"
jobs="${JOBS:-16}"
architectures="${CUDA_ARCHITECTURES:-90}"
# The CUDA toolkit's default location, for machines where it is not on PATH.
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH="/usr/local/cuda/bin:${PATH}"
fi
: >"${out}/status.txt"
failed=()

# Runs one step with stdout and stderr in ${out}/<name>.log, and records its
# exit status instead of stopping the script.
run_step() {
  local name="$1"
  shift
  local start="${SECONDS}"
  local status=0
  echo "== ${name}: $*"
  "$@" >"${out}/${name}.log" 2>&1 || status=$?
  echo "${name} ${status} $((SECONDS - start))" >>"${out}/status.txt"
  if [[ "${status}" -ne 0 ]]; then
    failed+=("${name}")
    echo "   ${name} failed with exit status ${status}; last lines of ${out}/${name}.log:"
    tail -n 30 "${out}/${name}.log" | sed 's/^/   | /'
  fi
  return 0
}

device_info() {
  nvidia-smi
  nvcc --version
  cmake --version
}

configure() {
  cmake -S "${source_dir}" -B "${build_dir}" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES="${architectures}"
  # Without nvcc the build silently falls back to the CPU back end.
  if ! grep -q '^CMAKE_CUDA_COMPILER:.*nvcc' "${build_dir}/CMakeCache.txt"; then
    echo "configure: no CUDA compiler found, so the CUDA back end would not be built" >&2
    return 1
  fi
}

build() {
  local targets=(fmala_cli test_gpu_backend)
  # fmala-bench exists only where Google Benchmark was found at configure time.
  if cmake --build "${build_dir}" --target help | grep -q '^fmala_bench:'; then
    targets+=(fmala_bench)
  fi
  cmake --build "${build_dir}" -j "${jobs}" --target "${targets[@]}"
}

gpu_tests() {
  cd "${build_dir}"
  ctest -L gpu --no-tests=error --output-on-failure --timeout 150 \
    --output-junit "${out}/ctest-gpu.xml"
}

# Usage: sample_funnel BACKEND CHAINS OUTPUT_NAME
sample_funnel() {
  "${build_dir}/fmala" sample --target funnel --dim 11 --sampler pc-line-fmala,mala \
    --chains "$2" --warmup 500 --draws 500 --backend "$1" --out "${out}/$3"
}

bench() {
  local binary="${build_dir}/bench/fmala-bench"
  if [[ ! -x "${binary}" ]]; then
    echo "fmala-bench was not built (Google Benchmark not found); nothing to run"
    return 0
  fi
  # The 1024-chain, 11-parameter funnel case of every sampler: a few seconds in all.
  "${binary}" --benchmark_format=json --benchmark_filter='chains:1024/dim:11$' \
    >"${out}/bench.json"
}

# Each step runs in its own bash under `timeout`, which needs a program to run.
export source_dir out build_dir jobs architectures
export -f device_info configure build gpu_tests sample_funnel bench
strict='set -euo pipefail;'

run_step device-info timeout 30 bash -c "${strict} device_info"
run_step configure timeout 90 bash -c "${strict} configure"
run_step build timeout 240 bash -c "${strict} build"
run_step gpu-tests timeout 180 bash -c "${strict} gpu_tests"
run_step funnel-gpu timeout 120 bash -c "${strict} sample_funnel cuda 4096 funnel-gpu"
run_step funnel-cpu timeout 120 bash -c "${strict} sample_funnel cpu 256 funnel-cpu"
run_step bench timeout 90 bash -c "${strict} bench"

echo "== status (step, exit status, seconds):"
cat "${out}/status.txt"
if [[ "${#failed[@]}" -gt 0 ]]; then
  echo "failed steps: ${failed[*]}"
  exit 1
fi
echo "all steps passed; outputs in ${out}"
