"""Exceptions whose message is meant for the user.

Core functions raise :class:`InputError` for bad input (naming the file and the
problem) and :class:`Cancelled` when a progress object reports cancellation.
The Processing layer turns both into ``QgsProcessingException``.
"""


class EgmsError(Exception):
    """Base class: the message is complete and meant for the user."""


class InputError(EgmsError):
    """The input cannot be used; the message names the file and the problem."""


class Cancelled(EgmsError):
    """The user cancelled the operation; nothing was written."""

    def __init__(self, message="Cancelled by the user; no output was written."):
        super().__init__(message)


class DiskFullError(InputError):
    """The disk (or quota) holding an output is full; the message says where, what was needed and what is free."""
