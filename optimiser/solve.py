"""The solve loop: pre-filter, split customers, solve, fill, explain.

Customers are independent unless a global rule (capacity, budget, volume)
selects one of their options. Independent customers are processed in chunks
(rows for a chunk are built in one vectorised pass), then each customer is
solved as its own small model, greedily when no rule links two of its
candidates. Chunks run on a backend (`optimiser/backends.py`): inline or a
fork pool of `workers` processes, or a Dask cluster. Customers touched by a
global rule are solved together in one joint model, in this process.

Every customer's result depends only on its own data and the seed, never on
how customers were chunked, so the plan is the same for any worker count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from models import InfeasibleError, Scenario
from optimiser.arrays import unique
from optimiser.backends import ChunkBackend, LocalBackend
from optimiser.block import Block
from optimiser.block_state import RowState as BlockRowState
from optimiser.block_state import ScanIndex
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
from optimiser.customer_block import CustomerBlock, from_block
from optimiser.options import Options, build_options
from optimiser.reasons import RowState, describe_winners, explain_block, fill_block
from optimiser.rules import BuildContext, add_customer_rules, add_global_rules
from optimiser.rules.global_rules import GlobalRowSpec
from optimiser.select import Matcher
from optimiser.suppressions import Suppressions

CHUNK_CUSTOMERS = 2000
JOINT_OPTION_LIMIT = 300_000  # above this many coupled options, `auto` decomposes


class NoSolutionError(Exception):
    """The solver stopped (time limit) without any feasible plan."""


Progress = Callable[[int, int], None]


@dataclass
class SolveOutcome:
    """What the loop decided, before it is turned into a plan."""

    options: Options
    sent: np.ndarray  # indices into options.frame
    suppressed: Suppressions
    status: str
    achieved: dict[int, float]  # tier -> scaled objective (model units)
    bound: dict[int, float]  # tier -> scaled bound (model units)
    bound_margin: dict[int, float]  # tier -> value units added for scaling honesty
    objective_scale: int
    runtime_s: float
    subproblems: dict[str, int] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)  # rule -> value per metric unit


def make_block(options_frame: pd.DataFrame, ctx: BuildContext, with_global: bool) -> Block:
    frame = options_frame.reset_index(names="option")
    block = Block(frame)
    add_customer_rules(block, ctx)
    if with_global:
        add_global_rules(block, ctx)
    else:
        block.finish_links()
    scale = ctx.objective_scale
    tiers = frame["tier"].to_numpy(np.int64)
    coefs = np.round(frame["coef"].to_numpy(float) * scale).astype(np.int64)
    for tier in np.unique(tiers):
        block.objective[int(tier)] = np.where(tiers == tier, coefs, 0)
        count = frame.loc[tiers == tier, "cand"].nunique()
        block.bound_slack[int(tier)] = block.bound_slack.get(int(tier), 0.0) + 0.5 * count / scale
    return block


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


@dataclass
class ChunkResult:
    sent: np.ndarray  # global option indices
    suppressed: Suppressions
    achieved: dict[int, float]
    bound: dict[int, float]
    margin: dict[int, float]
    statuses: list[str]
    conflicts: list[tuple[list[str], np.ndarray]]
    solver_calls: int = 0
    prices: dict[str, float] = field(default_factory=dict)


def solve_coupled(
    block: Block, solver: SolverOptions, scenario: Scenario, ctx: BuildContext
) -> ChunkResult:
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


def _global_reasons(block: CustomerBlock, state: BlockRowState, specs: list[GlobalRowSpec],
                    candidate_ids: np.ndarray, values: np.ndarray) -> list[tuple[str, str, str]]:
    """(reason, rule, what won) of every global row spec, from this block's sends (the
    block holds every customer the rows couple)."""
    sent = np.zeros(block.n_options, dtype=bool)
    sent[state.sent] = True
    out = []
    for g, spec in enumerate(specs):
        members = block.global_option[block.global_ptr[g]:block.global_ptr[g + 1]]
        won = unique(block.cand[members[sent[members]]])
        out.append((spec.reason, spec.rule.name, describe_winners(won, candidate_ids, values)))
    return out


def solve_block(
    block: Block,
    subs: list[SubProblem],
    solver: SolverOptions,
    scenario: Scenario,
    ctx: BuildContext,
    given: Decomposition | None = None,
) -> ChunkResult:
    """Solve each sub-problem (or take a decomposition's result), fill, explain.

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
    sent_local = np.concatenate([r.sent for r in results] or [np.array([], dtype=np.int64)])
    specs = ctx.global_specs
    compact = from_block(block, len(specs))
    position = np.empty(block.n_options, dtype=np.int64)
    position[compact.source] = np.arange(block.n_options)
    index = ScanIndex(compact, *ScanIndex.spec_bounds([(s.lb, s.ub) for s in specs]))
    state = BlockRowState(compact, index, position[sent_local.astype(np.int64)])
    added = fill_block(compact, state)
    sent_local = np.sort(compact.source[state.sent])
    offset = len(results) - len(subs)
    for position_in, sub in enumerate(subs):
        result = results[offset + position_in]
        if result.status == "UNKNOWN" and state.rows_hold([s.rule.soft is None for s in specs]):
            # CP-SAT found nothing in its time, but the greedy fill did: a plan with
            # honest trivial bounds beats no plan at all
            bounds = {t: trivial_bound(block, sub, t) for t in tiers_of(block, sub)}
            results[offset + position_in] = SubResult(result.sent, "FEASIBLE", {}, bounds)
    candidate_ids = scenario.candidates["candidate_id"].to_numpy()
    values = scenario.candidates["value"].to_numpy(float)
    suppressed = (explain_block(compact, state, candidate_ids, values,
                                _global_reasons(compact, state, specs, candidate_ids, values))
                  if not conflicts else Suppressions.empty())
    achieved: dict[int, float] = {}
    bound: dict[int, float] = {}
    for result in results:
        for tier, value in result.achieved.items():
            achieved[tier] = achieved.get(tier, 0.0) + value
        for tier, upper in result.bound.items():
            bound[tier] = bound.get(tier, 0.0) + upper
    # the greedy fill can only raise objectives: count what it added
    for tier, gain in zip(compact.tier[added], compact.objective[added], strict=True):
        achieved[int(tier)] = achieved.get(int(tier), 0.0) + float(gain)
    global_sent = block.options["option"].to_numpy(np.int64)[sent_local]
    return ChunkResult(
        global_sent,
        suppressed,
        achieved,
        bound,
        dict(block.bound_slack),
        [r.status for r in results],
        conflicts,
        calls,
        dict(given.prices) if given is not None else {},
    )


@dataclass(frozen=True)
class ChunkInputs:
    """What every chunk of independent customers is solved from (the same for all chunks)."""

    scenario: Scenario
    options: Options
    ctx: BuildContext
    solver: SolverOptions


def solve_chunk(
    customers: np.ndarray,
    scenario: Scenario,
    options: Options,
    ctx: BuildContext,
    solver: SolverOptions,
) -> ChunkResult:
    """Solve one chunk of independent customers: a pure function of its arguments.

    The result depends only on the customers' own data and the seed, so it is the
    same whichever process or machine runs it.
    """
    frame = options.frame
    chunk = frame[frame["customer"].isin(customers)]
    block = make_block(chunk, ctx, with_global=False)
    return solve_block(block, split_by_customer(block), solver, scenario, ctx)


def solve_chunk_from(customers: np.ndarray, inputs: ChunkInputs) -> ChunkResult:
    """`solve_chunk` with its shared inputs bundled: what a backend calls per chunk."""
    return solve_chunk(customers, inputs.scenario, inputs.options, inputs.ctx, inputs.solver)


def coupled_customers(scenario: Scenario, options: Options, matcher: Matcher) -> np.ndarray:
    """Customers with an option selected by any global rule: they share the joint model."""
    frame = options.frame
    if frame.empty or not scenario.global_rules:
        return np.array([], dtype=np.int64)
    sends = BuildContext.sends(Block(frame))
    touched = np.zeros(len(frame), dtype=bool)
    for rule in scenario.global_rules:
        touched |= matcher.match(rule.select, sends)
    return np.unique(frame["customer"].to_numpy(np.int64)[touched])


def solve(
    scenario: Scenario,
    solver: SolverOptions,
    progress: Progress | None = None,
    backend: ChunkBackend | None = None,
) -> SolveOutcome:
    """Run the whole optimisation; raise InfeasibleError with a diagnosis when impossible.

    `backend` runs the chunks of independent customers (default: this machine with
    `solver.workers` processes); the plan does not depend on it.
    """
    started = time.monotonic()
    matcher = Matcher(scenario)
    ctx = BuildContext(scenario, matcher)
    options = build_options(scenario, matcher, ctx.codes)
    coupled = coupled_customers(scenario, options, matcher)
    frame = options.frame
    independent = np.setdiff1d(np.unique(frame["customer"].to_numpy(np.int64)), coupled)
    chunks = [
        independent[i : i + CHUNK_CUSTOMERS] for i in range(0, len(independent), CHUNK_CUSTOMERS)
    ]
    runner = backend if backend is not None else LocalBackend(solver.workers)
    inputs = ChunkInputs(scenario, options, ctx, solver)
    results: list[ChunkResult] = []
    total = len(chunks) + (1 if scenario.global_rules else 0)
    # results come back in chunk order, whatever ran them: `combine` sums in that order
    for done, result in enumerate(runner.map(solve_chunk_from, chunks, inputs), start=1):
        results.append(result)
        if progress:
            progress(done, total)
    if scenario.global_rules:
        joint = make_block(frame[frame["customer"].isin(coupled)], ctx, with_global=True)
        results.append(solve_coupled(joint, solver, scenario, ctx))
        if progress:
            progress(total, total)
    _raise_conflicts(scenario, results)
    return combine(options, results, ctx.objective_scale, time.monotonic() - started)


def _raise_conflicts(scenario: Scenario, results: list[ChunkResult]) -> None:
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


def combine(
    options: Options, results: list[ChunkResult], scale: int, runtime: float
) -> SolveOutcome:
    """One outcome from the results of every block: the public hook for other methods
    (bench/ turns its baselines' results into plans with it)."""
    sent = np.sort(np.concatenate([r.sent for r in results] or [np.array([], dtype=np.int64)]))
    suppressed = Suppressions.concat([options.suppressed] + [r.suppressed for r in results])
    achieved: dict[int, float] = {}
    bound: dict[int, float] = {}
    margin: dict[int, float] = {}
    statuses: list[str] = []
    calls = 0
    prices: dict[str, float] = {}
    for result in results:
        prices.update(result.prices)
        statuses.extend(result.statuses)
        calls += result.solver_calls
        for target, source in (
            (achieved, result.achieved),
            (bound, result.bound),
            (margin, result.margin),
        ):
            for tier, value in source.items():
                target[tier] = target.get(tier, 0.0) + value
    if any(s == "UNKNOWN" for s in statuses):
        raise NoSolutionError(
            "the time limit ran out before CP-SAT found any feasible plan for the joint model; "
            "raise --time-limit"
        )
    status = "OPTIMAL" if all(s == "OPTIMAL" for s in statuses) else "FEASIBLE"
    return SolveOutcome(
        options,
        sent,
        suppressed,
        status,
        achieved,
        bound,
        margin,
        scale,
        runtime,
        {"subproblems": len(statuses), "solver_calls": calls},
        prices,
    )
