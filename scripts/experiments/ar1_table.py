"""Prints the Markdown table of scripts/experiments/ar1.sh from its summary.json files.

Columns: the acceptance rate, the adapted step size, the smallest bulk ESS
(log-density and monitored coordinates) per 1,000 draws of all chains, and
two checks of the log-density against its law under the target, mean -D/2
and sd sqrt(D/2): the mean's error in units of its MCSE, and the ratio of
the draws' sd to sqrt(D/2).
"""
import json
import math
import pathlib
import sys


def rows(directory):
    for path in sorted(pathlib.Path(directory).glob("rho-*-d-*/summary.json")):
        _, rho, _, dim = path.parent.name.split("-")
        doc = json.load(open(path))
        for s in doc["samplers"]:
            yield int(dim), float(rho), s


def main():
    directory = sys.argv[1]
    print("| D | rho | sampler | accept | step | ESS bulk min per 1,000 draws | "
          "lp mean error / MCSE | lp sd / sqrt(D/2) |")
    print("|---|---|---|---|---|---|---|---|")
    for dim, rho, s in sorted(rows(directory), key=lambda r: (r[0], r[1])):
        lp = s["log_density"]
        draws = s["settings"]["chains"] * s["settings"]["draws"]
        ess = s["ess_bulk_min"]
        z = (lp["mean"] + dim / 2) / lp["mcse"] if lp["mcse"] else float("nan")
        ratio = lp["sd"] / math.sqrt(dim / 2)
        ess_text = "-" if ess is None else "%.1f" % (1000 * ess / draws)
        print("| %d | %g | %s | %.3f | %.3g | %s | %+.1f | %.3f |"
              % (dim, rho, s["sampler"], s["acceptance_rate"], s["step_size"], ess_text, z, ratio))


if __name__ == "__main__":
    main()
