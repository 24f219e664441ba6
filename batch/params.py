"""``NAME=value`` of the batch command line: the Processing algorithms' parameter names, converted as Processing
would (numbers, booleans, enums by index, CRSs, points ``x,y [EPSG:…]``, lists of files).

Each job declares its parameters in :data:`SPECS` (name → :class:`Param`); :func:`parse_assignments` splits the
command line's ``NAME=value`` words and :func:`convert` checks and converts them (:class:`UsageError`, one line,
naming the parameter, otherwise).  Defaults are those of the algorithms (the core's dataclass defaults).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.DOTALL)
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


class UsageError(Exception):
    """A command-line mistake: printed as one line, exit status 2."""


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` of number (double, int), bool, enum (``options``: labels; value the index or the
    label), str, crs, point, files (a list of files or globs, separated by commas or semicolons), file."""

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    options: tuple = ()


def _num(kind="double", minimum=None, maximum=None):
    return Param(kind, minimum, maximum)


SCATTERERS = ("PS only", "PS and DS")
DS_SHP_TESTS = ("GLRT (Rayleigh amplitudes, fast)", "Kolmogorov–Smirnov")
"""Labels of ``DS_SHP_TEST`` (``processing.parameters.DS_SHP_TEST_LABELS``, which imports QGIS; the QGIS test
keeps them equal), in the order of ``core.psi.ds.SHP_TESTS``."""

SPECS = {
    "computevelocities": {
        "POLARISATION": Param("str"),
        "DISPERSION_THRESHOLD": _num("double", 0.01, 2.0),
        "COHERENCE_THRESHOLD": _num("double", 0.0, 1.0),
        "MAX_RMSE": _num("double", 0.0),
        "MAX_ARC_LENGTH": _num("double", 10.0),
        "REFERENCE": Param("point"),
        "OUTPUT_CRS": Param("crs"),
        "SCATTERERS": Param("enum", options=SCATTERERS),
        "WAVELENGTH": _num("double", 0.001),
        "INCIDENCE_ANGLE": _num("double", 1.0, 89.0),
        "HEADING": _num("double", -360.0, 360.0),
        "SLANT_RANGE": _num("double", 1000.0),
        "CALIBRATE_AMPLITUDE": Param("bool"),
        "MAX_VELOCITY_DIFF": _num("double", 1.0),
        "MAX_HEIGHT_DIFF": _num("double", 0.0),
        "APS_FILTER": _num("double", 0.0),
        "APS_TIME_WINDOW": _num("double", 0.0),
        "BLOCK_SIZE_MB": _num("double", 8.0),
        "MEMORY_MB": _num("double", 16.0),
        "DS_WINDOW_ROWS": _num("int", 1, 101),
        "DS_WINDOW_COLS": _num("int", 1, 101),
        "DS_SIGNIFICANCE": _num("double", 0.0001, 0.5),
        "DS_SHP_TEST": Param("enum", options=DS_SHP_TESTS),
        "DS_MIN_SHP": _num("int", 2),
        "DS_COHERENCE": _num("double", 0.0, 1.0),
        "DS_CELL_SIZE": _num("double", 1.0),
    },
    "importegms": {},
    "decompose": {
        "ASCENDING": Param("files"),
        "DESCENDING": Param("files"),
        "GNSS": Param("file"),
        "MAX_EXTRAPOLATION": _num("double", 0.0),
        "CELL_SIZE": _num("double", 1.0),
        "MAX_CONDITION": _num("double", 1.0),
    },
}
"""The parameters each job takes as ``NAME=value`` (the units are its ``INPUT``; outputs go to ``--output-dir``)."""

GIVEN_OTHERWISE = {"INPUT": "the units (positional arguments) are the INPUT",
                   "OUTPUT": "outputs are written to --output-dir", "OUTPUT_EAST": "outputs are written to --output-dir",
                   "OUTPUT_VERTICAL_RASTER": "the batch runner writes the point layers only",
                   "OUTPUT_EAST_RASTER": "the batch runner writes the point layers only",
                   "GNSS_LAYER": "give the GNSS model as a file: GNSS=model.csv",
                   **{f"GNSS_{axis}_FIELD": "fields of GNSS_LAYER, which the batch runner does not take; give the GNSS "
                                            "model as a file: GNSS=model.csv" for axis in ("EAST", "NORTH", "UP")}}


def parse_assignments(words):
    """``(units, {NAME: text})`` of the positional words: ``NAME=value`` (NAME in capitals) or a unit."""
    units, values = [], {}
    for word in words:
        m = ASSIGNMENT.match(word)
        if m and not os.path.exists(word):
            if m.group(1) in values:
                raise UsageError(f"{m.group(1)} is given twice")
            values[m.group(1)] = m.group(2)
        else:
            units.append(word)
    return units, values


def expand_files(text, name="UNIT"):
    """Files of a list or glob (``a.zip,b.zip``, ``data/*.zip``), in the order given, globs sorted."""
    found = []
    for part in (p.strip() for p in re.split(r"[;,]", text) if p.strip()):
        matches = sorted(glob.glob(part)) if glob.has_magic(part) else [part]
        if not matches:
            raise UsageError(f"{name}: no file matches {part!r}")
        found += [m for m in matches if m not in found]
    return found


def _number(name, spec, text):
    try:
        value = int(text) if spec.kind == "int" else float(text)
    except ValueError:
        raise UsageError(f"{name}={text}: not {'an integer' if spec.kind == 'int' else 'a number'}") from None
    if spec.minimum is not None and value < spec.minimum:
        raise UsageError(f"{name}={text}: below the minimum {spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise UsageError(f"{name}={text}: above the maximum {spec.maximum:g}")
    return value


def _one(name, spec, text):  # noqa: PLR0911 - one return per kind
    if spec.kind in ("double", "int"):
        return None if text.strip() == "" else _number(name, spec, text.strip())
    if spec.kind == "bool":
        if text.strip().lower() in TRUE:
            return True
        if text.strip().lower() in FALSE:
            return False
        raise UsageError(f"{name}={text}: not a boolean (true/false, 1/0)")
    if spec.kind == "enum":
        labels = [o.lower() for o in spec.options]
        if text.strip().isdigit() and int(text) < len(spec.options):
            return int(text)
        if text.strip().lower() in labels:
            return labels.index(text.strip().lower())
        choices = ", ".join(f"{i} = {o}" for i, o in enumerate(spec.options))
        raise UsageError(f"{name}={text}: not one of {choices}")
    if spec.kind == "crs":
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            crs = CRS.from_user_input(text.strip())
        except CRSError:
            raise UsageError(f"{name}={text}: not a CRS (e.g. EPSG:3035)") from None
        code = crs.to_epsg()
        return f"EPSG:{code}" if code else crs.to_wkt()
    if spec.kind == "point":
        m = re.match(r"^\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*(?:\[(.+)\])?\s*$", text)
        if not m:
            raise UsageError(f"{name}={text}: not a point 'x,y' or 'x,y [EPSG:code]'")
        return float(m.group(1)), float(m.group(2)), (m.group(3) or "").strip() or None
    if spec.kind == "files":
        return [os.path.abspath(p) for p in expand_files(text, name)]
    if spec.kind == "file":
        if text.strip() and not os.path.exists(text.strip()):
            raise UsageError(f"{name}={text}: the file does not exist")
        return os.path.abspath(text.strip()) if text.strip() else None
    return text


def convert(job, values):
    """``{NAME: value}`` converted for ``job``; :class:`UsageError` for an unknown name or a bad value."""
    specs = SPECS[job]
    out = {}
    for name, text in values.items():
        if name in GIVEN_OTHERWISE:
            raise UsageError(f"{name}: not a batch parameter — {GIVEN_OTHERWISE[name]}")
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none"
            raise UsageError(f"{name}: unknown parameter of {job} (known: {known})")
        out[name] = _one(name, specs[name], text)
    return out
