#!/usr/bin/env bash
# --log-level quiet|normal|verbose|debug (and -q, -v) choose what is printed;
# log.jsonl receives every event at any level; warnings print even when quiet.
set -euo pipefail
fmala=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {
  local name=$1
  shift
  "$fmala" sample --target gaussian --dim 3 --sampler mala --chains 1 --warmup 50 --draws 20 \
    --checkpoint-every 25 --out "$work/$name" "$@" > "$work/$name.out" 2> "$work/$name.err"
}

run quiet -q
[[ ! -s $work/quiet.out ]] || { echo "quiet printed on stdout:" >&2; cat "$work/quiet.out" >&2; exit 1; }
# One chain: R-hat is undefined, and that is a warning at every level.
grep -q "fmala: warning: mala: R-hat needs at least 2 chains" "$work/quiet.err"

run normal
grep -q "^model: gaussian" "$work/normal.out"
grep -q "^mala " "$work/normal.out"  # the table
! grep -q "step size .* over the chains" "$work/normal.out"

run verbose -v
grep -q "mala: step size .* over the chains" "$work/verbose.out"
! grep -q "fmala: debug:" "$work/verbose.err"

run debug --log-level debug
grep -q "fmala: debug: mala: checkpoint after transition 25 of 70" "$work/debug.err"

# The file contains the same events whatever the level.
python3 - "$work" <<'PY'
import json, sys, os
work = sys.argv[1]
kinds = {}
for name in ["quiet", "normal", "verbose", "debug"]:
    lines = open(os.path.join(work, name, "log.jsonl")).read().splitlines()
    kinds[name] = [json.loads(line)["event"] for line in lines]
assert kinds["quiet"] == kinds["debug"], kinds
assert "checkpoint" in kinds["quiet"], kinds["quiet"]
assert "one_chain" in kinds["quiet"], kinds["quiet"]
PY

status=0
"$fmala" sample --target gaussian --log-level loud 2> "$work/err" || status=$?
[[ $status -eq 2 ]]
grep -q -- "--log-level: unknown level 'loud'" "$work/err"
echo "log levels: all cases passed"
