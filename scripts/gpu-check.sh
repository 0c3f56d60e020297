#!/usr/bin/env bash
# Checks the CUDA back end on a machine with an NVIDIA GPU, in one command.
# It runs the GPU tests: the gtest cases of test_gpu_backend, which cover
# CPU/GPU parity of every sampler on the analytic targets and the network
# models, jets and gradients, adaptation and a 4096-chain Gaussian. Then a
# short compute-sanitizer memcheck of a subset, where the machine allows it.
# Then the 10-D funnel and the paper's regression MLP sampled on the GPU and,
# with fewer chains, on the CPU, the MNIST-size CNN on the GPU, and
# fmala-bench's CUDA cases. The budget is about 4 minutes on 16 cores (an
# estimate), and every step has its own time limit.
#
# Programs come from gpu-bundle.tar.xz at the repository root when it is
# there. scripts/gpu-bundle.sh makes it on a machine without a GPU, with the
# shared libraries that a bare CUDA machine lacks. Otherwise the script builds
# into build-gpu/ (Release, sm_90), which needs the project's dependencies on
# that machine.
#
# Usage: [OUT=dir] [JOBS=n] [CUDA_ARCHITECTURES=90] [DRY_RUN=1] scripts/gpu-check.sh
# DRY_RUN=1 makes the bundle (scripts/gpu-bundle.sh), checks that its
# programs load, and lists the steps without running them: the check to make
# on a machine without a GPU before spending device time.
# Every log and output goes under ${OUT:-gpu-results}; status.txt lists each
# step as "name exit-status seconds". A failing step is logged and the next
# one still runs; the script exits 1 when any step failed. A step that the
# machine refuses (compute-sanitizer) is logged as skipped, not failed.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-gpu-results}"
mkdir -p "${out}"
out="$(cd "${out}" && pwd)"
build_dir="${source_dir}/build-gpu"
bundle="${source_dir}/gpu-bundle.tar.xz"
dry_run="${DRY_RUN:-0}"
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
  # grep reads the whole list: with -q it may exit first, and the broken pipe
  # would fail the pipeline under pipefail.
  if cmake --build "${build_dir}" --target help | grep '^fmala_bench:' >/dev/null; then
    targets+=(fmala_bench)
  fi
  cmake --build "${build_dir}" -j "${jobs}" --target "${targets[@]}"
}

# Unpacks the bundle and points the loader at its libraries, then at the
# machine's CUDA libraries (cuBLAS is not packed).
unpack_bundle() {
  rm -rf "${bin_dir%/bin}"
  mkdir -p "${bin_dir%/bundle/bin}"
  tar -C "${bin_dir%/bundle/bin}" -xJf "${bundle}"
  ls -l "${bin_dir}"
  cat "${bin_dir%/bin}/info.txt"
}

# Fails when the bundle was built from other sources than this checkout's,
# so that results are not taken for the current code. The later steps still
# run.
bundle_sources() {
  local built here
  built=$(sed -n 's/^sources //p' "${bin_dir%/bin}/info.txt")
  here=$("${source_dir}/scripts/source-hash.sh" "${source_dir}")
  echo "bundle built from sources ${built}; this checkout: ${here}"
  if [[ "${built}" != "${here}" ]]; then
    echo "gpu-bundle.tar.xz is stale: rebuild it with scripts/gpu-bundle.sh from this checkout" >&2
    return 1
  fi
}

gpu_tests() {
  "${bin_dir}/test_gpu_backend" --gtest_output="xml:${out}/gtest-gpu.xml"
}

# A short subset under compute-sanitizer's memcheck; skipped (exit 0) where
# the tool is missing or the machine refuses it.
memcheck() {
  local sanitizer
  sanitizer="$(command -v compute-sanitizer || true)"
  if [[ -z "${sanitizer}" && -x /usr/local/cuda/bin/compute-sanitizer ]]; then
    sanitizer=/usr/local/cuda/bin/compute-sanitizer
  fi
  if [[ -z "${sanitizer}" ]]; then
    echo "skipped: compute-sanitizer is not installed"
    return 0
  fi
  local status=0
  "${sanitizer}" --tool memcheck --error-exitcode 99 "${bin_dir}/test_gpu_backend" \
    --gtest_filter='CudaNetworks.*:Mlp/CudaParity.*/MlpMala:Mlp/CudaParity.*/MlpPcLineFmala:Funnel/CudaParity.*/FunnelFmala' ||
    status=$?
  if [[ "${status}" -eq 99 ]]; then
    echo "memcheck reported errors"
    return 1
  fi
  if [[ "${status}" -ne 0 ]]; then
    echo "skipped: compute-sanitizer exited with ${status} (the machine may refuse it; see above)"
  fi
  return 0
}

# Usage: sample_funnel BACKEND CHAINS OUTPUT_NAME
sample_funnel() {
  "${bin_dir}/fmala" sample --target funnel --dim 11 --sampler pc-line-fmala,mala \
    --chains "$2" --warmup 500 --draws 500 --backend "$1" --out "${out}/$3"
}

# Usage: sample_mlp BACKEND CHAINS OUTPUT_NAME: the paper's regression MLP
# (40,701 parameters) on the 1-D data.
sample_mlp() {
  "${bin_dir}/fmala" sample --preset paper-regression --data "${source_dir}/data/agw1d/data.csv" \
    --sampler pc-line-fmala,fmala,mala --chains "$2" --warmup 100 --draws 10 \
    --backend "$1" --out "${out}/$3"
}

# Usage: sample_cnn CHAINS OUTPUT_NAME: the MNIST-size CNN (824,458
# parameters) on random images of MNIST's shape, on the GPU only.
sample_cnn() {
  "${bin_dir}/fmala" sample --model cnn --preset paper-mnist-cnn --data random:28x28x1 \
    --train-subset 500 --sampler pc-line-fmala,mala --chains "$1" --warmup 20 --draws 5 \
    --predictive-draws 1 --backend cuda --out "${out}/$2"
}

bench() {
  local binary="${bin_dir}/fmala-bench"
  if [[ ! -x "${binary}" ]]; then
    echo "fmala-bench was not built (Google Benchmark not found); nothing to run"
    return 0
  fi
  # Every CUDA case (funnel 1024-16384 chains, the paper MLP at 1024 and 4096
  # chains, the CNN at 256 and 1024, the jet products against SGEMM) and the
  # CPU's 1024-chain funnel.
  "${binary}" --benchmark_format=json --benchmark_filter='Cuda|^BM_Funnel<.*chains:1024/dim:11/' \
    >"${out}/bench.json"
}

steps=(
  "device-info 30 device_info"
  "gpu-tests 240 gpu_tests"
  "memcheck 120 memcheck"
  "funnel-gpu 60 sample_funnel cuda 4096 funnel-gpu"
  "funnel-cpu 60 sample_funnel cpu 256 funnel-cpu"
  "mlp-gpu 120 sample_mlp cuda 4096 mlp-gpu"
  "mlp-cpu 90 sample_mlp cpu 16 mlp-cpu"
  "cnn-gpu 120 sample_cnn 256 cnn-gpu"
  "bench 180 bench"
)

if [[ "${dry_run}" == 1 ]]; then
  "${source_dir}/scripts/gpu-bundle.sh"
fi
if [[ -f "${bundle}" ]]; then
  bin_dir="${out}/unpacked/bundle/bin"
  export LD_LIBRARY_PATH="${bin_dir%/bin}/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"
  steps=("unpack 60 unpack_bundle" "bundle-sources 30 bundle_sources" "${steps[@]}")
else
  bin_dir="${build_dir}/bin-links"
  steps=("configure 90 configure" "build 240 build" "link 10 link_build" "${steps[@]}")
fi

# Gives the programs of a build the bundle's layout.
link_build() {
  mkdir -p "${bin_dir}"
  ln -sf "${build_dir}/fmala" "${build_dir}/tests/test_gpu_backend" "${bin_dir}/"
  if [[ -x "${build_dir}/bench/fmala-bench" ]]; then
    ln -sf "${build_dir}/bench/fmala-bench" "${bin_dir}/"
  fi
}

# Each step runs in its own bash under `timeout`, which needs a program to run.
export source_dir out build_dir bin_dir bundle jobs architectures
export -f device_info configure build link_build unpack_bundle bundle_sources gpu_tests memcheck sample_funnel \
  sample_mlp sample_cnn bench
strict='set -euo pipefail;'

if [[ "${dry_run}" == 1 ]]; then
  unpack_bundle
  bundle_sources
  echo "== the bundle's programs load:"
  "${bin_dir}/fmala" --version
  echo "GPU test cases: $("${bin_dir}/test_gpu_backend" --gtest_list_tests | grep -c '^  ')"
  if [[ -x "${bin_dir}/fmala-bench" ]]; then
    "${bin_dir}/fmala-bench" --benchmark_list_tests --benchmark_filter='^BM_Funnel<.*chains:1024/dim:11/' | head -3
  fi
  echo "== on a GPU machine, in a checkout with gpu-bundle.tar.xz at its root, scripts/gpu-check.sh"
  echo "   would run these steps (name, time limit in s, function of this script):"
  printf '  %s\n' "${steps[@]}"
  echo "   fmala-bench registers its CUDA benchmarks only where a device is present, so they"
  echo "   are not listed here. The GPU machine needs cuBLAS and a driver for CUDA $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')."
  exit 0
fi

for step in "${steps[@]}"; do
  read -r name limit command <<<"${step}"
  run_step "${name}" timeout "${limit}" bash -c "${strict} ${command}"
done

echo "== status (step, exit status, seconds):"
cat "${out}/status.txt"
if [[ "${#failed[@]}" -gt 0 ]]; then
  echo "failed steps: ${failed[*]}"
  exit 1
fi
echo "all steps passed; outputs in ${out}"
