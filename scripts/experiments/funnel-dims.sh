#!/usr/bin/env bash
# Runs every sampler and the aligned and persistent variants of FMALA and
# PC-FMALA on Neal's funnel at D = 11, 101 and 1,001 (v and D - 1
# coordinates x). Each run has 1,024 chains from 0.1·N(0, I) and 1,000
# warmup transitions with the step size adapted (shared dual averaging, each
# sampler's default target acceptance), then keeps 1,000 draws.
# Each invocation streams its draws (--stream): it keeps the traces of v and
# 10 evenly spaced x coordinates, from which fmala computes R-hat, ESS and
# the KL of v. The traces go to draws-<sampler>.npy only long enough for
# funnel_dims_table.py to store the mean and sd of v in v.json, because
# summary.json lists per-parameter means only up to 100 parameters.
# Writes runs/experiments/funnel-dims/d-<D>/<label>/{summary.json,v.json}, with
# fmala's warnings in stderr.txt, and prints the tables.
# Usage: scripts/experiments/funnel-dims.sh [BUILD_DIR]
# Environment: DIMS (default "11 101 1001"), WARMUP and DRAWS (default 1000
# each), THIN (--thin, default 1), THREADS (--threads, default 0: all
# cores), OUT (default runs/experiments/funnel-dims).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fmala=${1:-$root/build}/fmala
dims=${DIMS:-11 101 1001}
warmup=${WARMUP:-1000}
draws=${DRAWS:-1000}
thin=${THIN:-1}
threads=${THREADS:-0}
out=${OUT:-$root/runs/experiments/funnel-dims}
table=$root/scripts/experiments/funnel_dims_table.py
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# One invocation per entry: --sampler takes the entry's words, so a variant
# is the sampler's name followed by its options. Add a line to measure
# another variant, for example "pc-fmala --curvature-tangents 4".
invocations=(
  "rwmh"
  "mala"
  "fmala"
  "line-fmala"
  "pc-fmala"
  "pc-line-fmala"
  "line-hmc"
  "fmala --aligned"
  "pc-fmala --aligned"
  "fmala --persistent"
  "pc-fmala --persistent"
)

# v, then 10 evenly spaced coordinates of x[1] to x[D-1] (all of them at D = 11).
monitor_list() {
  local dim=$1 i
  local list=(0)
  for ((i = 0; i < 10; ++i)); do
    list+=($((1 + (2 * i * (dim - 2) + 9) / 18)))
  done
  echo "${list[@]}"
}

for dim in $dims; do
  read -r -a monitor <<< "$(monitor_list "$dim")"
  for invocation in "${invocations[@]}"; do
    read -r -a args <<< "$invocation"
    # "pc-fmala --aligned" is written to pc-fmala-aligned.
    label=$(echo "$invocation" | sed -e 's/ --*/-/g' -e 's/ /-/g')
    dir=$out/d-$dim/$label
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "D = $dim: $invocation" >&2
    # The shared options follow the invocation's words: funnel_dims_table.py
    # names a row by the words between --sampler and --chains.
    "$fmala" sample --target funnel --dim "$dim" --sampler "${args[@]}" --chains 1024 \
      --warmup "$warmup" --draws "$draws" --thin "$thin" --seed 1 --threads "$threads" \
      --stream --monitor "${monitor[@]}" --format npy -q --no-checkpoint --out "$dir" \
      2> "$dir/stderr.txt" || { cat "$dir/stderr.txt" >&2; exit 1; }
    python3 "$table" --store-v "$dir"
    rm -f "$dir"/draws-*.npy
  done
done
python3 "$table" "$out"
