"""Plain-numpy references of the distributed-scatterer kernels (tests and benchmarks; not shipped).

The same computations as :mod:`egms_plugin.core.psi.ds` written the direct vectorised-numpy way, in
complex128 / float64:

* :func:`ks_similar_numpy` — the two-sample KS distance of every window pixel to its centre (all pixels at
  once, one window offset at a time, by ``searchsorted`` on the sorted series);
* :func:`glrt_similar_numpy` — the GLRT of the power means (``P = mean A²``) of every window pixel and its centre:
  the ratio ``P_p / P_q`` within ``[1/F, F]``, ``F = F⁻¹(1 − α/2; 2N, 2N)`` (``scipy.stats.f``);
* :func:`shp_masks_numpy` — similar pixels 8-connected to the centre (``scipy.ndimage.label``);
* :func:`coherence_matrices_numpy` — sample coherence over the SHPs (``einsum``);
* :func:`link_matrices_numpy` — EMI with the EVD fallback and the temporal coherence (batched ``eigh``);
* :func:`phase_linking_crb` — the Cramér–Rao bound of the linked phases for a known coherence matrix and
  L looks (Guarnieri & Tebaldini 2008): the inverse of ``2L·(|Γ|⁻¹ ∘ |Γ| − I)`` without the reference date.
"""

from __future__ import annotations

import math

import numpy as np

SINGULAR = 1e-6


def ks_critical_value(n, alpha):
    ne = n / 2.0
    c = math.sqrt(-0.5 * math.log(alpha / 2.0))
    return c / (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne))


def ks_similar_numpy(amplitude, half_rows, half_cols, alpha):
    """Boolean (rows, cols, wy, wx): the window pixel's amplitude series passes the KS test against the centre's."""
    amp = np.asarray(amplitude, dtype=np.float64)
    n, rows, cols = amp.shape
    srt = np.sort(amp, axis=0)
    valid = srt[-1] > 0
    d_max = math.floor(ks_critical_value(n, alpha) * n - 1e-9)
    wy, wx = 2 * half_rows + 1, 2 * half_cols + 1
    pad = np.full((n, rows + 2 * half_rows, cols + 2 * half_cols), np.nan)
    pad[:, half_rows:half_rows + rows, half_cols:half_cols + cols] = srt
    vpad = np.zeros((rows + 2 * half_rows, cols + 2 * half_cols), dtype=bool)
    vpad[half_rows:half_rows + rows, half_cols:half_cols + cols] = valid
    out = np.zeros((rows, cols, wy, wx), dtype=bool)
    a = srt.reshape(n, -1).T  # (P, n)
    for dy in range(wy):
        for dx in range(wx):
            b = pad[:, dy:dy + rows, dx:dx + cols].reshape(n, -1).T
            both = np.concatenate([a, b], axis=1)
            # empirical CDFs of both samples at every pooled value
            fa = (a[:, None, :] <= both[:, :, None]).sum(axis=2)
            fb = (b[:, None, :] <= both[:, :, None]).sum(axis=2)
            d = np.abs(fa - fb).max(axis=1)
            ok = (d <= d_max) & vpad[dy:dy + rows, dx:dx + cols].ravel() & valid.ravel()
            out[:, :, dy, dx] = ok.reshape(rows, cols)
    return out


def glrt_similar_numpy(amplitude, half_rows, half_cols, alpha):
    """Boolean (rows, cols, wy, wx): the window pixel's power mean passes the equal-tailed F test against the
    centre's (the GLRT of Rayleigh amplitudes); pixels with zero power never do."""
    from scipy.stats import f

    amp = np.asarray(amplitude, dtype=np.float64)
    n, rows, cols = amp.shape
    power = np.mean(amp * amp, axis=0)
    valid = power > 0
    f_max = f.ppf(1.0 - alpha / 2.0, 2 * n, 2 * n)
    wy, wx = 2 * half_rows + 1, 2 * half_cols + 1
    pad = np.zeros((rows + 2 * half_rows, cols + 2 * half_cols))
    pad[half_rows:half_rows + rows, half_cols:half_cols + cols] = power
    out = np.zeros((rows, cols, wy, wx), dtype=bool)
    for dy in range(wy):
        for dx in range(wx):
            q = pad[dy:dy + rows, dx:dx + cols]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = power / q
            out[:, :, dy, dx] = valid & (q > 0) & (ratio <= f_max) & (ratio >= 1.0 / f_max)
    return out


SIMILAR_NUMPY = {"ks": ks_similar_numpy, "glrt": glrt_similar_numpy}


def shp_masks_numpy(amplitude, half_rows, half_cols, alpha, method="ks"):
    """(masks (rows, cols, wy, wx) bool, counts): similar pixels (``method`` "ks" or "glrt") 8-connected to the
    centre."""
    from scipy import ndimage

    similar = SIMILAR_NUMPY[method](amplitude, half_rows, half_cols, alpha)
    rows, cols, wy, wx = similar.shape
    masks = np.zeros_like(similar)
    structure = np.ones((3, 3), dtype=bool)
    for r in range(rows):
        for c in range(cols):
            s = similar[r, c]
            if not s[half_rows, half_cols]:
                continue
            lab, _ = ndimage.label(s, structure=structure)
            masks[r, c] = lab == lab[half_rows, half_cols]
    return masks, masks.sum(axis=(2, 3))


def coherence_matrices_numpy(slc, r_idx, c_idx, masks):
    """Sample coherence matrices (n, N, N) complex128 over the SHP masks (n, wy, wx)."""
    slc = np.asarray(slc, dtype=np.complex128)
    masks = np.asarray(masks, dtype=bool)
    _, wy, wx = masks.shape
    hr, hc = wy // 2, wx // 2
    out = []
    for r, c, m in zip(r_idx, c_idx, masks):
        ys, xs = np.nonzero(m)
        z = slc[:, r + ys - hr, c + xs - hc]  # (N, L)
        s = z @ z.conj().T
        p = np.sqrt(np.real(np.diag(s)))
        out.append(s / np.outer(p, p))
    return np.array(out)


def temporal_coherence_numpy(c, phasors):
    """|mean over i < k of exp(j(arg C_ik − θ_i + θ_k))| per matrix."""
    n = c.shape[-1]
    z = c * np.conj(phasors)[:, :, None] * phasors[:, None, :]
    iu = np.triu_indices(n, 1)
    u = z[:, iu[0], iu[1]]
    u = np.where(np.abs(u) > 0, u / np.where(np.abs(u) > 0, np.abs(u), 1.0), 0.0)
    return np.abs(u.sum(axis=1)) / len(iu[0])


def link_matrices_numpy(coherence, beta=0.01):
    """(phasors (n, N), temporal coherence (n,), evd (n,) bool) — EMI, EVD where |C| cannot be inverted."""
    c = np.asarray(coherence, dtype=np.complex128)
    n = c.shape[-1]
    gamma = (1.0 - beta) * np.abs(c) + beta * np.eye(n)
    w, u = np.linalg.eigh(gamma)
    evd = w[:, 0] <= SINGULAR * w[:, -1]
    inv = np.einsum("pik,pk,pjk->pij", u, 1.0 / np.where(evd[:, None], 1.0, w), u)
    _, v = np.linalg.eigh(inv * c)
    vec = v[:, :, 0]
    if evd.any():
        _, v2 = np.linalg.eigh(c[evd])
        vec[evd] = v2[:, :, -1]
    ref = np.conj(vec[:, :1]) / np.abs(vec[:, :1])
    ph = vec * ref
    ph = ph / np.abs(ph)
    return ph, temporal_coherence_numpy(c, ph), evd


def phase_linking_crb(gamma, looks):
    """CRB covariance (N−1, N−1) of the phases of dates 1…N−1 (date 0 the reference), coherence magnitude
    ``gamma`` (N, N) known, ``looks`` independent samples."""
    g = np.asarray(gamma, dtype=np.float64)
    x = 2.0 * looks * (np.linalg.inv(g) * g - np.eye(len(g)))
    return np.linalg.inv(x[1:, 1:])


def exponential_coherence(days, gamma_inf, tau_days):
    """γ(Δt) = γ∞ + (1 − γ∞)·exp(−|Δt|/τ) between every pair of dates (N, N)."""
    t = np.asarray(days, dtype=np.float64)
    dt = np.abs(t[:, None] - t[None, :])
    return gamma_inf + (1.0 - gamma_inf) * np.exp(-dt / tau_days)


def circular_gaussian(gamma, phases, looks, rng):
    """``looks`` samples (N, looks) complex of a circular Gaussian with covariance ``Γ ∘ e^{j(φ_i − φ_k)}``."""
    g = np.asarray(gamma, dtype=np.float64)
    n = len(g)
    chol = np.linalg.cholesky(g)
    w = (rng.standard_normal((n, looks)) + 1j * rng.standard_normal((n, looks))) / np.sqrt(2.0)
    return np.exp(1j * np.asarray(phases))[:, None] * (chol @ w)


# ---------------------------------------------------------------- vectorised pipeline (the benchmark's baseline)
def _shift(a, dy, dx):
    """a (P, wy, wx) shifted by (dy, dx) on the last two axes, zero fill."""
    out = np.zeros_like(a)
    wy, wx = a.shape[1:]
    ys, yd = (slice(0, wy - dy), slice(dy, wy)) if dy >= 0 else (slice(-dy, wy), slice(0, wy + dy))
    xs, xd = (slice(0, wx - dx), slice(dx, wx)) if dx >= 0 else (slice(-dx, wx), slice(0, wx + dx))
    out[:, yd, xd] = a[:, ys, xs]
    return out


def connect_vectorised(similar):
    """Similar pixels (P, wy, wx) 8-connected to the centre, all windows at once (repeated dilation)."""
    p, wy, wx = similar.shape
    masks = np.zeros_like(similar)
    masks[:, wy // 2, wx // 2] = similar[:, wy // 2, wx // 2]
    while True:
        grown = masks.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    grown |= _shift(masks, dy, dx)
        grown &= similar
        if np.array_equal(grown, masks):
            return masks
        masks = grown


def ds_pipeline_numpy(slc, half_rows, half_cols, alpha=0.05, beta=0.01, rows=None, method="ks"):
    """SHPs (``method`` "ks" or "glrt"), coherence matrices and EMI of every centre pixel of an SLC block, the plain
    vectorised-numpy way (the benchmark's baseline): ``(phasors (P, N), temporal coherence (P,), counts (P,))`` in
    row-major order of the centre rows ``rows`` (default: all rows whose window fits)."""
    from numpy.lib.stride_tricks import sliding_window_view

    slc = np.asarray(slc, dtype=np.complex64)
    n, block_rows, cols = slc.shape
    r0, r1 = rows if rows is not None else (half_rows, block_rows - half_rows)
    wy, wx = 2 * half_rows + 1, 2 * half_cols + 1
    sim = SIMILAR_NUMPY[method](np.abs(slc), half_rows, half_cols, alpha)[r0:r1]  # (R, C, wy, wx)
    masks = connect_vectorised(sim.reshape(-1, wy, wx))
    pad = np.zeros((n, block_rows + 2 * half_rows, cols + 2 * half_cols), dtype=np.complex64)
    pad[:, half_rows:half_rows + block_rows, half_cols:half_cols + cols] = slc
    win = sliding_window_view(pad, (wy, wx), axis=(1, 2))[:, r0:r1]  # (N, R, C, wy, wx)
    z = win.reshape(n, -1, wy * wx) * masks.reshape(1, -1, wy * wx)
    s = np.einsum("npl,mpl->pnm", z, np.conj(z))
    pw = np.sqrt(np.einsum("pnn->pn", s).real)
    c = s / (pw[:, :, None] * pw[:, None, :])
    ph, coh, _ = link_matrices_numpy(c, beta)
    return ph, coh, masks.sum(axis=(1, 2))
