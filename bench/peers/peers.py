"""JAX and BlackJAX peers of fmala's samplers, for the comparison that run.sh drives.

Subcommands:
  sample         run one sampler of one implementation and write its timings and draws
  check-density  compare this file's log-densities with the ones fmala recorded
  report         join fmala's and the peers' results into a Markdown table and a CSV

The forward samplers (fmala, line-fmala, pc-fmala, pc-line-fmala) are written here
from the method: the directional derivative d = ∇f(θ)·u comes from jax.jvp, and the
curvature h = uᵀ∇²f(θ)u of the PC samplers from jax.jvp of jax.jvp. The chains are
batched with jax.vmap, one step is a jitted function, and lax.scan runs the steps.
mala and rwmh are BlackJAX's kernels (blackjax.mala, blackjax.additive_step_random_walk),
vmapped over chains with one PRNG key per chain.

Both targets use float64 by default, as fmala does: the funnel of
include/fmala/targets/funnel.hpp and the regression MLP of fmala's paper-regression
preset (include/fmala/model/mlp.hpp, src/mlp.cpp).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

FORWARD_SAMPLERS = ("fmala", "line-fmala", "pc-fmala", "pc-line-fmala")
BLACKJAX_SAMPLERS = ("mala", "rwmh")
SAMPLERS = FORWARD_SAMPLERS + BLACKJAX_SAMPLERS
LOG_2PI = 1.8378770664093453

# The paper-regression preset of fmala: MLP 1-100-100-100-100-100-1 with relu,
# N(0, 0.1²) priors, fixed noise sd 0.025, log posterior divided by N.
MLP_HIDDEN = (100, 100, 100, 100, 100)
MLP_PRIOR_SD = 0.1
MLP_NOISE_SD = 0.025
# fmala's seeded 90/10 split of --data tables with its default --split-seed 0.
MLP_SPLIT_SEED = 0
MLP_TRAIN_FRACTION = 0.9


def max_rss_bytes() -> int:
    """Return the peak resident set size of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds() -> float:
    """Return the user plus system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------
# Data of the regression MLP, split and standardised as fmala does.


def splitmix64_permutation(n: int, seed: int) -> list[int]:
    """Return fmala's seeded_permutation(n, seed) (src/regression_data.cpp).

    A Fisher–Yates shuffle driven by splitmix64, with unbiased integers in [0, i)
    drawn by rejecting outputs below 2^64 mod i.
    """
    mask = (1 << 64) - 1
    state = seed & mask

    def next_value() -> int:
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    def below(bound: int) -> int:
        threshold = ((1 << 64) - bound) % bound
        draw = next_value()
        while draw < threshold:
            draw = next_value()
        return draw % bound

    permutation = list(range(n))
    for i in range(n, 1, -1):
        j = below(i)
        permutation[i - 1], permutation[j] = permutation[j], permutation[i - 1]
    return permutation


def load_regression_training_set(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Load the training split of a CSV table (header line, target last), standardised.

    Rows, split and standardisation follow fmala's load_regression_data with
    --split-seed 0: the first round(0.9 n) entries of the seeded permutation are
    the training rows, and x and y are standardised with the training mean and
    population sd (a constant column gets sd 1).
    """
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    n = table.shape[0]
    n_train = int(round(MLP_TRAIN_FRACTION * n))
    train_rows = np.sort(np.asarray(splitmix64_permutation(n, MLP_SPLIT_SEED)[:n_train]))
    train = table[train_rows]
    mean = train.mean(axis=0)
    sd = train.std(axis=0)
    sd[sd == 0] = 1.0
    standardised = (train - mean) / sd
    return standardised[:, :-1], standardised[:, -1]


# ---------------------------------------------------------------------------
# Targets, written for one chain: theta is a vector of D parameters.


def make_funnel(jnp, dim: int):
    """Return the funnel log-density of fmala's FunnelTarget, normalising constants kept.

    v = θ_0 ~ N(0, 3²) and x_i | v ~ N(0, e^v) for i = 1..D−1.
    """
    n = dim - 1
    log_2pi_9 = LOG_2PI + math.log(9.0)

    def log_density(theta):
        v = theta[0]
        x = theta[1:]
        return (
            -(v * v) / 18.0
            - 0.5 * log_2pi_9
            - 0.5 * jnp.sum(x * x) * jnp.exp(-v)
            - 0.5 * n * v
            - 0.5 * n * LOG_2PI
        )

    return log_density


def mlp_layer_shapes(n_features: int) -> list[tuple[int, int]]:
    widths = [n_features, *MLP_HIDDEN, 1]
    return list(zip(widths[:-1], widths[1:]))


def mlp_dim(n_features: int) -> int:
    return sum(fan_in * fan_out + fan_out for fan_in, fan_out in mlp_layer_shapes(n_features))


def make_mlp(jnp, x: np.ndarray, y: np.ndarray, dtype):
    """Return the tempered log posterior of fmala's paper-regression MLP.

    Layout of θ as in fmala: per layer W (in, out) row-major, then b (out).
      f(θ) = [Σ_n log N(y_n; net(x_n), σ²) + Σ_i log N(θ_i; 0, s²)] / N
    with σ = 0.025 and s = 0.1, every constant included.
    """
    shapes = mlp_layer_shapes(x.shape[1])
    dim = mlp_dim(x.shape[1])
    n = x.shape[0]
    x_device = jnp.asarray(x, dtype=dtype)
    y_device = jnp.asarray(y, dtype=dtype)
    inv_noise_var = 1.0 / (MLP_NOISE_SD * MLP_NOISE_SD)
    likelihood_constant = -n * (math.log(MLP_NOISE_SD) + 0.5 * LOG_2PI)
    prior_constant = -dim * (math.log(MLP_PRIOR_SD) + 0.5 * LOG_2PI)
    inv_prior_var = 1.0 / (MLP_PRIOR_SD * MLP_PRIOR_SD)

    def log_density(theta):
        hidden = x_device
        offset = 0
        for layer, (fan_in, fan_out) in enumerate(shapes):
            weights = theta[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
            offset += fan_in * fan_out
            bias = theta[offset : offset + fan_out]
            offset += fan_out
            hidden = hidden @ weights + bias
            if layer + 1 < len(shapes):
                hidden = jnp.maximum(hidden, 0.0)
        residual = y_device - hidden[:, 0]
        log_likelihood = likelihood_constant - 0.5 * inv_noise_var * jnp.sum(residual * residual)
        log_prior = prior_constant - 0.5 * inv_prior_var * jnp.sum(theta * theta)
        return (log_likelihood + log_prior) / n

    return log_density, dim


def initial_state(target: str, chains: int, dim: int, seed: int, n_features: int = 1) -> np.ndarray:
    """Draw starting points from fmala's distributions (not its random streams).

    Funnel: 0.1·N(0, I). MLP: He-normal weights N(0, 2/fan_in), zero biases.
    """
    rng = np.random.default_rng(seed)
    if target == "funnel":
        return 0.1 * rng.standard_normal((chains, dim))
    theta = np.zeros((chains, dim))
    offset = 0
    for fan_in, fan_out in mlp_layer_shapes(n_features):
        count = fan_in * fan_out
        theta[:, offset : offset + count] = math.sqrt(2.0 / fan_in) * rng.standard_normal((chains, count))
        offset += count + fan_out
    return theta


# ---------------------------------------------------------------------------
# Forward samplers, batched over chains.


def make_forward_kernel(jax, jnp, log_density, sampler: str, step_size: float, dim: int, curvature_floor: float):
    """Build init(theta) -> state and step(key, state) -> (state, accept_prob) for one forward sampler.

    state = (theta (C, D), f (C)). Every step draws a fresh unit tangent u, so
    both jets are evaluated each step: at θ along u and at θ* along u* (u* = u
    for the line samplers). Non-finite f, d or h at the proposal, or a NaN log α,
    reject the proposal.
    """
    preconditioned = sampler.startswith("pc-")
    line = "line" in sampler
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32

    def jet1(theta, u):
        f, d = jax.jvp(log_density, (theta,), (u,))
        return f, d, jnp.zeros_like(f)

    def jet2(theta, u):
        def value_and_slope(point):
            return jax.jvp(log_density, (point,), (u,))

        (f, d), (_, h) = jax.jvp(value_and_slope, (theta,), (u,))
        return f, d, h

    jet = jax.vmap(jet2 if preconditioned else jet1)

    def coefficients(d, h):
        if preconditioned:
            abs_h = jnp.abs(h)
            # A NaN curvature also takes the floor, as in fmala.
            kappa = jnp.where(abs_h >= curvature_floor, abs_h, curvature_floor)
            sigma = step_size / jnp.sqrt(kappa)
        else:
            sigma = jnp.full_like(d, step_size)
        return 0.5 * sigma * sigma * d, sigma

    def unit_tangent(key, chains):
        w = jax.random.normal(key, (chains, dim), dtype)
        return w / jnp.linalg.norm(w, axis=1, keepdims=True)

    def step(key, state):
        theta, _ = state
        chains = theta.shape[0]
        key_u, key_noise, key_u_rev, key_accept = jax.random.split(key, 4)
        u = unit_tangent(key_u, chains)
        f, d, h = jet(theta, u)
        c, sigma = coefficients(d, h)
        a = c / sigma

        if line:
            zeta = jax.random.normal(key_noise, (chains,), dtype)
            delta = c + sigma * zeta
            proposal = theta + delta[:, None] * u
            f_rev, d_rev, h_rev = jet(proposal, u)
            c_rev, sigma_rev = coefficients(d_rev, h_rev)
            a_rev = c_rev / sigma_rev
            # log q(θ|θ*) − log q(θ*|θ) with r = σ/σ*: (δ + c*)/σ* = r (a + ζ) + a*.
            r = sigma / sigma_rev
            back = r * (a + zeta) + a_rev
            log_q_ratio = jnp.log(r) - 0.5 * back * back + 0.5 * zeta * zeta
        else:
            z = jax.random.normal(key_noise, (chains, dim), dtype)
            proposal = theta + c[:, None] * u + sigma[:, None] * z
            u_rev = unit_tangent(key_u_rev, chains)
            f_rev, d_rev, h_rev = jet(proposal, u_rev)
            c_rev, sigma_rev = coefficients(d_rev, h_rev)
            a_rev = c_rev / sigma_rev
            dot_uz = jnp.sum(u * z, axis=1)
            dot_zz = jnp.sum(z * z, axis=1)
            dot_uu_rev = jnp.sum(u * u_rev, axis=1)
            dot_zu_rev = jnp.sum(z * u_rev, axis=1)
            # |Δ + c* u*|²/σ*² in terms of a = c/σ, a* = c*/σ*, r = σ/σ*.
            r = sigma / sigma_rev
            rest = (
                a * a * r * r
                + 2.0 * a * r * r * dot_uz
                + 2.0 * a_rev * (a * r * dot_uu_rev + r * dot_zu_rev)
                + a_rev * a_rev
            )
            log_q_ratio = dim * jnp.log(r) + 0.5 * dot_zz * (1.0 - r * r) - 0.5 * rest

        log_alpha = f_rev - f + log_q_ratio
        finite = jnp.isfinite(f_rev) & jnp.isfinite(d_rev) & jnp.isfinite(h_rev) & (sigma_rev > 0)
        log_u = jnp.log(jax.random.uniform(key_accept, (chains,), dtype))
        accept = finite & (log_u < log_alpha)
        accept_prob = jnp.where(jnp.isnan(log_alpha) | ~finite, 0.0, jnp.exp(jnp.minimum(log_alpha, 0.0)))

        new_theta = jnp.where(accept[:, None], proposal, theta)
        new_f = jnp.where(accept, f_rev, f)
        return (new_theta, new_f), accept_prob

    def init(theta):
        return theta, jax.vmap(log_density)(theta)

    return init, step


def make_blackjax_kernel(jax, jnp, log_density, sampler: str, step_size: float):
    """Build init and step functions for BlackJAX's mala or rwmh, vmapped over chains.

    fmala's MALA proposes θ + (η²/2)∇f + η z, BlackJAX's θ + τ∇f + √(2τ) z, so
    τ = η²/2. The random walk uses N(0, η² I) increments in both.
    """
    import blackjax

    if sampler == "mala":
        algorithm = blackjax.mala(log_density, step_size=0.5 * step_size * step_size)
    else:
        algorithm = blackjax.additive_step_random_walk.normal_random_walk(log_density, step_size)
    batched_init = jax.vmap(algorithm.init)
    batched_step = jax.vmap(algorithm.step)

    def step(key, state):
        chains = state.logdensity.shape[0]
        keys = jax.random.split(key, chains)
        new_state, info = batched_step(keys, state)
        return new_state, info.acceptance_rate

    return batched_init, step


# ---------------------------------------------------------------------------
# sample


def configure_jax(use_gpu: bool, dtype: str, cpu_devices: int = 1, prng: str = "threefry2x32"):
    """Import jax for the requested platform, precision, CPU devices and PRNG."""
    if not use_gpu:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", dtype == "float64")
    jax.config.update("jax_default_prng_impl", prng)
    if cpu_devices > 1:
        jax.config.update("jax_num_cpu_devices", cpu_devices)
    return jax


def run_sample(args: argparse.Namespace) -> int:
    rss_before_import = max_rss_bytes()
    jax = configure_jax(args.gpu, args.dtype, args.cpu_devices, args.prng)
    import jax.numpy as jnp
    from jax import lax

    rss_after_import = max_rss_bytes()
    dtype = jnp.float64 if args.dtype == "float64" else jnp.float32
    if args.target == "funnel":
        dim = args.dim
        log_density = make_funnel(jnp, dim)
        theta0 = initial_state("funnel", args.chains, dim, args.seed)
        monitor_name = "v"
    else:
        x, y = load_regression_training_set(args.data)
        log_density, dim = make_mlp(jnp, x, y, dtype)
        theta0 = initial_state("mlp", args.chains, dim, args.seed, x.shape[1])
        monitor_name = "w0[0,0]"

    if args.sampler in FORWARD_SAMPLERS:
        implementation = "jax"
        init, step = make_forward_kernel(jax, jnp, log_density, args.sampler, args.step_size, dim, args.curvature_floor)
    else:
        implementation = "blackjax"
        init, step = make_blackjax_kernel(jax, jnp, log_density, args.sampler, args.step_size)

    thin = args.thin
    chunk = args.chunk

    def position(state):
        return state[0] if implementation == "jax" else state.position

    def log_density_of(state):
        return state[1] if implementation == "jax" else state.logdensity

    def kept_draw(carry, _):
        state, key = carry

        def transition(inner, _):
            inner_state, inner_key = inner
            inner_key, step_key = jax.random.split(inner_key)
            inner_state, accept_prob = step(step_key, inner_state)
            return (inner_state, inner_key), accept_prob

        (state, key), accept_probs = lax.scan(transition, (state, key), None, length=thin)
        record = (position(state)[:, 0], log_density_of(state), jnp.mean(accept_probs, axis=0))
        return (state, key), record

    def run_chunk(state, key):
        return lax.scan(kept_draw, (state, key), None, length=chunk)

    key = jax.random.key(args.seed)
    theta0_device = jnp.asarray(theta0, dtype=dtype)
    devices = jax.devices()
    if len(devices) > 1:
        # Shard the chains over the devices. jit propagates the sharding through
        # init and the scan, so each device steps its own block of chains.
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        if args.chains % len(devices):
            raise SystemExit(
                f"peers.py: --chains {args.chains} is not a multiple of the {len(devices)} devices. "
                "Use a multiple of --cpu-devices"
            )
        mesh = Mesh(np.asarray(devices), ("chains",))
        theta0_device = jax.device_put(theta0_device, NamedSharding(mesh, PartitionSpec("chains")))

    # Compile explicitly, so compile time is measured apart from sampling.
    start = time.perf_counter()
    init_compiled = jax.jit(init).lower(theta0_device).compile()
    state = init_compiled(theta0_device)
    jax.block_until_ready(state)
    chunk_compiled = jax.jit(run_chunk).lower(state, key).compile()
    seconds_compile = time.perf_counter() - start

    transitions_per_call = chunk * thin
    warmup_calls = args.warmup // transitions_per_call
    start = time.perf_counter()
    for _ in range(warmup_calls):
        key, call_key = jax.random.split(key)
        (state, _), _ = chunk_compiled(state, call_key)
    jax.block_until_ready(state)
    seconds_warmup = time.perf_counter() - start

    calls = args.draws // chunk
    monitored = np.empty((args.chains, args.draws))
    log_densities = np.empty((args.chains, args.draws))
    accept_sum = 0.0
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    for call in range(calls):
        key, call_key = jax.random.split(key)
        (state, _), (values, densities, accepts) = chunk_compiled(state, call_key)
        window = slice(call * chunk, (call + 1) * chunk)
        # Copying to host arrays waits for the chunk, as fmala's copy of kept draws does.
        monitored[:, window] = np.asarray(values).T
        log_densities[:, window] = np.asarray(densities).T
        accept_sum += float(np.asarray(accepts).sum())
    seconds_sampling = time.perf_counter() - start
    cpu_sampling = cpu_seconds() - cpu_start
    peak_rss = max_rss_bytes()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"draws-{args.sampler}.npz", monitored=monitored, log_density=log_densities)
    transitions = args.draws * thin
    summary = {
        "implementation": implementation,
        "sampler": args.sampler,
        "target": args.target,
        "dim": dim,
        "chains": args.chains,
        "warmup": warmup_calls * transitions_per_call,
        "draws": args.draws,
        "thin": thin,
        "step_size": args.step_size,
        "dtype": args.dtype,
        "platform": devices[0].platform,
        "devices": len(devices),
        "prng": args.prng,
        "monitored": monitor_name,
        "seconds_compile": seconds_compile,
        "seconds_warmup": seconds_warmup,
        "seconds_sampling": seconds_sampling,
        "cpu_seconds_sampling": cpu_sampling,
        "chain_steps_per_second": args.chains * transitions / seconds_sampling,
        "acceptance_rate": accept_sum / (args.chains * args.draws),
        "peak_memory_bytes": peak_rss,
        "rss_before_import_bytes": rss_before_import,
        "rss_after_import_bytes": rss_after_import,
        "versions": package_versions(),
    }
    (out / f"peer-{args.sampler}.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(
        f"{implementation} {args.sampler}: compile {seconds_compile:.2f} s, warmup {seconds_warmup:.2f} s, "
        f"sampling {seconds_sampling:.2f} s, {summary['chain_steps_per_second']:.4g} chain-steps/s, "
        f"acceptance {summary['acceptance_rate']:.3f}, peak RSS {peak_rss / 2**20:.0f} MiB"
    )
    return 0


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"python": sys.version.split()[0]}
    for name in ("jax", "jaxlib", "blackjax", "numpy", "arviz"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# ---------------------------------------------------------------------------
# check-density


def run_check_density(args: argparse.Namespace) -> int:
    """Evaluate this file's log-density at fmala's draws and compare with fmala's lp."""
    jax = configure_jax(False, "float64")
    import jax.numpy as jnp
    import xarray as xr

    run_dir = Path(args.fmala_out)
    summary = json.loads((run_dir / "summary.json").read_text())
    failures = 0
    for entry in summary["samplers"]:
        name = entry["sampler"]
        theta = np.load(run_dir / f"draws-{name}.npy")
        lp = xr.open_dataset(run_dir / f"draws-{name}.nc", group="sample_stats")["lp"].values
        if args.target == "funnel":
            log_density = make_funnel(jnp, theta.shape[-1])
        else:
            x, y = load_regression_training_set(args.data)
            log_density, dim = make_mlp(jnp, x, y, jnp.float64)
            if dim != theta.shape[-1]:
                raise SystemExit(
                    f"check-density: fmala's draws have {theta.shape[-1]} parameters, the MLP has {dim}. "
                    "Pass the --out directory of a --preset paper-regression run"
                )
        flat = theta.reshape(-1, theta.shape[-1])
        ours = np.asarray(jax.jit(jax.vmap(log_density))(jnp.asarray(flat))).reshape(lp.shape)
        error = np.max(np.abs(ours - lp) / np.maximum(1.0, np.abs(lp)))
        status = "ok" if error <= args.tolerance else "MISMATCH"
        failures += status != "ok"
        print(f"check-density {args.target} {name}: max relative difference {error:.3g} over {lp.size} draws: {status}")
    return 1 if failures else 0


# ---------------------------------------------------------------------------
# report


def bulk_ess(draws: np.ndarray) -> float:
    import arviz as az

    return float(az.ess(np.ascontiguousarray(draws), method="bulk"))


def fmala_trace(run_dir: Path, sampler: str, quantity: str) -> np.ndarray:
    """Return fmala's (chains, draws) trace of the monitored parameter 0 or of lp."""
    if quantity == "monitored":
        return np.load(run_dir / f"draws-{sampler}.npy")[:, :, 0]
    import xarray as xr

    return xr.open_dataset(run_dir / f"draws-{sampler}.nc", group="sample_stats")["lp"].values


def run_report(args: argparse.Namespace) -> int:
    rows = []
    loads = {}
    if args.loads and Path(args.loads).exists():
        for line in Path(args.loads).read_text().splitlines():
            label, value = line.split()
            loads[label] = value
    for target, fmala_root, peer_root in (("funnel", args.fmala_funnel, args.peer_funnel), ("mlp", args.fmala_mlp, args.peer_mlp)):
        if not fmala_root:
            continue
        quantity = "monitored" if target == "funnel" else "log_density"
        for sampler in SAMPLERS:
            fmala_dir = Path(fmala_root) / sampler
            peer_dir = Path(peer_root)
            if not (fmala_dir / "summary.json").exists() or not (peer_dir / f"peer-{sampler}.json").exists():
                continue
            fmala = json.loads((fmala_dir / "summary.json").read_text())["samplers"][0]
            peer = json.loads((peer_dir / f"peer-{sampler}.json").read_text())
            settings = fmala["settings"]
            transitions = settings["draws"] * settings["thin"]
            if (settings["chains"], settings["draws"], settings["thin"]) != (peer["chains"], peer["draws"], peer["thin"]):
                raise SystemExit(f"report: {target} {sampler}: fmala and the peer ran different chains, draws or thin")
            fmala_rate = settings["chains"] * transitions / fmala["seconds_sampling"]
            fmala_ess = bulk_ess(fmala_trace(fmala_dir, sampler, quantity))
            peer_ess = bulk_ess(np.load(peer_dir / f"draws-{sampler}.npz")["monitored" if quantity == "monitored" else "log_density"])
            fmala_ess_rate = fmala_ess / fmala["seconds_sampling"]
            peer_ess_rate = peer_ess / peer["seconds_sampling"]
            rows.append(
                {
                    "target": target,
                    "sampler": sampler,
                    "peer": "BlackJAX" if peer["implementation"] == "blackjax" else "JAX (jvp)",
                    "chains": settings["chains"],
                    "dim": fmala_dim(fmala_root, sampler),
                    "transitions": transitions,
                    "step_size": settings["step_size"],
                    "ess_of": "v" if quantity == "monitored" else "log density",
                    "fmala_seconds": round(fmala["seconds_sampling"], 3),
                    "peer_seconds": round(peer["seconds_sampling"], 3),
                    "peer_compile_seconds": round(peer["seconds_compile"], 2),
                    "fmala_chain_steps_per_s": round(fmala_rate),
                    "peer_chain_steps_per_s": round(peer["chain_steps_per_second"]),
                    "steps_ratio": round(fmala_rate / peer["chain_steps_per_second"], 2),
                    "fmala_accept": round(fmala["acceptance_rate"], 3),
                    "peer_accept": round(peer["acceptance_rate"], 3),
                    "fmala_ess": round(fmala_ess, 1),
                    "peer_ess": round(peer_ess, 1),
                    "fmala_ess_per_s": round(fmala_ess_rate, 2),
                    "peer_ess_per_s": round(peer_ess_rate, 2),
                    "ess_ratio": round(fmala_ess_rate / peer_ess_rate, 2) if peer_ess_rate > 0 else float("nan"),
                    "fmala_peak_mib": round(fmala["peak_memory_bytes"] / 2**20),
                    "peer_peak_mib": round(peer["peak_memory_bytes"] / 2**20),
                    "peer_cpu_per_wall": round(peer["cpu_seconds_sampling"] / peer["seconds_sampling"], 2),
                    "load_fmala": loads.get(f"fmala-{target}-{sampler}", ""),
                    "load_peer": loads.get(f"peer-{target}-{sampler}", ""),
                }
            )
    if not rows:
        raise SystemExit("report: no pair of fmala and peer results found; run the measurements first")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "peers.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "peers.md").write_text(markdown_table(rows))
    print(markdown_table(rows))
    return 0


def fmala_dim(root: str, sampler: str) -> int:
    return json.loads((Path(root) / sampler / "summary.json").read_text())["dim"]


def markdown_table(rows: list[dict]) -> str:
    header = (
        "| target | sampler | peer | chains × steps | fmala chain-steps/s | peer chain-steps/s | ratio "
        "| ESS/s fmala | ESS/s peer | ratio | accept fmala / peer | peak RSS MiB fmala / peer | peer compile s "
        "| load fmala / peer |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for row in rows:
        lines.append(
            f"| {row['target']} (D = {row['dim']}) | {row['sampler']} | {row['peer']} "
            f"| {row['chains']} × {row['transitions']} | {row['fmala_chain_steps_per_s']:,} "
            f"| {row['peer_chain_steps_per_s']:,} | **{row['steps_ratio']}×** "
            f"| {row['fmala_ess_per_s']:g} | {row['peer_ess_per_s']:g} | {row['ess_ratio']}× "
            f"| {row['fmala_accept']} / {row['peer_accept']} | {row['fmala_peak_mib']} / {row['peer_peak_mib']} "
            f"| {row['peer_compile_seconds']} | {row['load_fmala']} / {row['load_peer']} |"
        )
    return header + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample", help="run one peer sampler and write peer-<sampler>.json and draws-<sampler>.npz")
    sample.add_argument("--target", choices=("funnel", "mlp"), required=True)
    sample.add_argument("--sampler", choices=SAMPLERS, required=True)
    sample.add_argument("--chains", type=int, required=True)
    sample.add_argument("--dim", type=int, default=11, help="funnel parameters, v included (default 11)")
    sample.add_argument("--data", default="data/agw1d/data.csv", help="mlp: CSV table with a header line, target last")
    sample.add_argument("--step-size", type=float, required=True, help="fixed step size η, as fmala's --step-size")
    sample.add_argument("--warmup", type=int, default=0, help="burn-in transitions, a multiple of --chunk × --thin")
    sample.add_argument("--draws", type=int, required=True, help="kept draws per chain, a multiple of --chunk")
    sample.add_argument("--thin", type=int, default=1, help="keep every K-th transition")
    sample.add_argument("--chunk", type=int, default=100, help="kept draws per compiled call")
    sample.add_argument("--seed", type=int, default=1)
    sample.add_argument("--curvature-floor", type=float, default=1e-6, help="PC samplers: κ = max(|h|, floor)")
    sample.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    sample.add_argument("--gpu", action="store_true", help="run on JAX's default GPU back end (needs jax[cuda])")
    sample.add_argument(
        "--cpu-devices",
        type=int,
        default=1,
        help="CPU only: split the host into N XLA devices and shard the chains over them (default 1)",
    )
    sample.add_argument(
        "--prng",
        choices=("threefry2x32", "rbg", "unsafe_rbg"),
        default="threefry2x32",
        help="JAX's PRNG implementation (default threefry2x32, JAX's default)",
    )
    sample.add_argument("--out", required=True, help="output directory")

    check = commands.add_parser("check-density", help="compare log-densities with fmala's lp at fmala's draws")
    check.add_argument("--target", choices=("funnel", "mlp"), required=True)
    check.add_argument("--data", default="data/agw1d/data.csv")
    check.add_argument("--fmala-out", required=True, help="fmala --out directory with draws-*.npy and draws-*.nc")
    check.add_argument("--tolerance", type=float, default=1e-9, help="largest relative difference accepted")

    report = commands.add_parser("report", help="write peers.md and peers.csv")
    report.add_argument("--fmala-funnel", help="directory with one fmala --out directory per sampler")
    report.add_argument("--peer-funnel")
    report.add_argument("--fmala-mlp")
    report.add_argument("--peer-mlp")
    report.add_argument("--loads", help="file of 'label load' lines written by run.sh")
    report.add_argument("--out", required=True)

    args = parser.parse_args(argv)
    if args.command == "sample":
        problems = []
        if args.chains < 1 or args.draws < 1 or args.thin < 1 or args.chunk < 1:
            problems.append("--chains, --draws, --thin and --chunk must be at least 1")
        if args.draws % args.chunk:
            problems.append(f"--draws {args.draws} is not a multiple of --chunk {args.chunk}")
        if args.warmup % (args.chunk * args.thin):
            problems.append(f"--warmup {args.warmup} is not a multiple of --chunk × --thin = {args.chunk * args.thin}")
        if not args.step_size > 0:
            problems.append(f"--step-size must be positive, got {args.step_size}")
        if problems:
            parser.error("; ".join(problems))
    return args


def main(argv: list[str]) -> int:
    args = parse_arguments(argv)
    if args.command == "sample":
        return run_sample(args)
    if args.command == "check-density":
        return run_check_density(args)
    return run_report(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
