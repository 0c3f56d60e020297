#!/usr/bin/env bash
# A run with 3 draws per chain, fewer than the 4 that R-hat and ESS need,
# still succeeds. Its summary.json is valid JSON, with R-hat, ESS and MCSE as
# null and mean and sd as numbers, and both draw files hold the 3 draws.
set -euo pipefail
fmala=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$fmala" sample --target gaussian --dim 10 --draws 3 --chains 8 --warmup 50 --seed 3 --quiet \
  --out "$work/run"

# The NetCDF files are read through the netCDF C library that fmala links.
# awk reads all of ldd's output: leaving early would end ldd with SIGPIPE,
# which pipefail turns into a failure.
netcdf_library=$(ldd "$fmala" | awk '/libnetcdf/ && !found { print $3; found = 1 }')

python3 - "$work/run" "$netcdf_library" <<'PY'
import ctypes, ctypes.util, json, os, struct, sys

out, netcdf_library = sys.argv[1], sys.argv[2]
samplers = ["rwmh", "mala", "fmala", "line-fmala", "pc-fmala", "pc-line-fmala"]
chains, draws, dim = 8, 3, 10

def reject_constant(token):
    raise ValueError("summary.json contains %s, which is not JSON" % token)

with open(os.path.join(out, "summary.json")) as stream:
    doc = json.load(stream, parse_constant=reject_constant)
assert [s["sampler"] for s in doc["samplers"]] == samplers, doc["samplers"]

def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)

for s in doc["samplers"]:
    name = s["sampler"]
    assert s["settings"]["draws"] == draws, (name, s["settings"])
    assert s["draws_shape"] == [chains, draws, dim], (name, s["draws_shape"])
    for key in ["rhat_max", "ess_bulk_min", "ess_tail_min", "ess_bulk_per_second"]:
        assert s[key] is None, (name, key, s[key])
    assert s["monitored_quantities"] == dim + 1, (name, s["monitored_quantities"])
    quantities = [s["log_density"]] + s["parameters"]
    assert len(quantities) == dim + 1, (name, len(quantities))
    for q in quantities:
        for key in ["rhat", "ess_bulk", "ess_tail", "mcse"]:
            assert q[key] is None, (name, q["name"], key, q[key])
        for key in ["mean", "sd"]:
            assert is_number(q[key]), (name, q["name"], key, q[key])
    assert is_number(s["accept_prob"]), (name, s["accept_prob"])
    assert 0.0 <= s["accept_prob"] <= 1.0, (name, s["accept_prob"])
print("summary.json is valid JSON with null R-hat, ESS and MCSE")

def read_npy(path):
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", path
    header_length = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + header_length].decode("latin1")
    assert "'descr': '<f8'" in header, header
    assert "'shape': (%d, %d, %d)" % (chains, draws, dim) in header, header
    data = raw[10 + header_length:]
    assert len(data) == chains * draws * dim * 8, (path, len(data))
    return struct.unpack("<%dd" % (chains * draws * dim), data)

if not netcdf_library:
    netcdf_library = ctypes.util.find_library("netcdf")
assert netcdf_library, "the netCDF C library (libnetcdf) was not found"
netcdf = ctypes.CDLL(netcdf_library)
netcdf.nc_strerror.restype = ctypes.c_char_p

def check(status, what):
    assert status == 0, "%s: %s" % (what, netcdf.nc_strerror(status).decode())

def dimension_length(group, name):
    dim_id = ctypes.c_int()
    check(netcdf.nc_inq_dimid(group, name.encode(), ctypes.byref(dim_id)), name)
    length = ctypes.c_size_t()
    check(netcdf.nc_inq_dimlen(group, dim_id, ctypes.byref(length)), name)
    return length.value

for name in samplers:
    values = read_npy(os.path.join(out, "draws-%s.npy" % name))
    path = os.path.join(out, "draws-%s.nc" % name)
    root = ctypes.c_int()
    check(netcdf.nc_open(path.encode(), 0, ctypes.byref(root)), path)
    posterior = ctypes.c_int()
    check(netcdf.nc_inq_grp_ncid(root, b"posterior", ctypes.byref(posterior)), "posterior")
    assert dimension_length(posterior, "chain") == chains, path
    assert dimension_length(posterior, "draw") == draws, path
    assert dimension_length(posterior, "parameter") == dim, path
    theta_id = ctypes.c_int()
    check(netcdf.nc_inq_varid(posterior, b"theta", ctypes.byref(theta_id)), "theta")
    theta = (ctypes.c_double * (chains * draws * dim))()
    check(netcdf.nc_get_var_double(posterior, theta_id, theta), "theta")
    assert tuple(theta) == values, path
    stats = ctypes.c_int()
    check(netcdf.nc_inq_grp_ncid(root, b"sample_stats", ctypes.byref(stats)), "sample_stats")
    assert dimension_length(stats, "draw") == draws, path
    check(netcdf.nc_close(root), path)
print("draws-<sampler>.npy and .nc hold %d draws per chain" % draws)
PY
