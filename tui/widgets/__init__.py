"""Widgets of the actlab app, one module each."""
