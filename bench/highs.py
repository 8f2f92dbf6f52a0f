"""The contact-plan model as a MIP for HiGHS (the `bench` extra: highspy).

The rows are exactly the block's (optimiser/block.py): binaries for options and
indicators, integer slacks, one MIP row per block row. Tiers are solved
lexicographically like optimiser/cpsat.py: tier 1 is maximised, its achieved value
is added as a row, then tier 2, ... The wall time is split between tiers as CP-SAT's
work is (optimiser.cpsat.tier_budget). The solution then gets the same greedy fill
and explanations as every CP-SAT solve (optimiser.solve.solve_block).

highspy and ortools cannot share a process here (either import order breaks one
of them: both carry HiGHS symbols), so this module (ortools side) writes the MIP to
an .npz file and bench/highs_solve.py solves it in a process that imports only
numpy and highspy.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.methods import joint_block, outcome_of
from models import Scenario
from optimiser.block import NO_LB, NO_UB, Block
from optimiser.cpsat import SolverOptions, tiers_of, trivial_bound
from optimiser.joint import GivenPlan, solve_block, whole
from optimiser.solve import SolveOutcome


def _matrix(block: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise CSR of the block's rows, duplicate (row, var) entries summed."""
    table = block.rows
    lengths = np.diff(table.ptr)
    rows = np.repeat(np.arange(len(table), dtype=np.int64), lengths)
    cols, vals = table.entry_var, table.entry_coef
    n_vars = block.n_options + block.n_indicators + len(block.slacks)
    keys, inverse = np.unique(rows * n_vars + cols, return_inverse=True)
    summed = np.bincount(inverse, weights=vals, minlength=len(keys))
    keep = summed != 0
    keys, summed = keys[keep], summed[keep]
    key_rows = keys // n_vars
    start = np.searchsorted(key_rows, np.arange(len(block.rows) + 1))
    return start, keys % n_vars, summed


def tier_costs(block: Block, tier: int) -> np.ndarray:
    n_vars = block.n_options + block.n_indicators + len(block.slacks)
    costs = np.zeros(n_vars, dtype=np.int64)
    coefs = block.objective.get(tier)
    if coefs is not None:
        costs[: block.n_options] = coefs
    for index, slack in enumerate(block.slacks):
        if slack.tier == tier:
            costs[block.slack_var(index)] = -slack.penalty
    return costs


def solve_highs(block: Block, time_limit_s: float, work: Path) -> GivenPlan:
    """Write the MIP to `work`, solve it in a highspy-only process, read the result back."""
    n_binary = block.n_options + block.n_indicators
    start, index, value = _matrix(block)
    sub = whole(block)
    tiers = tiers_of(block, sub) or [1]
    np.savez(
        work / "mip.npz",
        start=start,
        index=index,
        value=value,
        col_upper=np.concatenate(
            [np.ones(n_binary), np.array([s.ub for s in block.slacks], dtype=float)]
        ),
        row_lower=np.where(block.rows.lb == NO_LB, -np.inf, block.rows.lb.astype(float)),
        row_upper=np.where(block.rows.ub == NO_UB, np.inf, block.rows.ub.astype(float)),
        tiers=np.array(tiers, dtype=np.int64),
        costs=np.stack([tier_costs(block, tier) for tier in tiers]),
        trivial=np.array([trivial_bound(block, sub, tier) for tier in tiers]),
        time_limit=np.array(time_limit_s),
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.highs_solve", str(work / "mip.npz"), str(work / "sol.npz")],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"HiGHS process exit {done.returncode}")
    with np.load(work / "sol.npz") as sol:
        values = sol["values"]
        achieved = {int(t): float(a) for t, a in zip(tiers, sol["achieved"], strict=True)}
        bound = {int(t): float(b) for t, b in zip(tiers, sol["bound"], strict=True)}
    sent = np.flatnonzero(values[: block.n_options] > 0).astype(np.int64)
    return GivenPlan(sent, achieved, bound, {}, len(tiers))


def highs_mip(scenario: Scenario, solver: SolverOptions) -> SolveOutcome:
    started = time.monotonic()
    options, ctx, block = joint_block(scenario)
    with tempfile.TemporaryDirectory(prefix="highs-") as work:
        result = solve_highs(block, solver.time_limit_s, Path(work))
    part = solve_block(block, [], solver, scenario, ctx, given=result)
    return outcome_of(options, part, ctx, started)
