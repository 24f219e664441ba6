"""Shared base of the ``egms`` algorithms.

Subclasses set the class attributes (``alg_name``, ``display``, ``group_name``,
``group_key``, ``help_text``), declare parameters in ``initAlgorithm`` and put
their work in :meth:`EgmsAlgorithm.compute` (``run`` is taken by QGIS); parameters that several
algorithms share are declared by the functions of :mod:`.parameters`.  The base turns the core's
user-facing errors into ``QgsProcessingException`` (never a traceback), removes
registered partial outputs when a run fails or is cancelled, and adapts the
Processing feedback to the core's :class:`~..core.progress.Progress`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import traceback

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsSettings,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..compat import FLAG_ADVANCED
from ..core.errors import Cancelled, EgmsError, InputError
from ..core.io.guard import OutputLocks, cancel_on_sigterm
from ..core.io.space import disk_full_error, is_disk_full
from ..core.progress import Progress
from .provider import ICON

WAL_SETTING = "qgis/walForSqlite3"


@contextlib.contextmanager
def _rollback_journal():
    """Keep QGIS from switching the temporary output to WAL mode while the style is saved into it.

    QGIS opens a GeoPackage it writes in WAL mode (a persistent mode of the file) and may keep the dataset open
    after the layer is gone; on QGIS 3.40 the renamed output then made GDAL print "sqlite3_get_table(…
    gpkg_metadata …) failed: unable to open database file", and every output kept WAL mode (-wal/-shm files
    beside it whenever it is open).  QGIS skips WAL when ``OGR_SQLITE_JOURNAL`` is set (3.40: set here for this
    thread) or when its ``qgis/walForSqlite3`` setting is off (3.22; switched off for the moment of the save and
    restored)."""
    from osgeo import gdal

    previous = gdal.GetThreadLocalConfigOption("OGR_SQLITE_JOURNAL", None)
    gdal.SetThreadLocalConfigOption("OGR_SQLITE_JOURNAL", "DELETE")
    settings = QgsSettings()
    had = settings.contains(WAL_SETTING)
    saved = settings.value(WAL_SETTING)
    settings.setValue(WAL_SETTING, False)
    try:
        yield
    finally:
        if had:
            settings.setValue(WAL_SETTING, saved)
        else:
            settings.remove(WAL_SETTING)
        gdal.SetThreadLocalConfigOption("OGR_SQLITE_JOURNAL", previous)


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


class StepsProgress(FeedbackProgress):
    """Core progress over named stages (``(name, weight)`` pairs) reported as the steps of a
    ``QgsProcessingMultiStepFeedback``: the core's overall fraction selects the current step, the
    fraction within the stage becomes that step's progress."""

    def __init__(self, multi, stages):
        super().__init__(multi)
        total = float(sum(w for _, w in stages))
        self._bounds, acc = [], 0.0
        for _name, w in stages:
            self._bounds.append((acc / total, (acc + w) / total))
            acc += w
        self._step = None

    def update(self, fraction: float) -> None:
        f = min(max(fraction, 0.0), 1.0)
        k = next((i for i, (_a, b) in enumerate(self._bounds) if f < b), len(self._bounds) - 1)
        if k != self._step:
            self._step = k
            self.feedback.setCurrentStep(k)
        a, b = self._bounds[k]
        self.feedback.setProgress(100.0 * (f - a) / (b - a) if b > a else 100.0)


class VelocityStyler(QgsProcessingLayerPostProcessorInterface):
    """Styles an output layer by velocity when Processing loads it into the project."""

    _alive = []  # Processing keeps only a C++ pointer: hold the Python objects

    def __init__(self, field):
        super().__init__()
        self.field = field

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802, ARG002 (QGIS API signature)
        from ..layers.styling import apply_velocity_style

        apply_velocity_style(layer, self.field)

    @classmethod
    def create(cls, field):
        styler = cls(field)
        cls._alive.append(styler)
        return styler


class VelocityRasterStyler(QgsProcessingLayerPostProcessorInterface):
    """Styles an output velocity raster when Processing loads it into the project."""

    _alive = []  # Processing keeps only a C++ pointer: hold the Python objects

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802, ARG002 (QGIS API signature)
        from ..layers.styling import apply_velocity_raster_style

        apply_velocity_raster_style(layer)

    @classmethod
    def create(cls):
        styler = cls()
        cls._alive.append(styler)
        return styler


class EgmsAlgorithm(QgsProcessingAlgorithm):
    alg_name = ""
    kernel_modules = ()  # core modules of the numba kernels a run compiles on first use (the log says so)
    display = ""
    group_name = ""
    group_key = ""
    help_text = ""

    def __init__(self):
        super().__init__()
        self._partial_outputs: list[tuple[str, tuple | None]] = []

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
            parameter.setFlags(parameter.flags() | FLAG_ADVANCED)
        self.addParameter(parameter)
        return parameter

    def partial_output(self, path: str) -> str:
        """Register a file or folder to delete if the run fails or is cancelled.

        Only what this run created or replaced is deleted: a file that was at ``path`` before the run
        and is still untouched (e.g. the previous result, or an input given by mistake) is kept.
        """
        if path:
            self._partial_outputs.append((path, _fingerprint(path)))
        return path

    def writable_output(self, name, path, folder=False):
        """Check that the output ``path`` of parameter ``name`` can be written (before any work is done).

        Creates missing parent folders (removed again if the run fails) and raises InputError naming the
        parameter and the location when the folder cannot be created or written.  ``folder``: ``path`` is
        an output folder (written as a whole), so its parent must be writable.
        """
        path = os.path.abspath(path)
        if not folder and os.path.isdir(path):
            raise InputError(f"{name}: {path} is a folder; give a file name for the output.")
        parent = os.path.dirname(path)
        existing = parent
        while not os.path.exists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            raise InputError(f"{name}: cannot write {parent} ({existing} is a file, not a folder); "
                             "choose another output location.")
        missing = parent
        while os.path.dirname(missing) != existing and missing != existing:
            missing = os.path.dirname(missing)
        try:
            if missing != existing:
                self.partial_output(missing)  # before creating it: a makedirs that fails half-way leaves nothing
                os.makedirs(parent, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".egms-write-test-", dir=parent)
            os.close(fd)
            os.remove(probe)
        except OSError as exc:
            raise InputError(f"{name}: cannot write {parent} ({exc.strerror or exc}); choose another output "
                             "location.") from None
        return path

    def output_gpkg(self, parameters, name, context):
        """The GeoPackage path of the vector output ``name`` (checked writable, registered as a partial output)."""
        path = self.parameterAsOutputLayer(parameters, name, context)
        if not path or not path.lower().endswith(".gpkg") or path.startswith("memory:"):
            raise InputError(f"{name}: outputs are GeoPackage files (.gpkg), not {path!r}.")
        self.writable_output(name, path)
        return self.partial_output(path)

    def refuse_outputs_over_inputs(self, parameters, context):
        """Raise InputError when an output is an input file, an existing file inside an input folder, or a folder
        holding an input — for every algorithm, from its parameter definitions (a stack's SLC given as a raster output,
        the input GeoPackage given as the output, the input zip as the GeoPackage …)."""
        inputs = _input_paths(self, parameters, context)
        for out_name, out_path, is_folder in _output_paths(self, parameters, context):
            for in_name, in_path in inputs:
                relation = _overlap(out_path, is_folder, in_path)
                if relation:
                    raise InputError(f"{out_name}: {out_path} {relation} {in_name} ({in_path}); writing it could "
                                     "destroy the input — choose another file for the output.")

    def style_on_load(self, context, path, field="mean_velocity", final=None):
        """Style the output at ``path`` by ``field``: saved as the GeoPackage's default style, and applied
        when Processing loads the layer into the project.  ``final``: where ``path`` (a temporary of a
        :class:`~..core.io.atomic.PendingSet`) will be committed — the layer Processing loads."""
        from ..compat import save_style_to_database
        from ..layers.styling import apply_velocity_style

        with _rollback_journal():
            layer = QgsVectorLayer(path, "styled", "ogr")
            if apply_velocity_style(layer, field):
                save_style_to_database(layer, "velocity", "Velocity, diverging around zero (EGMS plugin)", True)
            del layer
        final = final or path
        if context.willLoadLayerOnCompletion(final):
            context.layerToLoadOnCompletionDetails(final).setPostProcessor(VelocityStyler.create(field))

    def style_raster_on_load(self, context, path, final=None):
        """Style the velocity GeoTIFF at ``path``: saved as its default style (a .qml beside it, which QGIS reads
        when the file is opened), and applied when Processing loads the layer into the project.  ``final``: as
        for :meth:`style_on_load` (the .qml then moves with the raster when the set is committed)."""
        from qgis.core import QgsRasterLayer

        from ..compat import save_default_style
        from ..layers.styling import apply_velocity_raster_style

        aux = path + ".aux.xml"
        had_aux = os.path.exists(aux)
        if final is None:
            self.partial_output(os.path.splitext(path)[0] + ".qml")
        layer = QgsRasterLayer(path, "styled", "gdal")
        if apply_velocity_raster_style(layer):
            save_default_style(layer)
        del layer  # closes the file: GDAL writes the statistics QGIS computed for its default renderer …
        if not had_aux and os.path.exists(aux):
            os.remove(aux)  # … which are not part of the output
        final = final or path
        if context.willLoadLayerOnCompletion(final):
            context.layerToLoadOnCompletionDetails(final).setPostProcessor(VelocityRasterStyler.create())

    # -- execution ------------------------------------------------------------------
    def run_kernel_modules(self, parameters, context):  # noqa: ARG002 - overridden where options add kernels
        """The core modules of the numba kernels this run compiles on first use (default :attr:`kernel_modules`)."""
        return self.kernel_modules

    def compute(self, parameters, context, feedback, progress: FeedbackProgress) -> dict:
        raise NotImplementedError

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        self._partial_outputs = []
        progress = FeedbackProgress(feedback)
        try:
            try:
                self.refuse_outputs_over_inputs(parameters, context)
                modules = self.run_kernel_modules(parameters, context)
                if modules:
                    from ..core.jit import announce_compilation

                    announce_compilation(progress, modules)
                outputs = [(name, path) for name, path, _folder in _output_paths(self, parameters, context)]
                sinks = {d.name() for d in self.destinationParameterDefinitions() if d.type() == "sink"}
                for name, path in outputs:
                    if name in sinks and not os.path.lexists(path):
                        self.partial_output(path)  # a QGIS feature sink writes in place: removed if the run fails
                with OutputLocks(outputs), cancel_on_sigterm(feedback.cancel if feedback is not None else _nothing):
                    result = self.compute(parameters, context, feedback, progress)
            except Exception as exc:  # noqa: BLE001 - a full disk, told plainly whatever raised it (OSError, SQLite, GDAL)
                if is_disk_full(exc) and not isinstance(exc, EgmsError):
                    raise self._disk_full(exc, parameters, context) from None
                raise
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
        except OSError as exc:  # the file system refused (full disk, permissions, a file vanished)
            self._remove_partial_outputs()
            if feedback is not None:
                feedback.pushDebugInfo(traceback.format_exc())
            where = f"{exc.filename}: " if exc.filename else ""
            raise QgsProcessingException(
                f"{where}{exc.strerror or exc} — the file system refused the operation; check the path, the free "
                "space and the permissions."
            ) from None
        except Exception as exc:  # noqa: BLE001 - a bug: say so plainly, keep the details in the log
            self._remove_partial_outputs()
            if feedback is not None:
                feedback.pushDebugInfo(traceback.format_exc())
            raise QgsProcessingException(
                f"{self.displayName()} failed unexpectedly: {type(exc).__name__}: {exc}. "
                "Please report this with the log."
            ) from None

    def _disk_full(self, exc, parameters, context):
        """The DiskFullError for ``exc``: named after the file that failed, else the first output."""
        path = getattr(exc, "filename", None)
        if not path:
            outputs = _output_paths(self, parameters, context)
            path = outputs[0][1] if outputs else self.displayName()
        return disk_full_error(path)

    def _remove_partial_outputs(self):
        for path, before in reversed(self._partial_outputs):
            if before is not None and _fingerprint(path) == before:
                continue  # there before the run and untouched by it
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.exists(path):
                    os.remove(path)
            except OSError:
                pass
        self._partial_outputs = []


def _nothing():
    """No feedback to cancel."""


def _fingerprint(path):
    """Identity of the file or folder at ``path`` (None when there is none), to tell whether a run changed it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


_LAYER_INPUTS = ("raster", "layer", "mesh", "pointcloud")  # single map-layer inputs other than vector sources


def _input_paths(alg, parameters, context):
    """``[(parameter, file or folder)]`` of every input of ``alg`` given in ``parameters`` that is a file."""
    from ..compat import SOURCE_FILE
    from ..layers.sources import input_layer, layer_file

    found = []
    for definition in alg.parameterDefinitions():
        name, kind = definition.name(), definition.type()
        if definition.isDestination() or parameters.get(name) in (None, ""):
            continue
        try:
            if kind == "multilayer" and definition.layerType() == SOURCE_FILE:
                paths = alg.parameterAsFileList(parameters, name, context)
            elif kind == "multilayer":
                paths = [layer_file(layer) for layer in alg.parameterAsLayerList(parameters, name, context)]
            elif kind in ("source", "vector"):
                paths = [layer_file(input_layer(alg, parameters, name, context))]
            elif kind in _LAYER_INPUTS:
                paths = [layer_file(alg.parameterAsLayer(parameters, name, context))]
            elif kind == "file":
                paths = [alg.parameterAsFile(parameters, name, context)]
            else:
                continue
        except Exception:  # noqa: BLE001 -- a value the algorithm itself will reject with its own message
            continue
        found += [(name, path) for path in paths if path and os.path.exists(path)]
    return found


def _output_paths(alg, parameters, context):
    """``[(parameter, path, is_folder)]`` of every file output of ``alg`` (temporary outputs excepted)."""
    found = []
    for definition in alg.destinationParameterDefinitions():
        name, kind = definition.name(), definition.type()
        value = parameters.get(name)
        if value in (None, "") or str(getattr(value, "sink", value)).endswith("TEMPORARY_OUTPUT"):
            continue
        try:
            if kind == "folderDestination":
                path, is_folder = alg.parameterAsString(parameters, name, context), True
            elif kind == "fileDestination":
                path, is_folder = alg.parameterAsFileOutput(parameters, name, context), False
            else:
                path, is_folder = alg.parameterAsOutputLayer(parameters, name, context), False
        except Exception:  # noqa: BLE001 -- a value the algorithm itself will reject with its own message
            continue
        if path and not path.startswith(("memory:", "ogr:", "postgis:")):
            found.append((name, path.split("|", 1)[0], is_folder))
    return found


def _overlap(out_path, out_is_folder, in_path):
    """How the output ``out_path`` would overwrite the input ``in_path`` (a phrase), or ''."""
    out_real, in_real = os.path.realpath(out_path), os.path.realpath(in_path)
    if _same_file(out_path, in_path):
        return "is the input"
    if os.path.isdir(in_real) and out_real.startswith(in_real.rstrip(os.sep) + os.sep) and os.path.lexists(out_path):
        return "is a file of the input"  # a new file beside the input's files (velocities.gpkg in the stack) is fine
    if out_is_folder and in_real.startswith(out_real.rstrip(os.sep) + os.sep):
        return "is a folder holding the input"
    return ""
