"""Multilooked interferograms and coherence of a pair network, in one fused pass per block.

For a pair ``(i, k)`` (i earlier than k) and a window of ``row_looks × col_looks``
pixels, with ``S = Σ s_i · conj(s_k)`` over the window:

* phase  ``φ_ik = arg S`` (rad, wrapped to (−π, π]); by DESIGN §7
  ``d_k − d_i = −λ/(4π) · φ_ik`` (LOS, positive towards the satellite);
* coherence ``γ_ik = |S| / sqrt(Σ|s_i|² · Σ|s_k|²)`` in [0, 1].

A window where either date is all zero (no data, or a masked border) has
coherence 0 and phase 0; NaN or infinite SLC values count as 0 (no data), so
they never spread into a NaN output.  Rows and columns beyond the last whole window are
dropped: the output has ``rows // row_looks`` rows and ``cols // col_looks``
columns, and output pixel (r, c) covers input rows
``[r·row_looks, (r+1)·row_looks)`` and columns ``[c·col_looks, (c+1)·col_looks)``.

:func:`multilook_interferograms` does one block held in memory, in float32
(float32 precision: each sum is within the float32 dot-product bound
γ_2n·Σ|s_i||s_k| of the exact sum, n = looks; windows whose power would overflow
or underflow float32 are rescaled first); :func:`form_interferograms` runs a
whole stack folder block by block and writes one GeoTIFF per pair plus
``pairs.csv``.

Example
-------
>>> import numpy as np
>>> slc = np.ones((3, 4, 4), np.complex64) * np.exp(1j * np.array([0.0, 0.5, 1.0]))[:, None, None]
>>> phase, coherence = multilook_interferograms(slc, [(0, 1), (0, 2)], 2, 2)
>>> phase.shape, round(float(phase[1, 0, 0]), 6), float(coherence[0, 0, 0])
((2, 2, 2), -1.0, 1.0)
"""

from __future__ import annotations

import csv
import math
import os
import re
import warnings

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ..errors import InputError
from ..io.atomic import folder_on_success
from ..progress import ensure
from .pairs import build_network, parse_reference_date

DEFAULT_BLOCK_MB = 256.0
"""Default memory budget of one block (SLCs of all dates + per-pair outputs)."""
RADAR_LOOKS = (2, 8)
"""Default (row, column) looks of a stack in radar geometry: Sentinel-1 IW pixels are about 14 m
(azimuth) × 3.7 m (ground range), so 2 × 8 looks give about 28 m × 30 m on the ground."""
TARGET_LOOK_SIZE_M = 30.0
"""Default looks of a geocoded stack: the number of pixels nearest this size (m) along each axis."""
MAX_OPEN_FILES = 256
"""Pair files kept open between blocks; larger networks reopen each file per block."""
_METRES_PER_DEGREE = 111_320.0
_OUTPUT_RE = re.compile(r"^(\d{8}_\d{8}\.tif(\.aux\.xml)?|pairs\.csv)$")


# ------------------------------------------------------------------ the kernel
def multilooked_shape(shape, row_looks, col_looks):
    """Output ``(rows, cols)`` of an input ``(rows, cols)``: the remainder rows/columns are dropped."""
    return shape[0] // row_looks, shape[1] // col_looks


def _check_looks(row_looks, col_looks):
    for name, value in (("row looks", row_looks), ("column looks", col_looks)):
        if int(value) != value or value < 1:
            raise InputError(f"{name} = {value}: looks must be whole numbers ≥ 1.")
    return int(row_looks), int(col_looks)


def multilook_interferograms(slc, pairs, row_looks=1, col_looks=1, phase=None, coherence=None):
    """Multilooked phase and coherence of every pair of an SLC block.

    Parameters
    ----------
    slc : complex array (n_dates, rows, cols)
        SLC values of all dates (complex64; other complex types are converted).
        Not modified.
    pairs : int array-like (n_pairs, 2)
        Date indices ``(i, k)``; the interferogram is ``s_i · conj(s_k)``.
    row_looks, col_looks : int
        Window size; rows/cols beyond the last whole window are ignored.
    phase, coherence : float32 arrays (n_pairs, rows // row_looks, cols // col_looks), optional
        Output arrays to fill (allocated when None).

    Returns
    -------
    phase : float32, rad in (−π, π]; 0 where a window is all zero in either date.
    coherence : float32 in [0, 1]; 0 where a window is all zero in either date.

    Computed in float32: with n = row_looks · col_looks, T = Σ|s_i||s_k| and u = 2^-24,
    the coherence is within √2·γ_2n·T/√(Σ|s_i|²Σ|s_k|²) + (γ_2n + 10u)·γ of the exact value
    (γ_2n = 2n·u/(1 − 2n·u)) and the phase within √2·γ_2n·T/|S| + 2 ulp(π) rad.
    A pair (i, i) has phase 0 exactly and (k, i) the opposite phase of (i, k).
    """
    slc = np.asarray(slc)
    if slc.ndim != 3 or not np.iscomplexobj(slc):
        raise InputError(f"SLC block: expected a complex (dates, rows, cols) array, got {slc.dtype} {slc.shape}.")
    slc = np.ascontiguousarray(slc, dtype=np.complex64)
    row_looks, col_looks = _check_looks(row_looks, col_looks)
    pairs = np.ascontiguousarray(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
    n_dates = slc.shape[0]
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n_dates):
        raise InputError(f"pairs: date indices must be in 0…{n_dates - 1}.")
    out_rows, out_cols = multilooked_shape(slc.shape[1:], row_looks, col_looks)
    if out_rows == 0 or out_cols == 0:
        raise InputError(
            f"looks {row_looks} × {col_looks} (rows × columns) exceed the block of "
            f"{slc.shape[1]} rows × {slc.shape[2]} columns."
        )
    shape = (len(pairs), out_rows, out_cols)
    for name, arr in (("phase", phase), ("coherence", coherence)):
        if arr is not None and (arr.shape != shape or arr.dtype != np.float32 or not arr.flags.c_contiguous):
            raise InputError(f"{name}: output array must be C-contiguous float32 of shape {shape}.")
    phase = np.empty(shape, dtype=np.float32) if phase is None else phase
    coherence = np.empty(shape, dtype=np.float32) if coherence is None else coherence
    if len(pairs):
        padded_looks = -(-row_looks * col_looks // _Q) * _Q  # plane rows per date: whole passes of _Q rows
        date_bytes = n_dates * padded_looks * 2 * _W * 4
        subs = int(max(1, min(-(-out_cols // _W), _TASK_BYTES // date_bytes)))
        workers = max(1, min(numba.get_num_threads(), out_rows * -(-out_cols // (subs * _W))))
        planes = np.empty((workers, subs * n_dates * padded_looks * 2 * _W), np.float32)
        inv_amplitude = np.empty((workers, subs * n_dates * _W), np.float32)
        sums = np.empty((workers, 6 * _W), np.float32)
        # pairs sorted by first date, in groups of 3 with the same first date (its planes are loaded once for
        # the three) and single pairs; slot = output index of each sorted pair, groups = where each group starts
        slot = np.lexsort((pairs[:, 1], pairs[:, 0]))
        ref, sec = pairs[slot, 0].copy(), pairs[slot, 1].copy()
        runs = np.flatnonzero(np.r_[True, ref[1:] != ref[:-1]]).tolist() + [len(slot)]
        starts = []
        for a, b in zip(runs[:-1], runs[1:]):
            threes = a + (b - a) // 3 * 3
            starts += list(range(a, threes, 3)) + list(range(threes, b))
        groups = np.array(starts + [len(slot)], np.int64)
        gathered = np.empty((workers, col_looks * _GATHER_ROW), np.int64)
        _multilook_kernel(slc.view(np.int64), ref, sec, slot, groups, row_looks, col_looks, subs, planes,
                          inv_amplitude, sums, gathered, gathered.view(np.float32), np.zeros(1, np.int64), phase,
                          coherence)
    return phase, coherence


# The kernel.  A task is one output row × a block of `subs` sub-blocks of _W output columns, taken by the
# next free thread (an atomic counter, so a thread slowed by other processes does not hold up the rest).
# It reads the row_looks input rows of every date once, in long runs (the next row is prefetched while one
# is split), into float32 planes: for each sub-block, date and look pixel q = j·col_looks + l (row j,
# column l of the window), a row of _W real parts and a row of _W imaginary parts, so that output column
# o is lane o of every plane row.  The complex values are first gathered per look column as 64-bit words,
# then deinterleaved (non-finite values → 0) while the window power P = Σ|s|² is added up; P is kept as
# P^-½ (0 for an empty window; a window outside [_POWER_MIN, _POWER_MAX] is first recomputed in float64
# and scaled by a power of 2).  Then per pair S = Σ_q a_q·conj(b_q), _Q plane rows per pass with the sums
# in registers (plane rows beyond the looks are 0, so every pass is whole), three pairs with the same
# first date in one pass (a is loaded once for them), then coherence |S|·P_a^-½·P_b^-½ and phase
# atan2(Im S, Re S) in one loop.  The last sub-block of a row ends at the last column (overlapping the
# one before, whose outputs it writes again, identically), so every loop runs over all _W lanes.
# All in float32, 8 lanes per AVX2 instruction.  The products of S are not fused (no FMA), so a self pair
# gives Im S = 0 exactly and (k, i) gives exactly −phase of (i, k).  Each loop over lanes is alone in its
# helper, with unsigned indices and a runtime trip count: that is what LLVM (numba 0.56) vectorises;
# nested loops, signed computed indices (wraparound selects) or literal trip counts (full unrolling) are
# not.  _W is a literal, so plane rows are a constant distance apart and the runtime alias checks stay few.
_JIT = dict(nogil=True, cache=True, fastmath={"contract"}, error_model="numpy")
_INLINE = dict(_JIT, inline="always")
_JIT_NO_FMA = dict(nogil=True, cache=True, fastmath=False, error_model="numpy")
_U = numba.uint64
_W = 64
"""Output columns of a sub-block: the lanes of every plane row (a multiple of the SIMD width)."""
_Q = 4
"""Plane rows (look pixels) summed per pass over a sub-block."""
_GATHER_ROW = _W + 8
"""Row length (complex values) of the gather buffer: not a multiple of 4 KB / 8 B apart, so its rows do not
alias the input row in the store-to-load dependence check."""
_TASK_BYTES = 1024 * 1024
"""Target size of one task's planes (float32 re + im of every date): input rows are read in runs of up to
this size / (8 · n_dates · row_looks) bytes; the pair loop works on one sub-block (n_dates · looks · 512 B)."""
# atan(u) ≈ u·P(u²) on |u| ≤ tan(π/8): least-squares fit on Chebyshev nodes, max error 4e-12 rad.
_ATAN = (0.9999999998481952, -0.3333332999109866, 0.19999786265349265, -0.142796482534524,
         0.11021713290527306, -0.08368926998936421, 0.0455126675818539)
_TAN_PI_8 = float(np.tan(np.pi / 8))
_PI32 = np.float32(np.pi)
_F0, _F1, _F2, _F3, _F4, _F5, _F6 = (np.float32(a) for a in _ATAN)
_F_TAN_PI_8, _F_PI_4, _F_PI_2 = np.float32(_TAN_PI_8), np.float32(np.pi / 4), np.float32(np.pi / 2)
_ZERO, _ONE = np.float32(0.0), np.float32(1.0)
_POWER_MIN, _POWER_MAX = np.float32(2.0**-40), np.float32(2.0**62)
"""A window whose power Σ|s|² is outside this range is rescaled (or found empty) in float64, so float32
products, sums and |S|² stay below 2^124 and far above the float32 underflow (2^-126).  Windows of
amplitudes 1e-6 … 1e8 (up to 256 looks) are never rescaled."""


@intrinsic
def _next_task(typingctx, counter):
    """``counter[0] += 1`` atomically; returns the value before (int64)."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.atomic_rmw("add", array.data, ir.Constant(ir.IntType(64), 1), "monotonic")

    return types.int64(counter), codegen


@intrinsic
def _prefetch(typingctx, array, index):
    """Ask the CPU to start loading the cache line of ``array[index]`` (1-D contiguous; no effect on results)."""
    if not (isinstance(array, types.Array) and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        byte_pointer = ir.IntType(8).as_pointer()
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer] + [ir.IntType(32)] * 3), "llvm.prefetch.p0i8")
        i32 = ir.IntType(32)  # read, keep in all cache levels, data cache
        builder.call(fn, [builder.bitcast(builder.gep(data, [args[1]]), byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(array, index), codegen


@numba.njit(**_JIT)
def _prefetch_run(row, c0, count):
    """Prefetch ``row[c0 : c0 + count]`` (64-bit values), one request per 64-byte line."""
    for c in range(c0, c0 + count, 8):
        _prefetch(row, c)


@numba.njit(**_INLINE)
def _gather_looks(row, c0, col_looks, m, gathered):
    for o in range(_U(m)):
        for l in range(_U(col_looks)):
            gathered[l * _U(_GATHER_ROW) + o] = row[_U(c0) + o * _U(col_looks) + l]


@numba.njit(**_JIT)
def _gather(row, c0, col_looks, m, gathered):
    """``gathered[l·_W + o] = row[c0 + o·col_looks + l]``: complex values moved as 64-bit integers (bit copies)."""
    # a literal col_looks lets LLVM unroll the look loop: about 3× faster for these looks
    if col_looks == 1:
        _gather_looks(row, c0, 1, m, gathered)
    elif col_looks == 2:
        _gather_looks(row, c0, 2, m, gathered)
    elif col_looks == 3:
        _gather_looks(row, c0, 3, m, gathered)
    elif col_looks == 4:
        _gather_looks(row, c0, 4, m, gathered)
    elif col_looks == 5:
        _gather_looks(row, c0, 5, m, gathered)
    elif col_looks == 8:
        _gather_looks(row, c0, 8, m, gathered)
    else:
        _gather_looks(row, c0, col_looks, m, gathered)


@numba.njit(**_JIT)
def _deinterleave(values, src, m, planes, at, power, power_at):
    """Real and imaginary parts of ``m`` complex values (float32 pairs) into two plane rows, non-finite → 0;
    adds their |s|² to ``power``."""
    for o in range(_U(m)):
        x, y = values[_U(src) + _U(2) * o], values[_U(src) + _U(2) * o + _U(1)]
        finite = (x - x == 0.0) & (y - y == 0.0)  # False for NaN and ±inf
        x = x if finite else _ZERO
        y = y if finite else _ZERO
        planes[_U(at) + o] = x
        planes[_U(at) + _U(_W) + o] = y
        power[_U(power_at) + o] += x * x + y * y


@numba.njit(**_JIT)
def _split(row, c0, col_looks, q0, m, planes, base, gathered, gathered_f32, power, power_at):
    """Windows of one SLC row (complex64 as int64) into the plane rows q0 … q0 + col_looks − 1 at ``base``;
    their |s|² added to ``power[power_at:]``."""
    _gather(row, c0, col_looks, m, gathered)
    for l in range(col_looks):
        _deinterleave(gathered_f32, 2 * l * _GATHER_ROW, m, planes, base + 2 * _W * (q0 + l), power, power_at)


@numba.njit(**_JIT)
def _count_outside(power, at, m):
    """How many window powers are outside [_POWER_MIN, _POWER_MAX] (0 included: it may have underflowed)."""
    outside = 0
    for o in range(_U(m)):
        value = power[at + o]
        outside += np.int32((value > _POWER_MAX) | (value < _POWER_MIN))
    return outside


@numba.njit(**_JIT)
def _to_inverse_amplitude(power, at, m):
    for o in range(_U(m)):
        value = power[at + o]
        power[at + o] = _ONE / np.sqrt(value) if value > _ZERO else _ZERO


@numba.njit(**_JIT)
def _rescale_windows(planes, base, n_looks, m, power, at):
    """Recompute, in float64, the power of each window outside the safe range; scale a window that is not
    all zero by a power of 2 (exact; phase and coherence do not change when one date's window is scaled)
    so that its float32 products and sums neither overflow nor underflow."""
    for o in range(m):
        if _POWER_MIN <= power[at + o] <= _POWER_MAX:
            continue
        total = 0.0
        for q in range(n_looks):
            x, y = np.float64(planes[base + 2 * _W * q + o]), np.float64(planes[base + 2 * _W * q + _W + o])
            total += x * x + y * y
        if total == 0.0:  # all zero (no data): coherence 0, phase 0
            power[at + o] = _ZERO
            continue
        scale = 2.0 ** -(math.frexp(total)[1] // 2)  # total · scale² in [1/4, 2)
        total = 0.0
        for q in range(n_looks):
            for part in range(2):
                value = np.float32(np.float64(planes[base + 2 * _W * q + part * _W + o]) * scale)
                planes[base + 2 * _W * q + part * _W + o] = value
                total += np.float64(value) * np.float64(value)
        power[at + o] = np.float32(total)


@numba.njit(**_JIT)
def _inverse_amplitude(planes, base, n_looks, m, power, at):
    """``power[at + o] → (Σ_q |s_q|²)^-½`` of the date planes at ``base`` (0 for an all-zero window), rescaling
    the windows outside the safe range first."""
    if _count_outside(power, _U(at), m):
        _rescale_windows(planes, base, n_looks, m, power, at)
    _to_inverse_amplitude(power, _U(at), m)


@numba.njit(**_JIT)
def _zero(values, at, m):
    for o in range(_U(m)):
        values[_U(at) + o] = _ZERO


@numba.njit(**_JIT_NO_FMA)
def _add_cross(planes, a, b, m, sums):
    """``S += Σ_t a_t · conj(b_t)`` over the _Q plane rows at ``a`` and ``b``; ``S = sums[o] + j·sums[_W + o]``."""
    for o in range(_U(m)):
        sum_re, sum_im = sums[o], sums[_U(_W) + o]
        for t in range(_U(_Q)):  # literal: unrolled, the sums stay in registers
            s = _U(2 * _W) * t
            ar, ai = planes[a + s + o], planes[a + s + _U(_W) + o]
            br, bi = planes[b + s + o], planes[b + s + _U(_W) + o]
            sum_re += ar * br + ai * bi
            sum_im += ai * br - ar * bi
        sums[o], sums[_U(_W) + o] = sum_re, sum_im


@numba.njit(**_JIT_NO_FMA)
def _add_cross3(planes, a, b1, b2, b3, m, sums):
    """The same for three pairs (a, b1), (a, b2), (a, b3), each row of ``a`` loaded once; their sums at
    ``sums[0:2·_W]``, ``sums[2·_W:4·_W]`` and ``sums[4·_W:6·_W]``."""
    for o in range(_U(m)):
        re1, im1 = sums[o], sums[_U(_W) + o]
        re2, im2 = sums[_U(2 * _W) + o], sums[_U(3 * _W) + o]
        re3, im3 = sums[_U(4 * _W) + o], sums[_U(5 * _W) + o]
        for t in range(_U(_Q)):
            s = _U(2 * _W) * t
            ar, ai = planes[a + s + o], planes[a + s + _U(_W) + o]
            br, bi = planes[b1 + s + o], planes[b1 + s + _U(_W) + o]
            re1 += ar * br + ai * bi
            im1 += ai * br - ar * bi
            br, bi = planes[b2 + s + o], planes[b2 + s + _U(_W) + o]
            re2 += ar * br + ai * bi
            im2 += ai * br - ar * bi
            br, bi = planes[b3 + s + o], planes[b3 + s + _U(_W) + o]
            re3 += ar * br + ai * bi
            im3 += ai * br - ar * bi
        sums[o], sums[_U(_W) + o] = re1, im1
        sums[_U(2 * _W) + o], sums[_U(3 * _W) + o] = re2, im2
        sums[_U(4 * _W) + o], sums[_U(5 * _W) + o] = re3, im3


@numba.njit(**_JIT)
def _cross_sums(planes, a, b, padded_looks, m, sums):
    """``sums[o] + j·sums[_W + o] = Σ_q a_q · conj(b_q)`` of the date planes at ``a`` and ``b``."""
    for o in range(_U(2 * _W)):
        sums[o] = _ZERO
    for q in range(0, padded_looks, _Q):
        _add_cross(planes, _U(a) + _U(2 * _W * q), _U(b) + _U(2 * _W * q), m, sums)


@numba.njit(**_JIT)
def _cross_sums3(planes, a, b1, b2, b3, padded_looks, m, sums):
    """:func:`_cross_sums` of three pairs with the same first date."""
    for o in range(_U(6 * _W)):
        sums[o] = _ZERO
    for q in range(0, padded_looks, _Q):
        at = _U(2 * _W * q)
        _add_cross3(planes, _U(a) + at, _U(b1) + at, _U(b2) + at, _U(b3) + at, m, sums)


@numba.njit(**_JIT)
def _phase_coherence(sums, src, inv_amplitude, at_i, at_k, m, phase, coherence, p, r, o0):
    """Coherence |S|·(Σ|a|²)^-½·(Σ|b|²)^-½ and phase atan2(Im S, Re S) in (−π, π] (float32, branch-free, one
    division); 0 and 0 for a zero sum."""
    for o in range(_U(m)):
        x, y = sums[_U(src) + o], sums[_U(src) + _U(_W) + o]
        gamma = np.sqrt(x * x + y * y) * (inv_amplitude[_U(at_i) + o] * inv_amplitude[_U(at_k) + o])
        coherence[_U(p), _U(r), _U(o0) + o] = gamma if gamma < _ONE else _ONE
        ax, ay = abs(x), abs(y)
        steep = ay > ax
        big, small = max(ax, ay), min(ax, ay)
        reduce = small > _F_TAN_PI_8 * big  # then atan(t) = π/4 + atan((t − 1)/(t + 1)), t = small/big
        numerator = small - big if reduce else small
        denominator = small + big if reduce else big
        u = numerator / (denominator if denominator > _ZERO else _ONE)
        z = u * u
        angle = u * (_F0 + z * (_F1 + z * (_F2 + z * (_F3 + z * (_F4 + z * (_F5 + z * _F6))))))
        angle = angle + _F_PI_4 if reduce else angle
        angle = _F_PI_2 - angle if steep else angle
        angle = _PI32 - angle if x < _ZERO else angle
        angle = -angle if y < _ZERO else angle
        phase[_U(p), _U(r), _U(o0) + o] = _PI32 if angle <= -_PI32 else angle


@numba.njit(**_JIT)
def _run_tasks(slc, ref, sec, slot, groups, row_looks, col_looks, subs, pl, amp, acc, gi, gf, counter, phase,
               coherence):
    """Take tasks from ``counter`` until none is left (one thread; its own scratch arrays)."""
    n_dates = slc.shape[0]
    out_rows, out_cols = phase.shape[1], phase.shape[2]
    n_looks = row_looks * col_looks
    padded_looks = (n_looks + _Q - 1) // _Q * _Q
    date_size = padded_looks * 2 * _W
    for base in range(0, pl.size, date_size):  # plane rows n_looks … padded_looks − 1 stay 0: they add nothing
        _zero(pl, base + n_looks * 2 * _W, (padded_looks - n_looks) * 2 * _W)
    block = subs * _W
    n_blocks = (out_cols + block - 1) // block
    n_tasks = out_rows * n_blocks
    while True:
        task = _next_task(counter)
        if task >= n_tasks:
            break
        out_row = task // n_blocks
        b0 = (task % n_blocks) * block
        # the last sub-block of a row ends at the last column (overlapping the one before, whose outputs it
        # writes again, identically): every sub-block then has _W lanes and no loop has a scalar remainder
        last = max(out_cols - _W, 0)
        n_sub = (min(b0 + block, out_cols) - b0 + _W - 1) // _W
        for d in range(n_dates):
            for s in range(n_sub):
                _zero(amp, (s * n_dates + d) * _W, _W)
            for j in range(row_looks):
                row = slc[d, out_row * row_looks + j]
                # the next row of the task is fetched from memory while this one is split
                ahead = slc[d, out_row * row_looks + j + 1] if j + 1 < row_looks else slc[min(d + 1, n_dates - 1),
                                                                                          out_row * row_looks]
                for s in range(n_sub):
                    o0 = min(b0 + s * _W, last)
                    _prefetch_run(ahead, o0 * col_looks, min(_W, out_cols - o0) * col_looks)
                    _split(row, o0 * col_looks, col_looks, j * col_looks, min(_W, out_cols - o0), pl,
                           (s * n_dates + d) * date_size, gi, gf, amp, (s * n_dates + d) * _W)
            for s in range(n_sub):
                o0 = min(b0 + s * _W, last)
                _inverse_amplitude(pl, (s * n_dates + d) * date_size, n_looks, min(_W, out_cols - o0), amp,
                                   (s * n_dates + d) * _W)
        for s in range(n_sub):
            o0 = min(b0 + s * _W, last)
            m = min(_W, out_cols - o0)
            for g in range(groups.size - 1):
                first, size = groups[g], groups[g + 1] - groups[g]
                i = s * n_dates + ref[first]
                k = s * n_dates + sec[first]
                if size == 3:
                    _cross_sums3(pl, i * date_size, k * date_size, (k + sec[first + 1] - sec[first]) * date_size,
                                 (k + sec[first + 2] - sec[first]) * date_size, padded_looks, m, acc)
                else:
                    _cross_sums(pl, i * date_size, k * date_size, padded_looks, m, acc)
                for h in range(size):
                    k = s * n_dates + sec[first + h]
                    _phase_coherence(acc, 2 * _W * h, amp, i * _W, k * _W, m, phase, coherence, slot[first + h],
                                     out_row, o0)


@numba.njit(parallel=True, **_JIT)
def _multilook_kernel(slc, ref, sec, slot, groups, row_looks, col_looks, subs, planes, inv_amplitude, sums,
                      gathered, gathered_f32, counter, phase, coherence):
    for worker in numba.prange(planes.shape[0]):
        _run_tasks(slc, ref, sec, slot, groups, row_looks, col_looks, subs, planes[worker], inv_amplitude[worker],
                   sums[worker], gathered[worker], gathered_f32[worker], counter, phase, coherence)


# ------------------------------------------------------------------ defaults and block size
def default_looks(stack):
    """``(row_looks, col_looks)`` giving about 30 m × 30 m windows.

    Geocoded stack: per axis the number of pixels nearest 30 m (pixel size from
    the geotransform, degrees × 111.32 km for a geographic CRS), at least 1.
    Radar geometry (no CRS): :data:`RADAR_LOOKS` = 2 × 8, made for Sentinel-1 IW.
    """
    if not stack.geocoded:
        return RADAR_LOOKS
    t = stack.transform
    size_x, size_y = np.hypot(t.a, t.d), np.hypot(t.b, t.e)
    if stack.crs.is_geographic:
        size_x, size_y = size_x * _METRES_PER_DEGREE, size_y * _METRES_PER_DEGREE
    else:
        try:
            unit = float(stack.crs.linear_units_factor[1])
        except Exception:  # a CRS without a linear unit: assume metres
            unit = 1.0
        size_x, size_y = size_x * unit, size_y * unit
    return (max(1, int(TARGET_LOOK_SIZE_M / size_y + 0.5)), max(1, int(TARGET_LOOK_SIZE_M / size_x + 0.5)))


def block_rows(cols, n_dates, n_pairs, row_looks, col_looks, block_mb=DEFAULT_BLOCK_MB):
    """Input rows per block (a multiple of ``row_looks``, at least ``row_looks``) within ``block_mb``.

    Counts the complex64 SLCs of all dates (8 bytes per pixel-date) and the two
    float32 outputs per pair (8 bytes per multilooked pixel-pair).
    """
    windows = int(block_mb * 2**20 // window_row_bytes(cols, n_dates, n_pairs, row_looks, col_looks))
    return max(1, windows) * row_looks


def window_row_bytes(cols, n_dates, n_pairs, row_looks, col_looks):
    """Bytes of one row of windows: ``row_looks`` SLC rows of every date and one output row of every pair."""
    return row_looks * cols * n_dates * 8 + n_pairs * (cols // col_looks) * 8


# ------------------------------------------------------------------ the whole stack
def _check_output_folder(folder):
    """The output folder may be new, empty, or a previous interferogram output (replaced at the end)."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InputError(f"{folder}: exists and is not a folder; choose a folder for the interferograms.")
    if os.path.isdir(folder):
        others = [n for n in os.listdir(folder) if not _OUTPUT_RE.match(n)]
        if others:
            raise InputError(
                f"{folder}: holds other files ({', '.join(sorted(others)[:5])}{' …' if len(others) > 5 else ''}); "
                "choose a new or empty folder (a previous interferogram output is replaced)."
            )


def _is_previous_output(folder):
    """True when every name in ``folder`` is one this function writes (the folder is then replaced)."""
    return all(_OUTPUT_RE.match(n) for n in os.listdir(folder))


GCP_SPACING = 16
"""Ground control points of a radar-geometry output: one every this many output pixels (and the last)."""


def radar_gcps(stack, out_rows, out_cols, row_looks, col_looks, spacing=GCP_SPACING):
    """Ground control points (WGS84 lon/lat of the lat/lon rasters) of a multilooked radar-geometry grid.

    Each GCP is an input pixel near a window's centre; its position in the output raster is that
    pixel's centre in output coordinates, ``((line + 0.5) / row_looks, (pixel + 0.5) / col_looks)``,
    so GDAL/QGIS warp the interferograms onto the map exactly where the SLC pixels are.
    """
    from rasterio.control import GroundControlPoint

    def axis(n_out, looks):
        out = np.unique(np.append(np.arange(0, n_out, spacing), n_out - 1))
        return out * looks + looks // 2

    lines, pixels = np.meshgrid(axis(out_rows, row_looks), axis(out_cols, col_looks), indexing="ij")
    lines, pixels = lines.ravel(), pixels.ravel()
    lon, lat = stack.lonlat(lines, pixels)
    ok = np.isfinite(lon) & np.isfinite(lat)
    return [GroundControlPoint(row=(r + 0.5) / row_looks, col=(c + 0.5) / col_looks, x=float(x), y=float(y), z=0.0)
            for r, c, x, y in zip(lines[ok], pixels[ok], lon[ok], lat[ok])]


def form_interferograms(stack, output_folder, network="sequential", reference_date=None, neighbours=3,
                        max_temporal_days=48.0, max_perpendicular_m=150.0, row_looks=None, col_looks=None,
                        block_mb=DEFAULT_BLOCK_MB, progress=None):
    """Write the multilooked interferograms of a network into ``output_folder``.

    Parameters
    ----------
    stack : :class:`~.stack.StackFolder` or str (stack folder)
    output_folder : str
        New, empty, or holding a previous output of this function (replaced).
        Everything is written into a temporary sibling folder and moved into
        place at the end, so a failed or cancelled run leaves nothing behind.
    network : one of :data:`.pairs.NETWORKS`
    reference_date : str ``YYYYMMDD`` or None
        Single-reference network only; None = the date nearest the middle of the time span.
    neighbours : int — sequential network: each date with its next ``neighbours``.
    max_temporal_days, max_perpendicular_m : float — small-baseline limits (B⊥ only with ``baselines.csv``).
    row_looks, col_looks : int or None — None: :func:`default_looks`.
    block_mb : float — memory budget of one block.

    Writes ``<YYYYMMDD>_<YYYYMMDD>.tif`` per pair (earlier date first; Float32,
    band 1 wrapped phase rad, band 2 coherence; geotransform of a geocoded stack
    scaled by the looks; for a radar-geometry stack, WGS84 ground control points from its lat/lon
    rasters, :func:`radar_gcps`) and ``pairs.csv``
    (``reference,secondary,temporal_baseline_days,perpendicular_baseline_m,file``;
    the perpendicular baseline is B⊥,secondary − B⊥,reference, empty without
    ``baselines.csv``).

    Returns a dict: ``folder``, ``pairs`` (n_pairs, 2), ``files``, ``looks``,
    ``shape`` (multilooked rows, cols), ``dropped`` (rows, cols), ``block_rows``, ``warnings``.
    """
    import rasterio
    from rasterio.windows import Window

    from .stack import StackFolder

    progress = ensure(progress)
    if not isinstance(stack, StackFolder):
        stack = StackFolder(stack)
    for message in stack.warnings:
        progress.warn(message)
    output_folder = os.path.abspath(os.fspath(output_folder))
    _check_output_folder(output_folder)

    ref_index = parse_reference_date(reference_date, stack.dates) if reference_date else None
    pairs, net_warnings = build_network(network, stack.dates, stack.bperp, ref_index, neighbours,
                                        max_temporal_days, max_perpendicular_m)
    for message in net_warnings:
        progress.warn(message)

    auto = default_looks(stack)
    row_looks, col_looks = _check_looks(row_looks or auto[0], col_looks or auto[1])
    rows, cols = stack.shape
    out_rows, out_cols = multilooked_shape(stack.shape, row_looks, col_looks)
    if out_rows == 0 or out_cols == 0:
        raise InputError(
            f"{stack.folder}: looks {row_looks} × {col_looks} (rows × columns) are larger than the image of "
            f"{rows} rows × {cols} columns."
        )
    dropped = (rows - out_rows * row_looks, cols - out_cols * col_looks)
    if any(dropped):
        progress.info(f"{dropped[0]} last row(s) and {dropped[1]} last column(s) do not fill a whole "
                      f"{row_looks} × {col_looks} window and are dropped.")
    if block_mb <= 0:
        raise InputError(f"block size {block_mb} MB must be positive.")
    n_block_rows = min(block_rows(cols, stack.n_dates, len(pairs), row_looks, col_looks, block_mb),
                       out_rows * row_looks)
    needed_mb = window_row_bytes(cols, stack.n_dates, len(pairs), row_looks, col_looks) / 2**20
    if needed_mb > block_mb:
        progress.warn(f"one row of windows needs {needed_mb:.1f} MB, more than the block size of {block_mb:g} MB; "
                      "using it anyway.")
    blocks = [(r0, min(r0 + n_block_rows, out_rows * row_looks)) for r0 in range(0, out_rows * row_looks, n_block_rows)]

    progress.info(f"{len(pairs)} pairs; looks {row_looks} × {col_looks} (rows × columns) → {out_cols} × {out_rows} "
                  f"pixels; {len(blocks)} block(s) of up to {n_block_rows} rows.")
    names = stack.date_strings
    days = np.array([d.toordinal() for d in stack.dates])
    files = [f"{names[i]}_{names[k]}.tif" for i, k in pairs]
    profile = dict(driver="GTiff", width=out_cols, height=out_rows, count=2, dtype="float32",
                   interleave="band", tiled=False)
    if stack.geocoded:
        profile.update(crs=stack.crs, transform=stack.transform * rasterio.Affine.scale(col_looks, row_looks))
    elif stack.lat_path is not None:
        profile.update(gcps=radar_gcps(stack, out_rows, out_cols, row_looks, col_looks), crs="EPSG:4326")

    with folder_on_success(output_folder, replace=_is_previous_output) as work:
        _write_pairs_csv(os.path.join(work, "pairs.csv"), pairs, names, days, stack.bperp, files)
        with warnings.catch_warnings(), rasterio.Env(GDAL_CACHEMAX=64 * 2**20):
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            writers = _PairWriters(work, files, profile, pairs, names, days, stack.bperp, (row_looks, col_looks),
                                   MAX_OPEN_FILES)
            try:
                with stack:
                    for b, (r0, r1) in enumerate(blocks):
                        progress.check()
                        slc = stack.read_block(r0, r1, 0, out_cols * col_looks)
                        phase, coherence = multilook_interferograms(slc, pairs, row_looks, col_looks)
                        del slc
                        window = Window(0, r0 // row_looks, out_cols, (r1 - r0) // row_looks)
                        writers.write(phase, coherence, window)
                        progress.update((b + 1) / len(blocks))
            finally:
                writers.close()
        progress.check()
    return {
        "folder": output_folder,
        "pairs": pairs,
        "files": files,
        "looks": (row_looks, col_looks),
        "shape": (out_rows, out_cols),
        "dropped": dropped,
        "block_rows": n_block_rows,
        "warnings": list(stack.warnings) + net_warnings,
    }


def _write_pairs_csv(path, pairs, names, days, bperp, files):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["reference", "secondary", "temporal_baseline_days", "perpendicular_baseline_m", "file"])
        for (i, k), name in zip(pairs.tolist(), files):
            b = "" if bperp is None else f"{bperp[k] - bperp[i]:.3f}"
            out.writerow([names[i], names[k], int(days[k] - days[i]), b, name])


class _PairWriters:
    """One GeoTIFF per pair, written window by window.

    Files stay open between blocks while there are few enough of them
    (``max_open``); beyond that each is reopened for every block, so a network
    of thousands of pairs never runs out of file handles.
    """

    def __init__(self, folder, files, profile, pairs, names, days, bperp, looks, max_open):
        import rasterio

        self._rasterio = rasterio
        self.paths = [os.path.join(folder, f) for f in files]
        self.keep_open = len(files) <= max_open
        self.open = []
        for path, (i, k) in zip(self.paths, pairs.tolist()):
            ds = rasterio.open(path, "w", **profile)
            ds.set_band_description(1, "wrapped phase (rad)")
            ds.set_band_description(2, "coherence")
            ds.update_tags(
                REFERENCE_DATE=names[i], SECONDARY_DATE=names[k], TEMPORAL_BASELINE_DAYS=str(int(days[k] - days[i])),
                PERPENDICULAR_BASELINE_M="" if bperp is None else f"{bperp[k] - bperp[i]:.3f}",
                LOOKS_ROWS_COLS=f"{looks[0]} x {looks[1]}",
                CONVENTION="phase = arg(sum s_ref * conj(s_sec)); d_sec - d_ref = -wavelength/(4 pi) * phase",
            )
            if self.keep_open:
                self.open.append(ds)
            else:
                ds.close()

    def write(self, phase, coherence, window):
        for p, path in enumerate(self.paths):
            ds = self.open[p] if self.keep_open else self._rasterio.open(path, "r+")
            try:
                ds.write(phase[p], 1, window=window)
                ds.write(coherence[p], 2, window=window)
            finally:
                if not self.keep_open:
                    ds.close()

    def close(self):
        for ds in self.open:
            ds.close()
        self.open = []


def read_pairs_csv(path):
    """Rows of a ``pairs.csv`` as dicts (strings), for checks and downstream tools."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


