"""The user's own activations: imported, checked, measured, and given to the training step.

A custom member is `module:function` (imported through the import path: installed packages
and PYTHONPATH, never the working directory, so batch mode and the app's engine process find
the same code), `path.py:function` (a file, relative to the working directory), or a name a
package registers in the entry-point group `actlab.activations`.

The function takes a float tensor of pre-activations and returns f(z) of the same shape and
dtype, element by element. Its derivative comes from autograd unless the user gives one: an
attribute `function.derivative`, or a function `function_derivative` beside it in the same
module, each taking z and returning f'(z). A given derivative is checked against autograd.

Before a run, `check` refuses (one line naming the spec and the reason) a function that
cannot be imported, is not callable, is not elementwise, changes shape or dtype, is not
finite on [-50, 50], or is not differentiable. Its properties are then measured on that
range (`measure`), as plain data the PyTorch-free UI can use (`activation_lookup.from_description`).

The user's code must leave PyTorch's global settings alone: a module that changes the default
dtype, device, threads, grad mode or numerics when imported or called would change the other
members' results too, so it is refused (the settings restored). The global random state is
restored after its import and calls, so drawing numbers there changes no one's results.

`main` is the check helper: the app and batch mode run the checks in a child process
(`custom_process`), bounded in time, where the user's output cannot reach the answers.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor

from .activation_lookup import builtin, remember
from .activation_ops import TorchActivation, register_custom
from .activations import Activation, SpecError, member_spec
from .custom_guard import Meddles, guarded
from .events import ActivationDescription

WIDE = 50.0  # the range a function must be finite and differentiable on
CURVE_Z = 6.0  # the curves the UI draws: z in [-6, 6]
CURVE_POINTS = 241


@dataclass
class Loaded:
    """A custom activation as imported: the function and, if given, its derivative f'(z)."""

    spec: str
    fn: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor] | None
    ops: TorchActivation | None = None


_LOADED: dict[str, Loaded] = {}
_RESOLVED: dict[str, Activation] = {}
_DESCRIBED: dict[str, ActivationDescription] = {}  # measured descriptions, by canonical spec
_REFUSED: dict[str, str] = {}  # specs refused on import (a second import would be silent)


def _fail(spec: str, reason: str) -> SpecError:
    return SpecError(f"activation {spec!r}: {reason}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    line = line if len(line) <= 160 else line[:157] + "..."
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def _import_module(spec: str, module: str) -> ModuleType:
    if module.endswith(".py") or "/" in module or os.sep in module:
        path = Path(module).expanduser()
        path = path if path.is_absolute() else Path(os.getcwd()) / path
        if not path.is_file():
            raise _fail(spec, f"no file {str(path)!r}")
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
        name = f"actlab_user_{path.stem if path.stem.isidentifier() else 'module'}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        finder = importlib.util.spec_from_file_location(name, path)
        if finder is None or finder.loader is None:
            raise _fail(spec, f"cannot import {str(path)!r}")
        mod = importlib.util.module_from_spec(finder)
        sys.modules[name] = mod
        try:
            finder.loader.exec_module(mod)
        except BaseException as exc:
            del sys.modules[name]
            raise _fail(spec, f"importing {str(path)!r} raised {_first_line(exc)}") from None
        return mod
    # The working directory is no import root, in batch mode as in the app's engine process
    # (started with -P): a stray module lying there is never imported by a name.
    cwd = os.path.abspath(os.getcwd())
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise _fail(spec, f"cannot import {module!r}: {_first_line(exc)}") from None
    except BaseException as exc:
        raise _fail(spec, f"importing {module!r} raised {_first_line(exc)}") from None
    finally:
        sys.path[:] = saved


def load(spec: str) -> Loaded:
    """Import a custom spec's function (once per process) and its derivative, if any."""
    ms = member_spec(spec)
    if ms.kind != "custom":
        raise _fail(spec, "not a custom activation")
    if ms.name in _LOADED:
        return _LOADED[ms.name]
    if ms.name in _REFUSED:
        raise Meddles(_REFUSED[ms.name])
    module_name, _, attr = ms.target.rpartition(":")
    try:
        with guarded(ms.name, "on import"):
            module = _import_module(ms.name, module_name)
    except Meddles as exc:
        # imported once, it would be imported silently the next time: remember the refusal
        _REFUSED[ms.name] = str(exc)
        raise
    if not hasattr(module, attr):
        raise _fail(ms.name, f"{module_name!r} has no attribute {attr!r}")
    fn = getattr(module, attr)
    if not callable(fn):
        raise _fail(ms.name, f"{attr!r} is not callable (it is a {type(fn).__name__})")
    derivative = getattr(fn, "derivative", None)
    if derivative is None:
        derivative = getattr(module, f"{attr}_derivative", None)
    if derivative is not None and not callable(derivative):
        raise _fail(ms.name, f"its derivative is not callable (a {type(derivative).__name__})")
    loaded = Loaded(ms.name, fn, derivative)
    _LOADED[ms.name] = loaded
    return loaded


def _call(spec: str, fn: Callable[[Tensor], Tensor], z: Tensor, what: str = "it") -> Tensor:
    try:
        out = fn(z)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _fail(spec, f"{what} raised {_first_line(exc)} on a {list(z.shape)} tensor") from None
    if not isinstance(out, Tensor):
        raise _fail(spec, f"{what} returned a {type(out).__name__}, not a tensor")
    if out.shape != z.shape:
        raise _fail(spec, f"{what} changes the shape: {list(z.shape)} -> {list(out.shape)}")
    if out.dtype != z.dtype:
        raise _fail(spec, f"{what} changes the dtype: {z.dtype} -> {out.dtype}".replace("torch.", ""))
    return out


def _autograd(spec: str, fn: Callable[[Tensor], Tensor], z: Tensor) -> Tensor | None:
    """f'(z) by autograd (elementwise f: the gradient of the sum); None when f has no graph."""
    with torch.enable_grad():
        zz = z.detach().requires_grad_(True)
        out = _call(spec, fn, zz)
        if not out.requires_grad:
            return None
        try:
            (grad,) = torch.autograd.grad(out.sum(), zz, allow_unused=True)
        except RuntimeError as exc:
            raise _fail(spec, f"autograd failed: {_first_line(exc)}") from None
    return torch.zeros_like(z) if grad is None else grad.detach()


def check(spec: str) -> Loaded:
    """Import and check a custom activation; SpecError (one line) says what is wrong."""
    loaded = load(spec)
    fn, name = loaded.fn, loaded.spec
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(8, 16, generator=gen) * 3
    with torch.no_grad():
        y = _call(name, fn, z)
        nudged = z.clone()
        nudged[0, 0] += 1.0
        others = torch.ones_like(z, dtype=torch.bool)
        others[0, 0] = False
        y2 = _call(name, fn, nudged)
        flat = _call(name, fn, z.reshape(-1)).reshape(z.shape)
        row = _call(name, fn, z[:1].clone())
    if not _same(y2[others], y[others]) or not _same(flat, y) or not _same(row, y[:1]):
        raise _fail(
            name,
            "is not elementwise: an output depends on other elements or on the tensor's shape "
            "(like a softmax or a sum)",
        )
    zr = torch.linspace(-WIDE, WIDE, 20001)
    with torch.no_grad():
        fr = _call(name, fn, zr)
    bad = ~torch.isfinite(fr)
    if bad.any():
        at = zr[bad][0].item()
        raise _fail(name, f"is not finite (NaN or Inf) at z = {at:g}; it must be on [-{WIDE:g}, {WIDE:g}]")
    auto = _autograd(name, fn, zr)
    if loaded.derivative is not None:
        with torch.no_grad():
            mine = _call(name, loaded.derivative, zr, "its derivative")
        if not torch.isfinite(mine).all():
            raise _fail(name, "its derivative is not finite on [-50, 50]")
        if auto is not None:
            close = torch.isclose(mine, auto, rtol=1e-3, atol=1e-4)
            # a kink (relu-like at 0) may be decided either way there
            close |= zr.abs() < 1e-3
            if not close.all():
                i = int((~close).nonzero()[0])
                raise _fail(
                    name,
                    f"its derivative disagrees with autograd at z = {zr[i].item():g} "
                    f"({mine[i].item():.6g} vs {auto[i].item():.6g})",
                )
    elif auto is None:
        raise _fail(
            name,
            "is not differentiable: autograd cannot follow it (its output has no gradient) and no "
            "derivative is given (a .derivative attribute or a function_derivative beside it)",
        )
    elif not torch.isfinite(auto).all():
        at = zr[~torch.isfinite(auto)][0].item()
        raise _fail(name, f"its derivative (autograd) is not finite at z = {at:g}")
    return loaded


def _same(a: Tensor, b: Tensor) -> bool:
    return bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True))


def torch_ops_of(spec: str) -> TorchActivation:
    """The training step's functions of a checked custom activation: the user's f, and f' as
    given or by autograd (the backward then is a vector-Jacobian product: one more f)."""
    loaded = _LOADED.get(member_spec(spec).name) or check(spec)
    if loaded.ops is not None:
        return loaded.ops
    fn, given = loaded.fn, loaded.derivative
    if given is not None:

        def derivative(z: Tensor, a: Tensor) -> Tensor:
            return given(z)

        ops = TorchActivation(loaded.spec, fn, derivative)
    else:

        def vjp(dh: Tensor, z: Tensor, a: Tensor) -> Tensor:
            with torch.enable_grad():
                zz = z.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(fn(zz), zz, dh, allow_unused=True)
            return torch.zeros_like(z) if g is None else g

        def derivative(z: Tensor, a: Tensor) -> Tensor:
            return vjp(torch.ones_like(z), z, a)

        ops = TorchActivation(loaded.spec, fn, derivative, vjp)
    loaded.ops = ops
    return ops


def measure(
    spec: str, fn: Callable[[Tensor], Tensor], derivative: Callable[[Tensor], Tensor]
) -> ActivationDescription:
    """Properties of an elementwise function, measured on [-50, 50] (in float64 where the
    function takes it, so rounding does not flatten its tails), and its curves on [-6, 6]:
    output range; zero-centred (mean within a tenth of the spread for z ~ N(0, 1), and f(0) = 0);
    saturating (f' falls below 1% of its largest value at an end, fading there rather than
    being exactly 0 on that side); can die (f' exactly 0 on an interval of [-8, 8]); monotone;
    largest f'."""
    with torch.no_grad():
        z = torch.linspace(-WIDE, WIDE, 20001, dtype=torch.float64)
        try:
            f = fn(z)
            exact = isinstance(f, Tensor) and f.dtype == torch.float64 and f.shape == z.shape
        except Exception:
            exact = False
        if not exact:
            z = z.float()
            f = fn(z)
        d = derivative(z).double()
        f = f.double()
        zd = z.double()
        top = float(d.max())
        scale = max(abs(top), 1e-12)
        ends = (0, len(z) - 1)
        # an extreme reached at an end of the range is an asymptote there (or unbounded)
        lo_i = 0 if f[0] <= f.min() else len(z) - 1 if f[-1] <= f.min() else int(f.argmin())
        hi_i = len(z) - 1 if f[-1] >= f.max() else 0 if f[0] >= f.max() else int(f.argmax())

        def bound(i: int, sign: str) -> str:
            if i in ends and abs(float(d[i])) > 1e-3 * scale:
                return f"{sign}inf"
            value = float(f[i])
            return "0" if abs(value) < 1e-9 else f"{value:.2g}"

        lo, hi = bound(lo_i, "-"), bound(hi_i, "")
        output_range = f"{'(' if lo_i in ends else '['}{lo}, {hi}{')' if hi_i in ends else ']'}"
        w = torch.exp(-0.5 * zd * zd)
        w = w / w.sum()
        mean = float((w * f).sum())
        std = math.sqrt(float((w * (f - mean) ** 2).sum()))
        zero_centred = abs(mean) <= 0.1 * std and abs(float(fn(torch.zeros(1))[0])) < 1e-3
        left = (zd >= -8) & (zd <= -1)
        right = (zd >= 1) & (zd <= 8)
        fades = (
            abs(float(d[0])) < 0.01 * scale and bool((d[left] != 0).any()),
            abs(float(d[-1])) < 0.01 * scale and bool((d[right] != 0).any()),
        )
        saturating = any(fades)
        window = ((zd >= -8) & (zd <= 8)).nonzero().flatten()
        zero = (d[window] == 0).tolist()
        run = longest = 0
        for flag in zero:
            run = run + 1 if flag else 0
            longest = max(longest, run)
        step = float(zd[1] - zd[0])
        can_die = longest * step >= 1.0  # f' = 0 on an interval of length 1 at least
        monotone = bool((d >= -1e-6 * scale).all() or (d <= 1e-6 * scale).all())
        zc = torch.linspace(-CURVE_Z, CURVE_Z, CURVE_POINTS, dtype=z.dtype)
        curve_f = fn(zc).double().tolist()
        curve_d = derivative(zc).double().tolist()
    return {
        "name": spec,
        "max_derivative": float(f"{top:.5g}"),
        "output_range": output_range,
        "zero_centred": zero_centred,
        "saturating": saturating,
        "can_die": can_die,
        "monotone": monotone,
        "z": [round(v, 6) for v in zc.tolist()],
        "f": [float(f"{v:.6g}") for v in curve_f],
        "df": [float(f"{v:.6g}") for v in curve_d],
    }


def describe(spec: str) -> ActivationDescription:
    """A checked custom activation as plain data: properties, curves, formula and note;
    measured once per process (or adopted from the check helper, `adopt`)."""
    name = member_spec(spec).name
    if name not in _DESCRIBED:
        with guarded(name, "when called"):
            loaded = check(name)
            ops = torch_ops_of(loaded.spec)

            def derivative(z: Tensor) -> Tensor:
                return ops.derivative(z, z)

            d = measure(loaded.spec, loaded.fn, derivative)
        doc = (getattr(loaded.fn, "__doc__", None) or "").strip().splitlines()
        ms = member_spec(loaded.spec)
        d["formula"] = doc[0] if doc else ms.target
        source = f"entry point {ms.entry_point} ({ms.target})" if ms.entry_point else ms.target
        how = "given" if loaded.derivative is not None else "by autograd"
        d["note"] = f"Your function, from {source}; f' {how}; properties measured on [-50, 50]."
        d["cost"] = "measured in a run"
        _DESCRIBED[name] = d
    return _DESCRIBED[name].copy()


def adopt(description: ActivationDescription) -> Activation:
    """Take a description the check helper measured in its own process (`custom_process`):
    the function is imported here (its import guarded like the helper's) but not called
    again before training, so its checks and their time limit stay in the helper."""
    name = member_spec(description["name"]).name
    load(name)
    _DESCRIBED[name] = description.copy()
    _RESOLVED[name] = remember(description)
    _register(name)
    return _RESOLVED[name]


def resolved(spec: str) -> bool:
    """Whether this process has checked (or adopted) a custom spec already."""
    return member_spec(spec).name in _RESOLVED


def resolve(spec: str) -> Activation:
    """The Activation a member spec names, for training code: a registry entry (with its
    parameters) or a checked and measured custom function."""
    ms = member_spec(spec)
    if ms.kind == "builtin":
        return builtin(ms.name)
    if ms.name not in _RESOLVED:
        _RESOLVED[ms.name] = remember(describe(ms.name))
        _register(ms.name)
    return _RESOLVED[ms.name]


def _register(name: str) -> None:
    # activation_ops builds training functions for registry entries only: it is below this
    # module and never imports it, so the user's functions are handed to it here
    register_custom(name, lambda: torch_ops_of(name))


# --- the check helper ---------------------------------------------------------------------------

ORPHAN_POLL_S = 0.5  # how often the helper looks whether the process that started it is gone


def _exit_when_orphaned(parent: int) -> None:
    """A helper whose parent is gone (killed, crashed) ends itself, even while the user's code
    loops: nobody waits for its answer any more. Python switches threads while pure Python
    code loops, so this thread gets its turn."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_S)
    os._exit(3)


def main(argv: list[str]) -> int:
    """`python -P -m actlab.engine.custom SPEC...`: the check helper (`custom_process` runs
    it). For each spec it writes a JSON line {"checking": spec} when the user's code is about
    to run, then {"spec", "description"} or {"spec", "error"} (one line). The answers go to
    the stdout it was given; the user's code gets stderr as its stdout, at the descriptor
    level (print and C code alike), so nothing it prints can reach the answers."""
    import json

    from .custom_process import CheckAnswer, Checking

    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    torch.set_num_threads(1)

    def answer(message: Checking | CheckAnswer) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    for spec in argv:
        answer({"checking": spec})
        out: CheckAnswer
        try:
            out = {"spec": spec, "description": describe(spec)}
        except SpecError as exc:
            out = {"spec": spec, "error": str(exc)}
        except BaseException as exc:  # the user's code escaped the checks (SystemExit in measure)
            if isinstance(exc, KeyboardInterrupt):
                raise
            out = {"spec": spec, "error": f"activation {spec!r}: measuring it raised {_first_line(exc)}"}
        answer(out)
    return 0


if __name__ == "__main__":
    # the module's own copy, as the engine's code imports it
    from actlab.engine.custom import main as _main

    raise SystemExit(_main(sys.argv[1:]))
