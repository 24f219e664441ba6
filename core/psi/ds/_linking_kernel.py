"""Sample coherence matrices over the SHPs and phase linking (EMI, with the EVD estimate as fallback).

Conventions (ARCHITECTURE.md §Conventions; dolphin's phase linking):

* the sample coherence matrix of a pixel over its SHPs p is
  ``C_ik = Σ_p s_i,p · conj(s_k,p) / √(Σ_p |s_i,p|² · Σ_p |s_k,p|²)`` — ``arg C_ik`` is the interferometric
  phase of the pair (i, k), ``arg(s_i · conj(s_k))``;
* EMI (Ansari et al. 2018): the regularised coherence magnitude ``Γ = (1 − β)·|C| + β·I`` is inverted and
  the linked phases are those of the eigenvector of the *smallest* eigenvalue of ``Γ⁻¹ ∘ C`` (as dolphin:
  for a sample C that eigenvalue is often negative — it is still the minimiser of ``xᴴ(Γ⁻¹ ∘ C)x``); Γ⁻¹
  comes from its Cholesky factor; where Γ is not positive definite (a Cholesky pivot below
  :data:`SINGULAR` × the largest diagonal element), the EVD estimate — the eigenvector of the *largest*
  eigenvalue of C — is used instead and flagged;
* the linked phasors ``e^{jθ_k}`` are SLC-like and referenced to the first date: ``θ_0 = 0`` and
  ``θ_i − θ_k ≈ arg C_ik``; the interferogram phasor of (first, k) of the chain is ``conj(e^{jθ_k})``
  (:func:`interferogram_phasors`);
* quality: the phase-linking temporal coherence (Ferretti et al. 2011's γ_PTA, dolphin's ``temp_coh``)
  ``|Σ_{i<k} e^{j(arg C_ik − θ_i + θ_k)}| / (N(N − 1)/2)`` — 1 when the linked phases fit every pair.

Inputs and outputs are complex64 / float32; Γ's Cholesky factor and Γ⁻¹ are float64 (LAPACK dpotrf/dpotri),
Γ⁻¹ ∘ C and its one eigenvector (LAPACK cheevr) complex64, the EVD estimate a complex64 power iteration (LAPACK
where it does not converge), and the results agree with the complex128 numpy reference ``testing/ds_reference.py``
to float32 precision — which, for an eigenvector, scales with ε₃₂·‖Γ⁻¹ ∘ C‖ / gap: 99 % of the coherent pixels of
the benchmark block within 1e-5 rad, the worst 1.3e-3 rad at cond(Γ) = 5e4.
"""

from __future__ import annotations

import llvmlite.binding as _llvm
import numba
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

from ._blas import single_threaded_blas

# LAPACK and BLAS routines called by symbol name from numba (added here at import from scipy's LAPACK/BLAS, the
# ones numba's own np.linalg uses), so the compiled kernels stay cacheable:
# * cheevr (MRRR) for the one eigenvector EMI needs, instead of np.linalg.eigh's all N of them (measured 60 × 60:
#   0.15 ms vs 0.47–1.6 ms);
# * dpotrf + dpotri for Γ⁻¹ (Cholesky factor and inverse: 36 µs vs ≈ 115 µs for the loops they replace);
# * cherk for the sample covariance over the SHPs (52 µs vs 270 µs for the loop it replaces, 76 SHPs, 60 dates);
# * cgemv for the power iteration of the EVD fallback (:func:`_largest_eigenvector`).
# All are Fortran routines: a C-order array is the transpose of the Fortran matrix they see.


def _external(name, module, n_args):
    symbol = f"egms_plugin_{name}"
    _llvm.add_symbol(symbol, get_cython_function_address(f"scipy.linalg.cython_{module}", name))
    return types.ExternalFunction(symbol, types.void(*([types.voidptr] * n_args)))


_cheevr = _external("cheevr", "lapack", 23)
_dpotrf = _external("dpotrf", "lapack", 5)
_dpotri = _external("dpotri", "lapack", 5)
_cherk = _external("cherk", "blas", 10)
_cgemv = _external("cgemv", "blas", 11)

DEFAULT_BETA = 0.01
"""Regularisation of the coherence magnitude before its inversion (dolphin's ``beta``)."""
SINGULAR = 1e-6
"""Γ is treated as singular when a Cholesky pivot falls below this fraction of its largest diagonal element."""
POWER_ITERATIONS = 50
"""Most power iterations of the EVD estimate before LAPACK takes over."""
POWER_TOLERANCE = 1e-6
"""Estimated angle error (rad) at which the power iteration of the EVD estimate stops (module of
:func:`_largest_eigenvector`)."""
LWORK = 65
"""cheevr's complex work space, × N: at least (NB + 1)·N for chetrd's blocked (level-3) reduction, NB = 32 —
with the minimum 2N it runs unblocked, and the phase linking was 25 % slower (60 dates)."""



@numba.njit(nogil=True, cache=True)
def _temporal_coherence(c, ph):
    """``|Σ_{i<k} (C_ik / |C_ik|) · conj(ph_i) · ph_k| / (N(N − 1)/2)`` (|ph| = 1: the phase of each term is
    ``arg C_ik − θ_i + θ_k``); the inner sum over k is plain float32 arithmetic, which numba vectorises."""
    n = ph.size
    acc_re = 0.0
    acc_im = 0.0
    for i in range(n):
        s_re = np.float32(0.0)
        s_im = np.float32(0.0)
        for k in range(i + 1, n):
            cr = c[i, k].real
            ci = c[i, k].imag
            m = cr * cr + ci * ci
            inv = np.float32(1.0) / np.sqrt(m) if m > 0 else np.float32(0.0)
            pr = ph[k].real
            pi = ph[k].imag
            s_re += (cr * pr - ci * pi) * inv
            s_im += (cr * pi + ci * pr) * inv
        qr = ph[i].real
        qi = ph[i].imag
        acc_re += qr * s_re + qi * s_im  # conj(ph_i) · s
        acc_im += qr * s_im - qi * s_re
    pairs = n * (n - 1) // 2
    return np.float32(np.sqrt(acc_re * acc_re + acc_im * acc_im) / pairs) if pairs > 0 else np.float32(0.0)


@numba.njit(nogil=True, cache=True)
def _gamma_inverse(c, beta, g):
    """g ← Γ⁻¹ of ``Γ = (1 − β)·|C| + β·I`` (float64, LAPACK dpotrf + dpotri); False when Γ is not positive definite
    enough (a Cholesky pivot ``L_jj²`` below :data:`SINGULAR` × the largest diagonal element, or LAPACK failing)."""
    n = c.shape[0]
    big = 0.0
    a = np.empty(n, dtype=np.float32)
    for i in range(n):
        for k in range(n):  # |C_ik| ≤ 1: float32 sqrt(re² + im²), no hypot (libm's hypotf took 6 % of the linking)
            re = c[i, k].real
            im = c[i, k].imag
            a[k] = np.sqrt(re * re + im * im)
        for k in range(n):
            g[i, k] = (1.0 - beta) * np.float64(a[k])
        g[i, i] += beta
        big = max(big, g[i, i])
    uplo = np.array([ord("L")], dtype=np.uint8)  # Fortran's lower triangle = C order's upper (Γ is symmetric)
    dims = np.array([n, 0], dtype=np.int32)
    _dpotrf(uplo.ctypes, dims[0:1].ctypes, g.ctypes, dims[0:1].ctypes, dims[1:2].ctypes)
    if dims[1] != 0:
        return False
    for j in range(n):
        if not g[j, j] * g[j, j] > SINGULAR * big:
            return False
    _dpotri(uplo.ctypes, dims[0:1].ctypes, g.ctypes, dims[0:1].ctypes, dims[1:2].ctypes)
    if dims[1] != 0:
        return False
    for i in range(n):  # the inverse is in the C-order upper triangle: mirrored
        for k in range(i):
            g[i, k] = g[k, i]
    return True


@numba.njit(nogil=True, cache=True)
def _emi_vector(c, beta, vec):
    """EMI eigenvector into vec: Γ⁻¹ (:func:`_gamma_inverse`), then the eigenvector of the smallest eigenvalue of
    Γ⁻¹ ∘ C (LAPACK); False when Γ is not positive definite."""
    n = c.shape[0]
    g = np.empty((n, n), dtype=np.float64)
    if not _gamma_inverse(c, beta, g):
        return False
    m = np.empty((n, n), dtype=np.complex64)
    _hadamard(g, c, m)
    if not _eigenvector(m, 1, vec):
        _hadamard(g, c, m)  # cheevr overwrote m
        _, v = np.linalg.eigh(m)
        vec[:] = v[:, 0]
    return True


@numba.njit(nogil=True, cache=True)
def _hadamard(g, c, m):
    """m ← Γ⁻¹ ∘ C (complex64, the diagonal real)."""
    n = c.shape[0]
    for i in range(n):
        for k in range(n):
            m[i, k] = g[i, k] * c[i, k]
        m[i, i] = m[i, i].real


@numba.njit(nogil=True, cache=True)
def _eigenvector(m, index, vec):
    """vec ← the eigenvector of the ``index``-th smallest eigenvalue (1 … N) of the Hermitian complex64 m (LAPACK
    cheevr, range 'I', il = iu = index; m is overwritten); False when LAPACK reports a failure.  m in C order is
    conj(m) to Fortran, whose eigenvectors are the conjugates of m's: conjugated back."""
    n = m.shape[0]
    jobz = np.array([ord("V")], dtype=np.uint8)
    which = np.array([ord("I")], dtype=np.uint8)
    uplo = np.array([ord("L")], dtype=np.uint8)
    dims = np.array([n, index, 0, LWORK * n, 26 * n + 1, 10 * n + 1, 0], dtype=np.int32)  # n, il=iu, m, lwork, …
    bounds = np.zeros(3, dtype=np.float32)  # vl, vu (unused with range 'I'), abstol (0: LAPACK's default)
    w = np.empty(n, dtype=np.float32)
    z = np.empty(n, dtype=np.complex64)
    isuppz = np.empty(2, dtype=np.int32)
    work = np.empty(LWORK * n, dtype=np.complex64)
    rwork = np.empty(26 * n + 1, dtype=np.float32)
    iwork = np.empty(10 * n + 1, dtype=np.int32)
    info = np.zeros(1, dtype=np.int32)
    nn = dims[0:1]
    one = dims[1:2]
    found = dims[2:3]
    _cheevr(jobz.ctypes, which.ctypes, uplo.ctypes, nn.ctypes, m.ctypes, nn.ctypes, bounds[0:1].ctypes,
            bounds[1:2].ctypes, one.ctypes, one.ctypes, bounds[2:3].ctypes, found.ctypes, w.ctypes, z.ctypes,
            nn.ctypes, isuppz.ctypes, work.ctypes, dims[3:4].ctypes, rwork.ctypes, dims[4:5].ctypes, iwork.ctypes,
            dims[5:6].ctypes, info.ctypes)
    if info[0] != 0 or found[0] != 1:
        return False
    for k in range(n):
        vec[k] = np.conj(z[k])
    return True


@numba.njit(nogil=True, cache=True)
def _power_iteration(c, vec):
    """vec ← the eigenvector of the largest eigenvalue of the Hermitian complex64 c by power iteration from its
    first column (BLAS cgemv; C order is cᵀ to Fortran, so ``trans = 'T'`` gives c·v).  Stops when the estimated
    angle error ``r / (ρ·(1 − q))`` — residual ``r = ‖c·v − ρv‖``, Rayleigh quotient ρ, ``q`` the residual's
    decay per step ≈ λ₂/λ₁ — is below :data:`POWER_TOLERANCE`; False when that does not happen within
    :data:`POWER_ITERATIONS` or ρ is not positive (then LAPACK decides)."""
    n = c.shape[0]
    v = np.empty(n, dtype=np.complex64)
    x = np.empty(n, dtype=np.complex64)
    trans = np.array([ord("T")], dtype=np.uint8)
    dims = np.array([n, 1], dtype=np.int32)
    scal = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)  # α = 1, β = 0 (complex64 pairs)
    norm = 0.0
    for i in range(n):
        v[i] = c[i, 0]
        norm += v[i].real * v[i].real + v[i].imag * v[i].imag
    if not norm > 0:
        return False
    f = np.float32(1.0 / np.sqrt(norm))
    for i in range(n):
        v[i] = v[i] * f
    r_prev = np.inf
    for _ in range(POWER_ITERATIONS):
        _cgemv(trans.ctypes, dims[0:1].ctypes, dims[0:1].ctypes, scal[0:2].ctypes, c.ctypes, dims[0:1].ctypes,
               v.ctypes, dims[1:2].ctypes, scal[2:4].ctypes, x.ctypes, dims[1:2].ctypes)
        rho = 0.0
        norm = 0.0
        for i in range(n):
            rho += v[i].real * x[i].real + v[i].imag * x[i].imag
            norm += x[i].real * x[i].real + x[i].imag * x[i].imag
        if not (rho > 0 and norm > 0):
            return False
        r2 = 0.0
        for i in range(n):
            dr = x[i].real - rho * v[i].real
            di = x[i].imag - rho * v[i].imag
            r2 += dr * dr + di * di
        f = np.float32(1.0 / np.sqrt(norm))
        for i in range(n):
            v[i] = x[i] * f
        r = np.sqrt(r2)
        q = r / r_prev
        r_prev = r
        if q < 1.0 and r <= POWER_TOLERANCE * rho * (1.0 - q):
            vec[:] = v
            return True
    return False


@numba.njit(nogil=True, cache=True)
def _largest_eigenvector(c, vec):
    """The EVD estimate: vec ← the eigenvector of the largest eigenvalue of c.  Power iteration first — the
    largest eigenvalue of a DS's coherence matrix stands well apart (median 17 steps, 17 µs instead of LAPACK's
    115 µs; 93 % of the EVD pixels of the benchmark block; angle error median 4e-7, max 9e-5 rad against
    complex128) — else LAPACK cheevr."""
    if _power_iteration(c, vec):
        return
    m = c.copy()
    if not _eigenvector(m, c.shape[0], vec):
        _, v = np.linalg.eigh(c)
        vec[:] = v[:, c.shape[0] - 1]


@numba.njit(nogil=True, cache=True)
def _link_one(c, beta, out):
    """Linked phasors of one coherence matrix c (N × N complex64) into out (N,); returns (temp_coh, used_evd)."""
    n = c.shape[0]
    total = np.float32(0.0)
    for i in range(n):
        for k in range(n):
            total += c[i, k].real + c[i, k].imag
    if not np.isfinite(total):  # a NaN or an infinity somewhere (|C_ik| ≤ 1: the sum cannot overflow)
        out[:] = np.nan
        return np.float32(np.nan), True
    vec = np.empty(n, dtype=np.complex64)
    evd = not _emi_vector(c, beta, vec)
    if evd:
        _largest_eigenvector(c, vec)
    ref = vec[0]
    a = abs(ref)
    ref = np.conj(ref) / a if a > 0 else np.complex64(1.0)
    for k in range(n):
        z = vec[k] * ref
        m_ = abs(z)
        out[k] = z / m_ if m_ > 0 else 0
    return _temporal_coherence(c, out), evd


@numba.njit(nogil=True, parallel=True, cache=True)
def _link_matrices_kernel(c, beta, phasors, coh, evd):
    for p in numba.prange(c.shape[0]):
        t, e = _link_one(c[p], beta, phasors[p])
        coh[p] = t
        evd[p] = e


@numba.njit(nogil=True, cache=True)
def _coherence_one(slc, r, col, mask, half_rows, half_cols, out):
    """out ← the sample coherence matrix (N × N complex64) of pixel (r, col) of the pixel-major block slc
    (rows, cols, N) over its SHP mask: the SHPs' series gathered into an (N, L) matrix Z, ``S = Z·Zᴴ`` by BLAS
    cherk (one triangle), then ``S_ik / √(S_ii·S_kk)``."""
    n = slc.shape[2]
    wy, wx = mask.shape
    looks = 0
    for dy in range(wy):
        for dx in range(wx):
            if mask[dy, dx]:
                looks += 1
    lda = max(1, looks)
    z = np.empty((n, lda), dtype=np.complex64)  # every column written (cherk reads none when L = 0)
    j = 0
    for dy in range(wy):
        for dx in range(wx):
            if mask[dy, dx]:
                rr = r + dy - half_rows
                cc = col + dx - half_cols
                for k in range(n):
                    z[k, j] = slc[rr, cc, k]
                j += 1
    # Fortran sees z as Zf = zᵀ (L × N): Zfᴴ·Zf read back in C order is z·zᴴ; its Fortran upper triangle is the
    # C-order lower one (k ≤ i)
    flags = np.array([ord("U"), ord("C")], dtype=np.uint8)
    dims = np.array([n, looks, lda], dtype=np.int32)
    scal = np.array([1.0, 0.0], dtype=np.float32)
    _cherk(flags[0:1].ctypes, flags[1:2].ctypes, dims[0:1].ctypes, dims[1:2].ctypes, scal[0:1].ctypes, z.ctypes,
           dims[2:3].ctypes, scal[1:2].ctypes, out.ctypes, dims[0:1].ctypes)
    for i in range(n):
        pi = out[i, i].real
        for k in range(i):
            d = np.sqrt(pi * out[k, k].real)
            f = np.float32(1.0) / d if d > 0 else np.float32(0.0)
            re = out[i, k].real * f
            im = out[i, k].imag * f
            out[i, k] = complex(re, im)
            out[k, i] = complex(re, -im)
    for i in range(n):
        out[i, i] = 1.0 if out[i, i].real > 0 else 0.0


@numba.njit(nogil=True, parallel=True, cache=True)
def _coherence_kernel(slc, r_idx, c_idx, masks, half_rows, half_cols, out):
    for p in numba.prange(r_idx.size):
        _coherence_one(slc, r_idx[p], c_idx[p], masks[p], half_rows, half_cols, out[p])


@numba.njit(nogil=True, parallel=True, cache=True)
def _link_pixels_kernel(slc, r_idx, c_idx, masks, half_rows, half_cols, beta, phasors, coh, evd):
    n = slc.shape[2]
    for p in numba.prange(r_idx.size):
        c = np.empty((n, n), dtype=np.complex64)
        _coherence_one(slc, r_idx[p], c_idx[p], masks[p], half_rows, half_cols, c)
        t, e = _link_one(c, beta, phasors[p])
        coh[p] = t
        evd[p] = e


@numba.njit(nogil=True, parallel=True, cache=True)
def _consecutive_kernel(slc, r_idx, c_idx, masks, half_rows, half_cols, out):
    n = slc.shape[2]
    wy, wx = masks.shape[1:]
    for p in numba.prange(r_idx.size):
        cross = np.zeros(n - 1, dtype=np.complex64)
        power = np.zeros(n, dtype=np.float32)
        for dy in range(wy):
            for dx in range(wx):
                if not masks[p, dy, dx]:
                    continue
                rr = r_idx[p] + dy - half_rows
                cc = c_idx[p] + dx - half_cols
                series = slc[rr, cc]
                prev = series[0]
                power[0] += prev.real * prev.real + prev.imag * prev.imag
                for k in range(1, n):
                    z = series[k]
                    power[k] += z.real * z.real + z.imag * z.imag
                    cross[k - 1] += prev * np.conj(z)
                    prev = z
        acc = 0.0
        for k in range(n - 1):
            d = np.sqrt(power[k] * power[k + 1])
            acc += abs(cross[k]) / d if d > 0 else 0.0
        out[p] = acc / (n - 1)


@numba.njit(nogil=True, parallel=True, cache=True)
def _transpose_kernel(slc, out):
    n, rows, cols = slc.shape
    for r in numba.prange(rows):
        for c0 in range(0, cols, 64):  # tiles of 64 pixels × all dates: both sides stay in cache
            c1 = min(cols, c0 + 64)
            for k in range(n):
                for c in range(c0, c1):
                    out[r, c, k] = slc[k, r, c]


def to_pixel_major(slc, out=None):
    """The SLC block (N, rows, cols) as the kernels read it: pixel-major (rows, cols, N) complex64, every pixel's
    series contiguous (the gathers over the SHPs then stream whole cache lines: the consecutive-coherence screen
    ran 5× faster on 64 MB blocks).  ``out``: a buffer of that shape to reuse (block after block; a fresh array
    is page-faulted in at every block).  Pass the result with ``pixel_major=True`` to the functions below to
    transpose a block once for several of them."""
    slc = np.asarray(slc)
    if slc.ndim != 3:
        raise ValueError(f"expected an (n_dates, rows, cols) SLC block, got shape {slc.shape}")
    slc = np.ascontiguousarray(slc, dtype=np.complex64)
    shape = slc.shape[1:] + slc.shape[:1]
    if out is None or out.shape != shape or out.dtype != np.complex64 or not out.flags.c_contiguous:
        out = np.empty(shape, dtype=np.complex64)
    if slc.size:
        _transpose_kernel(slc, out)
    return out


def consecutive_coherence(slc, r_idx, c_idx, masks, pixel_major=False):
    """Mean sample coherence magnitude of consecutive dates ``mean_k |C_k,k+1|`` over the SHP masks (float32,
    one per pixel): N·L operations instead of the N²·L of the whole matrix, a cheap screen before the linking
    (decorrelated clutter sits at the noise level ``√(π / 4L)`` of L looks)."""
    slc, r_idx, c_idx, masks, hr, hc = _pixels(slc, r_idx, c_idx, masks, pixel_major)
    out = np.zeros(r_idx.size, dtype=np.float32)
    if r_idx.size and slc.shape[2] > 1:
        _consecutive_kernel(slc, r_idx, c_idx, masks, hr, hc, out)
    return out


def _pixels(slc, r_idx, c_idx, masks, is_pixel_major):
    """The kernels' arguments: the block pixel-major (transposed unless ``is_pixel_major``), the indices, the masks
    and the half window; ValueError on shapes that do not fit."""
    if is_pixel_major:
        slc = np.ascontiguousarray(slc, dtype=np.complex64)
        if slc.ndim != 3:
            raise ValueError(f"expected a pixel-major (rows, cols, n_dates) SLC block, got shape {slc.shape}")
    else:
        slc = to_pixel_major(slc)
    r_idx = np.ascontiguousarray(r_idx, dtype=np.int64).ravel()
    c_idx = np.ascontiguousarray(c_idx, dtype=np.int64).ravel()
    masks = np.ascontiguousarray(masks, dtype=np.uint8)
    if masks.ndim != 3 or masks.shape[0] != r_idx.size or c_idx.size != r_idx.size:
        raise ValueError("expected one (wy, wx) SHP mask per pixel")
    hr, hc = masks.shape[1] // 2, masks.shape[2] // 2
    _check_masks_inside(masks, r_idx, c_idx, hr, hc, *slc.shape[:2])
    return slc, r_idx, c_idx, masks, hr, hc


def _check_masks_inside(masks, r_idx, c_idx, hr, hc, rows, cols):
    """ValueError when an SHP mask points outside the block (:func:`.find_shps` never sets such pixels)."""
    if not r_idx.size:
        return
    wy, wx = masks.shape[1:]
    any_y, any_x = masks.any(axis=2), masks.any(axis=1)
    first_y = np.where(any_y.any(axis=1), any_y.argmax(axis=1), hr)
    last_y = np.where(any_y.any(axis=1), wy - 1 - any_y[:, ::-1].argmax(axis=1), hr)
    first_x = np.where(any_x.any(axis=1), any_x.argmax(axis=1), hc)
    last_x = np.where(any_x.any(axis=1), wx - 1 - any_x[:, ::-1].argmax(axis=1), hc)
    bad = ((r_idx + first_y - hr < 0) | (r_idx + last_y - hr >= rows)
           | (c_idx + first_x - hc < 0) | (c_idx + last_x - hc >= cols))
    if bad.any():
        raise ValueError(f"the SHP mask of pixel {int(np.argmax(bad))} reaches outside the block")


def coherence_matrices(slc, r_idx, c_idx, masks, pixel_major=False):
    """Sample coherence matrices (n, N, N) complex64 of the pixels (r_idx, c_idx) of an SLC block
    (N, rows, cols) — or (rows, cols, N) with ``pixel_major`` (:func:`to_pixel_major`) — over their SHP masks
    (n, wy, wx) (windows centred on the pixels)."""
    slc, r_idx, c_idx, masks, hr, hc = _pixels(slc, r_idx, c_idx, masks, pixel_major)
    n = slc.shape[2]
    out = np.empty((r_idx.size, n, n), dtype=np.complex64)
    if r_idx.size:
        with single_threaded_blas():
            _coherence_kernel(slc, r_idx, c_idx, masks, hr, hc, out)
    return out


def link_matrices(coherence, beta=DEFAULT_BETA):
    """Phase linking of coherence matrices (n, N, N): linked phasors (n, N) complex64 (first date 1),
    temporal coherence (n,) float32 and whether the EVD fallback was used (n,) bool."""
    c = np.ascontiguousarray(coherence, dtype=np.complex64)
    if c.ndim != 3 or c.shape[1] != c.shape[2]:
        raise ValueError(f"expected (n, N, N) coherence matrices, got shape {c.shape}")
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta {beta}: expected 0 ≤ β < 1")
    phasors = np.empty(c.shape[:2], dtype=np.complex64)
    coh = np.empty(c.shape[0], dtype=np.float32)
    evd = np.zeros(c.shape[0], dtype=np.bool_)
    if c.shape[0]:
        with single_threaded_blas():
            _link_matrices_kernel(c, np.float32(beta), phasors, coh, evd)
    return phasors, coh, evd


def link_pixels(slc, r_idx, c_idx, masks, beta=DEFAULT_BETA, pixel_major=False):
    """Coherence matrix and phase linking in one pass, per pixel (no (n, N, N) array is held): the result of
    ``link_matrices(coherence_matrices(slc, r_idx, c_idx, masks, pixel_major), beta)``."""
    slc, r_idx, c_idx, masks, hr, hc = _pixels(slc, r_idx, c_idx, masks, pixel_major)
    n = slc.shape[2]
    phasors = np.empty((r_idx.size, n), dtype=np.complex64)
    coh = np.empty(r_idx.size, dtype=np.float32)
    evd = np.zeros(r_idx.size, dtype=np.bool_)
    if r_idx.size:
        with single_threaded_blas():
            _link_pixels_kernel(slc, r_idx, c_idx, masks, hr, hc, np.float32(beta), phasors, coh, evd)
    return phasors, coh, evd


def interferogram_phasors(linked):
    """The chain's single-reference interferogram phasors ``s_0 · conj(s_k)`` of linked SLC phasors (n, N)."""
    return np.conj(np.asarray(linked, dtype=np.complex64))
