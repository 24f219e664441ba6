"""The batch run: units already complete are skipped, the others are one task each on a Dask cluster, then the
index (and optionally one merged layer) is written.

:func:`run_batch` connects to ``scheduler`` (``tcp://host:8786``) or starts a ``LocalCluster`` of ``workers``
processes of one thread each (the numba kernels are parallel themselves); a given ``client`` is used as is (tests).
A worker lost in the middle of a unit (killed, out of memory) is replaced and its task run again by Dask; the
unit's lock (:mod:`core.io.guard`) is then taken over from the dead process and its temporaries swept, so only
complete outputs remain.  The index ``DIR/index.gpkg`` (layer ``index``: footprint polygons in EPSG:3035 with
``name``, ``status`` done / failed / skipped, ``message``, ``n_points``, ``seconds``, ``output``, ``host``) is
rewritten whole at the end of every run.

``DIR/run.json`` keeps the job and the parameters the outputs in ``DIR`` were made with; a run with other
parameters into the same folder is refused (:class:`~.params.UsageError`: skipping its "complete" units would
hand back numbers of the old parameters) unless ``overwrite``, which recomputes every unit.
"""

from __future__ import annotations

import json
import os
import uuid

from .jobs import UnitResult, effective_parameters, expected_layers, output_complete, output_path, run_unit
from .params import UsageError
from .tiles import polygon_wkt

RUN_FILE = "run.json"

INDEX_LAYER = "index"
INDEX_FIELDS = [("name", "string"), ("status", "string"), ("message", "string"), ("n_points", "integer64"),
                ("seconds", "real"), ("output", "string"), ("host", "string")]
POLL_SECONDS = 0.5


class Reporter:
    """What the runner tells about progress (the command line draws a bar; the default says nothing)."""

    def started(self, total, skipped, dashboard):
        pass

    def update(self, counts, finished=None):
        """``counts``: done, failed, skipped, running, total; ``finished``: the :class:`UnitResult` just ended."""

    def done(self, counts):
        pass


def run_record(job, params, options):
    """What the outputs depend on besides their unit: the job, its parameters and the tile size (JSON-ready)."""
    values = effective_parameters(job, params or {})
    return {"job": job, "params": json.loads(json.dumps(values, sort_keys=True, default=str)),
            "tile_m": (options or {}).get("tile_m")}


def check_run(output_dir, record, overwrite=False):
    """UsageError when ``output_dir`` holds unit outputs of a run with another job or other parameters (unless
    ``overwrite``, which deletes those outputs first, so an interrupted recomputation leaves no mix; a folder whose
    run left no unit output is simply reused); then ``DIR/run.json`` is (re)written for this run."""
    path = os.path.join(output_dir, RUN_FILE)
    previous = None
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                previous = json.load(fh)
        except (OSError, ValueError):
            previous = None  # unreadable: nothing to compare with, every output is recomputed
            overwrite = True
    outputs = [f for f in os.listdir(output_dir)
               if f.endswith(".gpkg") and not f.startswith(".") and f not in ("index.gpkg", "merged.gpkg")]
    if previous is not None and previous != record and not overwrite and outputs:
        if previous.get("job") != record["job"]:
            what = f"the job {previous.get('job')}"
        else:
            old, new = previous.get("params") or {}, record["params"]
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            what = ", ".join(f"{k}={old.get(k, 'default')} (now {new.get(k, 'default')})" for k in changed) or \
                f"tile size {previous.get('tile_m')} m (now {record['tile_m']} m)"
        raise UsageError(f"{output_dir} holds the outputs of a run with {what}; choose a new --output-dir, or add "
                         "--overwrite to recompute every unit with these parameters")
    if overwrite and previous != record:
        for name in outputs:  # made with other parameters: none may be taken as complete by a later run
            os.remove(os.path.join(output_dir, name))
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return overwrite


def previous_footprints(output_dir):
    """``{unit name: WKT}`` of the index a previous run left in ``output_dir`` (empty when none)."""
    path = os.path.join(output_dir, "index.gpkg")
    if not os.path.exists(path):
        return {}
    from ..core.io.gpkg import ogr_modules

    ogr, _osr = ogr_modules()
    try:
        ds = ogr.Open(path)
        lyr = ds.GetLayerByName(INDEX_LAYER)
        found = {}
        for feature in lyr:
            geom = feature.GetGeometryRef()
            if geom is not None:
                found[feature.GetField("name")] = geom.ExportToWkt()
        return found
    except (RuntimeError, AttributeError):
        return {}


def skipped_result(job, unit, output_dir, footprints):
    """The result of a unit whose output is already complete, or None when it must be computed."""
    complete = output_complete(job, unit, output_dir)
    if complete is None:
        return None
    n_points, extent = complete
    footprint = footprints.get(unit.name) or (polygon_wkt(unit.bounds) if unit.bounds else None) or \
        (polygon_wkt(extent) if extent else None)
    return UnitResult(unit.name, "skipped", "output already complete", n_points, 0.0,
                      output_path(output_dir, unit), footprint)


BLAS_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def blas_environment():
    """The BLAS thread settings of a plain process on this machine (this process's, else one per core).

    Dask's nanny starts workers with one BLAS thread (``distributed.nanny.pre-spawn-environ``); OpenBLAS then
    rounds the statistics' matrix products differently (≈ 1e-15 relative) from a run in QGIS or a shell, so the
    local cluster's workers get the machine's own setting and give the same values, bit for bit."""
    cores = str(os.cpu_count() or 1)
    return {name: os.environ.get(name) or cores for name in BLAS_VARIABLES}


def start_client(scheduler=None, workers=None):
    """``(client, cluster or None)``: connected to ``scheduler``, or a new LocalCluster of ``workers`` processes
    (default: one per core) with one thread each and the machine's BLAS threads (:func:`blas_environment`)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    n = workers or os.cpu_count() or 1
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in blas_environment().items()}
    with dask.config.set(environ):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def dashboard_link(client):
    """The dashboard's address, or None when the scheduler runs none (bokeh missing)."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001 - a courtesy line only
        return None
    return client.dashboard_link if "dashboard" in services else None


def run_batch(job, units, output_dir, params=None, options=None, client=None, scheduler=None, workers=None,
              merge=False, reporter=None, retries=1, overwrite=False):
    """Run ``job`` on every :class:`~.jobs.Unit` of ``units``; returns their :class:`~.jobs.UnitResult` in order.

    Units whose output is complete are skipped (all are computed with ``overwrite``); the others are submitted as
    one task each.  Afterwards every unit's leftover temporaries are swept, the index is written and, with
    ``merge``, ``DIR/merged.gpkg``.  UsageError when ``DIR`` holds a run with other parameters (:func:`check_run`).
    """
    params, options, reporter = params or {}, options or {}, reporter or Reporter()
    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    recompute = check_run(output_dir, run_record(job, params, options), overwrite)
    footprints = previous_footprints(output_dir)
    results = {u.name: None if recompute else skipped_result(job, u, output_dir, footprints) for u in units}
    todo = [u for u in units if results[u.name] is None]
    counts = dict(done=0, failed=0, skipped=len(units) - len(todo), running=0, total=len(units))
    own = None
    try:
        if todo:
            if client is None:
                client, own = start_client(scheduler, workers)
            reporter.started(len(units), counts["skipped"], dashboard_link(client))
            _compute(client, job, todo, params, output_dir, options, results, counts, reporter, retries)
        else:
            reporter.started(len(units), counts["skipped"], None)
    finally:
        if own is not None:
            client.close()
            own.close()
    ordered = [results[u.name] for u in units]
    sweep(units, output_dir)
    write_index(output_dir, ordered)
    if merge:
        write_merged(job, units, ordered, output_dir)
    reporter.done(counts)
    return ordered


def _compute(client, job, todo, params, output_dir, options, results, counts, reporter, retries):
    from distributed import wait

    token = uuid.uuid4().hex[:8]
    futures = {client.submit(run_unit, job, unit, params, output_dir, options, key=f"{job}-{unit.name}-{token}",
                             pure=False, retries=retries): unit for unit in todo}
    pending = set(futures)
    slots = max(sum(client.nthreads().values()), 1)
    while pending:
        counts["running"] = min(len(pending), slots)
        reporter.update(dict(counts))
        try:
            finished, pending = wait(list(pending), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
        except TimeoutError:
            continue
        pending = set(pending)
        for future in finished:
            unit = futures[future]
            result = _result_of(future, unit, output_dir)
            results[unit.name] = result
            counts["done" if result.status == "done" else "skipped" if result.status == "skipped" else "failed"] += 1
            counts["running"] = min(len(pending), slots)
            reporter.update(dict(counts), result)
            slots = max(sum(client.nthreads().values()), 1)
    counts["running"] = 0


def _result_of(future, unit, output_dir):
    from .jobs import describe_error

    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a task that raised (it should not) or lost too many workers
        message = describe_error(exc)
        if type(exc).__name__ == "KilledWorker":
            message = f"the workers running it died repeatedly ({exc}); out of memory?"
        return UnitResult(unit.name, "failed", message, output=output_path(output_dir, unit) if os.path.exists(
            output_path(output_dir, unit)) else "", footprint=polygon_wkt(unit.bounds) if unit.bounds else None)


def sweep(units, output_dir):
    """Remove what killed tasks left beside the units' outputs (temporaries, their own stale locks)."""
    from ..core.errors import InputError
    from ..core.io.guard import OutputLocks

    for unit in units:
        try:
            with OutputLocks([(unit.name, output_path(output_dir, unit))]):
                pass
        except InputError:
            pass  # a live writer elsewhere (another run on the shared disk): its files are its own


def write_index(output_dir, results):
    """``DIR/index.gpkg``: one polygon per unit with its status (written whole, renamed into place)."""
    from ..core.io.atomic import replaced_on_success
    from ..core.io.gpkg import write_polygon_layer

    rows = [(r.footprint, {"name": r.name, "status": r.status, "message": r.message, "n_points": int(r.n_points),
                           "seconds": round(float(r.seconds), 3), "output": r.output, "host": r.host})
            for r in results]
    path = os.path.join(output_dir, "index.gpkg")
    with replaced_on_success(path, ".gpkg") as tmp:
        write_polygon_layer(tmp, INDEX_LAYER, "EPSG:3035", INDEX_FIELDS, rows)
    return path


def write_merged(job, units, results, output_dir):
    """``DIR/merged.gpkg``: the point layers of every complete unit in one indexed layer (decompose: ``up`` and
    ``east``); None when no unit has points."""
    from ..core.io.atomic import PendingFile
    from ..core.io.merge import merge_points

    paths = [r.output for r in results if r.status in ("done", "skipped") and r.output and r.n_points]
    if not paths:
        return None
    path = os.path.join(output_dir, "merged.gpkg")
    layers = expected_layers(job, units[0]) if job == "decompose" else [None]
    pending = PendingFile(path, ".gpkg")
    try:
        for layer in layers:
            merge_points(paths, pending.tmp, layer=layer, out_layer=layer or "merged", add_layer=True)
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    return path
