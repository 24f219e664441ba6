"""Test and benchmark helpers (synthetic EGMS files, a reference PSI implementation); not shipped."""
