"""Batch runs on a Dask cluster: many bursts, EGMS files or tiles from one command, without QGIS.

``python3 -m egms_plugin.batch JOB UNIT... --output-dir DIR [--scheduler ADDRESS] [--workers N] [NAME=value ...]``
(ARCHITECTURE.md, Fixed contracts: Batch command line).  One task per unit; each writes ``DIR/<unit>.gpkg``
through the core's writers (whole or not at all), then the runner writes ``DIR/index.gpkg``.

Modules: :mod:`.cli` (the command line, the terminal progress), :mod:`.params` (``NAME=value`` as Processing
converts them), :mod:`.jobs` (units of each job and the task a worker runs on one unit), :mod:`.runner` (the
cluster, resuming, the index and the merge), :mod:`.tiles` (the EPSG:3035 tile grid of decompose).
Imports the core only (never qgis, processing or ui); importing this package imports nothing heavy.
"""

__all__ = ["run_batch"]


def __getattr__(name):
    if name == "run_batch":
        from .runner import run_batch

        return run_batch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
