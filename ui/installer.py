"""Installing missing Python packages from inside QGIS: a message-bar offer, a background task, the outcome.

The mechanism (which interpreter, which pip command, which folder) is
:mod:`..core.deps`; this module only asks the user, runs pip in a
:class:`QgsTask` (progress in QGIS' task bar, cancel honoured) and reports:
success in the message bar, failure with pip's whole output one click away.
"""

from __future__ import annotations

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsTask
from qgis.PyQt.QtWidgets import QMessageBox, QPushButton

from ..core import deps

LOG_TAG = "EGMS ground motion"

_PHASES = (("Collecting", 10), ("Downloading", 30), ("Building", 55), ("Installing collected", 80),
           ("Successfully installed", 100))
"""pip output line prefixes and the progress (%) each one means."""


def progress_of(line, current=0.0):
    """Progress (%) after pip printed ``line``, never going back."""
    text = line.strip()
    for prefix, value in _PHASES:
        if text.startswith(prefix):
            return max(current, float(value))
    return current


class InstallTask(QgsTask):
    """Runs one :class:`~..core.deps.InstallPlan`; ``done(ok, message, output)`` is called on the main thread."""

    def __init__(self, plan, done):
        super().__init__(f"Installing {', '.join(plan.packages)}", QgsTask.Flag.CanCancel)
        self.plan = plan
        self._done = done
        self.output = ""
        self.error = None

    def run(self):
        progress = 0.0

        def on_line(line):
            nonlocal progress
            progress = progress_of(line, progress)
            self.setProgress(progress)
            QgsMessageLog.logMessage(f"pip: {line}", LOG_TAG, Qgis.MessageLevel.Info)

        try:
            self.output = deps.run_install(self.plan, on_line=on_line, is_cancelled=self.isCanceled)
            return True
        except deps.InstallFailed as exc:
            self.error, self.output = str(exc), exc.output
        except (OSError, RuntimeError) as exc:
            self.error = str(exc)
        return False

    def finished(self, ok):
        self._done(ok, self.error or "", self.output)


class PackageInstaller:
    """Offers to install ``packages`` in ``iface``'s message bar; ``on_installed()`` runs after a success."""

    def __init__(self, iface, packages, on_installed, what):
        self.iface = iface
        self.packages = list(packages)
        self.on_installed = on_installed
        self.what = what
        self.task = None
        self.item = None

    def offer(self):
        bar = self.iface.messageBar()
        names = ", ".join(self.packages)
        self.item = bar.createMessage("EGMS ground motion",
                                      f"{self.what} need(s) the Python package(s) {names}, which QGIS' Python lacks.")
        button = QPushButton(f"Install {names}")
        button.setObjectName("EgmsInstallPackages")
        button.clicked.connect(self.install)
        self.item.layout().addWidget(button)
        bar.pushWidget(self.item, Qgis.MessageLevel.Warning)
        return self.item

    def install(self):
        if self.task is not None:
            return
        bar = self.iface.messageBar()
        if self.item is not None:
            bar.popWidget(self.item)
            self.item = None
        try:
            plan = deps.install_command(self.packages, deps.packages_folder(QgsApplication.qgisSettingsDirPath()))
        except RuntimeError as exc:
            bar.pushMessage("EGMS ground motion", str(exc), Qgis.MessageLevel.Critical, 0)
            return
        self.task = InstallTask(plan, self._finished)
        bar.pushMessage("EGMS ground motion", f"Installing {', '.join(plan.packages)} — progress in the task bar.",
                        Qgis.MessageLevel.Info, 5)
        QgsApplication.taskManager().addTask(self.task)

    def _finished(self, ok, error, output):
        self.task = None
        bar = self.iface.messageBar()
        if ok and not deps.missing(self.packages):
            self.on_installed()
            bar.pushMessage("EGMS ground motion", f"Installed {', '.join(self.packages)}.", Qgis.MessageLevel.Success, 10)
            return
        message = error or f"{', '.join(deps.missing(self.packages))} still cannot be imported after pip ran."
        QgsMessageLog.logMessage(f"{message}\n{output}", LOG_TAG, Qgis.MessageLevel.Critical)
        item = bar.createMessage("EGMS ground motion", message)
        button = QPushButton("Show pip output")
        button.clicked.connect(lambda: self._show_output(message, output))
        item.layout().addWidget(button)
        bar.pushWidget(item, Qgis.MessageLevel.Critical)

    def _show_output(self, message, output):
        box = QMessageBox(QMessageBox.Icon.Critical, "EGMS ground motion", message,
                          QMessageBox.StandardButton.Close, self.iface.mainWindow())
        box.setDetailedText(output or "(pip printed nothing)")
        box.exec()
