"""Measurement: reproducing the notes' results, and timing training."""
