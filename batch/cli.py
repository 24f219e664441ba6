"""The command line ``python3 -m egms_plugin.batch JOB UNIT... --output-dir DIR [--scheduler ADDRESS]
[--workers N] [NAME=value ...]`` (a fixed contract: ARCHITECTURE.md) and its terminal progress.

Exit status: 0 when every unit is done or skipped, 1 when a unit failed (the index says which and why), 2 for a
mistake on the command line or in the run's inputs (one line on stderr, nothing computed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .jobs import JOBS
from .params import SPECS, UsageError, convert, parse_assignments
from .runner import Reporter

EPILOG = """NAME=value: the parameters of the Processing algorithm of the same name (egms:JOB), converted as
Processing does (numbers, booleans true/false, enums by index or label, OUTPUT_CRS=EPSG:3035, REFERENCE=x,y
[EPSG:4326]); decompose takes ASCENDING=… DESCENDING=… (lists or globs of point GeoPackages in EPSG:3035).
Outputs: DIR/<unit>.gpkg per unit (decompose: DIR/<tile>.gpkg with the layers up and east), DIR/index.gpkg.
Re-running the same command computes only the units whose output is missing; other parameters into the same
DIR are refused (DIR/run.json) unless --overwrite."""


def build_parser():
    parser = argparse.ArgumentParser(prog="python3 -m egms_plugin.batch", epilog=EPILOG,
                                     description="Run an egms algorithm on many units (stacks, EGMS files, tiles) "
                                                 "on a Dask cluster, one task per unit.")
    parser.add_argument("job", choices=JOBS, help="the algorithm")
    parser.add_argument("words", nargs="*", metavar="UNIT | NAME=value",
                        help="units (a list or glob of stack folders / EGMS files; decompose: tile names, optional) "
                             "and parameters")
    parser.add_argument("--output-dir", required=True, help="folder of the outputs (created when missing)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                                            "(default: a local cluster)")
    parser.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    parser.add_argument("--merge", action="store_true", help="also write DIR/merged.gpkg: every unit's points in "
                                                             "one layer with a spatial index")
    parser.add_argument("--tile-size", type=float, default=100_000.0,
                        help="decompose: side of the tiles in m, a multiple of CELL_SIZE (default: the EGMS 100 km)")
    parser.add_argument("--retries", type=int, default=1, help="times a task that raised is retried (default 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute every unit; the outputs in DIR of a run with other parameters (DIR/run.json) are "
                             "deleted first")
    return parser


class TerminalReporter(Reporter):
    """A one-line bar redrawn in place on a terminal; plain lines (one per finished unit) otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self._last = ""

    def _write(self, text, end="\n"):
        self.stream.write(text + end)
        self.stream.flush()

    @staticmethod
    def line(counts, width=30):
        total = max(counts["total"], 1)
        ended = counts["done"] + counts["failed"] + counts["skipped"]
        filled = int(round(width * ended / total))
        bar = "#" * filled + "-" * (width - filled)
        return (f"[{bar}] {ended}/{counts['total']}  done {counts['done']}  failed {counts['failed']}  "
                f"skipped {counts['skipped']}  running {counts['running']}")

    def started(self, total, skipped, dashboard):
        if dashboard:
            self._write(f"Dask dashboard: {dashboard}")
        self._write(f"{total} units, {skipped} already complete (skipped)")

    def update(self, counts, finished=None):
        text = self.line(counts) + f"  {time.perf_counter() - self.t0:.0f} s"
        if self.tty:
            if finished is not None and finished.status == "failed":
                self._write("\r\033[K" + f"{finished.name}: failed — {finished.message}")
            self._write("\r" + text + "\033[K", end="")
        elif finished is not None:
            note = f" — {finished.message}" if finished.message else ""
            self._write(f"{finished.name}: {finished.status} ({finished.n_points} points, {finished.seconds:.1f} s)"
                        f"{note}  |  {self.line(counts)}")

    def done(self, counts):
        if self.tty:
            self._write("")
        self._write(f"finished in {time.perf_counter() - self.t0:.1f} s: {counts['done']} done, {counts['failed']} "
                    f"failed, {counts['skipped']} skipped")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)  # NAME=value may follow the options (the contract's order)
    try:
        units_words, values = parse_assignments(args.words)
        params = convert(args.job, values)
        if args.workers is not None and args.workers < 1:
            raise UsageError("--workers: at least 1")
        from .units import plan_units

        units, options = plan_units(args.job, units_words, params, args.tile_size)
    except UsageError as exc:
        print(f"{parser.prog} {args.job}: error: {exc}", file=sys.stderr)
        return 2
    from .runner import run_batch

    output_dir = os.path.abspath(args.output_dir)
    try:
        results = run_batch(args.job, units, output_dir, params, options, scheduler=args.scheduler,
                            workers=args.workers, merge=args.merge, reporter=TerminalReporter(), retries=args.retries,
                            overwrite=args.overwrite)
    except UsageError as exc:
        print(f"{parser.prog} {args.job}: error: {exc}", file=sys.stderr)
        return 2
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        print(f"{r.name}: {r.message}", file=sys.stderr)
    print(f"index: {os.path.join(output_dir, 'index.gpkg')}")
    return 1 if failed else 0


__all__ = ["SPECS", "build_parser", "main"]
