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
from typing import Any

import numpy as np
from ortools.linear_solver.python import model_builder as mb
from scipy import sparse


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
    very different scales otherwise leave GLOP with coefficients 1e12 apart. The program
    is handed to GLOP as arrays in one call: hundreds of cuts over dozens of pieces are
    too many coefficients to add one Python call each.
    """
    unit = np.maximum(upper, 1e-12)
    size = max(1.0, max(float(np.abs(a).sum()) for a, _ in cuts))
    pieces = len(cuts[0][0])
    intercepts = np.concatenate([a for a, _ in cuts]) / size  # (cuts x pieces,)
    slopes = np.concatenate([s for _, s in cuts]) * unit / size  # rows: (cut, piece)
    n_rows = len(intercepts)
    piece = np.tile(np.arange(pieces), len(cuts))
    # row: t_piece - slopes.z >= intercept
    at_row, at_col = np.nonzero(slopes)
    rows = [np.arange(n_rows), at_row]
    columns = [dim + piece, at_col]
    values = [np.ones(n_rows), -slopes[at_row, at_col]]
    low_rows = [intercepts]
    high_rows = [np.full(n_rows, np.inf)]
    for k, (i, j, factor) in enumerate(links):  # unit_i z_i - factor unit_j z_j <= 0
        rows += [np.array([n_rows + k, n_rows + k])]
        columns += [np.array([i, j])]
        values += [np.array([unit[i], -factor * unit[j]])]
        low_rows.append(np.array([-np.inf]))
        high_rows.append(np.zeros(1))
    n_all = n_rows + len(links)
    matrix = sparse.csr_matrix((np.concatenate(values),
                                (np.concatenate(rows), np.concatenate(columns))),
                               shape=(n_all, dim + pieces))
    model = mb.Model()
    helper: Any = model.helper  # its stub's array types name no valid ndarray shape
    helper.fill_model_from_sparse_data(
        np.r_[low / unit, np.full(pieces, -np.inf)], np.r_[high / unit, np.full(pieces, np.inf)],
        np.r_[np.zeros(dim), np.ones(pieces)], np.concatenate(low_rows),
        np.concatenate(high_rows), matrix)
    solver = mb.Solver("glop")
    if solver.solve(model) != mb.SolveStatus.OPTIMAL:
        return None
    solution = solver.values(model.get_variables()).to_numpy()
    point = np.clip(solution[:dim] * unit, low, high)
    span = np.maximum(high - low, 1e-12)
    # on the box: pressed against an edge of the box that is not an edge of the domain
    on_box = bool(np.any(((point - low) < 1e-7 * span) & (low > 0))
                  or np.any(((high - point) < 1e-7 * span) & (high < upper)))
    return point, float(solution[dim:].sum()) * size, on_box
