#!/usr/bin/env bash
# Run qgis_process against this checkout, with a private profile and the plugin enabled.
#   scripts/qgis_process.sh run egms:simulatestack -- OUTPUT_FOLDER=/tmp/stack
# Environment: EGMS_QGIS_PROFILE (profile folder, default .build/qgis-profile),
#              QGIS_PROCESS (binary to use; detected otherwise).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/.build"
PLUGINS="$BUILD/plugins"
PROFILE=${EGMS_QGIS_PROFILE:-$BUILD/qgis-profile}
mkdir -p "$PLUGINS" "$PROFILE" "$BUILD/xdg-runtime"
chmod 700 "$BUILD/xdg-runtime"
# QGIS finds plugins as <QGIS_PLUGINPATH>/<name>/metadata.txt: link the checkout as egms_plugin.
[ "$(readlink "$PLUGINS/egms_plugin" 2>/dev/null)" = "$ROOT" ] || ln -sfn "$ROOT" "$PLUGINS/egms_plugin"

export QGIS_PLUGINPATH="$PLUGINS"
export QGIS_CUSTOM_CONFIG_PATH="$PROFILE"
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$BUILD/xdg-runtime}
export PYTHONDONTWRITEBYTECODE=1

# Debian's /usr/bin/qgis_process wrapper adds --noversioncheck, which the 3.22 binary rejects
# ("Command --noversioncheck not known!"): detect that and call the real binary instead.
find_qgis_process() {
  if [ -n "${QGIS_PROCESS:-}" ]; then echo "$QGIS_PROCESS"; return; fi
  local wrapper
  wrapper=$(command -v qgis_process || true)
  if [ -n "$wrapper" ]; then
    local probe
    probe=$("$wrapper" --help 2>&1 || true)
    if grep -q "noversioncheck not known" <<<"$probe"; then
      if [ -x "$wrapper.bin" ]; then echo "$wrapper.bin"; return; fi
    else
      echo "$wrapper"; return
    fi
  fi
  if command -v qgis_process.bin >/dev/null; then command -v qgis_process.bin; return; fi
  echo "qgis_process not found: run 'make setup' (installs QGIS)" >&2
  exit 127
}
QP=$(find_qgis_process)

# Enable the plugin once per profile (plugins enable writes to the profile's settings).
STAMP="$PROFILE/.egms_plugin_enabled"
if [ ! -f "$STAMP" ]; then
  "$QP" plugins enable egms_plugin >/dev/null 2>&1 || true
  touch "$STAMP"
fi
exec "$QP" "$@"
