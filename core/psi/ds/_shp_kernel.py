"""Statistically homogeneous pixels (SHP): a test of the amplitude series of every pair of window pixels.

For every centre pixel of a block, each pixel of the window (``2·half_rows + 1`` × ``2·half_cols + 1``)
is compared with the centre by one of two tests (``method``); it is *similar* when the test accepts.  The SHPs
are the similar pixels 8-connected to the centre through similar pixels (the centre counts as one of them).
Pixels whose amplitude is zero on every date (no data) are never similar and have no SHPs.  Every pair of pixels
is tested once (both tests are symmetric: the forward half of the window, then read back for the backward half).

``"glrt"`` — the generalised likelihood-ratio test of Parizzi & Brcic (2011) for Rayleigh amplitudes (dolphin's
``shp/_glrt.py``), O(1) per pair.  Per pixel ``P = mean over the N dates of A²`` (float64).  For circular-Gaussian
scattering of power σ², ``A²`` is σ²·Exp(1), so ``2N·P/σ² ~ χ²(2N)`` and, under H0 (same σ, independent pixels),
``r = P_p / P_q ~ F(2N, 2N)``.  The GLRT statistic of H0 against two scales is ``λ = 2 ln((1 + r)/2) − ln r``: it
is even in ``ln r`` (``λ(1/r) = λ(r)``) and increasing in ``|ln r|``, so ``λ ≤ c`` ⇔ ``|ln r| ≤ t``; F(2N, 2N)
is the distribution of ``1/r`` as well, so the test of size α is the equal-tailed F test::

    similar  ⇔  |ln P_p − ln P_q| ≤ ln F⁻¹(1 − α/2; 2N, 2N)

— exact for independent dates (:func:`glrt_cutoff`, scipy's F quantile, once per call).  Dates of a DS are
correlated (coherence), which widens the spread of ``P`` between pixels of one population: the rate of rejected
true neighbours is then well above α, as for the KS test (both assume independent dates; measured with 60 dates,
γ∞ = 0.3, τ = 45 d: 47 % of a DS's true neighbours pass either test, 95 % in uncorrelated clutter).

``"ks"`` — the two-sample Kolmogorov–Smirnov test: ``D = max |F_centre − F_neighbour|`` of the empirical
distributions of the two series, similar when ``D < ks_critical_value(n_dates, alpha)``, by a merge walk of the
sorted series stopped as soon as the distance exceeds the critical value.  The critical value is the asymptotic
one with Stephens' small-sample correction for two samples of ``n`` each (effective size ``n_e = n/2``):
``c(α) / (√n_e + 0.12 + 0.11/√n_e)``, ``c(α) = √(−ln(α/2)/2)``.

The false-alarm rates of both (a same-population pixel rejected) are measured near α in
``tests/core/psi/ds/test_shp.py``.

>>> round(ks_critical_value(60, 0.05), 4)
0.2418
>>> round(glrt_cutoff(60, 0.05), 4)
0.3595
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ...errors import InputError
from . import DEFAULT_SHP_TEST, SHP_TEST_NAMES, SHP_TESTS

MIN_DATES = 8
"""Fewest dates for which the SHP test and the phase linking are attempted at all."""


def check_method(method):
    """The SHP test name ``method`` (``"glrt"`` or ``"ks"``), or InputError."""
    if method not in SHP_TESTS:
        raise InputError(f"SHP test {method!r}: expected one of {', '.join(repr(m) for m in SHP_TESTS)}.")
    return method


def glrt_cutoff(n_dates, alpha):
    """Largest ``|ln P_p − ln P_q|`` of two ``n_dates`` power means still called the same population at ``alpha``:
    ``ln F⁻¹(1 − α/2; 2N, 2N)`` (module docstring) — with equal degrees of freedom ``F = x / (1 − x)`` for the
    Beta(N, N) quantile x (scipy.special; scipy.stats' F quantile gives the same, ``tests/core/psi/ds``, but its
    import alone took 0.15 s of every chain run)."""
    from scipy.special import betaincinv

    x = float(betaincinv(n_dates, n_dates, 1.0 - alpha / 2.0))
    return math.log(x / (1.0 - x))


def ks_critical_value(n_dates, alpha):
    """Largest KS distance D (fraction) of two ``n_dates`` samples still called the same population at ``alpha``."""
    ne = n_dates / 2.0
    c = math.sqrt(-0.5 * math.log(alpha / 2.0))
    return c / (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne))


def check_window(n_dates, rows, cols, half_rows, half_cols, alpha, where="the stack", method="ks"):
    """InputError unless ``method`` is an SHP test, the window fits the stack and the test at ``alpha`` can tell
    populations apart (KS: enough dates for a distance below 1; both: at least :data:`MIN_DATES`)."""
    check_method(method)
    if not 0.0 < alpha < 1.0:
        raise InputError(f"SHP significance {alpha}: expected a probability between 0 and 1 (e.g. 0.05).")
    if half_rows < 0 or half_cols < 0 or half_rows + half_cols == 0:
        raise InputError(f"SHP window {2 * half_rows + 1} × {2 * half_cols + 1}: expected odd sizes of at least 3 "
                         "in one direction.")
    wy, wx = 2 * half_rows + 1, 2 * half_cols + 1
    if rows < wy or cols < wx:
        raise InputError(f"{where}: {cols} × {rows} pixels is smaller than the SHP window of {wx} × {wy} "
                         "(columns × rows); choose a smaller window.")
    if method == "ks":
        need = max(MIN_DATES, int(math.floor(2.0 * (-0.5 * math.log(alpha / 2.0)))) + 2)
        too_few = n_dates < need or ks_critical_value(n_dates, alpha) >= 1.0
    else:
        need = MIN_DATES
        too_few = n_dates < need
    if too_few:
        raise InputError(f"{where}: {n_dates} dates are too few for distributed scatterers — the amplitude test "
                         f"({SHP_TEST_NAMES[method]} at significance {alpha:g}) and the coherence matrix need at "
                         f"least {need} dates.")


@numba.njit(nogil=True, parallel=True, cache=True)
def _sorted_kernel(amplitude, out):
    n_dates, rows, cols = amplitude.shape
    for r in numba.prange(rows):
        buf = np.empty(n_dates, dtype=np.float32)
        for c in range(cols):
            for k in range(n_dates):
                buf[k] = amplitude[k, r, c]
            out[r, c, :n_dates] = np.sort(buf)
            out[r, c, n_dates] = np.inf  # sentinel of the merge walk


@numba.njit(nogil=True, parallel=True, cache=True)
def _log_power_kernel(amplitude, out):
    """out[r, c] = ln(mean over dates of A²) (float64 sums); −inf where that mean is not positive (no data, NaN)."""
    n_dates, rows, cols = amplitude.shape
    for r in numba.prange(rows):
        acc = np.zeros(cols)
        for k in range(n_dates):
            for c in range(cols):
                a = np.float64(amplitude[k, r, c])
                acc[c] += a * a
        for c in range(cols):
            p = acc[c] / n_dates
            out[r, c] = math.log(p) if p > 0.0 else -np.inf


@numba.njit(nogil=True, cache=True)
def glrt_similar(lp, lq, cutoff):
    """The GLRT of two pixels' log power means (module docstring): symmetric in (lp, lq) bit for bit."""
    return abs(lp - lq) <= cutoff


@numba.njit(nogil=True, parallel=True, cache=True)
def _forward_glrt_kernel(logp, valid, r_lo, r_hi, offsets, cutoff, fwd):
    """fwd[r − r_lo, c, o] = 1 when pixel (r, c) and its neighbour at the forward offset o pass the GLRT."""
    rows, cols = logp.shape
    for r in numba.prange(r_lo, r_hi):
        for c in range(cols):
            if not valid[r, c]:
                continue
            lp = logp[r, c]
            for o in range(offsets.shape[0]):
                rr = r + offsets[o, 0]
                cc = c + offsets[o, 1]
                if rr < rows and 0 <= cc < cols and valid[rr, cc] and glrt_similar(lp, logp[rr, cc], cutoff):
                    fwd[r - r_lo, c, o] = 1


@numba.njit(nogil=True, cache=True)
def ks_similar(a, b, n, d_max):
    """True when the KS distance × n of two sorted samples of size n (each followed by +inf) is at most d_max.

    Merge walk: step the sample(s) holding the smaller value (both on a tie), track |i − j|; within a run of
    ties the intermediate |i − j| lies between the values before and after the run, so it is exact.  Stops as
    soon as the distance exceeds d_max."""
    i = 0
    j = 0
    while i < n or j < n:
        ai = a[i]
        bj = b[j]
        i += ai <= bj
        j += bj <= ai
        if abs(i - j) > d_max:
            return False
    return True


@numba.njit(nogil=True, parallel=True, cache=True)
def _forward_kernel(srt, valid, r_lo, r_hi, offsets, d_max, fwd):
    """fwd[r − r_lo, c, o] = 1 when pixel (r, c) and its neighbour at the forward offset o are similar."""
    rows, cols, n1 = srt.shape
    n = n1 - 1
    for r in numba.prange(r_lo, r_hi):
        for c in range(cols):
            if not valid[r, c]:
                continue
            for o in range(offsets.shape[0]):
                rr = r + offsets[o, 0]
                cc = c + offsets[o, 1]
                if rr < rows and 0 <= cc < cols and valid[rr, cc] and ks_similar(srt[r, c], srt[rr, cc], n, d_max):
                    fwd[r - r_lo, c, o] = 1


@numba.njit(nogil=True, cache=True)
def _flood(similar, out, queue, half_rows, half_cols):
    """out ← the similar pixels 8-connected to the window centre (flood fill from it); returns their number."""
    wy, wx = similar.shape
    out[half_rows, half_cols] = 1
    queue[0] = half_rows * wx + half_cols
    head = 0
    tail = 1
    while head < tail:
        q = queue[head]
        head += 1
        qy = q // wx
        qx = q - qy * wx
        for ey in range(-1, 2):
            ny = qy + ey
            if ny < 0 or ny >= wy:
                continue
            for ex in range(-1, 2):
                nx = qx + ex
                if nx < 0 or nx >= wx or out[ny, nx] or not similar[ny, nx]:
                    continue
                out[ny, nx] = 1
                queue[tail] = ny * wx + nx
                tail += 1
    return tail


@numba.njit(nogil=True, cache=True)
def connect_window(similar, out, connect, half_rows, half_cols):
    """out ← the SHPs of one window's similar pixels (connected to the centre, or all); returns their number."""
    if connect:
        return _flood(similar, out, np.empty(similar.size, dtype=np.int64), half_rows, half_cols)
    out[:, :] = similar
    return np.int64(similar.sum())


@numba.njit(nogil=True, parallel=True, cache=True)
def _shp_kernel(fwd, valid, r_lo, row0, row1, half_rows, half_cols, offsets, connect, masks, counts):
    rows, cols = valid.shape
    wy = 2 * half_rows + 1
    wx = 2 * half_cols + 1
    for r in numba.prange(row0, row1):
        similar = np.zeros((wy, wx), dtype=np.uint8)
        queue = np.empty(wy * wx, dtype=np.int64)
        for c in range(cols):
            out = masks[r - row0, c]
            out[:, :] = 0
            if not valid[r, c]:
                counts[r - row0, c] = 0
                continue
            similar[:, :] = 0
            similar[half_rows, half_cols] = 1
            for o in range(offsets.shape[0]):
                dy = offsets[o, 0]
                dx = offsets[o, 1]
                similar[half_rows + dy, half_cols + dx] = fwd[r - r_lo, c, o]
                qr = r - dy
                qc = c - dx
                if qr >= r_lo and 0 <= qc < cols:  # the neighbour behind: its forward test towards (r, c)
                    similar[half_rows - dy, half_cols - dx] = fwd[qr - r_lo, qc, o]
            if not connect:
                out[:, :] = similar
                counts[r - row0, c] = similar.sum()
                continue
            counts[r - row0, c] = _flood(similar, out, queue, half_rows, half_cols)


BITS_MAX_COLS = 64
"""Widest window whose rows fit one uint64 bitmask: :func:`_shp_bits_kernel`; wider ones use :func:`_shp_kernel`."""


@numba.njit(nogil=True, cache=True)
def _flood_bits(sim, grown):
    """grown ← the bits of the row bitmasks ``sim`` (uint64, bit x = column x) 8-connected to the bits already
    set in ``grown`` (the centre): alternate downward and upward sweeps, each row filled along its runs, until
    nothing changes."""
    wy = sim.size
    one = np.uint64(1)
    changed = True
    while changed:
        changed = False
        for sweep in range(2):
            for i in range(wy):
                y = i if sweep == 0 else wy - 1 - i
                g = grown[y]
                nb = g
                if y > 0:
                    nb |= grown[y - 1]
                if y < wy - 1:
                    nb |= grown[y + 1]
                a = sim[y]
                x = (nb | (nb << one) | (nb >> one)) & a
                while True:  # along the row's runs of similar pixels
                    nxt = (x | (x << one) | (x >> one)) & a
                    if nxt == x:
                        break
                    x = nxt
                if x != g:
                    grown[y] = x
                    changed = True


@numba.njit(nogil=True, parallel=True, cache=True)
def _shp_bits_kernel(fwd, valid, r_lo, row0, row1, half_rows, half_cols, offsets, connect, masks, counts):
    """:func:`_shp_kernel` with each window row a uint64 bitmask (windows up to :data:`BITS_MAX_COLS` wide):
    the same masks and counts, the connectivity several times faster."""
    rows, cols = valid.shape
    wy = 2 * half_rows + 1
    wx = 2 * half_cols + 1
    one = np.uint64(1)
    centre = one << np.uint64(half_cols)
    for r in numba.prange(row0, row1):
        sim = np.zeros(wy, dtype=np.uint64)
        grown = np.zeros(wy, dtype=np.uint64)
        for c in range(cols):
            out = masks[r - row0, c]
            if not valid[r, c]:
                out[:, :] = 0
                counts[r - row0, c] = 0
                continue
            sim[:] = 0
            sim[half_rows] = centre
            for o in range(offsets.shape[0]):
                dy = offsets[o, 0]
                dx = offsets[o, 1]
                if fwd[r - r_lo, c, o]:
                    sim[half_rows + dy] |= one << np.uint64(half_cols + dx)
                qr = r - dy
                qc = c - dx
                if qr >= r_lo and 0 <= qc < cols and fwd[qr - r_lo, qc, o]:  # the neighbour behind, towards (r, c)
                    sim[half_rows - dy] |= one << np.uint64(half_cols - dx)
            if connect:
                grown[:] = 0
                grown[half_rows] = centre
                _flood_bits(sim, grown)
            else:
                grown[:] = sim
            n = 0
            for y in range(wy):
                bits = grown[y]
                for x in range(wx):
                    b = np.uint8((bits >> np.uint64(x)) & one)
                    out[y, x] = b
                    n += b
            counts[r - row0, c] = n


def forward_offsets(half_rows, half_cols):
    """The window offsets (dy, dx) with dy > 0, or dy = 0 and dx > 0: every pair of pixels is tested once."""
    return np.array([(dy, dx) for dy in range(half_rows + 1) for dx in range(-half_cols, half_cols + 1)
                     if dy > 0 or dx > 0], dtype=np.int64).reshape(-1, 2)


def sorted_amplitudes(amplitude):
    """Per-pixel sorted amplitude series (rows, cols, n_dates + 1) float32 of an amplitude block (n_dates, rows,
    cols), each followed by +inf."""
    amplitude = np.ascontiguousarray(amplitude, dtype=np.float32)
    out = np.empty(amplitude.shape[1:] + (amplitude.shape[0] + 1,), dtype=np.float32)
    if amplitude.size:
        _sorted_kernel(amplitude, out)
    return out


def log_powers(amplitude):
    """``ln P`` (rows, cols) float64 of an amplitude block (n_dates, rows, cols), ``P`` = mean over dates of A²
    accumulated in float64; −inf where P is not positive (no data)."""
    amplitude = np.ascontiguousarray(amplitude, dtype=np.float32)
    out = np.empty(amplitude.shape[1:], dtype=np.float64)
    if amplitude.size:
        _log_power_kernel(amplitude, out)
    return out


def check_block(amplitude):
    amplitude = np.asarray(amplitude)
    if amplitude.ndim != 3:
        raise ValueError(f"expected an (n_dates, rows, cols) amplitude block, got shape {amplitude.shape}")
    return amplitude


def find_shps(amplitude, half_rows, half_cols, alpha=0.05, rows=None, connect=True, method=DEFAULT_SHP_TEST,
              scratch=None):
    """SHP masks of the centre pixels of a block.

    Parameters
    ----------
    amplitude : float array (n_dates, block_rows, cols) — amplitudes |s| of a block of rows (with its halo).
    half_rows, half_cols : window half sizes (the window is ``2·half + 1`` on each side).
    alpha : significance of the test.
    rows : (row0, row1) or None — the block rows that are centres (the others are the halo); None: all.
    connect : keep only the similar pixels connected to the centre (False: every similar pixel of the window).
    method : ``"glrt"`` (power means, O(1) per pair) or ``"ks"`` (Kolmogorov–Smirnov) — module docstring.
    scratch : a :class:`~egms_plugin.core.scratch.Scratch` to take the masks and the work arrays from (block after
        block; the masks are then valid until its next use).

    Returns
    -------
    masks : uint8 (row1 − row0, cols, wy, wx) — 1 at the SHPs (window centred on the pixel);
    counts : int32 (row1 − row0, cols) — the number of SHPs, centre included (0 where the pixel has no data).
    """
    amplitude = check_block(amplitude)
    n_dates, block_rows, cols = amplitude.shape
    row0, row1 = (0, block_rows) if rows is None else (int(rows[0]), int(rows[1]))
    if not 0 <= row0 <= row1 <= block_rows:
        raise ValueError(f"centre rows {row0}:{row1} outside the block of {block_rows} rows")
    check_window(n_dates, block_rows if rows is None else max(block_rows, 2 * half_rows + 1), cols,
                 half_rows, half_cols, alpha, where="the amplitude block", method=method)
    wy, wx = 2 * half_rows + 1, 2 * half_cols + 1
    def array(name, shape, dtype):
        return np.empty(shape, dtype) if scratch is None else scratch.get(name, shape, dtype)

    masks = array("shp-masks", (row1 - row0, cols, wy, wx), np.uint8)  # every element written by the kernels
    counts = np.zeros((row1 - row0, cols), dtype=np.int32)
    if not masks.size:
        return masks, counts
    r_lo = max(0, row0 - half_rows)  # rows whose forward tests reach the centre rows
    part = amplitude[:, r_lo:min(block_rows, row1 + half_rows)]
    offsets = forward_offsets(half_rows, half_cols)
    fwd = array("shp-forward", (row1 - r_lo, cols, len(offsets)), np.uint8)
    fwd.fill(0)
    if method == "glrt":
        logp = log_powers(part)
        valid = logp > -np.inf
        _forward_glrt_kernel(logp, valid, 0, row1 - r_lo, offsets, glrt_cutoff(n_dates, alpha), fwd)
    else:
        srt = sorted_amplitudes(part)
        valid = srt[:, :, n_dates - 1] > 0
        _forward_kernel(srt, valid, 0, row1 - r_lo, offsets, ks_d_max(n_dates, alpha), fwd)
    kernel = _shp_bits_kernel if wx <= BITS_MAX_COLS else _shp_kernel
    kernel(fwd, valid, 0, row0 - r_lo, row1 - r_lo, half_rows, half_cols, offsets, connect, masks, counts)
    return masks, counts


def ks_d_max(n_dates, alpha):
    """Largest KS distance × n_dates (an integer) still called similar."""
    return int(math.floor(ks_critical_value(n_dates, alpha) * n_dates - 1e-9))
