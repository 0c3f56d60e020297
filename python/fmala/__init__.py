"""fmala: forward-mode MALA samplers on many chains, from Python.

``fmala.sample`` takes the options of the ``fmala sample`` command as keyword
arguments (``chains=64`` for ``--chains 64``, ``adapt_per_chain=True`` for
``--adapt-per-chain``, lists for comma-separated values) and data either as
``data=`` (the command's ``--data``) or as arrays::

    import fmala
    result = fmala.sample(model="logreg", train=(x_train, y_train), test=(x_test, y_test),
                          sampler=["pc-line-fmala", "mala"], chains=16, warmup=200, draws=100)
    result.draws["mala"]          # NumPy array (chains, draws, parameters)
    result.summary()["samplers"]  # summary.json as a dict
    result.to_arviz("mala")       # arviz.InferenceData

With ``backend="cuda"`` the draws stay on the GPU that made them:
``result.draws`` then maps each sampler to an array on that device, which
``torch.from_dlpack`` or ``cupy.from_dlpack`` take without a copy, and
``result.host_draws`` to the same values as NumPy arrays.

Arrays may be NumPy arrays or any array that NumPy reads through DLPack or
``__array__`` (PyTorch and JAX tensors on the CPU, for instance). With
``backend="cuda"``, training arrays that sit on a GPU stay there: the
library checks, scales and evaluates them on that GPU without a copy to the
host (for ``model="mlp"`` it also draws the split there and copies only the
test rows). Errors are
raised as ``fmala.Error`` (a ValueError) with the command's messages, and
Ctrl-C stops the run after the current transition with KeyboardInterrupt.
"""

from __future__ import annotations

import difflib
import json
import shlex
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ._core import Error
from ._core import device_array_problem as _device_array_problem
from ._core import options_help as _options_help
from ._core import run as _run

__all__ = ["Error", "Result", "sample", "resume"]
Error.__module__ = "fmala"  # raised as fmala.Error, where users catch it
__version__ = "0.1.0"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _arguments(options: Dict[str, Any]) -> List[str]:
    """Turns keyword arguments into the arguments of ``fmala sample``."""
    known = {name.replace("-", "_") for name, _ in _options_help()}
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise Error(f"unknown option '{name}' (no --{name.replace('_', '-')} in fmala sample){hint}")
    arguments: List[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        if value is True:
            arguments.append(_flag(name))
        elif isinstance(value, (list, tuple)):
            arguments += [_flag(name), ",".join(str(v) for v in value)]
        else:
            arguments += [_flag(name), str(value)]
    return arguments


class _HostCopy:
    """Asks a DLPack producer on a device for a copy on the host.

    NumPy before 2.1 has no device= argument in from_dlpack; this passes the
    request (DLPack 1.0's dl_device and copy) to the producer itself.
    """

    def __init__(self, value: Any):
        self._value = value

    def __dlpack_device__(self):
        return (1, 0)

    def __dlpack__(self, stream=None, **kwargs):
        return self._value.__dlpack__(dl_device=(1, 0), copy=True)


def _copy_to_host(value: Any) -> np.ndarray:
    try:
        return np.from_dlpack(value, device="cpu", copy=True)
    except TypeError as e:
        if "keyword" not in str(e):
            raise
        return np.from_dlpack(_HostCopy(value))


def _host_array(value: Any, name: str) -> np.ndarray:
    """Returns an array-like on the CPU as a C-contiguous float64 NumPy array (a view when possible)."""
    device = getattr(value, "__dlpack_device__", None)
    if device is not None and device()[0] not in (1, 3):  # kDLCPU, kDLCUDAHost
        # Arrays on a GPU that the run reads on the host (test splits, the
        # MLP's table, the CPU back end) are copied there once, through
        # DLPack's cross-device copy.
        if not hasattr(value, "__dlpack__"):
            raise Error(f"{name} reports a device (DLPack device type {device()[0]}) through "
                        "__dlpack_device__ but has no __dlpack__ to export itself. Copy it to the CPU "
                        "first, e.g. x.cpu() in PyTorch or cupy.asnumpy(x)")
        try:
            array = _copy_to_host(value)
        except (TypeError, ValueError, RuntimeError, BufferError, NotImplementedError, AttributeError) as e:
            raise Error(
                f"{name} is on a device (DLPack device type {device()[0]}) that does not copy itself "
                f"to the host ({e}); fmala reads this array on the host. Copy it to the CPU "
                "first, e.g. x.cpu() in PyTorch or cupy.asnumpy(x)"
            ) from e
    else:
        try:
            array = np.from_dlpack(value) if device is not None else _as_numpy(value, name)
        except (TypeError, RuntimeError, BufferError):
            array = _as_numpy(value, name)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise Error(f"{name} is not a numeric array (NumPy reads it as dtype {array.dtype})")
    if np.iscomplexobj(array):
        raise Error(f"{name} has complex values; give real numbers")
    return np.ascontiguousarray(array, dtype=np.float64)


def _as_numpy(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except ValueError as e:
        raise Error(f"{name} is not a rectangular numeric array ({e})") from e


_DLPACK_CUDA = 2


def _on_gpu(value: Any) -> bool:
    """Tells whether an array reports through DLPack that it is in a CUDA device's memory."""
    device = getattr(value, "__dlpack_device__", None)
    return device is not None and device()[0] == _DLPACK_CUDA


def _pair(value: Any, name: str) -> Tuple[np.ndarray, np.ndarray]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise Error(f"{name} must be a pair (x, y) of arrays")
    return _host_array(value[0], f"x_{name}"), _host_array(value[1], f"y_{name}")


class Result:
    """The draws, statistics and summary of one call of ``sample``.

    ``draws``, ``log_density`` and ``sample_stats`` map each sampler's name to
    NumPy arrays of shape (chains, draws, parameters) and (chains, draws);
    NumPy arrays export themselves through DLPack (``torch.from_dlpack``).
    With ``device_draws=True``, ``draws`` maps each sampler to an array of
    the same shape on the GPU that made it, exported through DLPack, and
    ``host_draws`` to the NumPy copy that the summary was computed from;
    otherwise ``host_draws`` maps each sampler to the same array as ``draws``. With
    ``stream=True`` the draws' last axis holds the monitored coordinates
    only (``parameter_names`` names them).
    ``parameter_names`` maps each sampler to the names of the draws' columns.
    For classifiers with a test split, ``test_probabilities`` maps each
    sampler to the posterior-mean class probabilities (test rows, classes)
    from the draws the metrics use, and ``test_labels`` has the labels.
    """

    def __init__(self, output: Dict[str, Any]):
        self._summary_text: str = output["summary"]
        self.draws: Dict[str, Any] = {}
        self.host_draws: Dict[str, np.ndarray] = {}
        self.log_density: Dict[str, np.ndarray] = {}
        self.sample_stats: Dict[str, Dict[str, np.ndarray]] = {}
        self.parameter_names: Dict[str, List[str]] = {}
        self.test_probabilities: Dict[str, np.ndarray] = {}
        self.test_labels: Optional[np.ndarray] = None
        for entry in output["samplers"]:
            name = entry["name"]
            self.host_draws[name] = entry["values"]
            self.draws[name] = entry.get("device_values", entry["values"])
            self.log_density[name] = entry["log_density"]
            self.sample_stats[name] = dict(entry.get("sample_stats", {}))
            self.parameter_names[name] = list(entry["columns"])
            if "test_probabilities" in entry:
                self.test_probabilities[name] = entry["test_probabilities"]
                self.test_labels = entry["test_labels"]

    @property
    def samplers(self) -> List[str]:
        """The samplers run, in order."""
        return list(self.draws)

    def summary(self) -> Dict[str, Any]:
        """summary.json of the run as a dict."""
        return json.loads(self._summary_text)

    def to_arviz(self, sampler: Optional[str] = None):
        """Returns the draws of one sampler as an ``arviz.InferenceData``.

        Its layout is that of the NetCDF files the command writes: a
        ``theta`` variable with dimensions (chain, draw, parameter) in the
        posterior group, and ``lp`` with the per-draw statistics in
        sample_stats. ``sampler`` may be left out when only one was run.
        """
        try:
            import arviz
        except ImportError as e:
            raise ImportError("to_arviz needs ArviZ: pip install arviz") from e
        if sampler is None:
            if len(self.draws) != 1:
                raise Error(f"the run has samplers {self.samplers}; name one: to_arviz('{self.samplers[0]}')")
            sampler = self.samplers[0]
        if sampler not in self.draws:
            raise Error(f"no sampler '{sampler}' in this run; it has {self.samplers}")
        stats = {"lp": self.log_density[sampler]}
        stats.update(self.sample_stats[sampler])
        return arviz.from_dict(
            posterior={"theta": self.host_draws[sampler]},
            sample_stats=stats,
            coords={"parameter": self.parameter_names[sampler]},
            dims={"theta": ["parameter"]},
        )

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {v.shape}" for k, v in self.host_draws.items())
        return f"fmala.Result({shapes})"


def _finish(output: Dict[str, Any]) -> Result:
    status = output["status"]
    if status in (130, 143, 138):
        raise KeyboardInterrupt(output["stop_message"])
    if status != 0:
        raise Error(f"the run ended with exit status {status}")
    return Result(output)


# The model of each preset, for turning arrays into its kind of data.
_PRESET_MODELS = {"paper-regression": "mlp", "paper-logreg": "logreg", "paper-mnist-cnn": "cnn",
                  "paper-cifar-cnn": "cnn"}


_MLP_NO_TEST = ("model='mlp' splits the training arrays into training and test rows itself "
                "(90/10, seeded by split_seed); pass all rows as train=(x, y) and no test=")


def _check_mlp_shapes(x_shape: Tuple[int, ...], y_shape: Tuple[int, ...]) -> None:
    if len(x_shape) not in (1, 2) or len(y_shape) != 1 or x_shape[0] != y_shape[0]:
        # A 1-D x is one feature per row: its message shows it as (N, 1).
        x_as_table = x_shape if len(x_shape) != 1 else (x_shape[0], 1)
        raise Error(f"train=(x, y) for model='mlp' needs x of shape (N, P) and y of shape (N,); got "
                    f"{x_as_table} and {y_shape}")


def _readable_on_gpu(train: Any) -> bool:
    """Tells whether train=(x, y) are both on a GPU in a form the library reads there.

    Other arrays on a GPU (on the host's side of the pair, or of a value type
    or layout the library does not read in place) are copied to the host.
    """
    if not isinstance(train, (tuple, list)) or len(train) != 2:
        return False
    return all(_on_gpu(a) and _device_array_problem(a) == "" for a in train)


def _data_arrays(model: Optional[str], train: Any, test: Any, backend: Optional[str] = None) -> Dict[str, Any]:
    if train is None:
        if test is not None:
            raise Error("test= needs train= as well")
        return {}
    if backend == "cuda" and model in ("logreg", "cnn", "mlp") and _readable_on_gpu(train):
        # The training arrays stay on their GPU: the library checks, scales
        # and evaluates them there. The test rows are scored on the host.
        if model == "mlp":
            if test is not None:
                raise Error(_MLP_NO_TEST)
            _check_mlp_shapes(tuple(train[0].shape), tuple(train[1].shape))
            return {"x_train_device": train[0], "y_train_device": train[1]}
        arrays: Dict[str, Any] = {"x_train_device": train[0], "y_train_device": train[1]}
        if test is not None:
            arrays["x_test"], arrays["y_test"] = _pair(test, "test")
        return arrays
    x, y = _pair(train, "train")
    if model == "mlp":
        if test is not None:
            raise Error(_MLP_NO_TEST)
        _check_mlp_shapes(x.shape, y.shape)
        if x.ndim == 1:
            x = x[:, None]
        bad = ~np.isfinite(x)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise Error(f"x_train[{row}, {col}] is {x[row, col]}; the features must be finite")
        if not np.isfinite(y).all():
            row = int(np.argwhere(~np.isfinite(y))[0][0])
            raise Error(f"y_train[{row}] is {y[row]}; the targets must be finite")
        return {"table": np.ascontiguousarray(np.column_stack([x, y]))}
    arrays = {"x_train": x, "y_train": y}
    if test is not None:
        arrays["x_test"], arrays["y_test"] = _pair(test, "test")
    return arrays


def sample(*, train: Any = None, test: Any = None, device_draws: Optional[bool] = None, **options: Any) -> Result:
    """Runs one or more samplers and returns their draws and summary.

    Every keyword but ``train``, ``test`` and ``device_draws`` is an option of ``fmala sample``,
    listed below: ``target``, ``model``, ``preset``, ``data``,
    ``sampler`` (a name or a list), ``chains``, ``warmup``, ``draws``,
    ``thin``, ``step_size``, ``seed``, ``out`` (also write the command's
    files there, with checkpoints for ``resume``), ``quiet`` and so on.

    ``train=(x, y)`` and ``test=(x, y)`` give the data as arrays instead of
    ``data=``: for ``model='logreg'`` and ``'cnn'``, features of shape
    (N, P), (N, H, W) or (N, H, W, C) and whole-number class labels; for
    ``model='mlp'``, features (N, P) and targets (N,) of which a seeded 90/10
    split is taken as with a data file. With ``backend='cuda'``, training
    arrays on a GPU (``x`` float64, float32 or integers, ``y`` on the same
    GPU, both C-contiguous) are read in place there; the test split (for
    ``'mlp'`` the test rows) is copied to the host, where it is scored.

    ``device_draws=True`` (with ``backend='cuda'``) keeps each sampler's
    draws on the GPU in ``Result.draws``, for ``torch.from_dlpack`` and
    other DLPack readers; the summary and ``to_arviz`` use a host copy
    (``Result.host_draws``). It cannot be combined with ``stream`` or with
    checkpoints (pass ``no_checkpoint=True`` with ``out``). Left out, it
    is True for a CUDA run without either, and False otherwise;
    ``device_draws=False`` gives NumPy draws from any run.

    Raises ``fmala.Error`` for invalid options or data, and KeyboardInterrupt
    when Ctrl-C stopped the run (with ``out``, ``resume(out)`` continues it).
    """
    if train is not None and options.get("data") is not None:
        raise Error("give the data as data= or as train=/test= arrays, not both")
    model = options.get("model") or _PRESET_MODELS.get(options.get("preset"))
    if (train is not None or test is not None) and model is None:
        raise Error("train= and test= are data of model='logreg', 'cnn' or 'mlp' (or a preset); the "
                    "analytic targets take no data")
    arrays = _data_arrays(model, train, test, options.get("backend"))
    arguments = _arguments(options)
    command_line = "fmala.sample " + " ".join(shlex.quote(a) for a in arguments)
    if device_draws is None:
        checkpoints = bool(options.get("out")) and not options.get("no_checkpoint")
        device_draws = options.get("backend") == "cuda" and not options.get("stream") and not checkpoints
    try:
        output = _run(arguments, command_line, None, **arrays, device_draws=bool(device_draws))
    except TypeError as e:
        if "x_train_device" not in arrays:
            raise
        # nanobind could not take the arrays through DLPack as CUDA arrays.
        raise Error(f"x_train and y_train say they are on a GPU, but their DLPack export failed ({e}); "
                    "pass CUDA arrays of PyTorch, CuPy or JAX (x.detach() for a tensor that requires grad), "
                    "or copy them to the host") from e
    return _finish(output)


def _options_doc() -> str:
    lines = ["", "    Options (those of ``fmala sample``; dashes become underscores):", ""]
    for name, description in _options_help():
        lines.append(f"    ``{name.replace('-', '_')}``: {description}")
    return "\n".join(lines) + "\n"


sample.__doc__ = (sample.__doc__ or "") + _options_doc()


def resume(directory: str, *, train: Any = None, test: Any = None, model: Optional[str] = None) -> Result:
    """Continues a run that was stopped, from the checkpoint in ``directory``.

    A run whose data were arrays needs the same arrays again (``train``,
    ``test``, and ``model='mlp'`` for regression arrays). The checkpoint's
    log-densities are compared, so other data are an error.
    """
    arrays = _data_arrays(model, train, test)
    return _finish(_run([], "", directory, **arrays))
