"""What the time-series dock shows: the selected series, their colours, the reference of each layer.

Plain Python (no Qt, no QGIS): the dock turns clicks and areas into
:class:`~..layers.series.Series` and hands them to a :class:`Selection`; the
plot, the summary, the CSV export and the map highlights are all drawn from it.

>>> import datetime as dt
>>> from egms_plugin.layers.series import Series
>>> def point(pid, layer="asc"):
...     return Series(layer_id=layer, layer_name=layer, point_id=pid, dates=[dt.date(2020, 1, 1)], values=[1.0])
>>> selection = Selection()
>>> selection.show([point("a")])
>>> selection.show([point("b")], add=True)  # Shift+click: compare with the first
>>> [s.point_id for s in selection.series], [selection.colour_of(s) for s in selection.series]
(['a', 'b'], ['#1b9e77', '#d95f02'])
>>> selection.set_references([point("r")])
>>> selection.reference_label()
'asc · r'
>>> selection.forget_layers({"asc"}), selection.series, selection.references
(True, [], {})
"""

from __future__ import annotations

import html

from ..layers.series import prepare, summary_text

PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#17becf", "#666666",
           "#8c564b")
"""Series colours, in order (shared by the plot and the map highlights): ColorBrewer Dark2 first — no red or
blue, so a series never reads as the subsidence/uplift colours of the velocity map."""

REFERENCE_COLOUR = "#000000"
"""Colour of the references on the map."""


class Selection:
    """The series the dock shows, in plotting order, each with its colour, and at most one reference per layer.

    * :attr:`series` — list of :class:`~..layers.series.Series`, in plotting order;
    * :attr:`colours` — ``Series.key()`` → ``"#rrggbb"`` (a series keeps its colour while it is shown);
    * :attr:`references` — layer id → the Series subtracted from every series of that layer;
    * :attr:`picking_reference` — the next point or area selected becomes a reference (the Reference button);
    * :attr:`plotted` — the :class:`~..layers.series.PlottedSeries` of the last :meth:`prepare`.
    """

    def __init__(self, palette=PALETTE):
        self.palette = tuple(palette)
        self.series = []
        self.colours = {}
        self.references = {}
        self.picking_reference = False
        self.plotted = []

    def __len__(self):
        return len(self.series)

    # ------------------------------------------------------------------ series
    def show(self, found, add=False):
        """Show the series ``found`` instead of the current ones, or next to them with ``add`` (Shift).

        A series already shown keeps its place and colour; new ones get the first palette colour no shown
        series uses.  An empty ``found`` (a click beside every point) changes nothing.
        """
        if not found:
            return
        if not add:
            self.series, self.colours = [], {}
        for s in found:
            if s.key() not in self.colours:
                self.series.append(s)
                self.colours[s.key()] = self._free_colour()

    def _free_colour(self):
        used = set(self.colours.values())
        free = [c for c in self.palette if c not in used]
        return free[0] if free else self.palette[len(self.colours) % len(self.palette)]

    def colour_of(self, series):
        return self.colours[series.key()]

    def clear(self):
        """Forget the shown series (the references stay)."""
        self.series, self.colours, self.plotted = [], {}, []

    def clear_all(self):
        """Forget everything: series, references, a reference being picked (a new project)."""
        self.clear()
        self.references = {}
        self.picking_reference = False

    def forget_layers(self, layer_ids):
        """Drop the series and references of the layers ``layer_ids``; True when a shown one went."""
        gone = set(layer_ids)
        if not any(s.layer_id in gone for s in self.series) and not gone & set(self.references):
            return False
        self.series = [s for s in self.series if s.layer_id not in gone]
        self.colours = {s.key(): self.colours[s.key()] for s in self.series}
        self.references = {k: v for k, v in self.references.items() if k not in gone}
        return True

    def layer_ids(self):
        return {s.layer_id for s in self.series}

    # ------------------------------------------------------------------ references
    def set_references(self, found):
        """Each series of ``found`` becomes the reference of its layer (replacing that layer's previous one)."""
        for s in found:
            self.references[s.layer_id] = s

    def reset_references(self):
        self.references = {}

    def reference_of(self, series):
        """The reference subtracted from ``series`` (that of its layer), or None."""
        return self.references.get(series.layer_id)

    def reference_label(self):
        """``"layer · point, …"`` of the references; "" without any."""
        return ", ".join(r.label for r in self.references.values())

    # ------------------------------------------------------------------ what is drawn
    def prepare(self, detrend=False, model=None, wavelength_m=None):
        """:attr:`plotted`: every series minus its layer's reference, detrended, with its model; returned."""
        self.plotted = [prepare(s, self.colour_of(s), reference=self.reference_of(s), detrend=detrend, model=model,
                                wavelength_m=wavelength_m)
                        for s in self.series]
        return self.plotted

    def caption(self, detrend=False):
        """Text under the date axis: "relative to <references>; detrended", or None."""
        parts = []
        if self.references:
            parts.append("relative to " + self.reference_label())
        if detrend:
            parts.append("detrended")
        return "; ".join(parts) or None

    def summary_html(self):
        """One line per plotted series (rich text): a dot in its colour and its statistics (:func:`summary_text`);
        the lines name the point only when every series comes from one layer."""
        one_layer = len(self.layer_ids()) == 1
        return "<br>".join(
            f"<span style='color:{p.colour}'>●</span> "
            + html.escape(summary_text(p, label=p.series.point_id if one_layer else p.label))
            for p in self.plotted)

    def marks(self):
        """``(series, colour, is_reference)`` of everything to mark on the map: the shown series in their plot
        colours, then the references in :data:`REFERENCE_COLOUR`."""
        return ([(s, self.colour_of(s), False) for s in self.series]
                + [(r, REFERENCE_COLOUR, True) for r in self.references.values()])

    def status_text(self):
        """"n series plotted." (with a hint for the first one); "" when none is."""
        n = len(self.series)
        if not n:
            return ""
        return f"{n} series plotted" + (" (Shift+click to add more)." if n == 1 else ".")
