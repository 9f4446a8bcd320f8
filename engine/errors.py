"""Errors the user is shown as one line, in a module that loads nothing heavy (no PyTorch),
so the app's UI process can name them."""

from __future__ import annotations


class DataError(Exception):
    """The data asked for cannot be had or read; the message is one line for the user."""
