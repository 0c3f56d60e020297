#!/usr/bin/env bash
# Curvature from several tangents against the single-direction curvature of
# the PC samplers: pc-fmala and pc-line-fmala with --curvature-tangents M for
# M in {1, 4, 16} on the funnel at D = 11 and 101 and on the AR(1) Gaussian
# with rho = 0.9 at D = 100. Each run: 256 chains, 1,000 warmup transitions
# with the step size adapted, 1,000 draws. A second set of pc-fmala runs at
# the fixed step 1e-3 (300 transitions, no warmup) measures the acceptance
# ceiling that comes from forward and reverse curvatures along different
# tangents.
# Writes runs/experiments/curvature/<target>/m-<M>/summary.json and
# .../ceiling-m-<M>/summary.json, then prints the table.
# Usage: scripts/experiments/curvature.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
out=$root/runs/experiments/curvature
targets=("funnel-11:--target funnel --dim 11" "funnel-101:--target funnel --dim 101"
         "ar1-100:--target gaussian --dim 100 --rho 0.9")
for entry in "${targets[@]}"; do
  name=${entry%%:*}
  read -r -a target <<< "${entry#*:}"
  for m in 1 4 16; do
    "$fmala" sample "${target[@]}" --sampler pc-fmala,pc-line-fmala --curvature-tangents "$m" \
      --chains 256 --warmup 1000 --draws 1000 --seed 1 --no-draws -q --no-checkpoint \
      --out "$out/$name/m-$m" 2> /dev/null
    "$fmala" sample "${target[@]}" --sampler pc-fmala --curvature-tangents "$m" --step-size 1e-3 \
      --chains 256 --warmup 0 --draws 300 --seed 1 --no-draws -q --no-checkpoint \
      --out "$out/$name/ceiling-m-$m" 2> /dev/null
  done
done
python3 "$root/scripts/experiments/curvature_table.py" "$out"
