#!/usr/bin/env python3
"""Write the draw files and ArviZ reference values that tests/test_diagnostics.cpp checks.

Each case is a float64 array of shape (chains, draws), saved as <case>.npy, and golden.json
stores what ArviZ returns for it: az.rhat (method "rank"), az.ess (bulk, tail, mean),
az.mcse (mean, sd), numpy's mean and sd (ddof=1), and the columns of az.summary.
NaN is written as null because JSON has no NaN.

Two cases need a note:
  * one chain: az.rhat returns NaN, and so does fmala. The file also stores the split R-hat
    of the chain's two halves ("rhat_one_chain_split", from ArviZ's own helper functions), a
    value the tests check fmala never returns for one chain.
  * odd draw counts: az.summary folds the draws around the median of the unsplit draws, while
    az.rhat folds around the median of the split draws (the middle draw dropped). fmala follows
    az.rhat, so its summary r_hat differs from az.summary's there.

Usage: make_diagnostics_golden.py [OUTPUT_DIR]  (default: tests/data/diagnostics next to this
script). Run it through make_diagnostics_golden.sh to get the pinned ArviZ version.
"""

import json
import pathlib
import sys
import warnings

import arviz as az
import numpy as np
import scipy
from arviz.stats import diagnostics as arviz_diagnostics


def ar1(rng, chains, draws, rho, offsets):
    """Return AR(1) draws with unit stationary variance, started from the stationary law."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    innovation_sd = np.sqrt(1.0 - rho**2)
    for s in range(1, draws):
        x[:, s] = rho * x[:, s - 1] + innovation_sd * rng.normal(size=chains)
    return x + np.asarray(offsets, dtype=float)[:, None]


def make_cases():
    """Return {name: (description, array)} with fixed seeds."""
    cases = {}

    rng = np.random.default_rng(101)
    cases["iid_normal"] = ("4 chains x 100 iid N(0, 1) draws", rng.normal(size=(4, 100)))

    rng = np.random.default_rng(102)
    cases["ar1_offset"] = (
        "4 chains x 500 AR(1) draws, rho 0.9, chain offsets 0, 0, 0.5, 1 (R-hat > 1)",
        ar1(rng, 4, 500, 0.9, [0.0, 0.0, 0.5, 1.0]),
    )

    rng = np.random.default_rng(103)
    cases["tiny"] = ("2 chains x 7 iid N(0, 1) draws (odd draw count)", rng.normal(size=(2, 7)))

    rng = np.random.default_rng(104)
    cases["student_t"] = (
        "8 chains x 1000 iid Student-t draws with 3 degrees of freedom",
        rng.standard_t(3.0, size=(8, 1000)),
    )

    rng = np.random.default_rng(105)
    stuck = ar1(rng, 4, 200, 0.5, [0.0, 0.0, 0.0, 0.0])
    stuck[2, :] = 0.3
    cases["stuck_chain"] = (
        "4 chains x 200 AR(1) draws, rho 0.5, chain 2 stuck at 0.3",
        stuck,
    )

    rng = np.random.default_rng(106)
    cases["one_chain"] = (
        "1 chain x 101 AR(1) draws, rho 0.5 (one chain, odd draw count)",
        ar1(rng, 1, 101, 0.5, [0.0]),
    )

    rng = np.random.default_rng(107)
    cases["four_draws"] = (
        "3 chains x 4 iid N(0, 1) draws (the minimum draw count)",
        rng.normal(size=(3, 4)),
    )

    rng = np.random.default_rng(108)
    cases["ties_poisson"] = (
        "4 chains x 50 iid Poisson(3) draws (many ties)",
        rng.poisson(3.0, size=(4, 50)).astype(np.float64),
    )

    cases["two_values"] = (
        "2 chains x 20 draws alternating 0, 1 (folded draws constant)",
        np.tile([0.0, 1.0], (2, 10)),
    )

    cases["constant"] = ("3 chains x 10 draws all equal to 2.5", np.full((3, 10), 2.5))

    rng = np.random.default_rng(109)
    cases["three_draws"] = (
        "2 chains x 3 iid N(0, 1) draws (below the minimum of 4)",
        rng.normal(size=(2, 3)),
    )

    rng = np.random.default_rng(110)
    with_nan = rng.normal(size=(3, 20))
    with_nan[1, 5] = np.nan
    cases["with_nan"] = ("3 chains x 20 iid N(0, 1) draws, one NaN", with_nan)

    return cases


def to_json_number(value):
    """Return value as a float, None for NaN, and "inf" or "-inf" for infinities."""
    value = float(value)
    if np.isnan(value):
        return None
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def rhat_one_chain_split(x):
    """Return _rhat_rank of x without ArviZ's two-chain minimum, from ArviZ's helpers."""
    split = arviz_diagnostics._split_chains(x)
    bulk = arviz_diagnostics._rhat(arviz_diagnostics._z_scale(split))
    folded = np.abs(split - np.median(split))
    tail = arviz_diagnostics._rhat(arviz_diagnostics._z_scale(folded))
    # Python's max keeps the first argument unless the second is larger, as _rhat_rank does.
    return max(bulk, tail)


def reference_values(x):
    """Return the ArviZ values for one (chains, draws) array."""
    summary = az.summary({"x": x}, round_to="none")
    row = summary.loc["x"]
    values = {
        "rhat": az.rhat(x, method="rank"),
        "ess_bulk": az.ess(x, method="bulk"),
        "ess_tail": az.ess(x, method="tail"),
        "ess_mean": az.ess(x, method="mean"),
        "mcse_mean": az.mcse(x, method="mean"),
        "mcse_sd": az.mcse(x, method="sd"),
        "mean": np.mean(x),
        "sd": np.std(x, ddof=1),
    }
    result = {key: to_json_number(value) for key, value in values.items()}
    result["summary"] = {
        key: to_json_number(row[key])
        for key in ("mean", "sd", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat")
    }
    if x.shape[0] == 1 and x.shape[1] >= 4:
        result["rhat_one_chain_split"] = to_json_number(rhat_one_chain_split(x))
    return result


def main():
    default_dir = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "diagnostics"
    output_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default_dir
    output_dir.mkdir(parents=True, exist_ok=True)

    # ArviZ warns on every short, one-chain or NaN input; those inputs are intended here.
    warnings.simplefilter("ignore")

    golden = {
        "versions": {
            "arviz": az.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "cases": {},
    }
    for name, (description, x) in make_cases().items():
        x = np.ascontiguousarray(x, dtype="<f8")
        np.save(output_dir / f"{name}.npy", x)
        entry = {"file": f"{name}.npy", "description": description,
                 "chains": int(x.shape[0]), "draws": int(x.shape[1])}
        entry.update(reference_values(x))
        golden["cases"][name] = entry

    with open(output_dir / "golden.json", "w", encoding="utf-8") as stream:
        json.dump(golden, stream, indent=2, allow_nan=False)
        stream.write("\n")
    print(f"wrote {len(golden['cases'])} cases to {output_dir}")


if __name__ == "__main__":
    main()
