"""PyTorch's CPU thread count for training, as `--threads` asked for it.

The app's UI process never loads PyTorch, so it only keeps the number here; whoever trains
(the engine process, batch mode) applies it with `torch.set_num_threads`.
"""

from __future__ import annotations

_requested: int | None = None


def request_threads(threads: int | None) -> None:
    """Remember the thread count asked for; None: PyTorch's own choice (all cores)."""
    global _requested
    _requested = threads


def requested_threads() -> int | None:
    """The thread count asked for, or None for PyTorch's own choice."""
    return _requested
