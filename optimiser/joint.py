"""One CP-SAT model of a Block: the joint path for few coupled customers, and the exact
reference the benchmarks compare against.

The Block's sub-problems (one per customer, or the whole block) are solved
lexicographically by CP-SAT (optimiser/cpsat.py); the result, or a plan found by
another method (`GivenPlan`), is then filled and explained on the compact form
of the Block like every other part of the plan (optimiser/blocks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from models import Scenario
from optimiser.block import Block
from optimiser.blocks import SEND_COLUMNS, PartPlan, finish
from optimiser.cpsat import (
    SolverOptions,
    SubProblem,
    SubResult,
    solve_cpsat,
    solve_greedy,
    tiers_of,
    trivial_bound,
)
from optimiser.customer_block import GLOBAL_REASON_CODES, from_block
from optimiser.rules import BuildContext
from optimiser.suppressions import Suppressions


@dataclass
class GivenPlan:
    """A plan of a Block found elsewhere (another solver): its sends and per-tier figures."""

    sent: np.ndarray
    achieved: dict[int, float]
    bound: dict[int, float]
    prices: dict[str, float] = field(default_factory=dict)
    rounds: int = 0


def split_by_customer(block: Block) -> list[SubProblem]:
    """One sub-problem per customer: rows never cross customers without global rules."""
    customer = block.options["customer"].to_numpy(np.int64)
    indicator_customer = np.array(
        [customer[members[0]] for members in block.indicator_members], dtype=np.int64
    )
    var_customer = np.concatenate([customer, indicator_customer])
    rows = block.rows
    local_rows = np.flatnonzero(~rows.has_reason(*GLOBAL_REASON_CODES) & (np.diff(rows.ptr) > 0))
    row_customer = var_customer[rows.entry_var[rows.ptr[local_rows]]]
    subs = []
    # customer -> positions (`indices` of an int64 grouping: ndarray values)
    Groups = dict[int, np.ndarray]
    option_groups = cast(Groups, pd.Series(np.arange(len(customer))).groupby(customer).indices)
    indicator_groups = cast(
        Groups,
        pd.Series(np.arange(len(indicator_customer))).groupby(indicator_customer).indices
        if len(indicator_customer)
        else {},
    )
    row_groups = cast(Groups, pd.Series(np.arange(len(local_rows))).groupby(row_customer).indices)
    row_ids = local_rows.astype(np.int64)
    empty = np.array([], dtype=np.int64)
    for cust in sorted(option_groups):
        indicators = indicator_groups.get(cust, empty) + block.n_options
        subs.append(
            SubProblem(
                option_groups[cust].astype(np.int64),
                np.asarray(indicators, dtype=np.int64),
                empty,
                row_ids[row_groups.get(cust, empty)],
            )
        )
    return subs


def whole(block: Block) -> SubProblem:
    return SubProblem(
        np.arange(block.n_options, dtype=np.int64),
        np.arange(block.n_options, block.n_options + block.n_indicators, dtype=np.int64),
        np.arange(len(block.slacks), dtype=np.int64),
        np.arange(len(block.rows), dtype=np.int64),
    )


def is_trivial(block: Block, sub: SubProblem) -> bool:
    return len(sub.indicator_vars) == 0 and bool(
        block.rows.has_reason("candidate")[sub.rows].all()
    )


def solve_block(
    block: Block,
    subs: list[SubProblem],
    solver: SolverOptions,
    scenario: Scenario,
    ctx: BuildContext,
    given: GivenPlan | None = None,
) -> PartPlan:
    """Solve each sub-problem by CP-SAT (or take a decomposition's result), fill, explain.

    Everything here is in the block's local option numbering.
    """
    results: list[SubResult] = []
    calls = 0
    if given is not None:
        given_achieved = {t: int(round(v)) for t, v in given.achieved.items()}
        results.append(SubResult(given.sent, "FEASIBLE", given_achieved, given.bound))
        calls = given.rounds
    for sub in subs:
        if is_trivial(block, sub):
            results.append(solve_greedy(block, sub))
        else:
            calls += 1
            results.append(solve_cpsat(block, sub, solver))
    conflicts = [
        (r.conflict, block.options["cand"].to_numpy()[s.option_vars])
        for r, s in zip(results[len(results) - len(subs):], subs, strict=True)
        if r.status == "INFEASIBLE"
    ]
    compact = from_block(block, len(ctx.global_specs))
    if conflicts:
        return PartPlan(pd.DataFrame(columns=list(SEND_COLUMNS)), Suppressions.empty(), {}, {},
                        {}, ["INFEASIBLE"], conflicts)
    position = np.empty(block.n_options, dtype=np.int64)
    position[compact.source] = np.arange(block.n_options)
    sent = np.concatenate([r.sent for r in results] or [np.array([], dtype=np.int64)])
    part = finish(compact, position[sent.astype(np.int64)], ctx, scenario)
    statuses = []
    part.bound = {}
    for result, sub in zip(results[len(results) - len(subs):], subs, strict=True):
        if result.status == "UNKNOWN" and _every_hard_row_holds(
                block, compact.source[part.sent_options]):
            # CP-SAT found nothing in its time, but the greedy fill did: a plan with
            # honest trivial bounds beats no plan at all
            result = SubResult(result.sent, "FEASIBLE", {},
                               {t: trivial_bound(block, sub, t) for t in tiers_of(block, sub)})
        statuses.append(result.status)
        for tier, upper in result.bound.items():
            part.bound[tier] = part.bound.get(tier, 0.0) + upper
    if given is not None:
        statuses.insert(0, "FEASIBLE")
        for tier, upper in given.bound.items():
            part.bound[tier] = part.bound.get(tier, 0.0) + upper
        part.prices = dict(given.prices)
    part.statuses, part.solver_calls = statuses, calls
    part.margin = dict(block.bound_slack)
    return part


def _every_hard_row_holds(block: Block, sent: np.ndarray) -> bool:
    """Whether a solution meets every row that has no slack (customer and global)."""
    rows = block.rows
    n = block.n_options
    value = np.zeros(n + block.n_indicators + len(block.slacks), dtype=np.int64)
    value[sent] = 1
    for j, members in enumerate(block.indicator_members):
        value[n + j] = int(value[members].any())
    lengths = np.diff(rows.ptr)
    entry_row = np.repeat(np.arange(len(lengths)), lengths)
    activity = np.bincount(entry_row, weights=rows.entry_coef * value[rows.entry_var],
                           minlength=len(lengths))
    hard = ~rows.link & ~_has_slack(block)
    return not ((activity < rows.lb) | (activity > rows.ub))[hard].any()


def _has_slack(block: Block) -> np.ndarray:
    """A mask over rows: does the row hold a slack variable (a soft global rule)."""
    rows = block.rows
    n_vars = block.n_options + block.n_indicators
    lengths = np.diff(rows.ptr)
    entry_row = np.repeat(np.arange(len(lengths)), lengths)
    return np.bincount(entry_row, weights=rows.entry_var >= n_vars, minlength=len(lengths)) > 0
