"""Derived EGMS levels: GNSS velocity models, Calibrated (L2b) and Ortho (L3).

Modules (this package imports none of them, so importing it never imports numba):

* :mod:`.gnss` — GNSS velocity models: A-EPND files or arrays
  (``read_aepnd_csv``, ``gnss_from_arrays``), interpolation, LOS projection;
* :mod:`.calibrate` — LOS velocities tied to a GNSS model
  (``calibrate_velocities`` → ``Calibration``, ``Calibration.apply``);
* :mod:`.ortho` — ascending + descending layers → vertical and east motion
  (``OrthoDecomposer``, ``decompose``, ``plan_layer``, ``l3_table``,
  ``write_velocity_geotiff``); its numba kernel is imported when a
  decomposition is solved.
"""

__all__ = ["calibrate", "gnss", "ortho"]
