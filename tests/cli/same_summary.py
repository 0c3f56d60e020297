"""Checks that two summary.json files describe the same draws.

Everything but times and peak memory must be equal. The acceptance rates of
runs joined from parts (chain batches, MPI processes) are averages over the
parts, so they may differ in the last bits.
Usage: same_summary.py A/summary.json B/summary.json
"""
import json
import math
import sys


def samplers(path):
    result = json.load(open(path))["samplers"]
    for s in result:
        for key in list(s):
            if "second" in key or "peak" in key:
                del s[key]
    return result


a, b = (samplers(p) for p in sys.argv[1:3])
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    for key in ["acceptance_rate", "accept_prob"]:
        assert math.isclose(x.pop(key), y.pop(key), rel_tol=1e-12), key
    assert x == y, [k for k in x if x[k] != y.get(k)]
