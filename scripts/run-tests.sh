#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds everything (the CUDA
# back end is compiled and linked for sm_80 and sm_90 whenever nvcc is found,
# with warnings as errors) and runs every test; GPU tests skip without a device.
# Then a CPU-only build with AddressSanitizer and UndefinedBehaviorSanitizer
# runs the unit, command-line and MPI tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
jobs=$(nproc)

echo "== Release build"
"$root/scripts/build.sh" "$root/build-test" -DFMALA_WARNINGS_AS_ERRORS=ON
if command -v nvcc > /dev/null || [[ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]]; then
  if [[ ! -f "$root/build-test/libfmala_cuda.a" ]]; then
    echo "fmala: error: nvcc is present but the CUDA back end was not built" >&2
    exit 1
  fi
fi
if ! ctest --test-dir "$root/build-test" -N -R '^mpi\.processes$' | grep -q "Total Tests: 1"; then
  echo "fmala: error: Open MPI is installed but fmala was built without MPI (no mpi.processes test)" >&2
  exit 1
fi
echo "== Release tests"
OMP_WAIT_POLICY=passive ctest --test-dir "$root/build-test" --output-on-failure -j "$jobs"

echo "== Sanitizer build (CPU back end)"
"$root/scripts/build.sh" "$root/build-asan" -DFMALA_ENABLE_CUDA=OFF -DFMALA_BUILD_BENCH=OFF \
  -DFMALA_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== Sanitizer tests"
OMP_WAIT_POLICY=passive ASAN_OPTIONS=detect_leaks=0 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs" -L "unit|cli|mpi"
