"""The solve loop: customer blocks, then the customers global rules couple.

Customers are built in blocks (optimiser/blocks.py) on a backend
(optimiser/backends.py): inline, a fork pool of `workers` processes, or a Dask
cluster. A block finishes its independent customers itself. Customers touched
by a global rule (capacity, budget, volume) are then solved together, in this
process: one joint CP-SAT model, or a priced decomposition above
JOINT_OPTION_LIMIT coupled options.

Every customer's result depends only on its own data and the seed, never on
how customers were grouped, so the plan is the same for any worker count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from models import InfeasibleError, Scenario
from optimiser.backends import ChunkBackend, LocalBackend
from optimiser.block import Block
from optimiser.blocks import (
    SEND_COLUMNS,
    BlockInputs,
    PartPlan,
    build_block,
    customer_blocks,
    finish,
    make_block,
)
from optimiser.coordinate import GLOBAL_REASONS, Decomposition, decompose
from optimiser.cpsat import (
    SolverOptions,
    SubProblem,
    SubResult,
    solve_cpsat,
    solve_greedy,
    tiers_of,
    trivial_bound,
)
from optimiser.customer_block import from_block
from optimiser.options import build_options
from optimiser.reasons import RowState
from optimiser.rules import BuildContext
from optimiser.select import Matcher
from optimiser.suppressions import Suppressions

JOINT_OPTION_LIMIT = 300_000  # above this many coupled options, `auto` decomposes


class NoSolutionError(Exception):
    """The solver stopped (time limit) without any feasible plan."""


Progress = Callable[[int, int], None]


@dataclass
class SolveOutcome:
    """What the loop decided, before it is turned into a plan."""

    sends: pd.DataFrame  # blocks.SEND_COLUMNS, one row per send, by candidate
    suppressed: Suppressions
    status: str
    achieved: dict[int, float]  # tier -> scaled objective (model units)
    bound: dict[int, float]  # tier -> scaled bound (model units)
    bound_margin: dict[int, float]  # tier -> value units added for scaling honesty
    objective_scale: int
    runtime_s: float
    subproblems: dict[str, int] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)  # rule -> value per metric unit


def split_by_customer(block: Block) -> list[SubProblem]:
    """One sub-problem per customer: rows never cross customers without global rules."""
    customer = block.options["customer"].to_numpy(np.int64)
    indicator_customer = np.array(
        [customer[members[0]] for members in block.indicator_members], dtype=np.int64
    )
    var_customer = np.concatenate([customer, indicator_customer])
    rows = block.rows
    local_rows = np.flatnonzero(~rows.has_reason(*GLOBAL_REASONS) & (np.diff(rows.ptr) > 0))
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


def solve_coupled(
    block: Block, solver: SolverOptions, scenario: Scenario, ctx: BuildContext
) -> PartPlan:
    """The customers linked by global rules: one joint CP-SAT model, or decomposition."""
    strategy = solver.strategy
    if strategy == "auto":
        strategy = "joint" if block.n_options <= JOINT_OPTION_LIMIT else "decompose"
    if strategy == "joint":
        return solve_block(block, [whole(block)], solver, scenario, ctx)
    try:
        result = decompose(block, split_by_customer(block), solver, ctx.objective_scale)
    except RuntimeError:
        result = None
    if result is not None and _every_hard_row_holds(block, result.sent):
        return solve_block(block, [], solver, scenario, ctx, given=result)
    # The decomposition is a heuristic: when its repair cannot meet a hard rule (or the
    # rules are infeasible), the exact joint model decides, with its diagnosis.
    return solve_block(block, [whole(block)], solver, scenario, ctx)


def _every_hard_row_holds(block: Block, sent: np.ndarray) -> bool:
    """Whether a solution meets every row that has no slack (customer and global)."""
    state = RowState(block, np.asarray(sent, dtype=np.int64))
    rows = block.rows
    hard = ~rows.link & ~_has_slack(block)
    value = state.activity
    return not ((value < rows.lb) | (value > rows.ub))[hard].any()


def _has_slack(block: Block) -> np.ndarray:
    """A mask over rows: does the row hold a slack variable (a soft global rule)."""
    rows = block.rows
    n_vars = block.n_options + block.n_indicators
    lengths = np.diff(rows.ptr)
    entry_row = np.repeat(np.arange(len(lengths)), lengths)
    return np.bincount(entry_row, weights=rows.entry_var >= n_vars, minlength=len(lengths)) > 0


def solve_block(
    block: Block,
    subs: list[SubProblem],
    solver: SolverOptions,
    scenario: Scenario,
    ctx: BuildContext,
    given: Decomposition | None = None,
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


def solve(
    scenario: Scenario,
    solver: SolverOptions,
    progress: Progress | None = None,
    backend: ChunkBackend | None = None,
) -> SolveOutcome:
    """Run the whole optimisation; raise InfeasibleError with a diagnosis when impossible.

    `backend` builds the customer blocks (default: this machine with `solver.workers`
    processes); the plan does not depend on it.
    """
    started = time.monotonic()
    ctx = BuildContext(scenario, Matcher(scenario))
    blocks = customer_blocks(ctx.codes.n_customers)
    runner = backend if backend is not None else LocalBackend(solver.workers)
    inputs = BlockInputs(scenario, ctx, solver)
    parts: list[PartPlan] = []
    coupled: list[np.ndarray] = []
    total = len(blocks) + (1 if scenario.global_rules else 0)
    # results come back in block order, whatever ran them: `combine` sums in that order
    for done, built in enumerate(runner.map(build_block, blocks, inputs), start=1):
        parts.append(built.independent)
        coupled.append(built.coupled)
        if progress:
            progress(done, total)
    _raise_conflicts(scenario, parts)
    customers = np.concatenate(coupled) if coupled else np.zeros(0, dtype=np.int64)
    if scenario.global_rules:
        # the blocks reported these customers' pre-filtered candidates already
        options = build_options(scenario, ctx.matcher, ctx.codes, customers)
        joint = make_block(options.frame, ctx, with_global=True)
        parts.append(solve_coupled(joint, solver, scenario, ctx))
        if progress:
            progress(total, total)
    _raise_conflicts(scenario, parts)
    return combine(parts, ctx.objective_scale, time.monotonic() - started)


def _raise_conflicts(scenario: Scenario, results: list[PartPlan]) -> None:
    for result in results:
        for rules, cands in result.conflicts:
            ids = scenario.candidates["candidate_id"].to_numpy()
            customers = scenario.candidates["customer_id"].to_numpy()
            named = []
            for rule in rules:
                if rule.startswith("candidate:"):
                    positions = [int(p) for p in rule.split(":")[1].split(",")]
                    copies = " or ".join(str(ids[p]) for p in positions)
                    named.append(f"mandatory candidate {copies}")
                else:
                    named.append(f"rule '{rule}'")
            who = sorted({str(customers[c]) for c in cands})
            shown = ", ".join(who[:5]) + (f" and {len(who) - 5} more" if len(who) > 5 else "")
            scope = f"for customer(s) {shown}" if who else "for the plan as a whole"
            raise InfeasibleError(
                f"no plan satisfies every hard rule {scope}: conflict between "
                + "; ".join(named or ["the hard rules"])
            )


def combine(parts: list[PartPlan], scale: int, runtime: float) -> SolveOutcome:
    """One outcome from the finished parts of the plan: the public hook for other methods
    (bench/ turns its baselines' results into plans with it)."""
    frames = [p.sends for p in parts if len(p.sends)]
    sends = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=list(SEND_COLUMNS)))
    sends = sends.sort_values(["cand"], kind="stable").reset_index(drop=True)
    suppressed = Suppressions.concat([p.suppressed for p in parts])
    achieved: dict[int, float] = {}
    bound: dict[int, float] = {}
    margin: dict[int, float] = {}
    statuses: list[str] = []
    calls = 0
    prices: dict[str, float] = {}
    for part in parts:
        prices.update(part.prices)
        statuses.extend(part.statuses)
        calls += part.solver_calls
        for target, source in ((achieved, part.achieved), (bound, part.bound),
                               (margin, part.margin)):
            for tier, value in source.items():
                target[tier] = target.get(tier, 0.0) + value
    if any(s == "UNKNOWN" for s in statuses):
        raise NoSolutionError(
            "the time limit ran out before CP-SAT found any feasible plan for the joint model; "
            "raise --time-limit"
        )
    status = "OPTIMAL" if all(s == "OPTIMAL" for s in statuses) else "FEASIBLE"
    return SolveOutcome(sends, suppressed, status, achieved, bound, margin, scale, runtime,
                        {"subproblems": len(statuses), "solver_calls": calls}, prices)
