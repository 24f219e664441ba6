"""The Qt 5 / Qt 6 and QGIS 3.22 … 4.x differences the GUI meets, in one place.

* ``QAction`` and ``QActionGroup`` are in QtWidgets on Qt 5 (QGIS 3) and in QtGui on Qt 6 (QGIS 4).
* The layer-combo filter "point layers" is ``Qgis.LayerFilter.PointLayer`` from QGIS 3.34 and
  ``QgsMapLayerProxyModel.Filter.PointLayer`` before.
"""

from __future__ import annotations

try:
    from qgis.PyQt.QtGui import QAction, QActionGroup  # Qt 6 (QGIS 4)
except ImportError:
    from qgis.PyQt.QtWidgets import QAction, QActionGroup  # Qt 5 (QGIS 3)

__all__ = ["QAction", "QActionGroup", "point_layer_filter"]


def point_layer_filter():
    """The ``QgsMapLayerComboBox.setFilters`` value that lists point layers only."""
    from qgis.core import Qgis

    if hasattr(Qgis, "LayerFilter"):  # QGIS >= 3.34
        return Qgis.LayerFilter.PointLayer
    from qgis.core import QgsMapLayerProxyModel

    return QgsMapLayerProxyModel.Filter.PointLayer
