#!/usr/bin/env bash
# The funnel run writes summary.json with kl_v and every documented field,
# draws-<sampler>.npy of shape (chains, draws, D) and draws-<sampler>.nc
# (NetCDF4, so HDF5 storage); --format chooses the draw files.
set -euo pipefail
fmala=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$fmala" sample --target funnel --dim 11 --sampler pc-line-fmala,mala --chains 128 --warmup 200 \
  --draws 300 --thin 2 --seed 5 --out "$work/f" > "$work/stdout"
cat "$work/stdout"
grep -q "pc-line-fmala" "$work/stdout"

# --version names the commit and the CUDA architectures.
"$fmala" --version > "$work/version"
grep -Eq '^fmala [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{12}(-dirty)?|unknown), CUDA architectures [^)]+\)$' \
  "$work/version" || { echo "unexpected --version: $(cat "$work/version")" >&2; exit 1; }

python3 - "$work/f" <<'PY'
import json, struct, sys, os
out = sys.argv[1]
doc = json.load(open(os.path.join(out, "summary.json")))
names = [s["sampler"] for s in doc["samplers"]]
assert names == ["pc-line-fmala", "mala"], names
# The version and the commit the program was built from (or "unknown").
assert doc["fmala_version"].count(".") == 2, doc["fmala_version"]
assert doc["fmala_commit"], doc
required = ["settings", "acceptance_rate", "accept_prob", "step_size", "seconds_warmup",
            "seconds_sampling", "peak_memory_bytes", "nonfinite_rejections",
            "curvature_floor_hits", "rhat_max", "ess_bulk_min", "ess_tail_min", "metrics",
            "parameters"]
for s in doc["samplers"]:
    for key in required:
        assert key in s, (s["sampler"], key)
    assert s["settings"]["chains"] == 128, s["settings"]
    assert s["settings"]["draws"] == 300, s["settings"]
    assert s["settings"]["thin"] == 2, s["settings"]
    assert s["settings"]["seed"] == 5, s["settings"]
    kl = s["metrics"]["kl_v"]
    assert kl is not None and 0.0 <= kl < 5.0, kl
    params = s["parameters"]
    assert len(params) == 11, len(params)
    assert params[0]["name"] == "v", params[0]
    for p in params:
        for key in ["mean", "sd", "mcse", "rhat", "ess_bulk", "ess_tail"]:
            assert key in p
    assert 0.0 < s["acceptance_rate"] <= 1.0
    # NPY header: magic, version 1.0, header length, dict with shape.
    path = os.path.join(out, "draws-%s.npy" % s["sampler"])
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", path
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode("latin1")
    assert "'descr': '<f8'" in header, header
    assert "'shape': (128, 300, 11)" in header, header
    assert len(raw) == 10 + hlen + 128 * 300 * 11 * 8
    # NetCDF4 files are HDF5 files, which start with the HDF5 signature.
    nc = "draws-%s.nc" % s["sampler"]
    assert s["draws_netcdf"] == nc, s.get("draws_netcdf")
    head = open(os.path.join(out, nc), "rb").read(8)
    assert head == b"\x89HDF\r\n\x1a\n", (nc, head)
print("summary.json and draw files are complete")
PY

# --format writes only the draw files it names, and summary.json names the .nc
# file only when it was written.
for format in npy netcdf; do
  "$fmala" sample --target funnel --sampler mala --chains 4 --warmup 20 --draws 10 --quiet \
    --format "$format" --out "$work/$format"
done
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
assert sorted(os.listdir(os.path.join(work, "npy"))) == ["draws-mala.npy", "log.jsonl", "summary.json"]
assert sorted(os.listdir(os.path.join(work, "netcdf"))) == ["draws-mala.nc", "log.jsonl", "summary.json"]
# The run log: one JSON object per line, from "start" to "end", with the
# warnings that were printed (this short run has too few effective draws).
events = [json.loads(line) for line in open(os.path.join(work, "npy", "log.jsonl"))]
assert events[0]["event"] == "start", events[0]
assert events[-1]["event"] == "end", events[-1]
for e in events:
    assert {"event", "level", "time", "seconds"} <= set(e), e
warnings = [e for e in events if e["level"] == "warning"]
assert any(e["event"] == "low_ess" and e["sampler"] == "mala" for e in warnings), warnings
assert events[-1]["warnings"] == len(warnings), events[-1]
npy_only = json.load(open(os.path.join(work, "npy", "summary.json")))["samplers"][0]
assert "draws_netcdf" not in npy_only, npy_only.get("draws_netcdf")
nc_only = json.load(open(os.path.join(work, "netcdf", "summary.json")))["samplers"][0]
assert nc_only["draws_netcdf"] == "draws-mala.nc", nc_only.get("draws_netcdf")
print("--format npy and --format netcdf write only their files")
PY

# An unknown format is rejected before anything is written.
if "$fmala" sample --target funnel --sampler mala --chains 4 --warmup 20 --draws 10 --quiet \
    --format npy,hdf5 --out "$work/bad" 2> "$work/stderr"; then
  echo "--format npy,hdf5 was accepted" >&2
  exit 1
fi
grep -q "unknown draw file format 'hdf5'" "$work/stderr"
test ! -e "$work/bad"
