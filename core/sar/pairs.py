"""Interferogram pair networks on a stack's acquisition dates (and baselines).

Every network is a sorted ``(n_pairs, 2)`` int64 array of date indices
``(i, k)`` with ``i < k`` (the reference is always the earlier date), so the
interferogram ``I_ik = s_i · conj(s_k)`` has phase φ_ik with
``d_k − d_i = −λ/(4π) · φ_ik`` (:mod:`egms_plugin.core.conventions`, ARCHITECTURE.md §Conventions).

* :func:`single_reference_pairs` — every date with one reference date; by
  default the date nearest the middle of the time span
  (:func:`default_reference_index`), which keeps the longest temporal baseline
  as short as possible.
* :func:`sequential_pairs` — every date with its next ``neighbours`` dates.
* :func:`small_baseline_pairs` — every pair within a maximum temporal baseline
  (days) and, when perpendicular baselines are known, a maximum
  ``|B⊥,k − B⊥,i|`` (m).

:func:`build_network` picks one by name and returns warnings (a disconnected
network) next to the pairs.

Example
-------
>>> import datetime as dt
>>> dates = [dt.date(2020, 1, 1) + dt.timedelta(days=12 * n) for n in range(5)]
>>> sequential_pairs(len(dates), 2).tolist()
[[0, 1], [0, 2], [1, 2], [1, 3], [2, 3], [2, 4], [3, 4]]
>>> single_reference_pairs(len(dates), default_reference_index(dates)).tolist()
[[0, 2], [1, 2], [2, 3], [2, 4]]
"""

from __future__ import annotations

import numpy as np

from ..conventions import day_numbers, format_date
from ..errors import InputError

NETWORKS = ("single reference", "sequential", "small baseline")
"""Network names accepted by :func:`build_network`, in the order of the Processing enum."""


def _as_pairs(pairs):
    out = np.array(sorted(set(pairs)), dtype=np.int64)
    return out.reshape(-1, 2)


def default_reference_index(dates):
    """Index of the date nearest the middle of the time span (the earlier one on a tie)."""
    days = day_numbers(dates)
    if days.size == 0:
        raise InputError("no dates: a network needs at least two acquisitions.")
    middle = 0.5 * (days[0] + days[-1])
    return int(np.argmin(np.abs(days - middle)))


def single_reference_pairs(n_dates, reference_index):
    """Every date with the reference: pairs ``(min(r, k), max(r, k))`` for k ≠ r."""
    if not 0 <= reference_index < n_dates:
        raise InputError(f"reference index {reference_index} is outside the {n_dates} dates.")
    return _as_pairs((min(reference_index, k), max(reference_index, k)) for k in range(n_dates) if k != reference_index)


def sequential_pairs(n_dates, neighbours=3):
    """Every date with its next ``neighbours`` dates: ``neighbours·n − neighbours(neighbours+1)/2`` pairs."""
    if neighbours < 1:
        raise InputError(f"sequential network: {neighbours} neighbours; at least 1 is needed.")
    return _as_pairs((i, k) for i in range(n_dates) for k in range(i + 1, min(i + neighbours, n_dates - 1) + 1))


def small_baseline_pairs(dates, bperp=None, max_days=48.0, max_bperp_m=150.0):
    """Every pair with temporal baseline ≤ ``max_days`` and ``|ΔB⊥|`` ≤ ``max_bperp_m``.

    ``bperp`` None (no ``baselines.csv``) limits the temporal baseline only.
    """
    days = day_numbers(dates)
    dt = np.abs(days[None, :] - days[:, None])
    ok = dt <= max_days
    if bperp is not None:
        b = np.asarray(bperp, dtype=np.float64)
        ok &= np.abs(b[None, :] - b[:, None]) <= max_bperp_m
    i, k = np.nonzero(np.triu(ok, 1))
    return _as_pairs(zip(i.tolist(), k.tolist()))


def connected_components(n_dates, pairs):
    """Component label (0, 1, …) of every date in the graph of ``pairs`` (union–find)."""
    parent = list(range(n_dates))

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, k in np.asarray(pairs).reshape(-1, 2).tolist():
        ri, rk = root(i), root(k)
        if ri != rk:
            parent[max(ri, rk)] = min(ri, rk)
    roots = [root(a) for a in range(n_dates)]
    labels = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return np.array([labels[r] for r in roots], dtype=np.int64)


def parse_reference_date(text, dates):
    """Index of the ``YYYYMMDD`` reference date ``text`` among ``dates``; InputError if not a stack date."""
    text = (text or "").strip()
    names = [format_date(d) for d in dates]
    if len(text) != 8 or not text.isdigit():
        raise InputError(f"reference date {text!r} is not YYYYMMDD (e.g. {names[len(names) // 2]}).")
    if text not in names:
        shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
        raise InputError(f"reference date {text} is not an acquisition of the stack; the dates are {shown}.")
    return names.index(text)


def build_network(network, dates, bperp=None, reference_index=None, neighbours=3, max_days=48.0,
                  max_bperp_m=150.0):
    """Pairs ``(n_pairs, 2)`` and a list of warnings for a network named as in :data:`NETWORKS`.

    ``reference_index`` None uses :func:`default_reference_index`.  Raises
    :class:`InputError` when the network has no pair; warns when the dates fall
    apart into several groups with no pair between them (such a network cannot
    be inverted into one time series).
    """
    n = len(dates)
    if n < 2:
        raise InputError(f"{n} acquisition(s): a network needs at least two.")
    warnings = []
    if network == "single reference":
        ref = default_reference_index(dates) if reference_index is None else int(reference_index)
        pairs = single_reference_pairs(n, ref)
    elif network == "sequential":
        pairs = sequential_pairs(n, int(neighbours))
    elif network == "small baseline":
        if max_days <= 0:
            raise InputError(f"small-baseline network: maximum temporal baseline {max_days} days must be positive.")
        if max_bperp_m <= 0:
            raise InputError(f"small-baseline network: maximum perpendicular baseline {max_bperp_m} m must be positive.")
        if bperp is None:
            warnings.append("no baselines.csv: the small-baseline network limits the temporal baseline only.")
        pairs = small_baseline_pairs(dates, bperp, max_days, max_bperp_m)
        if len(pairs) == 0:
            limit = f"{max_days:g} days" + ("" if bperp is None else f" and {max_bperp_m:g} m")
            raise InputError(f"small-baseline network: no pair of dates is within {limit}; raise the limits.")
    else:
        raise InputError(f"unknown network {network!r}; expected one of {', '.join(NETWORKS)}.")
    labels = connected_components(n, pairs)
    n_groups = int(labels.max()) + 1
    if n_groups > 1:
        firsts = [format_date(dates[int(np.argmax(labels == g))]) for g in range(n_groups)]
        warnings.append(
            f"the {network} network is disconnected: {n_groups} groups of dates with no pair between them "
            f"(groups start at {', '.join(firsts[:10])}{' …' if n_groups > 10 else ''}); raise the limits "
            "to link them."
        )
    return pairs, warnings
