"""QA: what the product algorithms do to files at their output paths, as a user meets it.

A failed or cancelled run must not destroy a file that was there before it started (least of all the input
layer given by mistake as the output), an output may not overwrite an input layer, and an output location
that cannot be written is reported by name before any work is done.
"""

import os
import shutil

import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from egms_plugin.core.io.points import read_points

from .conftest import decompose_outputs, fingerprint


class CancelAt(QgsProcessingFeedback):
    def __init__(self, percent):
        super().__init__()
        self.progressChanged.connect(lambda value: self.cancel() if value >= percent else None)


def test_failed_run_keeps_the_previous_output_file(run_alg, layers, tmp_path):
    asc, desc, gnss, gnss_nan = layers
    out = tmp_path / "calibrated.gpkg"
    run_alg("egms:calibrategnss", {"INPUT": desc, "GNSS": gnss, "OUTPUT": str(out)})
    before = fingerprint(out)
    with pytest.raises(QgsProcessingException, match="gnss_nan.csv: no station with finite coordinates"):
        run_alg("egms:calibrategnss", {"INPUT": desc, "GNSS": gnss_nan, "OUTPUT": str(out)})
    assert out.exists() and fingerprint(out) == before  # the earlier result is untouched


def test_cancelled_run_keeps_the_previous_output_files(run_alg, layers, tmp_path):
    asc, desc, gnss, _ = layers
    outputs = decompose_outputs(tmp_path)
    run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc], **outputs})
    before = {p.name: fingerprint(p) for p in tmp_path.iterdir()}
    assert sorted(before) == ["east.gpkg", "east.qml", "east.tif", "up.gpkg", "up.qml", "up.tif"]
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_alg("egms:decompose", {"ASCENDING": [asc], "DESCENDING": [desc], **outputs}, feedback=CancelAt(10))
    assert {p.name: fingerprint(p) for p in tmp_path.iterdir()} == before


def test_output_over_the_input_layer_is_refused_and_the_input_kept(run_alg, layers, tmp_path):
    asc, desc, gnss, _ = layers
    mine = tmp_path / "my_points.gpkg"
    shutil.copy(desc, mine)
    before = fingerprint(mine)
    with pytest.raises(QgsProcessingException, match="OUTPUT: .*my_points.gpkg is the input INPUT .*choose "
                                                     "another file for the output"):
        run_alg("egms:calibrategnss", {"INPUT": str(mine), "GNSS": gnss, "OUTPUT": str(mine)})
    assert fingerprint(mine) == before and len(read_points(mine)) == 300


def test_decompose_output_over_an_input_layer_is_refused(run_alg, layers, tmp_path):
    asc, desc, _, _ = layers
    mine = tmp_path / "asc_copy.gpkg"
    shutil.copy(asc, mine)
    before = fingerprint(mine)
    outputs = {**decompose_outputs(tmp_path), "OUTPUT_EAST": str(mine)}
    with pytest.raises(QgsProcessingException, match="OUTPUT_EAST: .*asc_copy.gpkg is the input ASCENDING"):
        run_alg("egms:decompose", {"ASCENDING": [str(mine)], "DESCENDING": [desc], **outputs})
    assert fingerprint(mine) == before
    assert sorted(os.listdir(tmp_path)) == ["asc_copy.gpkg"]


@pytest.mark.parametrize("alg", ["calibrategnss", "decompose", "decompose raster", "simulatestack"])
def test_unwritable_output_location_is_named_before_any_work(run_alg, layers, tmp_path, alg):
    asc, desc, gnss, _ = layers
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    blocked = tmp_path / "notes.txt" / "sub"
    feedback = QgsProcessingFeedback()
    infos = []
    feedback.pushInfo = infos.append
    if alg == "calibrategnss":
        params, key = {"INPUT": desc, "GNSS": gnss, "OUTPUT": str(blocked / "cal.gpkg")}, "OUTPUT"
    elif alg == "decompose":
        params, key = {"ASCENDING": [asc], "DESCENDING": [desc], **decompose_outputs(tmp_path),
                       "OUTPUT_EAST": str(blocked / "east.gpkg")}, "OUTPUT_EAST"
    elif alg == "decompose raster":
        params, key = {"ASCENDING": [asc], "DESCENDING": [desc], **decompose_outputs(tmp_path),
                       "OUTPUT_VERTICAL_RASTER": str(blocked / "up.tif")}, "OUTPUT_VERTICAL_RASTER"
        alg = "decompose"
    else:
        params, key = {"WIDTH": 16, "HEIGHT": 16, "N_DATES": 4, "OUTPUT_FOLDER": str(blocked / "stack")}, "OUTPUT_FOLDER"
    with pytest.raises(QgsProcessingException) as raised:
        run_alg(f"egms:{alg}", params, feedback=feedback)
    message = str(raised.value)
    assert message.startswith(f"{key}: cannot write {blocked}") and "unexpectedly" not in message
    assert not [i for i in infos if "points" in i]  # refused before reading the layers
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_interferogram_folder_is_readable_by_others(run_alg, small_stack, tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        result = run_alg("egms:interferograms", {"INPUT": small_stack, "NETWORK": 1, "SEQUENTIAL_NEIGHBOURS": 1,
                                                 "ROW_LOOKS": 10, "COL_LOOKS": 10, "OUTPUT_FOLDER": str(tmp_path / "ifg")})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(result["OUTPUT_FOLDER"]).st_mode) == 0o755  # as mkdir makes it (mkdtemp: 0o700)


@pytest.mark.parametrize("alg", ["simulatestack", "interferograms"])
def test_folder_output_cancelled_at_the_very_end_leaves_nothing(run_alg, small_stack, tmp_path, alg):
    """Cancel pressed while the last file is written: the run reports 'no output was written', so there is none."""
    params = ({"WIDTH": 16, "HEIGHT": 16, "N_DATES": 4} if alg == "simulatestack"
              else {"INPUT": small_stack, "ROW_LOOKS": 10, "COL_LOOKS": 10})
    with pytest.raises(QgsProcessingException, match="Cancelled by the user; no output was written"):
        run_alg(f"egms:{alg}", {**params, "OUTPUT_FOLDER": str(tmp_path / "out")}, feedback=CancelAt(100))
    assert os.listdir(tmp_path) == []


def test_disk_full_during_a_run_is_a_file_system_message(run_alg, tmp_path, monkeypatch):
    import errno

    from egms_plugin.core.sar import simulate

    def full(work, *args):
        raise OSError(errno.ENOSPC, "No space left on device", os.path.join(work, "20190106.tif"))

    monkeypatch.setattr(simulate, "_write", full)
    with pytest.raises(QgsProcessingException) as raised:
        run_alg("egms:simulatestack", {"WIDTH": 16, "HEIGHT": 16, "N_DATES": 4, "OUTPUT_FOLDER": str(tmp_path / "s")})
    message = str(raised.value)
    assert "20190106.tif: the disk is full (" in message and " MB free on " in message
    assert "unexpectedly" not in message and os.listdir(tmp_path) == []


def _tree(folder):
    """Every file under ``folder`` with its content digest (what must survive a refused run byte for byte)."""
    import hashlib

    return {os.path.relpath(os.path.join(d, f), folder): hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
            for d, _dirs, files in os.walk(folder) for f in files}


def test_fittimeseries_output_over_its_multi_layer_input_is_refused(run_alg, layers, tmp_path):
    """Issue 11 defect 4: OUTPUT = the GeoPackage of INPUT "multi.gpkg|layername=real" replaced the file (its other
    layers deleted, the published statistics overwritten)."""
    from osgeo import gdal

    asc, desc, _, _ = layers
    multi = tmp_path / "multi.gpkg"
    gdal.VectorTranslate(str(multi), desc, layerName="real")
    gdal.VectorTranslate(str(multi), asc, accessMode="update", layerName="other")
    before = _tree(tmp_path)
    with pytest.raises(QgsProcessingException, match=r"OUTPUT: .*multi.gpkg is the input INPUT \(.*multi.gpkg\); "
                                                     "writing it could destroy the input"):
        run_alg("egms:fittimeseries", {"INPUT": f"{multi}|layername=real", "OUTPUT": str(multi)})
    assert _tree(tmp_path) == before
    assert len(read_points(str(multi), layer="other")) == 300


def test_importegms_output_over_its_input_zip_is_refused(run_alg, egms_sample, tmp_path):
    mine = tmp_path / "product.zip"
    shutil.copy(egms_sample, mine)
    before = _tree(tmp_path)
    with pytest.raises(QgsProcessingException, match="OUTPUT: .*product.zip is the input INPUT"):
        run_alg("egms:importegms", {"INPUT": [str(mine)], "OUTPUT": str(mine)})
    assert _tree(tmp_path) == before


def test_raster_output_naming_an_slc_of_the_stack_is_refused(run_alg, small_stack, tmp_path):
    """Issue 11 defect 3: OUTPUT_DISPERSION = an SLC of the input stack overwrote it with the float32 raster."""
    stack = tmp_path / "stack"
    shutil.copytree(small_stack, stack)
    slc = sorted(p for p in os.listdir(stack) if p.endswith(".tif"))[0]
    before = _tree(stack)
    for key in ("OUTPUT_DISPERSION", "OUTPUT_MEAN_AMPLITUDE"):
        with pytest.raises(QgsProcessingException, match=f"{key}: .*{slc} is a file of the input INPUT"):
            run_alg("egms:selectscatterers", {"INPUT": str(stack), "OUTPUT": str(tmp_path / "points.gpkg"),
                                              key: str(stack / slc)})
    with pytest.raises(QgsProcessingException, match="OUTPUT_FOLDER: .*stack is the input INPUT"):
        run_alg("egms:interferograms", {"INPUT": str(stack), "OUTPUT_FOLDER": str(stack)})
    with pytest.raises(QgsProcessingException, match="OUTPUT_FOLDER: .* is a folder holding the input INPUT"):
        run_alg("egms:interferograms", {"INPUT": str(stack / slc), "OUTPUT_FOLDER": str(stack)})
    assert _tree(stack) == before and sorted(os.listdir(tmp_path)) == ["stack"]


@pytest.mark.parametrize("alg", ["fittimeseries", "calibrategnss"])
def test_output_folders_created_half_way_are_removed(run_alg, layers, tmp_path, monkeypatch, alg):
    """A missing parent a/b/c whose creation fails after a/ was made (a permission, a full disk): nothing stays."""
    import errno

    from egms_plugin.processing import base

    real = os.makedirs

    def half_way(path, mode=0o777, exist_ok=False):
        real(os.path.join(str(tmp_path), "a"), exist_ok=True)
        raise OSError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(base.os, "makedirs", half_way)
    _asc, desc, gnss, _ = layers
    out = str(tmp_path / "a" / "b" / "c" / "out.gpkg")
    params = {"INPUT": desc, "OUTPUT": out} if alg == "fittimeseries" else {"INPUT": desc, "GNSS": gnss, "OUTPUT": out}
    with pytest.raises(QgsProcessingException, match="Permission denied"):
        run_alg(f"egms:{alg}", params)
    assert os.listdir(tmp_path) == []
