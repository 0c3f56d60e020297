"""Prints the Markdown table of scripts/experiments/curvature.sh from its summary.json files.

One row per target, sampler and number of curvature tangents M: the
acceptance rate, the adapted step size, KL of the funnel's v (blank for the
Gaussian), the smallest bulk ESS per 1,000 draws of all chains, seconds per
transition, ESS per second of sampling, and for pc-fmala the acceptance
rate at the fixed step 1e-3 (the ceiling that mismatched curvatures leave).
"""
import json
import pathlib
import sys


def load(path):
    with open(path) as f:
        return json.load(f)["samplers"]


def main():
    directory = pathlib.Path(sys.argv[1])
    print("| target | sampler | M | accept | step | KL of v | ESS bulk min per 1,000 draws | "
          "s/step | ESS/s | accept at step 1e-3 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for target in ("funnel-11", "funnel-101", "ar1-100"):
        for sampler in ("pc-fmala", "pc-line-fmala"):
            for m in (1, 4, 16):
                path = directory / target / f"m-{m}" / "summary.json"
                if not path.exists():
                    continue
                s = next(x for x in load(path) if x["sampler"] == sampler)
                draws = s["settings"]["chains"] * s["settings"]["draws"]
                kl = s["metrics"].get("kl_v")
                ceiling = ""
                ceiling_path = directory / target / f"ceiling-m-{m}" / "summary.json"
                if sampler == "pc-fmala" and ceiling_path.exists():
                    ceiling = f"{load(ceiling_path)[0]['acceptance_rate']:.3f}"
                print(f"| {target} | {sampler} | {m} | {s['acceptance_rate']:.3f} | "
                      f"{s['step_size']:.3g} | {'' if kl is None else f'{kl:.3f}'} | "
                      f"{1000 * s['ess_bulk_min'] / draws:.1f} | {s['seconds_per_step']:.2e} | "
                      f"{s['ess_bulk_per_second']:.0f} | {ceiling} |")


if __name__ == "__main__":
    main()
