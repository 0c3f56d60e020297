#!/usr/bin/env bash
# Directional bias against correlation: every sampler on AR(1) Gaussians
# with rho in {0, 0.5, 0.9, 0.99} at D = 100 and 1,000, 256 chains, adapted
# step sizes (1,000 warmup transitions, 1,000 draws). The target is
# log p = -x'S^{-1}x / 2 without its constant, so the log-density has mean
# -D/2 and sd sqrt(D/2) under the target: the table compares both with what
# each sampler's draws give, next to the smallest bulk ESS.
# Writes OUT/rho-<rho>-d-<D>/summary.json (OUT: runs/experiments/ar1) and
# prints the table. The environment variables DIMS, RHOS, CHAINS, WARMUP,
# DRAWS, THIN and OUT change the settings, for example the long runs of
# docs/research.md:
#   DIMS=100 RHOS="0.9 0.99" CHAINS=64 WARMUP=20000 DRAWS=2000 THIN=10 \
#     OUT=runs/experiments/ar1-long scripts/experiments/ar1.sh build
# Usage: scripts/experiments/ar1.sh [BUILD_DIR] [SAMPLERS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
samplers=${2:-rwmh,mala,fmala,line-fmala,pc-fmala,pc-line-fmala,line-hmc}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
out=${OUT:-$root/runs/experiments/ar1}
for dim in ${DIMS:-100 1000}; do
  for rho in ${RHOS:-0 0.5 0.9 0.99}; do
    "$fmala" sample --target gaussian --dim "$dim" --rho "$rho" --sampler "$samplers" \
      --chains "${CHAINS:-256}" --warmup "${WARMUP:-1000}" --draws "${DRAWS:-1000}" --thin "${THIN:-1}" \
      --seed 1 --no-draws -q --no-checkpoint --out "$out/rho-$rho-d-$dim" 2> /dev/null
  done
done
python3 "$root/scripts/experiments/ar1_table.py" "$out"
