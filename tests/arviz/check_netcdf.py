"""Checks fmala's InferenceData NetCDF files with ArviZ.

Usage: check_netcdf.py OUT_DIR

For every sampler in OUT_DIR/summary.json, opens its draws_netcdf file with
arviz.from_netcdf and checks that theta has the shape of the NPY draws and of
draws_shape, that its values equal the NPY draws, and that ArviZ's R-hat and
bulk and tail ESS of each parameter equal summary.json's to 1e-6 relative.
"""

import json
import math
import os
import sys

import arviz as az
import numpy as np

RELATIVE_TOLERANCE = 1e-6


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b))


def check_sampler(out, entry, failures):
    name = entry["sampler"]
    path = os.path.join(out, entry["draws_netcdf"])
    idata = az.from_netcdf(path)
    for group in ("posterior", "sample_stats"):
        if group not in idata.groups():
            failures.append(f"{path}: group {group} missing, groups {idata.groups()}")
            return
    theta = idata.posterior["theta"]
    npy = np.load(os.path.join(out, entry["draws_file"]))
    shape = tuple(entry["draws_shape"])
    if theta.dims != ("chain", "draw", "parameter"):
        failures.append(f"{path}: theta has dims {theta.dims}")
    if theta.shape != npy.shape or theta.shape != shape:
        failures.append(f"{path}: theta shape {theta.shape}, NPY {npy.shape}, summary {shape}")
        return
    if not np.array_equal(theta.values, npy):
        failures.append(f"{path}: theta differs from the NPY draws")
    lp = idata.sample_stats["lp"]
    if lp.shape != shape[:2]:
        failures.append(f"{path}: lp shape {lp.shape}, expected {shape[:2]}")

    rhat = az.rhat(idata, var_names=["theta"])["theta"].values
    ess_bulk = az.ess(idata, var_names=["theta"], method="bulk")["theta"].values
    ess_tail = az.ess(idata, var_names=["theta"], method="tail")["theta"].values
    names = [str(p) for p in idata.posterior["parameter"].values]
    parameters = entry["parameters"]
    if len(parameters) != shape[2]:
        failures.append(f"{name}: summary.json lists {len(parameters)} parameters, not {shape[2]}")
        return
    for j, p in enumerate(parameters):
        if names[j] != p["name"]:
            failures.append(f"{name}: parameter {j} is named {names[j]}, summary {p['name']}")
        for key, value in (("rhat", rhat[j]), ("ess_bulk", ess_bulk[j]), ("ess_tail", ess_tail[j])):
            expected = p[key] if p[key] is not None else float("nan")
            if not close(float(value), float(expected)):
                failures.append(f"{name} {p['name']} {key}: ArviZ {value!r}, summary.json {expected!r}")
    print(f"{name}: theta {theta.shape}, R-hat and ESS of {shape[2]} parameters match summary.json")


def main():
    out = sys.argv[1]
    with open(os.path.join(out, "summary.json")) as f:
        doc = json.load(f)
    failures = []
    for entry in doc["samplers"]:
        if "draws_netcdf" not in entry:
            failures.append(f"{entry['sampler']}: summary.json has no draws_netcdf")
            continue
        check_sampler(out, entry, failures)
    for failure in failures:
        print("FAIL:", failure)
    print(f"arviz {az.__version__}: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
