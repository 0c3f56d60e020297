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

skip() {
  echo "SKIPPED: $*"
  exit 77
}

# The marker file records a finished installation of these requirements, so an
# interrupted pip install is redone instead of reused.
marker="$venv/.fmala-requirements"
if [[ ! -f "$marker" || "$(cat "$marker")" != "${requirements[*]}" ]]; then
  rm -rf "$venv"
  if ! venv_log=$(python3 -m venv "$venv" 2>&1); then
    skip "python3 -m venv failed (install the python3-venv package): ${venv_log##*$'\n'}"
  fi
  pip_log="$venv/pip-install.log"
  if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --timeout 20 --retries 2 \
      "${requirements[@]}" > "$pip_log" 2>&1; then
    reason=$(grep -E "NewConnectionError|ConnectionError|Max retries|Temporary failure in name resolution|timed out|ProxyError|SSLError|Network is unreachable|No matching distribution|Could not find a version" "$pip_log" | tail -n 1 || true)
    if [[ -n "$reason" ]]; then
      skip "PyPI unreachable: $reason"
    fi
    cat "$pip_log"
    echo "error: pip install ${requirements[*]} failed for a reason other than the network" >&2
    exit 1
  fi
  echo "${requirements[*]}" > "$marker"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OMP_WAIT_POLICY=passive "$fmala" sample --target funnel --chains 8 --draws 200 \
  --sampler pc-line-fmala,mala --seed 3 --out "$work/f" --quiet
"$venv/bin/python" "$source_dir/tests/arviz/check_netcdf.py" "$work/f"
