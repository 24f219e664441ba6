"""EGMS products: the format, point ids, the statistics recipe, import, export.

Modules (import the one you need; this package imports none of them, so
``import egms_plugin.core.egms`` never imports numba):

* :mod:`.format` — columns, release aliases, field types and decimals, the
  field-name vocabularies (``RMSE_FIELDS``, ``COHERENCE_FIELDS``, …);
* :mod:`.names` — EGMS file names (``parse_product_name``, ``make_product_name``);
* :mod:`.product` — level, orbit, XML header, layer metadata (``ProductInfo``);
* :mod:`.pid` — measurement-point ids (``l2_pid``, ``l3_pid``, ``decode_l2_pid``);
* :mod:`.stats` — the EGMS statistics recipe (``egms_statistics``,
  ``design_matrix``, ``fit_model``, the column layouts ``LINEAR``,
  ``QUADRATIC``, ``CUBIC``); numba only for large tables, imported on use;
* :mod:`.fit` — the statistics of a whole point table (``fit_table``);
* :mod:`.importer` — EGMS zip/CSV → GeoPackage (``import_egms``; numba), with
  :mod:`.sources` (finding and checking the CSVs) and :mod:`.metadata`;
* :mod:`.export` — point table → EGMS zip (``export_egms``; numba).

Private: ``_csv_kernel`` and ``_stats_kernel`` (the numba kernels).
"""

__all__ = ["export", "fit", "format", "importer", "metadata", "names", "pid", "product", "sources", "stats"]
