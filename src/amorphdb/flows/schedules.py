"""Temperature and volume schedules as pure functions (both ends always included).

atomate2's slow quench uses ``np.arange(3000, 500, -500)``, which never reaches
500 K; every schedule here includes its end point.
"""

from __future__ import annotations

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
