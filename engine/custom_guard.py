"""The guard around the user's code: PyTorch's global state is the same after it as before.

Members share one process, so a custom activation that changes PyTorch's global settings
(default dtype or device, threads, grad mode, numerics) when imported or called would change
every member's results: `guarded` puts the settings back and refuses the spec (`Meddles`).
The global random state is put back too, silently: drawing numbers changes no one's results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from .activations import SpecError


class Meddles(SpecError):
    """The user's code changed PyTorch's global settings (they have been put back)."""


# Each: what the refusal calls it, how to read it, how to put it back. Members share one
# process, so a change here (float64 by default, another default device, fewer threads, grad
# off, other matmul numerics) would reach every member, not only the user's.


def _set_cudnn(flags: tuple[bool, bool, bool, bool]) -> None:
    cudnn = torch.backends.cudnn
    cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32 = flags


def _set_deterministic(mode: tuple[bool, bool]) -> None:
    torch.use_deterministic_algorithms(mode[0], warn_only=mode[1])


_SETTINGS: tuple[tuple[str, Callable[[], Any], Callable[[Any], Any]], ...] = (
    ("default dtype", torch.get_default_dtype, torch.set_default_dtype),
    ("default device", torch.get_default_device, torch.set_default_device),
    ("number of threads", torch.get_num_threads, torch.set_num_threads),
    ("grad mode", torch.is_grad_enabled, torch.set_grad_enabled),
    ("anomaly detection", torch.is_anomaly_enabled, torch.set_anomaly_enabled),
    (
        "deterministic-algorithms mode",
        lambda: (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ),
        _set_deterministic,
    ),
    ("float32 matmul precision", torch.get_float32_matmul_precision, torch.set_float32_matmul_precision),
    (
        "cuDNN flags",
        lambda: (
            torch.backends.cudnn.enabled,
            torch.backends.cudnn.benchmark,
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.allow_tf32,
        ),
        _set_cudnn,
    ),
)


def _shown(value: Any) -> str:
    return str(value).replace("torch.", "")


@contextmanager
def guarded(spec: str, when: str) -> Iterator[None]:
    """Run the user's code (`when`: "on import", "when called"): PyTorch's global random
    state is put back afterwards (the user's code may draw numbers: that changes nothing for
    the members), and a changed global setting is put back and the spec refused."""
    before = [get() for _, get, _ in _SETTINGS]
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        changed = []
        for (what, get, put), old in zip(_SETTINGS, before, strict=True):
            new = get()
            if new != old:
                put(old)
                changed.append(f"changes torch's {what} from {_shown(old)} to {_shown(new)} {when}")
    if changed:
        # one reason is enough to refuse it; the first is the one the user most likely meant
        raise Meddles(
            f"activation {spec!r}: {changed[0]}; not allowed (it would change the other members' results too)"
        )
