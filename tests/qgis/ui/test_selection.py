"""The dock's selection state (ui/selection.py): plain Python, tested without Qt, QGIS or a canvas."""

from __future__ import annotations

import datetime as dt
import doctest
import os
import subprocess
import sys

import numpy as np

from egms_plugin.layers.series import Series
from egms_plugin.ui import selection as selection_module
from egms_plugin.ui.selection import PALETTE, REFERENCE_COLOUR, Selection

DATES = [dt.date(2020, 1, 3) + dt.timedelta(days=12 * k) for k in range(30)]


def point(pid, layer="asc", values=None):
    values = np.arange(len(DATES), dtype=float) * -0.5 if values is None else np.asarray(values, dtype=float)
    return Series(layer_id=layer, layer_name=layer, point_id=pid, dates=list(DATES), values=values, fids=[hash(pid)])


def ids(selection):
    return [s.point_id for s in selection.series]


def test_a_selection_replaces_and_shift_adds():
    sel = Selection()
    sel.show([point("a"), point("b")])
    assert ids(sel) == ["a", "b"] and len(sel) == 2
    sel.show([point("c")])
    assert ids(sel) == ["c"]
    sel.show([point("d")], add=True)
    assert ids(sel) == ["c", "d"]


def test_a_series_shown_again_keeps_its_place_and_colour():
    sel = Selection()
    sel.show([point("a"), point("b")])
    colours = [sel.colour_of(s) for s in sel.series]
    sel.show([point("a"), point("c")], add=True)
    assert ids(sel) == ["a", "b", "c"]
    assert [sel.colour_of(s) for s in sel.series] == colours + [PALETTE[2]]


def test_an_empty_selection_changes_nothing():
    sel = Selection()
    sel.show([point("a")])
    sel.show([])  # a click beside every point: the plot stays
    assert ids(sel) == ["a"]


def test_colours_take_the_first_free_one_and_wrap_when_the_palette_is_used_up():
    sel = Selection()
    sel.show([point("a", "L1"), point("b", "L2"), point("c", "L3")])
    assert [sel.colour_of(s) for s in sel.series] == list(PALETTE[:3])
    assert sel.forget_layers({"L2"})  # frees the second colour
    sel.show([point("d", "L1")], add=True)
    assert sel.colour_of(sel.series[-1]) == PALETTE[1]
    sel.show([point("x")])  # a plain selection starts the palette again
    assert sel.colour_of(sel.series[0]) == PALETTE[0]
    many = Selection(palette=("#111111", "#222222"))
    many.show([point(str(k)) for k in range(5)])
    assert [many.colour_of(s) for s in many.series] == ["#111111", "#222222", "#111111", "#222222", "#111111"]


def test_one_reference_per_layer():
    sel = Selection()
    sel.show([point("a", "asc"), point("b", "desc")])
    sel.set_references([point("r1", "asc")])
    sel.set_references([point("r2", "asc"), point("r3", "desc")])  # replaces asc's reference
    assert sorted(sel.references) == ["asc", "desc"]
    assert sel.reference_of(sel.series[0]).point_id == "r2" and sel.reference_of(sel.series[1]).point_id == "r3"
    assert sel.reference_label() == "asc · r2, desc · r3"
    sel.reset_references()
    assert sel.references == {} and sel.reference_of(sel.series[0]) is None and sel.reference_label() == ""


def test_prepare_subtracts_each_layers_reference_only_from_that_layer():
    rng = np.random.default_rng(2)
    a, b, r = (np.round(rng.normal(0, 3, len(DATES)), 1) for _ in range(3))
    sel = Selection()
    sel.show([point("a", "asc", a), point("b", "desc", b)])
    sel.set_references([point("r", "asc", r)])
    plotted = sel.prepare(model="linear")
    assert plotted is sel.plotted and [p.series.point_id for p in plotted] == ["a", "b"]
    np.testing.assert_array_equal(plotted[0].y, a - r)  # same dates: exactly the difference
    np.testing.assert_array_equal(plotted[1].y, b)  # another layer: untouched
    assert [p.colour for p in plotted] == list(PALETTE[:2])
    assert all(p.model_name == "linear" for p in plotted)


def test_forget_layers_drops_their_series_and_references():
    sel = Selection()
    sel.show([point("a", "asc"), point("b", "desc")])
    sel.set_references([point("r", "desc")])
    assert not sel.forget_layers({"other"})  # nothing shown from it: nothing to redraw
    assert sel.forget_layers({"desc"})
    assert ids(sel) == ["a"] and sel.references == {} and list(sel.colours) == [sel.series[0].key()]
    sel.set_references([point("r", "cal")])
    assert sel.forget_layers({"cal"}) and sel.references == {}  # a reference alone counts too


def test_clear_keeps_the_references_and_clear_all_forgets_everything():
    sel = Selection()
    sel.show([point("a")])
    sel.set_references([point("r")])
    sel.picking_reference = True
    sel.prepare()
    sel.clear()
    assert sel.series == [] and sel.colours == {} and sel.plotted == [] and list(sel.references) == ["asc"]
    assert sel.marks()[0][2] is True  # the reference stays marked on the map
    sel.clear_all()
    assert sel.references == {} and not sel.picking_reference and sel.marks() == []


def test_caption_says_reference_and_detrend():
    sel = Selection()
    assert sel.caption() is None
    assert sel.caption(detrend=True) == "detrended"
    sel.set_references([point("r")])
    assert sel.caption() == "relative to asc · r"
    assert sel.caption(detrend=True) == "relative to asc · r; detrended"


def test_summary_names_points_by_id_when_one_layer_and_escapes_html():
    sel = Selection()
    sel.show([point("a<1>"), point("b")])
    sel.prepare()
    lines = sel.summary_html().split("<br>")
    assert len(lines) == 2
    assert lines[0].startswith(f"<span style='color:{PALETTE[0]}'>●</span> a&lt;1&gt;: v = ")
    sel.show([point("c", "desc")], add=True)
    sel.prepare()
    assert sel.summary_html().split("<br>")[2].startswith(f"<span style='color:{PALETTE[2]}'>●</span> desc · c: ")


def test_marks_are_the_series_in_their_colours_then_the_references():
    sel = Selection()
    sel.show([point("a"), point("b", "desc")])
    sel.set_references([point("r")])
    assert [(s.point_id, colour, ref) for s, colour, ref in sel.marks()] == [
        ("a", PALETTE[0], False), ("b", PALETTE[1], False), ("r", REFERENCE_COLOUR, True)]


def test_status_text():
    sel = Selection()
    assert sel.status_text() == ""
    sel.show([point("a")])
    assert sel.status_text() == "1 series plotted (Shift+click to add more)."
    sel.show([point("b")], add=True)
    assert sel.status_text() == "2 series plotted."


def test_docstring_examples_run():
    result = doctest.testmod(selection_module)
    assert result.attempted > 0 and result.failed == 0


def test_the_module_imports_neither_qt_nor_qgis():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    plugins = os.path.join(root, ".build", "plugins")  # holds the link egms_plugin -> the checkout (tests/conftest.py)
    code = ("import sys; import egms_plugin.ui.selection; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('qgis', 'PyQt5', 'PyQt6', 'pyqtgraph')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=plugins, env=dict(os.environ, PYTHONPATH=plugins))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

