"""Real-valued rule coefficients and bounds -> integers for CP-SAT, never unsafely.

Costs and metrics are real numbers, compared exactly by the spec. We look for
the smallest power of ten that makes every coefficient and bound an integer
(up to float noise, e.g. 9473.100000000006 is 9473.1): then the integer row
is the real row. When no such power exists (a metric with 15 significant
digits) we round conservatively: coefficients up and the bound down for a
`<=` row, the reverse for `>=`, so every plan the solver accepts also holds
in exact arithmetic. Such rows are reported as not exact, since the
conservative row may cut off a plan that was feasible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOISE = 1e-9  # relative float noise tolerated when deciding that a scaled value is whole
MAX_EXPONENT = 12
INT_LIMIT = 2**62


@dataclass(frozen=True)
class ScaledRow:
    coefs: np.ndarray
    lb: int | None
    ub: int | None
    scale: int
    exact: bool


def _is_whole(values: np.ndarray) -> np.ndarray:
    rounded = np.round(values)
    return np.abs(values - rounded) <= NOISE * np.maximum(1.0, np.abs(values))


def choose_scale(coefs: np.ndarray, bounds: list[float],
                 reach: float | None = None) -> tuple[int, bool]:
    """Smallest 10^k making every coefficient whole (exact), else the largest safe 10^k.

    Bounds need not be whole: with integer coefficients the left side is an
    integer, so flooring a `<=` bound (ceiling a `>=` one) loses nothing. `reach`
    bounds the size of the row's sum (default: the sum of |coefs|).
    """
    values = np.asarray(coefs, float)
    total = float(np.abs(coefs).sum()) if reach is None else reach
    magnitude = total + max([abs(b) for b in bounds], default=0.0) + 1.0
    best = 1
    for exponent in range(MAX_EXPONENT + 1):
        scale = 10**exponent
        if magnitude * scale >= INT_LIMIT:
            return best, False
        best = scale
        if bool(_is_whole(values * scale).all()):
            return scale, True
    return best, False


@dataclass(frozen=True)
class ScaledBounds:
    """One integer row's bounds at a given scale, and how its coefficients round."""

    lb: int | None
    ub: int | None
    rounding: str  # "round" (exact), "ceil" (a safe `<=` row), "floor" (a safe `>=` row)


def scale_bounds(low: float | None, high: float | None, scale: int,
                 exact: bool) -> list[ScaledBounds]:
    """The integer rows of low <= sum <= high at `scale`: one two-sided row when the scale
    makes every amount whole (exact), else a `<=` row whose coefficients round up and a
    `>=` row whose coefficients round down, so every plan they accept holds exactly."""
    if exact:
        return [ScaledBounds(_ceil(low, scale), _floor(high, scale), "round")]
    rows = []
    if high is not None:
        rows.append(ScaledBounds(None, _floor(high, scale), "ceil"))
    if low is not None:
        rows.append(ScaledBounds(_ceil(low, scale), None, "floor"))
    return rows


def _floor(bound: float | None, scale: int) -> int | None:
    if bound is None:
        return None
    value = bound * scale
    return int(np.floor(value + NOISE * max(1.0, abs(value))))


def _ceil(bound: float | None, scale: int) -> int | None:
    if bound is None:
        return None
    value = bound * scale
    return int(np.ceil(value - NOISE * max(1.0, abs(value))))
