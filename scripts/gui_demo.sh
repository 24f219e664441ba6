#!/usr/bin/env bash
# make gui-demo: start a real QGIS under Xvfb with the plugin enabled (private profile), load measurement
# points (the real EGMS sample converted to an indexed GeoPackage), open the time-series dock, click points
# with real mouse events and save a screenshot of the whole window:
#   .build/gui-demo/screenshot.png  (+ dock.png, plot.png, series.csv, log.txt, and dock_reading.png /
#   dock_area.png: a rectangle's mean while it is read in a background task, and once plotted)
# Environment: EGMS_SAMPLE (EGMS zip to show; default ../shared/data/egms/*.zip; a simulated layer
#              is used when there is none), GUI_DEMO_SIZE (default 1600x1000), QGIS_BIN (default qgis).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/.build"
OUT="$BUILD/gui-demo"
PROFILE="$OUT/profile"
PLUGINS="$BUILD/plugins"
SIZE=${GUI_DEMO_SIZE:-1600x1000}
QGIS_BIN=${QGIS_BIN:-qgis}

for tool in xvfb-run "$QGIS_BIN"; do
  command -v "$tool" >/dev/null || { echo "gui-demo: $tool not found (run 'make setup')" >&2; exit 127; }
done
mkdir -p "$OUT" "$PLUGINS" "$BUILD/xdg-runtime"
chmod 700 "$BUILD/xdg-runtime"
[ "$(readlink "$PLUGINS/egms_plugin" 2>/dev/null)" = "$ROOT" ] || ln -sfn "$ROOT" "$PLUGINS/egms_plugin"

# Demo data: the real EGMS Calibrated sample as an indexed GeoPackage (GDAL's CSV driver; date columns
# stay named YYYYMMDD).  Built once.
SAMPLE=${EGMS_SAMPLE:-$(ls "$ROOT"/../shared/data/egms/EGMS_*.zip 2>/dev/null | head -n 1 || true)}
DATA=""
if [ -n "$SAMPLE" ] && [ -f "$SAMPLE" ]; then
  name=$(basename "$SAMPLE" .zip)
  DATA="$OUT/$name.gpkg"
  if [ ! -f "$DATA" ]; then
    echo "gui-demo: converting $SAMPLE → $DATA"
    ogr2ogr -f GPKG "$DATA.tmp.gpkg" "/vsizip/$SAMPLE/$name.csv" -nln "$name" -a_srs EPSG:3035 \
      -oo HEADERS=YES -oo AUTODETECT_TYPE=YES -oo X_POSSIBLE_NAMES=easting -oo Y_POSSIBLE_NAMES=northing \
      -oo KEEP_GEOM_COLUMNS=YES -lco SPATIAL_INDEX=YES
    mv "$DATA.tmp.gpkg" "$DATA"
  fi
else
  echo "gui-demo: no EGMS sample found; the demo simulates a layer"
fi

# A fresh private profile with the plugin enabled and no start-up interruptions.
rm -rf "$PROFILE"
mkdir -p "$PROFILE/profiles/default/QGIS"
cat > "$PROFILE/profiles/default/QGIS/QGIS3.ini" <<EOF
[PythonPlugins]
egms_plugin=true

[qgis]
checkVersion=false
showTips=false
askToSaveProjectChanges=false
EOF
rm -f "$OUT/screenshot.png" "$OUT/dock_reading.png" "$OUT/dock_area.png" "$OUT/log.txt"

export QGIS_CUSTOM_CONFIG_PATH="$PROFILE"
export QGIS_PLUGINPATH="$PLUGINS"
export XDG_RUNTIME_DIR="$BUILD/xdg-runtime"
export QT_QPA_PLATFORM=xcb  # a real X server (Xvfb), not the offscreen platform of the tests
export EGMS_GUI_DEMO_OUT="$OUT"
export EGMS_GUI_DEMO_DATA="$DATA"
export PYTHONDONTWRITEBYTECODE=1

echo "gui-demo: starting QGIS under Xvfb ($SIZE)"
status=0
timeout 300 xvfb-run -a -s "-screen 0 ${SIZE}x24" \
  "$QGIS_BIN" --nologo --noversioncheck --code "$ROOT/scripts/gui_demo.py" >"$OUT/qgis.out" 2>&1 || status=$?
[ -f "$OUT/log.txt" ] && cat "$OUT/log.txt"
if [ ! -s "$OUT/screenshot.png" ] || [ ! -s "$OUT/dock_area.png" ]; then
  echo "gui-demo: no screenshot (QGIS exit status $status); see $OUT/qgis.out and $OUT/log.txt" >&2
  exit 1
fi
if grep -q "DEMO FAILED" "$OUT/log.txt" 2>/dev/null; then
  echo "gui-demo: the demo script reported a failure (see above)" >&2
  exit 1
fi
echo "gui-demo: wrote $OUT/screenshot.png"
