"""Derived EGMS levels: GNSS velocity models, Calibrated (L2b) and Ortho (L3)."""
