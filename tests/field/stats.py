"""The figures of a series of sessions: success with its confidence bound, delays' quantiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959964
"""Normal quantile of a two-sided 95 % interval."""


def wilson_lower_bound(successes: int, trials: int, z: float = Z_95) -> float:
    """The lower end of the Wilson score interval of ``successes``/``trials`` (0 when none)."""
    if trials == 0:
        return 0.0
    share = successes / trials
    spread = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return (share + z * z / (2 * trials) - spread) / (1 + z * z / trials)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
