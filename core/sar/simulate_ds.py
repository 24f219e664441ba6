"""Distributed-scatterer areas of the simulated stacks (:func:`.simulate.simulate_stack`, ``ds_areas`` > 0).

:class:`DistributedScatterers` draws, date by date, the SLC values of circular areas of circular-Gaussian
scattering whose temporal coherence follows γ(Δt) = γ∞ + (1 − γ∞)·exp(−Δt/τ); :data:`DS_README` is the
paragraph added to ``truth/README.txt``.
"""

from __future__ import annotations

import numpy as np


class DistributedScatterers:
    """Circular-Gaussian scattering of the DS areas, date by date, with γ(Δt) = γ∞ + (1 − γ∞)·exp(−Δt/τ).

    Per pixel ``s_k = b·(√γ∞ · c + √(1 − γ∞) · m_k) · e^{jφ_k}`` plus thermal noise: c a stable complex
    Gaussian (the coherent part), m_k a complex AR(1) process with correlation exp(−Δt/τ) between
    consecutive dates, b the brightness, φ_k the LOS phase ``4π/λ·(d_k + a_k + B⊥,k·Δh/(R sin θ))`` with
    one height error per area (a smooth terrain).  Then ``E[s_i conj(s_k)] = b²·γ(t_k − t_i)·e^{j(φ_i − φ_k)}``
    exactly.  Its own random streams (seed, 0xD5): with no DS areas nothing else changes.
    """

    def __init__(self, p, rows, cols, ps_mask, days):
        seq = np.random.SeedSequence([p.seed, 0xD5])
        static, *self.seeds = seq.spawn(p.n_dates + 1)
        rng = np.random.default_rng(static)
        radius = p.ds_radius_m / p.pixel_size_m
        yy, xx = np.mgrid[0:rows, 0:cols]
        area = np.zeros((rows, cols), dtype=np.int32)  # 1 + area index, 0 outside
        dh = rng.uniform(-p.height_error_max_m, p.height_error_max_m, size=p.ds_areas)
        for a in range(p.ds_areas):
            cy, cx = rng.uniform(radius, max(radius, rows - radius)), rng.uniform(radius, max(radius, cols - radius))
            area[((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2) & (area == 0)] = a + 1
        self.mask = (area > 0) & ~ps_mask
        self.height_error = dh[area[self.mask] - 1]
        n = int(self.mask.sum())
        self.days, self.tau, self.g = np.asarray(days, float), p.ds_tau_days, p.ds_gamma_inf
        self.amplitude = np.float32(p.ds_brightness)
        self.noise = np.float32(p.thermal_noise / np.sqrt(2.0))
        self.c = self._cn(rng, n)
        self.m = self._cn(rng, n)

    @staticmethod
    def _cn(rng, n):
        z = np.empty(n, dtype=np.complex64)
        z.real = rng.standard_normal(n, dtype=np.float32)
        z.imag = rng.standard_normal(n, dtype=np.float32)
        return z * np.float32(np.sqrt(0.5))

    def draw(self, k, phase):
        """The DS pixels' SLC values (complex64, clutter units) on date k with LOS phase ``phase`` (rad)."""
        rng = np.random.default_rng(self.seeds[k])
        if k:
            rho = np.float32(np.exp(-(self.days[k] - self.days[k - 1]) / self.tau))
            self.m = rho * self.m + np.float32(np.sqrt(1.0 - rho * rho)) * self._cn(rng, self.m.size)
        s = (np.float32(np.sqrt(self.g)) * self.c + np.float32(np.sqrt(1.0 - self.g)) * self.m) * self.amplitude
        s = s * np.exp(1j * phase).astype(np.complex64)
        noise = self._cn(rng, s.size) * np.float32(np.sqrt(2.0)) * self.noise
        return (s + noise).astype(np.complex64)


DS_README = """
Distributed scatterers (``ds_areas`` > 0): circular areas of circular-Gaussian scattering with the temporal
coherence γ(Δt) = γ∞ + (1 − γ∞)·exp(−Δt/τ) (``ds_gamma_inf``, ``ds_tau_days``), ``ds_brightness`` × the
clutter amplitude, the same deformation and atmosphere and one height error per area.
``truth/ds_mask.tif`` (1 = DS pixel; persistent scatterers inside the areas stay PS);
``height_error.tif`` holds the areas' height errors at their DS pixels.
"""
