"""Which optional Python packages are importable — without importing them — and installing them.

The plugin must load (and register what can work) when numba, scipy, rasterio
or pyqtgraph is missing, and must never import numba at start-up, so this
module only asks the import system whether a package *could* be imported.

Missing packages are installed with QGIS' own Python and pip into a folder of the
plugin's own (:func:`install_command`): ``pip install --user`` with ``PYTHONUSERBASE``
pointed at that folder, so pip counts what QGIS already has as installed (numpy is
never installed a second time) and nothing outside the folder changes.  The folder's
site-packages is put on ``sys.path`` at start-up (:func:`activate`); deleting the
folder undoes everything.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

PIP_NAME = {"pyqtgraph": "pyqtgraph", "numba": "numba", "rasterio": "rasterio", "pyproj": "pyproj",
            "shapely": "shapely", "scipy": "scipy", "numpy": "numpy"}
"""pip distribution name of each importable package the plugin may need."""

INSTALL_HINT = {
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "numba": "python3-numba",
    "rasterio": "python3-rasterio",
    "pyproj": "python3-pyproj",
    "shapely": "python3-shapely",
    "pyqtgraph": "python3-pyqtgraph",
}


def is_available(name: str) -> bool:
    """True when ``import name`` would find the package (blocked entries count as missing)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing(names) -> list[str]:
    """The packages of ``names`` that cannot be imported, in order, without repeats."""
    out = []
    for name in names:
        if name not in out and not is_available(name):
            out.append(name)
    return out


def install_message(names) -> str:
    """One sentence telling the user how to install ``names``."""
    debs = " ".join(INSTALL_HINT.get(n, f"python3-{n}") for n in names)
    pips = " ".join(names)
    return (
        f"Missing Python package(s): {', '.join(names)}. "
        f"On Debian/Ubuntu: sudo apt install {debs}; "
        f"elsewhere (e.g. the OSGeo4W shell): python -m pip install {pips}; then restart QGIS."
    )


# ---------------------------------------------------------------- installing
def _version_tag():
    return f"python{sys.version_info[0]}.{sys.version_info[1]}"


def packages_folder(base):
    """The plugin's own package folder under ``base`` (QGIS' settings folder), one per Python version."""
    return os.path.join(base, "python", "egms_plugin_packages", _version_tag())


def site_folder(folder):
    """The site-packages folder inside ``folder`` that pip ``--user`` with ``PYTHONUSERBASE=folder`` fills."""
    if os.name == "nt":
        return os.path.join(folder, f"Python{sys.version_info[0]}{sys.version_info[1]}", "site-packages")
    return os.path.join(folder, "lib", _version_tag(), "site-packages")


def activate(folder):
    """Put ``folder``'s site-packages at the end of ``sys.path`` (QGIS' own packages keep priority);
    returns True when it exists (packages installed earlier become importable)."""
    site = site_folder(folder)
    if not os.path.isdir(site):
        return False
    if site not in sys.path:
        sys.path.append(site)
    importlib.invalidate_caches()
    return True


def _runs_this_python(candidate):
    """True when ``candidate`` is an interpreter of this Python's version and prefix."""
    probe = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.prefix)"
    try:
        done = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, timeout=30,
                              env=_clean_environment())
    except (OSError, subprocess.SubprocessError):
        return False
    lines = done.stdout.split()
    return done.returncode == 0 and lines[:1] == [f"{sys.version_info[0]}.{sys.version_info[1]}"]


def find_python():
    """Path of QGIS' own Python interpreter, or None.

    Inside QGIS ``sys.executable`` is often QGIS itself (Windows, macOS): look next to
    ``sys.exec_prefix`` (OSGeo4W's ``apps/PythonXY/python.exe``, the macOS bundle's
    ``bin/python3``), then on ``PATH``.
    """
    major, minor = sys.version_info[:2]
    candidates = []
    if os.path.basename(sys.executable or "").lower().startswith("python"):
        candidates.append(sys.executable)
    for prefix in dict.fromkeys((sys.exec_prefix, sys.base_exec_prefix)):
        candidates += [os.path.join(prefix, "python.exe"), os.path.join(prefix, "python3.exe"),
                       os.path.join(prefix, "bin", f"python{major}.{minor}"), os.path.join(prefix, "bin", "python3")]
    candidates += [shutil.which(f"python{major}.{minor}"), shutil.which("python3"), shutil.which("python")]
    for candidate in dict.fromkeys(c for c in candidates if c):
        if os.path.isfile(candidate) and _runs_this_python(candidate):
            return candidate
    return None


def _clean_environment(extra=None):
    """The environment for a child Python: without the variables that would point it at another install."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONNOUSERSITE",
                                                             "PIP_REQUIRE_VIRTUALENV", "PIP_USER", "PIP_TARGET",
                                                             "PIP_PREFIX")}
    env.update(extra or {})
    return env


@dataclass
class InstallPlan:
    """A pip run: the command, its environment and the folder it fills."""

    command: list
    env: dict
    folder: str
    packages: list


def install_command(names, folder, python=None, extra_args=None):
    """The :class:`InstallPlan` that installs the packages ``names`` into ``folder`` with QGIS' Python.

    ``extra_args``: more pip options (default from the environment variable ``EGMS_PIP_OPTIONS``,
    e.g. ``--no-index --find-links /wheels`` for an offline machine).  Raises RuntimeError when no
    Python interpreter or no pip can be found, naming what to install.
    """
    python = python or find_python()
    if python is None:
        raise RuntimeError("QGIS' Python interpreter was not found, so packages cannot be installed from QGIS. "
                           + install_message(names))
    packages = [PIP_NAME.get(n, n) for n in names]
    if extra_args is None:
        extra_args = os.environ.get("EGMS_PIP_OPTIONS", "").split()
    env = _clean_environment({"PYTHONUSERBASE": folder, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONUNBUFFERED": "1"})
    command = [python, "-m", "pip", "install", "--user", "--upgrade-strategy", "only-if-needed",
               "--progress-bar", "off", *extra_args, *packages]
    if _pip_knows(python, "--break-system-packages", env):  # PEP 668 distributions (Debian ≥ 12): we write
        command.insert(4, "--break-system-packages")         # only to our own folder, never to the system's
    return InstallPlan(command=command, env=env, folder=folder, packages=packages)


def _pip_knows(python, option, env):
    try:
        done = subprocess.run([python, "-m", "pip", "install", "--help"], capture_output=True, text=True, timeout=60,
                              env=env)
    except (OSError, subprocess.SubprocessError):
        return False
    if done.returncode != 0:
        raise RuntimeError(f"pip is not available in QGIS' Python ({python}): {done.stderr.strip()[-300:]} "
                           "On Debian/Ubuntu: sudo apt install python3-pip.")
    return option in done.stdout


class InstallFailed(RuntimeError):
    """pip failed: ``output`` holds everything it printed."""

    def __init__(self, message, output):
        super().__init__(message)
        self.output = output


def run_install(plan, on_line=None, is_cancelled=None):
    """Run ``plan``: each output line goes to ``on_line``; ``is_cancelled()`` stops pip.

    Returns pip's whole output.  Raises :class:`InstallFailed` (with the output) when pip fails
    or is cancelled; on success the folder is activated (:func:`activate`).
    """
    os.makedirs(plan.folder, exist_ok=True)
    lines = []
    proc = subprocess.Popen(plan.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=plan.env, bufsize=1)
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if on_line is not None:
                on_line(lines[-1])
            if is_cancelled is not None and is_cancelled():
                proc.kill()
                proc.wait()
                raise InstallFailed("Installation cancelled.", "\n".join(lines))
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "\n".join(lines)
    if code != 0:
        tail = [ln for ln in lines if ln.strip()][-1:] or ["(no output)"]
        raise InstallFailed(f"pip failed (exit {code}) installing {', '.join(plan.packages)}: {tail[0]}", output)
    activate(plan.folder)
    return output
