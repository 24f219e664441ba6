"""Block buffers reused from one row block to the next.

A fresh large array is mapped anew by the allocator at every block and page-faulted in on first write: measured
here 65–80 ms per 64 MB (the DS pass of a 1000 × 1000 × 60 stack, 8 blocks, lost about 0.35 s to it).
:class:`Scratch` keeps one flat buffer per name, grown when a larger block needs it, and hands out C-contiguous
views of the shape asked for (the last, shorter block of a stack reuses the buffer of the others).  The buffers
live as long as the :class:`Scratch` — one per pass, never module-global, so nothing stays allocated in QGIS.
"""

from __future__ import annotations

import numpy as np


class Scratch:
    """Named reusable buffers: ``get(name, shape, dtype)`` → a C-contiguous array of that shape (contents
    undefined: whatever the previous block left)."""

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape, dtype):
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in shape)
        size = int(np.prod(shape, dtype=np.int64))
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.size < size:
            buf = self._buffers[name] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)
