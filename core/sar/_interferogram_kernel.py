"""The numba kernel of :func:`.interferograms.multilook_interferograms`: multilooked interferogram and
coherence of many pairs in one fused pass over an SLC block (float32, AVX2-friendly loops).

Private to :mod:`.interferograms`, which checks the inputs, allocates the outputs and documents the
results and their precision; :func:`fill_interferograms` allocates the threads' scratch and runs the
kernel.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

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
def _next_task(typingctx, counter):  # noqa: ARG001 -- numba's @intrinsic signature
    """``counter[0] += 1`` atomically; returns the value before (int64)."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.atomic_rmw("add", array.data, ir.Constant(ir.IntType(64), 1), "monotonic")

    return types.int64(counter), codegen


@intrinsic
def _prefetch(typingctx, array, index):  # noqa: ARG001 -- numba's @intrinsic signature
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


def fill_interferograms(slc, pairs, row_looks, col_looks, phase, coherence):
    """Fill ``phase`` and ``coherence`` (float32, (n_pairs, rows // row_looks, cols // col_looks), C-contiguous)
    with the multilooked interferograms of ``pairs`` (int64 (n_pairs, 2), date indices) of ``slc`` (complex64
    (n_dates, rows, cols), C-contiguous), as :func:`.interferograms.multilook_interferograms` documents:
    the inputs are checked there.  Allocates the threads' scratch and runs the kernel."""
    n_dates = slc.shape[0]
    out_rows, out_cols = phase.shape[1], phase.shape[2]
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
