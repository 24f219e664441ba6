"""QGIS Processing provider ``egms`` and one module per algorithm."""
