#!/usr/bin/env bash
# Installs the Python package from the source tree with pip, as a user does
# (pip install .), into a virtual environment, and runs its pytest suite
# against the fmala program built from the same sources.
# Usage: run.sh FMALA_BINARY SOURCE_DIR WORK_DIR
# WORK_DIR keeps the virtual environment and the package's CMake build, so
# later runs rebuild only what changed. Exits with 77 (skipped) when PyPI
# cannot be reached.
set -euo pipefail
fmala=$1
source_dir=$2
work_dir=$3
# The package's build requirements (pyproject.toml), the tests' tools, and
# JAX for the DLPack round trip. PyTorch is tested when it is installed.
requirements=(scikit-build-core==1.1.2 nanobind==3.1.0 numpy pytest arviz==0.23.4 jax)

source "$source_dir/tests/lib/venv.sh"
ensure_venv "$work_dir/venv" "${requirements[@]}"

python=$work_dir/venv/bin/python
# No build isolation: the build requirements are in the environment already.
# CUDA is left out to keep the test short; the package builds it by default.
if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$python" -m pip install --no-build-isolation --no-deps \
    -C build-dir="$work_dir/build" -C cmake.define.FMALA_ENABLE_CUDA=OFF "$source_dir" \
    > "$work_dir/pip-install.log" 2>&1; then
  tail -n 60 "$work_dir/pip-install.log"
  echo "error: pip install of the fmala package failed (log: $work_dir/pip-install.log)" >&2
  exit 1
fi
cd "$work_dir"
OMP_WAIT_POLICY=passive FMALA_CLI=$fmala "$python" -m pytest -q -rs -p no:cacheprovider \
  "$source_dir/tests/python"
