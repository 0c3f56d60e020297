# Sourced by the tests that compare with Python tools: ensure_venv VENV REQ...
# creates the virtual environment VENV with these PyPI requirements on the
# first run and reuses it afterwards. It exits with 77, which ctest reports as
# skipped, when the environment cannot be created or PyPI cannot be reached.

skip() {
  echo "SKIPPED: $*"
  exit 77
}

ensure_venv() {
  local venv=$1
  shift
  local requirements=("$@")
  # The marker file records a finished installation of these requirements, so
  # an interrupted pip install is redone instead of reused.
  local marker="$venv/.fmala-requirements"
  if [[ -f "$marker" && "$(cat "$marker")" == "${requirements[*]}" ]]; then
    return 0
  fi
  rm -rf "$venv"
  local venv_log
  if ! venv_log=$(python3 -m venv "$venv" 2>&1); then
    skip "python3 -m venv failed (install the python3-venv package): ${venv_log##*$'\n'}"
  fi
  local pip_log="$venv/pip-install.log"
  if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --timeout 20 --retries 2 \
      "${requirements[@]}" > "$pip_log" 2>&1; then
    local reason
    reason=$(grep -E "NewConnectionError|ConnectionError|Max retries|Temporary failure in name resolution|timed out|ProxyError|SSLError|Network is unreachable|No matching distribution|Could not find a version" "$pip_log" | tail -n 1 || true)
    if [[ -n "$reason" ]]; then
      skip "PyPI unreachable: $reason"
    fi
    cat "$pip_log"
    echo "error: pip install ${requirements[*]} failed for a reason other than the network" >&2
    exit 1
  fi
  echo "${requirements[*]}" > "$marker"
}
