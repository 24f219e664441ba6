"""QGIS-side layer helpers without widgets: styling, layer sources, queries, quality filter."""
