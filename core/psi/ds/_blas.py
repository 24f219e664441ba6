"""One BLAS thread while numba's threads call LAPACK: OpenBLAS would otherwise start its own threads inside
each of numba's (2 × 2 busy threads on 2 cores: the phase linking ran 2.4× slower, measured with
``bench/bench_ds.py``).

:func:`single_threaded_blas` finds the OpenBLAS libraries loaded in the process (Linux: ``/proc/self/maps``),
sets their thread count to 1 and restores it afterwards — what ``threadpoolctl`` does, without the dependency.
Anywhere it cannot (another BLAS, another OS), it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes

_NAMES = (("openblas_get_num_threads", "openblas_set_num_threads"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
          ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"))
_LIBS = None


def _openblas_controls():
    global _LIBS
    if _LIBS is not None:
        return _LIBS
    found, seen = [], set()
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and ".so" in line.split()[-1]}
    except OSError:
        paths = set()
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, put in _NAMES:
            g, s = getattr(lib, get, None), getattr(lib, put, None)
            if g is not None and s is not None:
                key = ctypes.cast(g, ctypes.c_void_p).value
                if key not in seen:
                    seen.add(key)
                    g.restype = ctypes.c_int
                    s.argtypes = [ctypes.c_int]
                    found.append((g, s))
                break
    _LIBS = found
    return found


@contextlib.contextmanager
def single_threaded_blas():
    """Context: every loaded OpenBLAS runs one thread inside it (restored after)."""
    saved = []
    try:
        for get, put in _openblas_controls():
            n = int(get())
            if n > 1:
                put(1)
                saved.append((put, n))
    except Exception:  # noqa: BLE001 -- a foreign library: never fail the computation for a speed setting
        pass
    try:
        yield
    finally:
        for put, n in saved:
            with contextlib.suppress(Exception):
                put(n)
