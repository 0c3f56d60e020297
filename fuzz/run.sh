#!/usr/bin/env bash
# Builds one libFuzzer target and runs it for a given time on a copy of its
# seed corpus in fuzz/corpus/<target>/.
#
# Usage: fuzz/run.sh TARGET SECONDS [LIBFUZZER_FLAG...]
#   TARGET   fuzz_npy, fuzz_idx, fuzz_table, fuzz_regression_split or fuzz_checkpoint
#   SECONDS  fuzzing time; extra flags go to libFuzzer and override the defaults below
#
# Environment:
#   FMALA_FUZZ_BUILD  build directory (default /tmp/fuzz-build), configured with
#                     clang and FMALA_FUZZ=ON when it has no build.ninja yet
#   FMALA_FUZZ_WORK   work directory (default /tmp/fmala-fuzz). A run writes
#                     <work>/<target>/corpus (the grown corpus copy),
#                     <work>/<target>/crashers-<date>-<time> (inputs that crashed,
#                     leaked, timed out or exceeded a memory limit) and
#                     <work>/<target>/fuzz.log
#   FMALA_FUZZ_JOBS   parallel build jobs (default 2)
#
# Exits with libFuzzer's status: 0 when the run found nothing.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 TARGET SECONDS [LIBFUZZER_FLAG...]" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${FMALA_FUZZ_BUILD:-/tmp/fuzz-build}
work_dir=${FMALA_FUZZ_WORK:-/tmp/fmala-fuzz}/$target
seeds=$source_dir/fuzz/corpus/$target

if [[ ! -d $seeds ]]; then
  echo "$0: no seed corpus $seeds. Give one of: $(ls "$source_dir/fuzz/corpus" | tr '\n' ' ')" >&2
  exit 2
fi
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -eq 0 ]]; then
  echo "$0: SECONDS '$seconds' is not a positive integer" >&2
  exit 2
fi

if [[ ! -f $build_dir/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S "$source_dir" -B "$build_dir" -G Ninja -DFMALA_FUZZ=ON \
    -DFMALA_ENABLE_CUDA=OFF -DFMALA_BUILD_BENCH=OFF
fi
nice -n 19 cmake --build "$build_dir" --target "$target" -j "${FMALA_FUZZ_JOBS:-2}"

mkdir -p "$work_dir"
rm -rf "$work_dir/corpus"
cp -r "$seeds" "$work_dir/corpus"
crashers=$work_dir/crashers-$(date +%Y%m%d-%H%M%S)
mkdir -p "$crashers"

dict=()
if [[ -f $source_dir/fuzz/dict/$target.dict ]]; then
  dict=(-dict="$source_dir/fuzz/dict/$target.dict")
fi

echo "fuzzing $target for $seconds s; log: $work_dir/fuzz.log, crashers: $crashers/"
status=0
# -malloc_limit_mb: a single allocation above 64 MiB, from inputs of a few KiB,
# means a size was taken from a header without a check.
nice -n 19 "$build_dir/fuzz/$target" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64 \
  -print_final_stats=1 -artifact_prefix="$crashers/" "${dict[@]}" "$@" \
  "$work_dir/corpus" >"$work_dir/fuzz.log" 2>&1 || status=$?

tail -n 20 "$work_dir/fuzz.log"
echo "crashers in $crashers/: $(ls "$crashers" | wc -l)"
exit "$status"
