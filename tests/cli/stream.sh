#!/usr/bin/env bash
# --stream keeps the traces of the --monitor coordinates and running
# statistics: its traces are the full run's columns, its means and sds and
# its monitored diagnostics equal the full run's, and a stopped streaming run
# resumes to the same outputs. --superchains adds nested R-hat.
set -euo pipefail
fmala=$1
work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2> /dev/null || true; rm -rf "$work"' EXIT
cd "$work"

common=(--target funnel --dim 11 --sampler pc-line-fmala,mala --chains 32 --warmup 300 --thin 2 --seed 8
        --adapt-per-chain -q)
"$fmala" sample "${common[@]}" --draws 400 --out full 2> /dev/null
"$fmala" sample "${common[@]}" --draws 400 --stream --monitor 0,7,3 --out stream 2> /dev/null

python3 - <<'PY'
import json, math
import struct

def npy(path):
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY"
        major = f.read(2)[0]
        size = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = f.read(size).decode()
        shape = tuple(int(x) for x in header.split("(")[1].split(")")[0].split(",") if x.strip())
        count = 1
        for n in shape:
            count *= n
        return shape, struct.unpack("<%dd" % count, f.read(8 * count))

full = json.load(open("full/summary.json"))["samplers"]
stream = json.load(open("stream/summary.json"))["samplers"]
monitor = [0, 7, 3]
for a, b in zip(full, stream):
    name = a["sampler"]
    assert b["draws_shape"] == [32, 400, 3], b["draws_shape"]
    assert b["stream"]["monitored_indices"] == monitor, b["stream"]
    assert b["stream"]["monitored"] == ["v", "x[7]", "x[3]"], b["stream"]
    assert b["monitored_quantities"] == 4, b["monitored_quantities"]
    for j, (p, q) in enumerate(zip(a["parameters"], b["parameters"])):
        assert p["name"] == q["name"]
        assert math.isclose(p["mean"], q["mean"], rel_tol=1e-10, abs_tol=1e-12), (name, j)
        assert math.isclose(p["sd"], q["sd"], rel_tol=1e-10), (name, j)
        if j in monitor:
            assert p["rhat"] == q["rhat"], (name, j)
            assert p["ess_bulk"] == q["ess_bulk"], (name, j)
        else:
            assert q["rhat"] is None, (name, j, q)
            assert q["ess_bulk"] is None, (name, j, q)
    assert a["metrics"]["kl_v"] == b["metrics"]["kl_v"], name
    shape_a, x = npy("full/draws-%s.npy" % name)
    shape_b, y = npy("stream/draws-%s.npy" % name)
    assert shape_a == (32, 400, 11), shape_a
    assert shape_b == (32, 400, 3), shape_b
    for cell in range(32 * 400):
        for m, j in enumerate(monitor):
            assert y[cell * 3 + m] == x[cell * 11 + j]
print("stream outputs match the full run")
PY

# A streaming run stopped by SIGINT resumes to the same outputs.
long=("${common[@]}" --draws 40000 --stream --monitor 0,7,3 --checkpoint-every 2000)
"$fmala" sample "${long[@]}" --out ref 2> /dev/null
"$fmala" sample "${long[@]}" --out cut 2> cut.err &
pid=$!
for _ in $(seq 1200); do
  [[ -e cut/checkpoint/pc-line-fmala.ckpt ]] && break
  sleep 0.05
done
kill -INT "$pid"
status=0
wait "$pid" || status=$?
[[ $status -eq 130 ]] || { echo "exit status $status" >&2; cat cut.err >&2; exit 1; }
"$fmala" resume cut 2> /dev/null
for sampler in pc-line-fmala mala; do
  cmp "ref/draws-$sampler.npy" "cut/draws-$sampler.npy"
done

# Many short chains in superchains: nested R-hat in summary.json, with --stream too.
"$fmala" sample --target gaussian --dim 3 --sampler mala --chains 64 --superchains 8 --warmup 200 --draws 4 \
  --stream --monitor 2 -q --out nested 2> /dev/null
python3 - <<'PY'
import json
s = json.load(open("nested/summary.json"))["samplers"][0]
assert s["superchains"] == 8, s.get("superchains")
assert isinstance(s["nested_rhat_max"], float) and s["nested_rhat_max"] >= 1.0, s["nested_rhat_max"]
assert s["parameters"][2]["nested_rhat"] is not None, s["parameters"][2]
assert s["parameters"][0]["nested_rhat"] is None, s["parameters"][0]  # not monitored
PY
status=0
"$fmala" sample --target gaussian --chains 64 --superchains 3 2> err.txt || status=$?
[[ $status -eq 2 ]] && grep -q -- "--superchains: must be at least 2 and divide the 64 chains" err.txt

# --monitor needs --stream and valid indices.
status=0
"$fmala" sample --target funnel --monitor 1 2> err.txt || status=$?
[[ $status -eq 2 ]] && grep -q -- "--monitor: applies to --stream runs only" err.txt
status=0
"$fmala" sample --target funnel --dim 5 --stream --monitor 0,5 2> err.txt || status=$?
[[ $status -eq 2 ]] && grep -q -- "--monitor: coordinate 5 is outside 0 to 4" err.txt
echo "streaming: all cases passed"
