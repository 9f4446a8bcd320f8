"""actlab's training core: compare MLPs that differ only by hidden activation.

UI-free by design: nothing here imports textual, rich or click. The names below load on
first use (PEP 562), so `from actlab.engine import RunConfig` does not load PyTorch: the
app's UI process reads the config, events and the activation registry without it, and only
training code (`run`) brings PyTorch in. Runs, seeds and sweeps on disk (writing, reading,
replaying, tables) are the layer above, `actlab.engine.experiments`: nothing here imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .activations import ACTIVATIONS, Activation
    from .config import PRESETS, ConfigError, RunConfig
    from .control import Control
    from .errors import DataError
    from .train import run

# public name -> the module that defines it
_HOMES = {
    "ACTIVATIONS": "activations",
    "Activation": "activations",
    "ConfigError": "config",
    "PRESETS": "config",
    "RunConfig": "config",
    "DataError": "errors",
    "Control": "control",
    "run": "train",  # the only one that loads PyTorch
}

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "ConfigError",
    "Control",
    "DataError",
    "PRESETS",
    "RunConfig",
    "run",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
