"""Shared base of the ``egms`` algorithms.

Subclasses set the class attributes (``alg_name``, ``display``, ``group_name``,
``group_key``, ``help_text``), declare parameters in ``initAlgorithm`` and put
their work in :meth:`EgmsAlgorithm.compute` (``run`` is taken by QGIS).  The base turns the core's
user-facing errors into ``QgsProcessingException`` (never a traceback), removes
registered partial outputs when a run fails or is cancelled, and adapts the
Processing feedback to the core's :class:`~..core.progress.Progress`.
"""

from __future__ import annotations

import os
import shutil
import traceback

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterDefinition,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.errors import Cancelled, EgmsError, InputError
from ..core.progress import Progress
from .provider import ICON


class FeedbackProgress(Progress):
    """Core progress reporter backed by a ``QgsProcessingFeedback``."""

    def __init__(self, feedback):
        self.feedback = feedback

    def update(self, fraction: float) -> None:
        if self.feedback is not None:
            self.feedback.setProgress(int(round(100.0 * min(max(fraction, 0.0), 1.0))))

    def is_cancelled(self) -> bool:
        return self.feedback is not None and self.feedback.isCanceled()

    def info(self, message: str) -> None:
        if self.feedback is not None:
            self.feedback.pushInfo(message)

    def warn(self, message: str) -> None:
        if self.feedback is not None:
            self.feedback.pushWarning(message)


class VelocityStyler(QgsProcessingLayerPostProcessorInterface):
    """Styles an output layer by velocity when Processing loads it into the project."""

    _alive = []  # Processing keeps only a C++ pointer: hold the Python objects

    def __init__(self, field):
        super().__init__()
        self.field = field

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        from ..ui.styling import apply_velocity_style

        apply_velocity_style(layer, self.field)

    @classmethod
    def create(cls, field):
        styler = cls(field)
        cls._alive.append(styler)
        return styler


class EgmsAlgorithm(QgsProcessingAlgorithm):
    alg_name = ""
    display = ""
    group_name = ""
    group_key = ""
    help_text = ""

    def __init__(self):
        super().__init__()
        self._partial_outputs: list[str] = []

    # -- identity ---------------------------------------------------------------
    def createInstance(self):  # noqa: N802
        return type(self)()

    def name(self):
        return self.alg_name

    def displayName(self):  # noqa: N802
        return self.tr(self.display)

    def group(self):
        return self.tr(self.group_name)

    def groupId(self):  # noqa: N802
        return self.group_key

    def shortHelpString(self):  # noqa: N802
        return self.tr(self.help_text)

    def icon(self):
        return QIcon(ICON)

    def tr(self, text):
        return QCoreApplication.translate("EgmsAlgorithm", text)

    # -- helpers for subclasses ---------------------------------------------------
    def add_parameter(self, parameter, help_text: str = "", advanced: bool = False):
        """``addParameter`` with help text and the advanced flag in one call."""
        if help_text and hasattr(parameter, "setHelp"):
            parameter.setHelp(self.tr(help_text))
        if advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(parameter)
        return parameter

    def partial_output(self, path: str) -> str:
        """Register a file or folder to delete if the run fails or is cancelled."""
        if path:
            self._partial_outputs.append(path)
        return path

    def output_gpkg(self, parameters, name, context):
        """The GeoPackage path of the vector output ``name`` (registered as a partial output)."""
        path = self.parameterAsOutputLayer(parameters, name, context)
        if not path or not path.lower().endswith(".gpkg") or path.startswith("memory:"):
            raise InputError(f"{name}: outputs are GeoPackage files (.gpkg), not {path!r}.")
        return self.partial_output(path)

    def style_on_load(self, context, path, field="mean_velocity"):
        """Style the output at ``path`` by ``field``: saved as the GeoPackage's default style, and applied
        when Processing loads the layer into the project."""
        from ..ui.styling import apply_velocity_style

        layer = QgsVectorLayer(path, "styled", "ogr")
        if apply_velocity_style(layer, field):
            layer.saveStyleToDatabase("velocity", "Velocity, diverging around zero (EGMS plugin)", True, "")
        if context.willLoadLayerOnCompletion(path):
            context.layerToLoadOnCompletionDetails(path).setPostProcessor(VelocityStyler.create(field))

    # -- execution ------------------------------------------------------------------
    def compute(self, parameters, context, feedback, progress: FeedbackProgress) -> dict:
        raise NotImplementedError

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        self._partial_outputs = []
        progress = FeedbackProgress(feedback)
        try:
            result = self.compute(parameters, context, feedback, progress)
            if feedback is not None and feedback.isCanceled():
                raise Cancelled()
            return result
        except QgsProcessingException:
            self._remove_partial_outputs()
            raise
        except Cancelled as exc:
            self._remove_partial_outputs()
            raise QgsProcessingException(str(exc)) from None
        except EgmsError as exc:
            self._remove_partial_outputs()
            raise QgsProcessingException(str(exc)) from None
        except MemoryError:
            self._remove_partial_outputs()
            raise QgsProcessingException(
                f"{self.displayName()}: out of memory — reduce the block size or the area."
            ) from None
        except Exception as exc:  # a bug: say so plainly, keep the details in the log
            self._remove_partial_outputs()
            if feedback is not None:
                feedback.pushDebugInfo(traceback.format_exc())
            raise QgsProcessingException(
                f"{self.displayName()} failed unexpectedly: {type(exc).__name__}: {exc}. "
                "Please report this with the log."
            ) from None

    def _remove_partial_outputs(self):
        for path in self._partial_outputs:
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.exists(path):
                    os.remove(path)
            except OSError:
                pass
        self._partial_outputs = []
