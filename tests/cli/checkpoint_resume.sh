#!/usr/bin/env bash
# A run stopped by SIGINT, SIGTERM or kill -9 and continued with `fmala resume`
# writes draws bit-identical to a run that was never stopped, and the same
# summary.json apart from timings; resuming twice neither repeats nor skips a
# transition. A finished run cannot be resumed, and a new run refuses an
# output directory that holds an unfinished one.
set -euo pipefail
fmala=$1
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2> /dev/null || true; rm -rf "$work"' EXIT
cd "$work"

# Two samplers, 100,000 transitions each, per-chain step sizes.
args=(--target funnel --dim 11 --sampler mala,pc-line-fmala --chains 16 --warmup 80000 --draws 1000
      --thin 20 --adapt-per-chain --seed 3 --format npy -q)
"$fmala" sample "${args[@]}" --out ref

# Waits (at most a minute) until the file exists.
wait_for() {
  for _ in $(seq 1200); do
    [[ -e $1 ]] && return 0
    sleep 0.05
  done
  echo "$1 did not appear" >&2
  return 1
}

# Sends signal $2 to the fmala of output directory $1 once its first periodic
# checkpoint exists, and checks the exit status and the message.
stop_run() {
  local out=$1 signal=$2 expected=$3 pid=$4
  wait_for "$out/checkpoint/mala.ckpt"
  kill "-$signal" "$pid"
  local status=0
  wait "$pid" || status=$?
  if [[ $status -ne $expected ]]; then
    echo "exit status $status after SIG$signal, expected $expected" >&2
    cat "$out.err" >&2
    exit 1
  fi
  if [[ $signal != KILL ]]; then
    grep -q "fmala resume $out" "$out.err"
  fi
}

same_as_reference() {
  local out=$1
  for sampler in mala pc-line-fmala; do
    cmp "ref/draws-$sampler.npy" "$out/draws-$sampler.npy"
  done
  python3 - ref/summary.json "$out/summary.json" <<'PY'
import json, sys
def strip(doc):
    for s in doc["samplers"]:
        for key in list(s):
            if "second" in key or "peak" in key:
                del s[key]
    return doc["samplers"]
a, b = (strip(json.load(open(p))) for p in sys.argv[1:])
assert a == b, "summary.json differs from the uninterrupted run's"
PY
  [[ ! -e $out/checkpoint ]] || { echo "$out/checkpoint was not removed" >&2; exit 1; }
}

# SIGINT in the first sampler, then resume.
"$fmala" sample "${args[@]}" --out a --checkpoint-every 5000 2> a.err &
stop_run a INT 130 $!
[[ -e a/checkpoint/command ]]
[[ ! -e a/summary.json ]]
"$fmala" resume a
same_as_reference a

# kill -9 (nothing is saved at the signal: the periodic checkpoint is the
# restart point), then SIGTERM while resuming, then resume again.
"$fmala" sample "${args[@]}" --out b --checkpoint-every 5000 2> b.err &
stop_run b KILL 137 $!
# Each checkpoint is a new file renamed over the old one: a new inode.
before=$(stat -c %i b/checkpoint/mala.ckpt)
"$fmala" resume b 2> b.err &
pid=$!
# Wait for a checkpoint written by the resumed run.
for _ in $(seq 1200); do
  [[ $(stat -c %i b/checkpoint/mala.ckpt 2> /dev/null || echo "$before") != "$before" ]] && break
  [[ -e b/checkpoint/pc-line-fmala.ckpt ]] && break
  sleep 0.05
done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[[ $status -eq 143 || $status -eq 0 ]] || { echo "resume exit status $status" >&2; cat b.err >&2; exit 1; }
if [[ $status -eq 143 ]]; then
  grep -q "stopped by SIGTERM" b.err
  "$fmala" resume b
else
  echo "note: the resumed run finished before SIGTERM arrived"
fi
same_as_reference b

# A finished run has nothing to resume.
status=0
"$fmala" resume b 2> err.txt || status=$?
[[ $status -eq 2 ]]
grep -q "contains no checkpoint" err.txt
grep -q "summary.json" err.txt

# A new run does not overwrite an unfinished one.
"$fmala" sample "${args[@]}" --out c 2> c.err &
stop_run c INT 130 $!
cp -r c c.before
status=0
"$fmala" sample "${args[@]}" --out c 2> err.txt || status=$?
[[ $status -eq 2 ]]
grep -q "fmala resume c" err.txt
diff -r c c.before

# A damaged command file is an error naming it.
printf 'something else\0' > c/checkpoint/command
status=0
"$fmala" resume c 2> err.txt || status=$?
[[ $status -eq 2 ]]
grep -q "c/checkpoint/command: is not a command file" err.txt

# A damaged checkpoint is an error naming it, and the run is not restarted.
cp -r c.before d
head -c 100 c.before/checkpoint/mala.ckpt > d/checkpoint/mala.ckpt
status=0
"$fmala" resume d 2> err.txt || status=$?
[[ $status -eq 2 ]]
grep -q "d/checkpoint/mala.ckpt: .*truncated\|d/checkpoint/mala.ckpt: .*header" err.txt

# Checkpoints need an output directory.
status=0
"$fmala" sample --target funnel --checkpoint-every 10 2> err.txt || status=$?
[[ $status -eq 2 ]]
grep -q -- "--checkpoint-every: needs --out" err.txt
echo "checkpoint and resume: all cases passed"
