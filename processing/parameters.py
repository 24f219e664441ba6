"""Parameters shared by several ``egms`` algorithms: declared once, read once.

* :func:`add_stack_folder` / :func:`stack_from_parameters` — ``INPUT``, the stack of the SAR algorithms
  (a folder or a file in any layout of ``core.sar.sources``: plain stack folder, SNAP ``.dim``, ISCE2 work
  folder, folder of OPERA CSLC-S1 ``.h5``, multi-band ``.tif``/``.vrt``), and ``POLARISATION`` (VV);
* :func:`add_dispersion_threshold` — ``DISPERSION_THRESHOLD`` (EGMS: 0.25);
* :func:`add_ds_window_parameters` / :func:`ds_window_from_parameters` — the SHP search of the distributed
  scatterers (``DS_WINDOW_ROWS``, ``DS_WINDOW_COLS``, ``DS_SIGNIFICANCE``, ``DS_SHP_TEST``) of
  ``egms:computevelocities`` and the phase-linked ``egms:interferograms``;
* :func:`add_gnss_parameters` / :func:`gnss_model_from_parameters` — the GNSS
  velocity model of ``egms:calibrategnss`` and ``egms:decompose`` (``GNSS``
  A-EPND file or ``GNSS_LAYER`` with ``GNSS_EAST_FIELD``, ``GNSS_NORTH_FIELD``,
  ``GNSS_UP_FIELD``; ``MAX_EXTRAPOLATION``);
* :func:`layer_label` — the name of a layer parameter's layer, for messages.

Algorithm modules import their helpers from here, never from each other.
"""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..compat import FIELD_NUMERIC, FILE_FOLDER, NUMBER_DOUBLE, SOURCE_VECTOR_POINT
from ..core.psi.ds import DEFAULT_SHP_TEST, SHP_TESTS

DS_SHP_TEST_LABELS = ("GLRT (Rayleigh amplitudes, fast)", "Kolmogorov–Smirnov")
"""Labels of ``DS_SHP_TEST``, in the order of ``core.psi.ds.SHP_TESTS`` (the batch runner's are the same)."""

STACK_HELP = (" INPUT may be a plain stack folder, a SNAP BEAM-DIMAP coregistered stack (its .dim file or .data "
              "folder), an ISCE2 topsStack/stripmapStack work folder (or its merged/ folder), a folder of OPERA "
              "CSLC-S1 .h5 files, or a multi-band .tif/.vrt with one complex band per date (type or paste a file "
              "path into the folder field); the layout is recognised and the log says where dates, baselines "
              "and geometry were read from (README, Stack layouts).")


def add_stack_folder(alg, help_text):
    """``INPUT`` (a stack folder, or a file path typed in: a folder parameter does not check for a folder, so
    qgis_process and the dialog accept both on QGIS 3.22–3.40) and the advanced ``POLARISATION`` (VV)."""
    alg.add_parameter(QgsProcessingParameterFile("INPUT", alg.tr("Stack (folder, or .dim / .tif / .vrt file)"),
                                                 behavior=FILE_FOLDER), help_text + STACK_HELP)
    alg.add_parameter(QgsProcessingParameterString("POLARISATION", alg.tr("Polarisation"), "VV", optional=True),
                      "The polarisation read from a layout holding several (SNAP bands, OPERA CSLC datasets): "
                      "VV, VH, HH or HV. Ignored by the plain folder, ISCE2 and multi-band layouts.", advanced=True)


def stack_from_parameters(alg, parameters, context, **overrides):
    """The stack of ``INPUT`` in whichever layout it is (``core.sar.sources.open_stack``), or InputError."""
    from ..core.errors import InputError
    from ..core.sar.sources import open_stack

    path = alg.parameterAsFile(parameters, "INPUT", context)
    if not path:
        raise InputError("INPUT: no stack given.")
    polarisation = (alg.parameterAsString(parameters, "POLARISATION", context) or "VV").strip().upper()
    if polarisation not in ("VV", "VH", "HH", "HV"):
        raise InputError(f"POLARISATION: {polarisation!r} is not one of VV, VH, HH, HV.")
    return open_stack(path, polarisation=polarisation, **overrides)


def add_dispersion_threshold(alg, help_text):
    """``DISPERSION_THRESHOLD``: candidates have an amplitude dispersion below it (EGMS: 0.25)."""
    num = QgsProcessingParameterNumber
    alg.add_parameter(num("DISPERSION_THRESHOLD", alg.tr("Amplitude dispersion threshold"), num.Double, 0.25,
                          minValue=0.01, maxValue=2.0), help_text)


def add_ds_window_parameters(alg):
    """The advanced SHP-search parameters (window, test and its significance) of the DS algorithms."""
    num = QgsProcessingParameterNumber
    alg.add_parameter(num("DS_WINDOW_ROWS", alg.tr("DS window height (pixels, odd)"), num.Integer, 11, minValue=1,
                          maxValue=101),
                      "Rows of the window searched for a pixel's homogeneous neighbours (11 for a geocoded stack "
                      "of 20 m; radar geometry: about 5 azimuth lines).", advanced=True)
    alg.add_parameter(num("DS_WINDOW_COLS", alg.tr("DS window width (pixels, odd)"), num.Integer, 11, minValue=1,
                          maxValue=101),
                      "Columns of the SHP window (radar geometry: about 21 range pixels).", advanced=True)
    alg.add_parameter(num("DS_SIGNIFICANCE", alg.tr("DS homogeneity test significance"), num.Double, 0.05,
                          minValue=0.0001, maxValue=0.5),
                      "Significance of the homogeneity test of the amplitude series (DS_SHP_TEST): the "
                      "fraction of truly homogeneous neighbours that are rejected. Lower: more neighbours, more "
                      "risk of mixing populations.", advanced=True)
    alg.add_parameter(QgsProcessingParameterEnum("DS_SHP_TEST", alg.tr("DS homogeneity test"),
                                                 options=list(DS_SHP_TEST_LABELS),
                                                 defaultValue=SHP_TESTS.index(DEFAULT_SHP_TEST)),
                      "How a neighbour's amplitude series is compared with the pixel's. GLRT (default): the "
                      "generalised likelihood-ratio test of Rayleigh amplitudes (Parizzi & Brcic 2011, as dolphin) — "
                      "the ratio of the two mean powers over the dates against the F(2N, 2N) distribution; one "
                      "number per pixel, so the DS pass is several times faster. Kolmogorov–Smirnov: the two-sample "
                      "test of the whole amplitude distributions (also tells apart populations of equal mean power "
                      "and different shape), slower. Both gave the same DS accuracy on simulated stacks (README).",
                      advanced=True)


def ds_window_from_parameters(alg, parameters, context):
    """``{"window_rows", "window_cols", "alpha", "test"}`` of :func:`add_ds_window_parameters` (the keys of
    ``core.psi.ds.scan.DsParameters``)."""
    return {"window_rows": alg.parameterAsInt(parameters, "DS_WINDOW_ROWS", context),
            "window_cols": alg.parameterAsInt(parameters, "DS_WINDOW_COLS", context),
            "alpha": alg.parameterAsDouble(parameters, "DS_SIGNIFICANCE", context),
            "test": SHP_TESTS[alg.parameterAsEnum(parameters, "DS_SHP_TEST", context)]}


def add_gnss_parameters(alg, purpose):
    """The GNSS model parameters shared by calibrategnss and decompose (file or point layer + field names)."""
    alg.add_parameter(
        QgsProcessingParameterFile("GNSS", alg.tr("GNSS velocity model (A-EPND CSV)"), optional=True,
                                   fileFilter="CSV files (*.csv *.CSV *.txt);;All files (*.*)"),
        "A GNSS velocity model in the EGMS A-EPND CSV format: columns Latitude, Longitude, N, E, Up, SigmaN, "
        "SigmaE, SigmaUP, easting, northing (the header may start with #; comma-, tab- or semicolon-separated, "
        "decimal commas with semicolons); velocities in mm/yr, up positive. "
        f"{purpose} Give this file or a GNSS point layer, not both.")
    alg.add_parameter(
        QgsProcessingParameterFeatureSource("GNSS_LAYER", alg.tr("GNSS velocity model (point layer)"),
                                            [SOURCE_VECTOR_POINT], optional=True),
        "GNSS stations or model nodes as a point layer (any CRS) with east, north and up velocity fields in mm/yr; "
        "an alternative to the A-EPND file.")
    for key, label, guess in (("EAST", "East", "E, ve, east"), ("NORTH", "North", "N, vn, north"),
                              ("UP", "Up", "Up, U, vu, up")):
        alg.add_parameter(
            QgsProcessingParameterField(f"GNSS_{key}_FIELD", alg.tr(f"{label} velocity field of the GNSS layer"),
                                        parentLayerParameterName="GNSS_LAYER", type=FIELD_NUMERIC,
                                        optional=True),
            f"{label} velocity (mm/yr) field of the GNSS layer; empty = the first field named {guess} "
            "(case-insensitive).", advanced=True)
    alg.add_parameter(
        QgsProcessingParameterNumber("MAX_EXTRAPOLATION", alg.tr("GNSS reach beyond the stations (m)"),
                                     NUMBER_DOUBLE, 50000.0, minValue=0.0),
        "Inside the convex hull of the GNSS stations velocities are interpolated linearly; outside, a point takes the "
        "value of the nearest point of the hull boundary if it is within this distance, else it is not covered. "
        "Default 50 km: one node spacing of the A-EPND grid.", advanced=True)


def gnss_model_from_parameters(alg, parameters, context, feedback):
    """The GNSS model of the parameters (:class:`..core.products.gnss.GnssModel`), or None when none is given."""
    import numpy as np

    from ..core.errors import InputError
    from ..core.products import gnss as gn
    from ..layers.sources import source_to_table

    path = alg.parameterAsFile(parameters, "GNSS", context)
    has_layer = parameters.get("GNSS_LAYER") not in (None, "")
    if path and has_layer:
        raise InputError("GNSS: give either an A-EPND GNSS file (GNSS) or a GNSS point layer (GNSS_LAYER), not both")
    if path:
        if not os.path.isfile(path):
            raise InputError(f"{path}: the GNSS file does not exist")
        model = gn.read_aepnd_csv(path)
    elif has_layer:
        source = alg.parameterAsSource(parameters, "GNSS_LAYER", context)
        if source is None:
            raise InputError(f"GNSS_LAYER: cannot open {parameters.get('GNSS_LAYER')!r} as a point layer")
        names = source.fields().names()
        chosen = {k: alg.parameterAsString(parameters, f"GNSS_{k.upper()}_FIELD", context) for k in ("east", "north", "up")}
        guessed = gn.velocity_fields(names)
        fields = {k: chosen[k] or guessed[k] for k in chosen}
        missing = [k for k, v in fields.items() if not v]
        if missing:
            raise InputError(f"{layer_label(alg, parameters, 'GNSS_LAYER', context)}: no {'/'.join(missing)} velocity "
                             "field found among "
                             f"{', '.join(names)}; choose them with GNSS_EAST_FIELD, GNSS_NORTH_FIELD, GNSS_UP_FIELD")
        wanted = list(dict.fromkeys(fields.values()))
        label = layer_label(alg, parameters, "GNSS_LAYER", context)
        table, _source = source_to_table(alg, parameters, "GNSS_LAYER", context, feedback, columns=wanted)
        try:
            values = [np.asarray(table.columns[fields[k]], dtype=np.float64) for k in ("east", "north", "up")]
        except (TypeError, ValueError):
            raise InputError(f"{label}: the GNSS velocity fields {', '.join(fields.values())} are not numeric") from None
        model = gn.gnss_from_arrays(table.x, table.y, *values, source=label)
    else:
        return None
    feedback.pushInfo(f"GNSS model — {model.describe()}")
    return model


def layer_label(alg, parameters, name, context):
    """The name of the layer given for parameter ``name`` (for messages), as source_to_table names it."""
    from ..layers.sources import input_layer

    layer = input_layer(alg, parameters, name, context)
    return layer.name() if layer is not None else str(parameters.get(name))
