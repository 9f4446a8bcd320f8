"""actlab's training core: compare MLPs that differ only by hidden activation.

UI-free by design: nothing here imports textual, rich or click.
"""

from __future__ import annotations

from .activations import ACTIVATIONS, Activation
from .config import PRESETS, ConfigError, RunConfig
from .data import DataError
from .results import ResultsError, ResultsWriter, read_events, replay
from .train import Control, run

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "ConfigError",
    "Control",
    "DataError",
    "PRESETS",
    "ResultsError",
    "ResultsWriter",
    "RunConfig",
    "read_events",
    "replay",
    "run",
]
