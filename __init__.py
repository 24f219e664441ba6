"""EGMS ground motion — QGIS plugin entry point.

QGIS calls :func:`classFactory`; everything heavy is imported lazily so the
plugin loads fast and loads at all when optional packages are missing.
"""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from .egms_plugin import EgmsPlugin

    return EgmsPlugin(iface)
