"""Screens of the actlab app."""
