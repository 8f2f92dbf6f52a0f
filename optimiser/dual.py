"""Minimise a Lagrangian dual function by cutting planes (Kelley) in a moving box.

A Lagrangian dual L(y) = max_x [f(x) + y.(b - g(x))] is convex and piecewise linear
in the multipliers y: every x the inner maximum returns gives an affine minorant
(a "cut") of L. With only a handful of multipliers (one per global row and per
higher-tier floor) a linear program over the cuts seen so far, solved by GLOP,
proposes the next y far better than subgradient steps, which stall when the
multipliers live on very different scales. The box around the best point keeps
the early, poorly informed programs from jumping to a corner (box-step method).

Any y in the domain gives an upper bound on the primal optimum (weak duality), so
the least value evaluated is the bound we report; the cut model's minimum, when the
box does not bind, is a lower limit on how far the bound can still fall.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import ortools.linear_solver.pywraplp as pywraplp


@dataclass(frozen=True)
class Evaluation:
    """L at one point y: `value` an upper estimate of L(y) (the bound it certifies), and
    the affine minorants of the inner maximiser found, one per piece g of a sum
    L = sum_g L_g: `cut_values[g] + slopes[g].(y' - y)` <= L_g(y').

    Pieces (groups of customers, each with its own cut) make the cut model far richer
    per evaluation than one aggregated cut: the same batch solve teaches the master
    how each group reacts to the multipliers.
    """

    value: float
    cut_values: np.ndarray  # (pieces,)
    slopes: np.ndarray  # (pieces, dim)


@dataclass(frozen=True)
class DualResult:
    value: float  # least L seen: a valid upper bound on the primal optimum
    point: np.ndarray  # where it was seen
    model_floor: float  # the cut model's least value over the domain (-inf if unknown)
    evaluations: int


def minimise(evaluate: Callable[[np.ndarray], Evaluation], start: np.ndarray,
             upper: np.ndarray, links: list[tuple[int, int, float]],
             max_evaluations: int, tolerance: float = 1e-5) -> DualResult:
    """Least L(y) over 0 <= y <= upper with y[i] <= factor * y[j] for each (i, j, factor)
    in `links` (a soft row's price never exceeds its penalty times its tier's weight).

    Stops when the bound is within `tolerance` (relative) of the cut model's floor, or
    after `max_evaluations` calls of `evaluate`.
    """
    dim = len(start)
    center = np.clip(np.asarray(start, dtype=float), 0.0, upper)
    width = np.maximum(np.maximum(center, upper / 64), 1e-9)
    cuts: list[tuple[np.ndarray, np.ndarray]] = []  # per piece: L_g(y) >= a_g + s_g.y
    best = _evaluate(evaluate, center, cuts)
    best_point, floor, count = center, -np.inf, 1
    while count < max_evaluations:
        low = np.maximum(center - width, 0.0)
        high = np.minimum(center + width, upper)
        proposal = _master(cuts, low, high, upper, links, dim)
        if proposal is None:
            break
        point, model_value, on_box = proposal
        if not on_box:
            floor = max(floor, model_value)  # a minimum of the model over the whole domain
        if _close(best, max(model_value, floor), tolerance):
            if not on_box:
                break
            width = width * 2  # the box, not the model, stops progress: widen it
            continue
        value = _evaluate(evaluate, point, cuts)
        count += 1
        predicted = best - model_value
        if value <= best - 0.1 * predicted:  # a serious step: the model was right enough
            best, best_point, center = value, point, point
            width = np.minimum(width * 2, np.maximum(upper, 1e-9))
        else:
            width = width * 0.5  # the model overpromised here: trust it on less ground
    return DualResult(float(best), best_point, float(floor), count)


def _evaluate(evaluate: Callable[[np.ndarray], Evaluation], point: np.ndarray,
              cuts: list[tuple[np.ndarray, np.ndarray]]) -> float:
    found = evaluate(point)
    slopes = np.asarray(found.slopes, dtype=float)
    cuts.append((np.asarray(found.cut_values, dtype=float) - slopes @ point, slopes))
    return float(found.value)


def _close(value: float, target: float, tolerance: float) -> bool:
    return value - target <= tolerance * max(1.0, abs(value))


def _master(cuts: list[tuple[np.ndarray, np.ndarray]], low: np.ndarray, high: np.ndarray,
            upper: np.ndarray, links: list[tuple[int, int, float]], dim: int
            ) -> tuple[np.ndarray, float, bool] | None:
    """min sum_g t_g s.t. t_g >= a_g + s_g.y for every cut, low <= y <= high, links:
    (y, the minimum, whether y is pressed against the box).

    Solved in normalised units (y / upper, t / the cuts' magnitude): multipliers of
    very different scales otherwise leave GLOP with coefficients 1e12 apart.
    """
    unit = np.maximum(upper, 1e-12)
    size = max(1.0, max(float(np.abs(a).sum()) for a, _ in cuts))
    solver = pywraplp.Solver.CreateSolver("GLOP")
    z = [solver.NumVar(float(low[i] / unit[i]), float(high[i] / unit[i]), f"z{i}")
         for i in range(dim)]
    pieces = len(cuts[0][0])
    t = [solver.NumVar(-solver.infinity(), solver.infinity(), f"t{g}") for g in range(pieces)]
    for intercepts, slopes in cuts:
        scaled = slopes * unit / size
        for g in range(pieces):
            solver.Add(t[g] >= float(intercepts[g]) / size
                       + sum(float(scaled[g, i]) * z[i] for i in range(dim) if scaled[g, i]))
    for i, j, factor in links:
        solver.Add(unit[i] * z[i] <= factor * unit[j] * z[j])
    solver.Minimize(sum(t))
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    point = np.clip(np.array([v.solution_value() for v in z]) * unit, low, high)
    span = np.maximum(high - low, 1e-12)
    # on the box: pressed against an edge of the box that is not an edge of the domain
    on_box = bool(np.any(((point - low) < 1e-7 * span) & (low > 0))
                  or np.any(((high - point) < 1e-7 * span) & (high < upper)))
    return point, float(sum(v.solution_value() for v in t)) * size, on_box
