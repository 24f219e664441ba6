"""decompose's four outputs are one set (issue: nothing lost, nothing corrupt, defect 10 and the tour's optional
rasters): committed together or not at all, each stamped with the run's id, no stale .qml; the rasters optional."""

from __future__ import annotations

import hashlib
import os

import pytest
import rasterio
from osgeo import ogr
from qgis.core import QgsProcessingException

from egms_plugin.testing.faults import leftovers

from .conftest import decompose_outputs

pytestmark = pytest.mark.usefixtures("layers")


def digest(folder):
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in sorted(os.listdir(folder))}


def run_ids(out):
    ids = []
    for name in ("up.gpkg", "east.gpkg"):
        ds = ogr.Open(str(out / name))
        ids.append(ds.GetLayer(0).GetMetadataItem("egms_run_id"))
    for name in ("up.tif", "east.tif"):
        with rasterio.open(out / name) as ds:
            ids.append(ds.tags().get("run_id"))
    return ids


def test_every_output_of_a_run_carries_its_id_and_no_previous_style_stays(run_alg, layers, tmp_path,
                                                                           monkeypatch):
    from egms_plugin.layers import styling

    asc, desc, _gnss, _ = layers
    out = tmp_path / "out"
    out.mkdir()
    run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc], **decompose_outputs(out), "CELL_SIZE": 300})
    first = run_ids(out)
    assert len(set(first)) == 1 and len(first[0]) == 32
    assert (out / "up.qml").exists() and (out / "east.qml").exists()
    monkeypatch.setattr(styling, "apply_velocity_raster_style", lambda layer: False)  # this run styles no raster
    run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc], **decompose_outputs(out), "CELL_SIZE": 100})
    second = run_ids(out)
    assert len(set(second)) == 1 and second[0] != first[0]
    assert sorted(os.listdir(out)) == ["east.gpkg", "east.tif", "up.gpkg", "up.tif"]  # no stale .qml
    assert leftovers(out) == []


def test_a_failure_after_the_first_outputs_are_written_keeps_the_previous_set_whole(run_alg, layers, tmp_path,
                                                                                    monkeypatch):
    from egms_plugin.processing.base import EgmsAlgorithm

    asc, desc, _gnss, _ = layers
    out = tmp_path / "out"
    out.mkdir()
    run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc], **decompose_outputs(out), "CELL_SIZE": 300})
    before = digest(out)

    def broken(self, context, path, final=None):
        raise OSError(5, "Input/output error", path)  # both GeoPackages and both rasters are written by now

    monkeypatch.setattr(EgmsAlgorithm, "style_raster_on_load", broken)
    with pytest.raises(QgsProcessingException, match="Input/output error"):
        run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc], **decompose_outputs(out), "CELL_SIZE": 100})
    assert digest(out) == before
    assert leftovers(out) == [] and not [n for n in os.listdir(out) if n.startswith(".")]


def test_decompose_runs_with_the_vector_outputs_only(run_qgis_process, layers, tmp_path):
    asc, desc, _gnss, _ = layers
    done = run_qgis_process("run", "egms:decompose", "--", f"ASCENDING={asc}", f"DESCENDING={desc}",
                            f"OUTPUT={tmp_path / 'up.gpkg'}", f"OUTPUT_EAST={tmp_path / 'east.gpkg'}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sorted(os.listdir(tmp_path)) == ["east.gpkg", "up.gpkg"]
    assert ogr.Open(str(tmp_path / "up.gpkg")).GetLayer(0).GetFeatureCount() > 0
