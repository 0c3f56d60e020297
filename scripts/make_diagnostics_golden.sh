#!/usr/bin/env bash
# Regenerates tests/data/diagnostics (draw files and golden.json) with a pinned ArviZ.
# Creates a throwaway virtual environment in a temporary directory, so nothing is installed
# into the system Python. Needs python3 with the venv module and access to PyPI.
# Usage: scripts/make_diagnostics_golden.sh [OUTPUT_DIR]
set -euo pipefail

ARVIZ_VERSION=0.23.4
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv_dir="$(mktemp -d "${TMPDIR:-/tmp}/fmala-diagnostics-golden.XXXXXX")"
trap 'rm -rf "${venv_dir}"' EXIT

python3 -m venv "${venv_dir}"
"${venv_dir}/bin/pip" install --quiet "arviz==${ARVIZ_VERSION}" numpy
"${venv_dir}/bin/python" "${script_dir}/make_diagnostics_golden.py" "$@"
