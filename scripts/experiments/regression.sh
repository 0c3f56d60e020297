#!/usr/bin/env bash
# BNN regression of the reference study on the 1-D data (data/agw1d), with
# the MLP 1-100-100-100-100-100-1 of --preset paper-regression. One chain
# makes 10,000 transitions (8,000 warmup, then 200 draws kept every 10th), and
# the predictive comes from the last 100 draws, with √D step scaling for fmala
# and line-fmala. Runs the reference's fixed step 0.01, then the same with
# the step size adapted during warmup.
# Writes runs/experiments/regression-{fixed,adapted}/summary.json.
# Usage: scripts/experiments/regression.sh [BUILD_DIR] [fixed|adapted] [SAMPLERS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
which=${2:-both}
samplers=${3:-rwmh,mala,fmala,line-fmala,pc-fmala,pc-line-fmala}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
common=(--preset paper-regression --data "$root/data/agw1d/data.csv" --sampler "$samplers"
        --chains 1 --warmup 8000 --draws 200 --thin 10 --sqrt-dim --seed 1 --threads 1 --no-draws)
if [[ $which != adapted ]]; then
  "$fmala" sample "${common[@]}" --step-size 0.01 --out "$root/runs/experiments/regression-fixed"
fi
if [[ $which != fixed ]]; then
  "$fmala" sample "${common[@]}" --out "$root/runs/experiments/regression-adapted"
fi
