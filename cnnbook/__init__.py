"""Helpers for the cnnbook chapters."""
