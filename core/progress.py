"""Progress and cancellation for long core operations, independent of QGIS.

Core functions take ``progress: Progress | None``.  They call
:meth:`Progress.update` with a fraction in [0, 1] and :meth:`Progress.check`
between blocks, which raises :class:`~.errors.Cancelled` when the user asked to
stop.  :meth:`Progress.span` gives a child whose [0, 1] maps to a sub-range, so
a pipeline can hand each stage its own share of the bar.

:class:`Stages` does that for an operation in named, weighted stages, and times them.
"""

from __future__ import annotations

import logging
import time

from .errors import Cancelled

log = logging.getLogger("egms_plugin")


class Progress:
    """No-op progress reporter; subclass (or duck-type) to connect a GUI."""

    def update(self, fraction: float) -> None:
        """Report overall completion in [0, 1]."""

    def is_cancelled(self) -> bool:
        return False

    def info(self, message: str) -> None:
        log.info(message)

    def warn(self, message: str) -> None:
        log.warning(message)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the user asked to stop."""
        if self.is_cancelled():
            raise Cancelled()

    def span(self, start: float, stop: float) -> Progress:
        """A child reporter whose [0, 1] maps onto [start, stop] of this one."""
        return _Span(self, start, stop)


class _Span(Progress):
    def __init__(self, parent: Progress, start: float, stop: float):
        self._parent, self._start, self._width = parent, start, stop - start

    def update(self, fraction: float) -> None:
        self._parent.update(self._start + self._width * min(max(fraction, 0.0), 1.0))

    def is_cancelled(self) -> bool:
        return self._parent.is_cancelled()

    def info(self, message: str) -> None:
        self._parent.info(message)

    def warn(self, message: str) -> None:
        self._parent.warn(message)


def ensure(progress: Progress | None) -> Progress:
    """``progress`` itself, or a silent reporter when None."""
    return progress if progress is not None else Progress()


class Stages(Progress):
    """An operation in named stages that share the bar of ``parent`` by weight, with wall-clock timings.

    ``weights``: ``(name, weight)`` pairs in order; stage k covers its weight's share of the bar after
    the stages before it.  :meth:`begin` starts a stage — notes "<name> …" (unless ``announce`` is
    False), moves the bar to its start — and returns the stage's own reporter; :meth:`end` adds the
    stage's time to :attr:`timings` (seconds by name) and moves the bar to its end.  The stage reporter
    never goes back, so several passes may share one stage.  As a reporter itself, a ``Stages`` forwards
    to ``parent``; ``notes=False`` drops its notes (info), warnings and cancellation always pass.

    >>> class Bar(Progress):
    ...     def update(self, fraction):
    ...         print(fraction)
    >>> stages = Stages(Bar(), [("read", 3.0), ("fit", 1.0)], announce=False)
    >>> span = stages.begin("fit")
    0.75
    >>> span.update(0.5); span.update(0.2)   # a second pass of the stage: the bar does not go back
    0.875
    0.875
    >>> stages.end()
    1.0
    >>> list(stages.timings)
    ['fit']
    """

    def __init__(self, parent, weights, *, announce=True, notes=True, timings=None):
        self._parent = ensure(parent)
        self._weights = dict(weights)
        self._total = float(sum(w for _, w in weights))
        self._bounds, acc = {}, 0.0
        for name, w in weights:
            self._bounds[name] = (acc / self._total, (acc + w) / self._total)
            acc += w
        self._announce, self._notes = announce, notes
        self._current = None
        self.timings = {} if timings is None else timings

    def update(self, fraction: float) -> None:
        self._parent.update(fraction)

    def is_cancelled(self) -> bool:
        return self._parent.is_cancelled()

    def info(self, message: str) -> None:
        if self._notes:
            self._parent.info(message)

    def warn(self, message: str) -> None:
        self._parent.warn(message)

    def begin(self, name: str) -> Progress:
        """Start stage ``name``; returns its reporter ([0, 1] of the stage, never going back)."""
        self.check()
        if self._announce:
            self.info(f"{name} …")
        self._current = (name, time.perf_counter())
        start, stop = self._bounds[name]
        self.update(start)
        return _Monotonic(self.span(start, stop))

    def end(self) -> None:
        """End the stage begun last: its time added to :attr:`timings`, the bar at its end."""
        name, t0 = self._current
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
        self.update(self._bounds[name][1])
        self.check()

    def share(self, names) -> tuple:
        """``(start, stop)`` of the bar covered by the consecutive stages ``names``."""
        start = self._bounds[names[0]][0]
        return start, start + sum(self._weights[n] for n in names) / self._total

    def within(self, parent, names, *, notes=True) -> Stages:
        """The stages ``names`` alone on the whole bar of ``parent`` (e.g. one part of the work, done part by
        part): not announced, their times added to this one's :attr:`timings`."""
        return Stages(parent, [(n, self._weights[n]) for n in names], announce=False, notes=notes,
                      timings=self.timings)


class _Monotonic(Progress):
    """Forwards progress that never goes back."""

    def __init__(self, parent: Progress):
        self._parent, self._last = parent, 0.0

    def update(self, fraction: float) -> None:
        self._last = max(self._last, fraction)
        self._parent.update(self._last)

    def is_cancelled(self) -> bool:
        return self._parent.is_cancelled()

    def info(self, message: str) -> None:
        self._parent.info(message)

    def warn(self, message: str) -> None:
        self._parent.warn(message)
