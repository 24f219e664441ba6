"""Progress and cancellation for long core operations, independent of QGIS.

Core functions take ``progress: Progress | None``.  They call
:meth:`Progress.update` with a fraction in [0, 1] and :meth:`Progress.check`
between blocks, which raises :class:`~.errors.Cancelled` when the user asked to
stop.  :meth:`Progress.span` gives a child whose [0, 1] maps to a sub-range, so
a pipeline can hand each stage its own share of the bar.
"""

from __future__ import annotations

import logging

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
