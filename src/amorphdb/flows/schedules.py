"""Temperature and volume schedules as pure functions (both ends always included).

atomate2's slow quench uses ``np.arange(3000, 500, -500)``, which never reaches
500 K; every schedule here includes its end point.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from amorphdb.errors import ConfigError


def temperature_steps(start_K: float, end_K: float, step_K: float) -> list[float]:
    """Temperatures from ``start_K`` to ``end_K`` in steps of ``|step_K|``, both ends included.

    The last interval may be shorter than ``step_K`` so that ``end_K`` is reached
    exactly. Works for heating and cooling.

    Examples
    --------
    >>> temperature_steps(3000, 500, 500)
    [3000.0, 2500.0, 2000.0, 1500.0, 1000.0, 500.0]
    >>> temperature_steps(5000, 1200, 1000)
    [5000.0, 4000.0, 3000.0, 2000.0, 1200.0]
    """
    if start_K <= 0 or end_K <= 0:
        raise ConfigError(f"temperatures must be positive (got {start_K} K and {end_K} K)")
    if step_K == 0:
        raise ConfigError("temperature step must be non-zero")
    step = abs(step_K) if end_K >= start_K else -abs(step_K)
    n = int(np.floor(abs(end_K - start_K) / abs(step) + 1e-9))
    temps = [float(start_K + i * step) for i in range(n + 1)]
    if not np.isclose(temps[-1], end_K):
        temps.append(float(end_K))
    return temps


def cooling_stages(
    start_K: float, end_K: float, method: str, step_K: float = 500.0
) -> list[tuple[float, float]]:
    """MD stages (start, end temperature) that take a melt at ``start_K`` to ``end_K``.

    ``"none"`` → no stage; ``"linear"`` → one ramp ``(start, end)``; ``"stepwise"`` →
    a hold at every temperature of :func:`temperature_steps` after the first, ending
    with a hold at ``end_K`` (the holds of MPMorph's slow quench, with the end
    temperature included).
    """
    if method == "none" or np.isclose(start_K, end_K):
        return []
    if method == "linear":
        return [(float(start_K), float(end_K))]
    if method == "stepwise":
        return [(t, t) for t in temperature_steps(start_K, end_K, step_K)[1:]]
    raise ConfigError(f"unknown cooling method '{method}'; use none, linear or stepwise")


def volume_scale_factors(n_points: int, spread: float) -> list[float]:
    """``n_points`` volume scale factors evenly spaced in ``[1 - spread, 1 + spread]``.

    MPMorph's classic scheme is ``volume_scale_factors(3, 0.2)`` = [0.8, 1.0, 1.2].
    """
    if n_points < 2:
        raise ConfigError(f"need at least 2 volumes for an EOS fit (got {n_points})")
    if not 0 < spread < 1:
        raise ConfigError(f"volume spread must be in (0, 1) (got {spread})")
    return [float(x) for x in np.linspace(1 - spread, 1 + spread, n_points)]


def cooling_path(start_K: float, stops_K: list[float]) -> list[tuple[float, float]]:
    """Segments ``(from, to)`` of one continuous cooling path through every stop.

    The glass path cools the melt once, from ``start_K`` down through each stop in
    descending order (stops at or above ``start_K`` are skipped); each anneal branch
    and the glass point start from the end of their segment.

    Examples
    --------
    >>> cooling_path(3000, [1000, 2000, 300])
    [(3000.0, 2000.0), (2000.0, 1000.0), (1000.0, 300.0)]
    """
    stops = sorted({float(t) for t in stops_K if t < start_K}, reverse=True)
    if any(t <= 0 for t in stops):
        raise ConfigError(f"temperatures must be positive (got {stops_K})")
    edges = [float(start_K), *stops]
    return list(itertools.pairwise(edges))


def ramp_steps(start_K: float, end_K: float, rate_K_per_ps: float, timestep_fs: float) -> int:
    """MD steps of a linear ramp from ``start_K`` to ``end_K`` at ``rate_K_per_ps`` (≥ 1).

    Examples
    --------
    >>> ramp_steps(3000, 300, 10.0, 1.0)  # 2700 K at 10 K/ps = 270 ps
    270000
    """
    if rate_K_per_ps <= 0 or timestep_fs <= 0:
        raise ConfigError("cooling rate and time step must be positive")
    return max(1, round(abs(start_K - end_K) / rate_K_per_ps * 1000.0 / timestep_fs))


class PathStage(NamedTuple):
    """One MD stage of the glass path: a ramp ``start_K`` → ``end_K`` of ``n_steps``;
    ``npt`` is False only for the NVT ramp that brings a hotter melt to the path start."""

    start_K: float
    end_K: float
    n_steps: int
    npt: bool


def glass_path_stages(
    melt_K: float,
    stops_K: list[float],
    start_K: float,
    rate_K_per_ps: float,
    timestep_fs: float,
    pre_ramp_steps: int,
) -> list[PathStage]:
    """Every MD stage of the glass path, the one place its schedule is derived.

    A melt hotter than ``start_K`` is first ramped to it in ``pre_ramp_steps`` NVT
    steps at the melt density; from there one NPT ramp at ``rate_K_per_ps`` per
    :func:`cooling_path` segment reaches each stop (anneal temperatures and the glass
    temperature; stops at or above the start are reached by no stage).

    Examples
    --------
    >>> [tuple(s) for s in glass_path_stages(5000, [1000, 300], 3000, 10.0, 1.0, 500)]
    [(5000.0, 3000.0, 500, False), (3000.0, 1000.0, 200000, True), (1000.0, 300.0, 70000, True)]
    """
    start = min(float(melt_K), float(start_K))
    stages = []
    if melt_K > start:
        stages.append(PathStage(float(melt_K), start, int(pre_ramp_steps), False))
    for t0, t1 in cooling_path(start, stops_K):
        stages.append(PathStage(t0, t1, ramp_steps(t0, t1, rate_K_per_ps, timestep_fs), True))
    return stages
