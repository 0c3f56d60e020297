#!/usr/bin/env bash
# --chain-batch B runs the chains in batches of B and writes the same draws
# and summary as one run of all chains; a batched run stopped by SIGINT
# resumes to the same outputs; shared adaptation cannot be batched.
set -euo pipefail
fmala=$1
source=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2> /dev/null || true; rm -rf "$work"' EXIT
cd "$work"

common=(--target funnel --dim 6 --sampler mala,pc-fmala --chains 12 --warmup 200 --thin 2 --seed 4
        --adapt-per-chain --superchains 3 -q)
"$fmala" sample "${common[@]}" --draws 100 --out whole 2> /dev/null
"$fmala" sample "${common[@]}" --draws 100 --chain-batch 5 --out batched 2> /dev/null

same() {
  for sampler in mala pc-fmala; do
    cmp "$1/draws-$sampler.npy" "$2/draws-$sampler.npy"
  done
  python3 "$source/tests/cli/same_summary.py" "$1/summary.json" "$2/summary.json"
}
same whole batched

# A batched run stopped in its second batch resumes to the same outputs.
long=("${common[@]}" --draws 20000 --chain-batch 5 --checkpoint-every 3000)
"$fmala" sample "${long[@]}" --out ref 2> /dev/null
"$fmala" sample "${long[@]}" --out cut 2> cut.err &
pid=$!
for _ in $(seq 2400); do
  [[ -e cut/checkpoint/mala.1.ckpt ]] && break
  sleep 0.05
done
kill -INT "$pid"
status=0
wait "$pid" || status=$?
[[ $status -eq 130 ]] || { echo "exit status $status" >&2; cat cut.err >&2; exit 1; }
[[ -e cut/checkpoint/mala.0.ckpt ]]
"$fmala" resume cut 2> /dev/null
same ref cut

status=0
"$fmala" sample --target funnel --chains 8 --chain-batch 4 2> err.txt || status=$?
[[ $status -eq 2 ]] && grep -q -- "--chain-batch: the shared step-size adaptation couples all chains" err.txt
echo "chain batches: all cases passed"
