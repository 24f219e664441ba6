#!/usr/bin/env bash
# Install what is missing on Debian/Ubuntu, then the test virtualenv.  Safe to re-run;
# quick when everything is there.  Usage: scripts/setup.sh [system-python] [venv-dir]
set -euo pipefail
SYS_PYTHON=${1:-/usr/bin/python3}
VENV=${2:-$(cd "$(dirname "$0")/.." && pwd)/.venv}

PACKAGES=(qgis python3-qgis qgis-providers gdal-bin
          python3-numpy python3-scipy python3-numba python3-pyqtgraph
          python3-rasterio python3-shapely python3-pyproj python3-venv python3-pip
          python3-pyqt6 python3-pyqt6.qtsvg python3-h5py python3-dask python3-distributed
          xvfb xdotool)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "setup: system packages present"
fi

# Test/lint tools only; the plugin's own dependencies come from the distribution so
# that QGIS' Python sees them.
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import pytest_qgis, ruff, qgis.core" 2>/dev/null; then
  echo "setup: creating virtualenv $VENV"
  "$SYS_PYTHON" -m venv --system-site-packages "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "pytest>=7,<9" "pytest-qgis>=2,<6" "pytest-timeout" "ruff==0.17.6"
else
  echo "setup: virtualenv ready"
fi
"$VENV/bin/python" - <<'PY'
import importlib
for name in ("numpy", "scipy", "numba", "rasterio", "pyproj", "shapely", "pyqtgraph", "dask", "distributed", "qgis.core",
             "pytest_qgis"):
    importlib.import_module(name)
from qgis.core import Qgis
print("setup: ok — QGIS", Qgis.QGIS_VERSION)
PY
