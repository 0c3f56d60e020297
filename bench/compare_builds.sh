#!/usr/bin/env bash
# Measures two fmala binaries side by side on the same sampling run. For each
# sampler the runs alternate (A, B, A, B, ...), so both see the same load. The
# table gives each binary's median chain-steps per second over its runs and
# the ratio B/A. To judge a change to the CPU back end, build the old and the
# new commit, then
#
#   bench/compare_builds.sh --a old/fmala --b new/fmala --reps 3
#
# Rates come from summary.json (`seconds_sampling`, the transitions after
# warmup). The acceptance rates are printed too: a change that should keep the
# draws must keep them.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bench/compare_builds.sh --a FMALA --b FMALA [OPTIONS] [-- EXTRA SAMPLE OPTIONS]

  --a PATH        the reference binary
  --b PATH        the binary measured against it
  --samplers LIST comma-separated (default: fmala,line-fmala,pc-fmala,pc-line-fmala,mala,rwmh)
  --target NAME   built-in target (default: funnel)
  --dim D         parameters (default: 11)
  --chains C      chains (default: 1024)
  --warmup N      warmup transitions at the fixed step (default: 1000)
  --draws N       kept draws (default: 500)
  --thin N        thinning (default: 10)
  --step-size X   fixed step size for every sampler (default: 0.7)
  --threads T     OpenMP threads (default: 2)
  --reps R        runs of each binary per sampler (default: 3)
  --out DIR       where the runs and table.md go (default: a new temporary directory)
USAGE
}

a="" b="" samplers="fmala,line-fmala,pc-fmala,pc-line-fmala,mala,rwmh" target=funnel dim=11
chains=1024 warmup=1000 draws=500 thin=10 step=0.7 threads=2 reps=3 out=""
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --a) a=$2; shift 2 ;;
    --b) b=$2; shift 2 ;;
    --samplers) samplers=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --dim) dim=$2; shift 2 ;;
    --chains) chains=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --draws) draws=$2; shift 2 ;;
    --thin) thin=$2; shift 2 ;;
    --step-size) step=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare_builds.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for side in a b; do
  bin=${!side}
  if [[ -z $bin || ! -x $bin ]]; then
    echo "compare_builds.sh: --$side needs an executable fmala binary (got '${bin}')" >&2
    exit 2
  fi
done
if [[ -z $out ]]; then
  out=$(mktemp -d -t fmala-compare.XXXXXX)
fi
mkdir -p "$out"

results=$out/runs.tsv
: > "$results"
IFS=',' read -r -a sampler_list <<< "$samplers"
for sampler in "${sampler_list[@]}"; do
  for rep in $(seq "$reps"); do
    for side in a b; do
      bin=${!side}
      dir=$out/$sampler-$side-$rep
      rm -rf "$dir"
      cmd=("$bin" sample --target "$target" --dim "$dim" --sampler "$sampler" --chains "$chains"
           --warmup "$warmup" --draws "$draws" --thin "$thin" --step-size "$step" --seed 1
           --threads "$threads" --stream --monitor 0 --format npy --no-checkpoint -q --out "$dir"
           "${extra[@]}")
      echo "${cmd[*]}" >> "$out/commands.txt"
      "${cmd[@]}" > "$dir.log" 2>&1 || { echo "compare_builds.sh: failed: ${cmd[*]} (log: $dir.log)" >&2; exit 1; }
      python3 - "$dir/summary.json" "$sampler" "$side" "$rep" >> "$results" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["samplers"][0]
print("\t".join([sys.argv[2], sys.argv[3], sys.argv[4], repr(s["seconds_sampling"]), repr(s["acceptance_rate"])]))
PY
    done
  done
done

python3 - "$results" "$chains" "$draws" "$thin" > "$out/table.md" <<'PY'
import statistics, sys
from collections import defaultdict
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
steps = int(sys.argv[2]) * int(sys.argv[3]) * int(sys.argv[4])
rate = defaultdict(list)
accept = {}
order = []
for sampler, side, _, seconds, acc in rows:
    if sampler not in order:
        order.append(sampler)
    rate[(sampler, side)].append(steps / float(seconds) / 1e6)
    accept[(sampler, side)] = float(acc)
print("| sampler | A: M chain-steps/s | B: M chain-steps/s | B / A | acceptance A / B |")
print("|---|---:|---:|---:|---|")
for sampler in order:
    ra = statistics.median(rate[(sampler, "a")])
    rb = statistics.median(rate[(sampler, "b")])
    print(f"| {sampler} | {ra:.2f} | {rb:.2f} | {rb / ra:.2f} | {accept[(sampler, 'a')]:.4f} / {accept[(sampler, 'b')]:.4f} |")
PY
cat "$out/table.md"
echo "runs, commands and table in $out"
