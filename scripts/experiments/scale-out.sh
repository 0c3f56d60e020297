#!/usr/bin/env bash
# Chain-steps per second of one to four MPI processes on this host, on the
# 100-D funnel (1,024 chains) and the concrete MLP (64 chains), with the
# shared step-size adaptation (one collective per warmup transition).
# Prints a Markdown table; runs go to runs/experiments/scale-out/.
# Usage: scripts/experiments/scale-out.sh [BUILD_DIR] [MAX_PROCESSES]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
max=${2:-4}
out=$root/runs/experiments/scale-out
mkdir -p "$out"
export OMP_WAIT_POLICY=passive
# Open MPI refuses root without these, and more processes than cores
# without --oversubscribe.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

funnel=(--target funnel --dim 101 --sampler pc-line-fmala,mala --chains 1024 --warmup 200 --draws 300 --seed 1)
mlp=(--model mlp --data "$root/data/concrete" --sampler pc-line-fmala,mala --chains 64 --warmup 200 --draws 100
     --seed 1)
for processes in $(seq 1 "$max"); do
  for case in funnel mlp; do
    declare -n args=$case
    dir=$out/$case-$processes
    rm -rf "$dir"
    if [[ $processes -eq 1 ]]; then
      "$fmala" sample "${args[@]}" --no-draws -q --out "$dir" 2> /dev/null
    else
      mpirun --oversubscribe -np "$processes" "$fmala" sample "${args[@]}" --no-draws -q --out "$dir" 2> /dev/null
    fi
  done
done

python3 - "$out" "$max" <<'PY'
import json, sys
out, top = sys.argv[1], int(sys.argv[2])
print("| target | sampler | processes | threads each | chain-steps/s | per process | vs 1 process | draws equal |")
print("|---|---|---:|---:|---:|---:|---:|---|")
for case in ["funnel", "mlp"]:
    base = {}
    for processes in range(1, top + 1):
        summary = json.load(open(f"{out}/{case}-{processes}/summary.json"))
        for s in summary["samplers"]:
            st = s["settings"]
            steps = st["chains"] * (st["warmup"] + st["draws"] * st["thin"])
            rate = steps / s["seconds"]
            key = s["sampler"]
            if processes == 1:
                base[key] = (rate, s["rhat_max"], s["ess_bulk_min"])
            same = (s["rhat_max"], s["ess_bulk_min"]) == base[key][1:]
            threads = "2" if processes == 1 else "1"
            print(f"| {case} | {key} | {processes} | {threads} | {rate:,.0f} | {rate / processes:,.0f} | "
                  f"{rate / base[key][0]:.2f} | {'yes' if same else 'NO'} |")
PY
