"""Tests of the Python package against the command-line program.

The package runs the program's own sample command in-process, so from the
same options and data it must give byte-identical draws and the same
summary. FMALA_CLI names the program built from the same sources.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fmala

CLI = os.environ.get("FMALA_CLI")
needs_cli = pytest.mark.skipif(not CLI, reason="FMALA_CLI (the fmala program) is not set")

FUNNEL = dict(target="funnel", dim=6, sampler=["mala", "pc-line-fmala"], chains=8, warmup=100, draws=60, seed=3)


def cli_arguments(options):
    arguments = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            arguments.append(flag)
        elif isinstance(value, list):
            arguments += [flag, ",".join(map(str, value))]
        else:
            arguments += [flag, str(value)]
    return arguments


def run_cli(tmp_path, options):
    out = tmp_path / "cli"
    completed = subprocess.run([CLI, "sample", *cli_arguments(options), "-q", "--out", str(out)],
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    return out


def comparable(summary):
    """The per-sampler records of a summary without times, memory and file names."""
    samplers = summary["samplers"]
    for s in samplers:
        for key in list(s):
            if "second" in key or "peak" in key or key.startswith("draws_file") or key == "draws_netcdf":
                del s[key]
    return samplers


@needs_cli
def test_funnel_draws_equal_cli(tmp_path):
    result = fmala.sample(**FUNNEL, quiet=True)
    out = run_cli(tmp_path, FUNNEL)
    assert result.samplers == ["mala", "pc-line-fmala"]
    for sampler in result.samplers:
        expected = np.load(out / f"draws-{sampler}.npy")
        assert result.draws[sampler].shape == (8, 60, 6)
        assert np.array_equal(result.draws[sampler], expected)
    cli_summary = json.load(open(out / "summary.json"))
    assert comparable(result.summary()) == comparable(cli_summary)


def test_sample_stats_shapes():
    result = fmala.sample(**FUNNEL, quiet=True)
    stats = result.sample_stats["mala"]
    assert set(stats) == {"acceptance_rate", "step_size", "accepted", "nonfinite_rejections",
                          "curvature_floor_hits"}
    assert stats["step_size"].shape == (8, 60)
    assert result.log_density["mala"].shape == (8, 60)
    assert result.parameter_names["mala"][0] == "v"


@needs_cli
def test_invalid_value_same_message_as_cli():
    completed = subprocess.run([CLI, "sample", "--target", "funnel", "--chains", "0"], capture_output=True,
                               text=True)
    assert completed.returncode == 2
    cli_message = completed.stderr.strip().removeprefix("fmala: error: ")
    with pytest.raises(fmala.Error) as raised:
        fmala.sample(target="funnel", chains=0)
    assert str(raised.value) == cli_message


def test_unknown_option_suggests_name():
    with pytest.raises(fmala.Error, match="unknown option 'chainz'.*did you mean chains"):
        fmala.sample(target="funnel", chainz=4)


def classification_arrays(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(240, 4, 4))
    y = (x[:, 0, 0] > 0).astype(np.int64) + (x[:, 1, 1] > 0.5)
    return x[:200], y[:200], x[200:], y[200:]


LOGREG = dict(model="logreg", sampler="mala", chains=4, warmup=60, draws=40, seed=5, predictive_draws=20)


@needs_cli
def test_logreg_arrays_equal_npy_directory(tmp_path):
    x_train, y_train, x_test, y_test = classification_arrays()
    data = tmp_path / "npy"
    data.mkdir()
    for name, array in [("train_x", x_train), ("train_y", y_train), ("test_x", x_test), ("test_y", y_test)]:
        np.save(data / f"{name}.npy", array)
    result = fmala.sample(**LOGREG, train=(x_train, y_train), test=(x_test, y_test), quiet=True)
    out = run_cli(tmp_path, dict(LOGREG, data=str(data)))
    assert np.array_equal(result.draws["mala"], np.load(out / "draws-mala.npy"))
    ours = comparable(result.summary())[0]["metrics"]
    theirs = comparable(json.load(open(out / "summary.json")))[0]["metrics"]
    assert ours == theirs
    assert set(ours) >= {"accuracy", "nll", "ece", "brier"}


@needs_cli
def test_mlp_arrays_equal_table_file(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=120)
    table = tmp_path / "data.txt"
    np.savetxt(table, np.column_stack([x, y]), fmt="%.17g")
    options = dict(model="mlp", hidden=[8], sampler="mala", chains=4, warmup=60, draws=40, seed=2)
    result = fmala.sample(**options, train=(x, y), quiet=True)
    out = run_cli(tmp_path, dict(options, data=str(table)))
    assert np.array_equal(result.draws["mala"], np.load(out / "draws-mala.npy"))


def test_test_probabilities_give_metrics():
    x_train, y_train, x_test, y_test = classification_arrays()
    result = fmala.sample(**LOGREG, train=(x_train, y_train), test=(x_test, y_test), quiet=True)
    p = result.test_probabilities["mala"]
    assert p.shape == (40, 3)
    assert np.array_equal(result.test_labels, y_test)
    metrics = result.summary()["samplers"][0]["metrics"]
    assert np.mean(p.argmax(axis=1) == y_test) == pytest.approx(metrics["accuracy"], abs=1e-12)
    nll = -np.mean(np.log(p[np.arange(len(y_test)), y_test]))
    assert nll == pytest.approx(metrics["nll"], rel=1e-12)


def test_stream_on_target_keeps_traces():
    result = fmala.sample(target="gaussian", dim=30, stream=True, monitor=[0, 7], sampler="mala", chains=4,
                          warmup=20, draws=10, quiet=True)
    assert result.draws["mala"].shape == (4, 10, 2)
    assert result.parameter_names["mala"] == ["theta[0]", "theta[7]"]
    assert result.test_probabilities == {}


def test_arrays_need_a_model():
    x = np.zeros((20, 2))
    with pytest.raises(fmala.Error, match="analytic targets take no data"):
        fmala.sample(target="funnel", train=(x, x[:, 0]))


def test_preset_takes_arrays():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 1))
    y = np.sin(3 * x[:, 0]) + 0.1 * rng.normal(size=60)
    result = fmala.sample(preset="paper-regression", train=(x, y), sampler="mala", chains=2, warmup=10, draws=5,
                          quiet=True)
    assert result.draws["mala"].shape == (2, 5, 40701)


def test_ragged_and_complex_arrays_named():
    _, y_train, _, _ = classification_arrays()
    with pytest.raises(fmala.Error, match="x_train is not a rectangular numeric array"):
        fmala.sample(**LOGREG, train=([[1.0, 2.0], [3.0]], y_train[:2]))
    with pytest.raises(fmala.Error, match="x_train has complex values"):
        fmala.sample(**LOGREG, train=(np.ones((4, 2), dtype=complex), y_train[:4]))
    with pytest.raises(fmala.Error, match="x_train is not a numeric array"):
        fmala.sample(**LOGREG, train=(np.array([["a", "b"]]), y_train[:1]))


def test_docstring_lists_every_option():
    assert "``chains``: Number of chains" in fmala.sample.__doc__
    assert "``adapt_per_chain``" in fmala.sample.__doc__


def test_nonfinite_feature_names_array():
    x_train, y_train, _, _ = classification_arrays()
    x_train[7, 1, 2] = np.nan
    with pytest.raises(fmala.Error, match="x_train"):
        fmala.sample(**LOGREG, train=(x_train, y_train))


def test_negative_label_names_array():
    x_train, y_train, _, _ = classification_arrays()
    y_train[3] = -1
    with pytest.raises(fmala.Error, match="y_train.*index 3"):
        fmala.sample(**LOGREG, train=(x_train, y_train))


def test_mlp_rejects_test_split():
    x = np.zeros((20, 2))
    with pytest.raises(fmala.Error, match="splits the training arrays"):
        fmala.sample(model="mlp", train=(x, x[:, 0]), test=(x, x[:, 0]))


class OnDevice:
    """An array-like on a CUDA device that cannot copy itself to the host."""

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        raise BufferError("no copy to the host")


def test_device_array_without_host_copy_rejected():
    with pytest.raises(fmala.Error, match="x_train is on a device .* Copy it to the CPU"):
        fmala.sample(**LOGREG, train=(OnDevice(), np.zeros(3)))


@pytest.mark.parametrize("y", [np.zeros(3), OnDevice()])
def test_gpu_arrays_host_fallback(y):
    # A pair that the library cannot read on the GPU (here x does not export
    # itself as a CUDA array) takes the host's route, which copies it there.
    assert fmala._core.device_array_problem(OnDevice()) != ""
    with pytest.raises(fmala.Error, match="x_train is on a device .* Copy it to the CPU"):
        fmala.sample(**LOGREG, backend="cuda", train=(OnDevice(), y))


def test_mlp_shape_message_names_both_shapes():
    # The host's and the GPU's routes share this check.
    with pytest.raises(fmala.Error, match=r"needs x of shape \(N, P\) and y of shape \(N,\); got \(5, 2, 2\)"):
        fmala._check_mlp_shapes((5, 2, 2), (5,))
    with pytest.raises(fmala.Error, match=r"got \(5, 1\) and \(4,\)"):
        fmala._check_mlp_shapes((5,), (4,))


class ClaimsGpu:
    """Reports a CUDA device but has no __dlpack__."""

    def __dlpack_device__(self):
        return (2, 0)


def test_gpu_claim_without_dlpack_export_is_named():
    with pytest.raises(fmala.Error, match="x_train reports a device .* has no __dlpack__"):
        fmala.sample(**LOGREG, train=(ClaimsGpu(), np.zeros(3)))


class HostCopyOnRequest(OnDevice):
    """Reports a CUDA device and exports a host copy when asked for one (DLPack 1.0)."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        if dl_device != (1, 0) or copy is not True:
            raise BufferError("only a copy to the host")
        return self.array.__dlpack__()


def test_gpu_arrays_host_copy():
    x_train, y_train, x_test, y_test = classification_arrays()
    expected = fmala.sample(**LOGREG, train=(x_train, y_train), quiet=True)
    result = fmala.sample(**LOGREG, train=(HostCopyOnRequest(x_train), HostCopyOnRequest(y_train)), quiet=True)
    assert np.array_equal(result.draws["mala"], expected.draws["mala"])


def test_host_copy_with_numpy_before_2_1(monkeypatch):
    # NumPy before 2.1 takes no device= or copy= in from_dlpack.
    original = np.from_dlpack

    def from_dlpack(x, **kwargs):
        if kwargs:
            raise TypeError("from_dlpack() takes no keyword arguments")
        return original(x)

    monkeypatch.setattr(np, "from_dlpack", from_dlpack)
    x = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(fmala._copy_to_host(HostCopyOnRequest(x)), x)


def test_error_is_fmala_error():
    assert fmala.Error.__module__ == "fmala"


def test_draws_export_through_dlpack():
    result = fmala.sample(**FUNNEL, quiet=True)
    draws = result.draws["mala"]
    view = np.from_dlpack(draws)
    assert np.shares_memory(view, draws)


def test_host_draws_are_the_draws_without_device_draws():
    result = fmala.sample(**FUNNEL, quiet=True)
    assert result.host_draws["mala"] is result.draws["mala"]


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(), "device_draws: keeps the draws on the GPU .* backend='cuda'"),
        (dict(backend="cuda", stream=True), "device_draws: streaming .* Drop stream=True"),
        (dict(backend="cuda", out="OUT"), "device_draws: checkpoints .* no_checkpoint=True"),
    ],
)
def test_device_draws_needs_a_plain_cuda_run(tmp_path, options, message):
    if options.get("out") == "OUT":
        options = dict(options, out=str(tmp_path / "run"))
    with pytest.raises(fmala.Error, match=message):
        fmala.sample(**FUNNEL, quiet=True, device_draws=True, **options)


@pytest.mark.parametrize("options", [dict(stream=True), dict(out="OUT"), dict(device_draws=False)])
def test_cuda_host_draw_runs_not_refused(tmp_path, options):
    # Without a device the run stops at the back end, not at device_draws.
    if cuda_reason() is None:
        pytest.skip("a CUDA device is present; this test covers machines without one")
    if options.get("out") == "OUT":
        options = dict(options, out=str(tmp_path / "run"))
    with pytest.raises(fmala.Error, match="--backend cuda"):
        fmala.sample(**FUNNEL, quiet=True, backend="cuda", **options)


def cuda_reason():
    """Why the CUDA runs cannot be tested here, or None when they can."""
    try:
        fmala.sample(target="funnel", dim=2, chains=1, warmup=1, draws=1, backend="cuda", quiet=True)
    except fmala.Error as e:
        return str(e)
    return None


def cuda_torch():
    """PyTorch with CUDA, or a skip saying why the GPU runs cannot be tested here."""
    reason = cuda_reason()
    if reason:
        pytest.skip(f"no CUDA run possible: {reason}")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA support")
    return torch


def test_device_draws_stay_on_the_gpu():
    torch = cuda_torch()
    options = dict(FUNNEL, backend="cuda", quiet=True)
    on_host = fmala.sample(**options, device_draws=False)
    on_device = fmala.sample(**options)  # by default a CUDA run keeps its draws on the GPU
    for sampler in on_host.samplers:
        tensor = torch.from_dlpack(on_device.draws[sampler])
        assert tensor.device.type == "cuda"
        assert tuple(tensor.shape) == (8, 60, 6)
        assert np.array_equal(tensor.cpu().numpy(), on_host.draws[sampler])
        assert np.array_equal(on_device.host_draws[sampler], on_host.draws[sampler])
    # Timings and the device memory (which counts the draws' array) differ.
    for host_entry, device_entry in zip(on_host.summary()["samplers"], on_device.summary()["samplers"]):
        assert device_entry["parameters"] == host_entry["parameters"]


def test_torch_gpu_training_arrays():
    torch = cuda_torch()
    x_train, y_train, x_test, y_test = classification_arrays()
    options = dict(LOGREG, backend="cuda", quiet=True)
    on_host = fmala.sample(**options, train=(x_train, y_train), test=(x_test, y_test))
    x_gpu = torch.from_numpy(x_train).cuda()
    y_gpu = torch.from_numpy(y_train).cuda()
    on_gpu = fmala.sample(**options, train=(x_gpu, y_gpu), test=(x_test, y_test))
    assert np.array_equal(on_gpu.host_draws["mala"], on_host.host_draws["mala"])
    assert np.array_equal(on_gpu.test_probabilities["mala"], on_host.test_probabilities["mala"])
    # float32 images and int64 labels are converted on the GPU.
    x32 = x_train.astype(np.float32)
    from_float32 = fmala.sample(**options, train=(torch.from_numpy(x32).cuda(), y_gpu.long()), test=(x_test, y_test))
    expected = fmala.sample(**options, train=(x32.astype(np.float64), y_train), test=(x_test, y_test))
    assert np.array_equal(from_float32.host_draws["mala"], expected.host_draws["mala"])


def test_torch_gpu_regression_arrays():
    torch = cuda_torch()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(80, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=80)
    options = dict(model="mlp", hidden=[8], sampler="fmala", chains=4, warmup=40, draws=20, seed=2,
                   backend="cuda", quiet=True)
    on_host = fmala.sample(**options, train=(x, y))
    on_gpu = fmala.sample(**options, train=(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()))
    assert np.array_equal(on_gpu.host_draws["fmala"], on_host.host_draws["fmala"])
    assert on_gpu.summary()["samplers"][0]["metrics"]["rmse"] == on_host.summary()["samplers"][0]["metrics"]["rmse"]


def test_torch_round_trip():
    torch = pytest.importorskip("torch")
    x_train, y_train, x_test, y_test = classification_arrays()
    from_numpy = fmala.sample(**LOGREG, train=(x_train, y_train), test=(x_test, y_test), quiet=True)
    from_torch = fmala.sample(**LOGREG, train=(torch.from_numpy(x_train), torch.from_numpy(y_train)),
                              test=(torch.from_numpy(x_test), torch.from_numpy(y_test)), quiet=True)
    assert np.array_equal(from_numpy.draws["mala"], from_torch.draws["mala"])
    tensor = torch.from_dlpack(from_torch.draws["mala"])
    assert tuple(tensor.shape) == from_torch.draws["mala"].shape


def test_jax_round_trip():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    x_train, y_train, x_test, y_test = classification_arrays()
    from_numpy = fmala.sample(**LOGREG, train=(x_train, y_train), test=(x_test, y_test), quiet=True)
    from_jax = fmala.sample(**LOGREG, train=(jnp.asarray(x_train), jnp.asarray(y_train)),
                            test=(jnp.asarray(x_test), jnp.asarray(y_test)), quiet=True)
    assert np.array_equal(from_numpy.draws["mala"], from_jax.draws["mala"])
    draws = jnp.from_dlpack(from_jax.draws["mala"])
    assert np.array_equal(np.asarray(draws), from_jax.draws["mala"])


def test_to_arviz_matches_summary():
    arviz = pytest.importorskip("arviz")
    result = fmala.sample(**FUNNEL, quiet=True)
    data = result.to_arviz("mala")
    assert data.posterior["theta"].shape == (8, 60, 6)
    assert list(data.posterior["parameter"].values) == result.parameter_names["mala"]
    rhat = arviz.rhat(data)["theta"].values
    listed = [p["rhat"] for p in result.summary()["samplers"][0]["parameters"]]
    assert np.allclose(rhat, listed, rtol=1e-9)
    with pytest.raises(fmala.Error, match="name one"):
        result.to_arviz()


def interrupt_after_checkpoint(arguments, checkpoint):
    """Starts a Python child, sends it SIGINT once `checkpoint` exists, and returns its stdout."""
    child = subprocess.Popen([sys.executable, "-c", *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    for _ in range(1200):
        if checkpoint.exists() or child.poll() is not None:
            break
        subprocess.run(["sleep", "0.05"])
    assert checkpoint.exists(), child.communicate()
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 3, stderr
    return stdout


INTERRUPTED = textwrap.dedent("""
    import sys, fmala
    try:
        fmala.sample(target="funnel", dim=6, sampler="mala", chains=8, warmup=100, draws=2000, thin=500,
                     seed=3, checkpoint_every=20000, out=sys.argv[1], quiet=True)
    except KeyboardInterrupt as e:
        print("interrupted:", e)
        sys.exit(3)
""")


def test_ctrl_c_stops_and_resume_continues(tmp_path):
    out = tmp_path / "run"
    stdout = interrupt_after_checkpoint([INTERRUPTED, str(out)], out / "checkpoint" / "mala.ckpt")
    assert "interrupted: stopped by SIGINT" in stdout
    assert f"Continue the run with: fmala.resume('{out}')" in stdout
    with pytest.raises(fmala.Error, match="read its data from files, but arrays were given"):
        fmala.resume(str(out), train=(np.zeros((4, 2)), np.zeros(4)), model="logreg")
    resumed = fmala.resume(str(out))
    whole = fmala.sample(target="funnel", dim=6, sampler="mala", chains=8, warmup=100, draws=2000, thin=500,
                         seed=3, quiet=True)
    assert np.array_equal(resumed.draws["mala"], whole.draws["mala"])


INTERRUPTED_ARRAYS = textwrap.dedent("""
    import sys
    import numpy as np
    import fmala
    x = np.load(sys.argv[2])
    y = np.load(sys.argv[3])
    try:
        fmala.sample(model="logreg", train=(x[:200], y[:200]), test=(x[200:], y[200:]), sampler="mala",
                     chains=2, warmup=50, draws=100, thin=1000, seed=3, checkpoint_every=200,
                     predictive_draws=20, out=sys.argv[1], quiet=True)
    except KeyboardInterrupt as e:
        print("interrupted:", e)
        sys.exit(3)
""")


def test_resume_of_array_run_needs_the_arrays(tmp_path):
    x_train, y_train, x_test, y_test = classification_arrays()
    x = np.concatenate([x_train, x_test])
    y = np.concatenate([y_train, y_test])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "run"
    stdout = interrupt_after_checkpoint([INTERRUPTED_ARRAYS, str(out), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                                        out / "checkpoint" / "mala.ckpt")
    assert f"fmala.resume('{out}', train=(x, y), test=(x, y))" in stdout
    with pytest.raises(fmala.Error, match="data were arrays given from Python.*but none were given"):
        fmala.resume(str(out))
    with pytest.raises(fmala.Error, match="but now train=\\(x, y\\) were given"):
        fmala.resume(str(out), train=(x_train, y_train))
    resumed = fmala.resume(str(out), train=(x_train, y_train), test=(x_test, y_test))
    whole = fmala.sample(model="logreg", train=(x_train, y_train), test=(x_test, y_test), sampler="mala",
                         chains=2, warmup=50, draws=100, thin=1000, seed=3, predictive_draws=20, quiet=True)
    assert np.array_equal(resumed.draws["mala"], whole.draws["mala"])
    assert resumed.summary()["samplers"][0]["metrics"] == whole.summary()["samplers"][0]["metrics"]
