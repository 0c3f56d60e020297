#!/usr/bin/env bash
# Runs fmala on a small funnel and checks its InferenceData NetCDF files with
# ArviZ 0.23.4 (tests/arviz/check_netcdf.py).
# Usage: run.sh FMALA_BINARY SOURCE_DIR VENV_DIR
# The virtual environment in VENV_DIR is created on the first run and reused
# afterwards. Exits with 77, which ctest reports as skipped, when the virtual
# environment cannot be created or PyPI cannot be reached.
set -euo pipefail
fmala=$1
source_dir=$2
venv=$3
requirements=(arviz==0.23.4 netCDF4)

source "$source_dir/tests/lib/venv.sh"
ensure_venv "$venv" "${requirements[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OMP_WAIT_POLICY=passive "$fmala" sample --target funnel --chains 8 --draws 200 \
  --sampler pc-line-fmala,mala --seed 3 --out "$work/f" --quiet
"$venv/bin/python" "$source_dir/tests/arviz/check_netcdf.py" "$work/f"
