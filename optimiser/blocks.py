"""Customer blocks: the unit of work from the pre-filter to the finished plan.

Customers are taken in blocks of consecutive positions. Each block is built
from the shared scenario codes on its own (so blocks run in any process, or on
a Dask worker): its candidates become options (pre-filter with reasons), its
rows are written, and its customers split in two. Customers that no global
rule touches are independent: they are solved exactly here, tier by tier,
filled and explained, and leave the block as finished rows of the plan.
Customers a global rule touches are coupled to every other block and are
handed on to be planned together.

Every result depends only on the block's own customers and the seed, so the
plan does not depend on which process or machine built which block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models import Scenario
from optimiser.arrays import unique
from optimiser.block import Block
from optimiser.block_state import RowState, ScanIndex
from optimiser.cpsat import SolverOptions, diagnose
from optimiser.customer_block import CustomerBlock, from_block
from optimiser.customer_solve import CustomerSolver
from optimiser.options import build_options
from optimiser.reasons import describe_winners, explain, fill
from optimiser.rules import BuildContext, add_customer_rules, add_global_rules
from optimiser.select import SendCodes
from optimiser.suppressions import Suppressions

# customers per block: a block's build time grows about linearly with it (5k, 10k, 20k, 40k
# customers of the 100k scenario: 2.5, 4.5, 9.5, 20.3 s), and ten blocks of 100k customers
# keep two workers busy to the end where five left one idle for a block's time
BLOCK_CUSTOMERS = 10_000
SEND_COLUMNS = ("cand", "customer", "comm", "channel", "day", "cost", "coef", "tier")


@dataclass(frozen=True)
class BlockInputs:
    """What every block is built from (the same for all blocks: shipped once)."""

    scenario: Scenario
    ctx: BuildContext
    solver: SolverOptions


@dataclass
class PartPlan:
    """What some finished customers contribute to the plan."""

    sends: pd.DataFrame  # SEND_COLUMNS, one row per send
    suppressed: Suppressions
    achieved: dict[int, float]  # tier -> scaled objective
    bound: dict[int, float]  # tier -> scaled upper bound
    margin: dict[int, float]  # tier -> value units the bound adds for rounding
    statuses: list[str]
    conflicts: list[tuple[list[str], np.ndarray]] = field(default_factory=list)
    solver_calls: int = 0
    prices: dict[str, float] = field(default_factory=dict)
    sent_options: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class BlockBuild:
    """A built block: its finished independent customers, and its coupled ones (positions,
    and their compact rows with the block's share of every global row)."""

    independent: PartPlan
    coupled: np.ndarray
    coupled_block: CustomerBlock | None


def customer_blocks(n_customers: int, size: int | None = None) -> list[np.ndarray]:
    """Consecutive customer positions, `size` (default BLOCK_CUSTOMERS) at a time."""
    size = size or BLOCK_CUSTOMERS
    return [np.arange(start, min(start + size, n_customers), dtype=np.int64)
            for start in range(0, n_customers, size)]


def make_block(options_frame: pd.DataFrame, ctx: BuildContext, with_global: bool) -> Block:
    """The rows of some options (every rule family), global rows included or not."""
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
    for tier in unique(tiers).tolist():
        block.objective[int(tier)] = np.where(tiers == tier, coefs, 0)
        count = frame.loc[tiers == tier, "cand"].nunique()
        block.bound_slack[int(tier)] = block.bound_slack.get(int(tier), 0.0) + 0.5 * count / scale
    return block


def coupled_mask(frame: pd.DataFrame, ctx: BuildContext) -> np.ndarray:
    """Which options some global rule selects."""
    touched = np.zeros(len(frame), dtype=bool)
    if frame.empty:
        return touched
    sends = SendCodes(frame["customer"].to_numpy(np.int64), frame["comm"].to_numpy(np.int64),
                      frame["channel"].to_numpy(np.int64), frame["day"].to_numpy(np.int64))
    for rule in ctx.scenario.global_rules:
        touched |= ctx.matcher.match(rule.select, sends)
    return touched


def build_block(customers: np.ndarray, inputs: BlockInputs) -> BlockBuild:
    """Pre-filter, rows and the independent customers' finished plan of one block."""
    scenario, ctx = inputs.scenario, inputs.ctx
    options = build_options(scenario, ctx.matcher, ctx.codes, customers)
    frame = options.frame
    owner = frame["customer"].to_numpy(np.int64)
    coupled = unique(owner[coupled_mask(frame, ctx)])
    independent = frame[~np.isin(owner, coupled)]
    block = make_block(independent, ctx, with_global=False)
    part = solve_independent(block, ctx, inputs.solver, scenario)
    part.suppressed = Suppressions.concat([options.suppressed, part.suppressed])
    coupled_block = None
    if len(coupled):
        rows = make_block(frame[np.isin(owner, coupled)], ctx, with_global=True)
        coupled_block = from_block(rows, len(ctx.global_specs))
    return BlockBuild(part, coupled, coupled_block)


def solve_independent(block: Block, ctx: BuildContext, solver: SolverOptions,
                      scenario: Scenario) -> PartPlan:
    """Customers no global rule touches: each solved exactly, tier by tier, then filled
    and explained. A customer whose own hard rules conflict is diagnosed by CP-SAT."""
    compact = from_block(block, len(ctx.global_specs))
    customer_solver = CustomerSolver(compact, solver.seed)
    solved, tier_bounds = customer_solver.lexicographic()
    conflicts = [_conflict(block, compact, int(k), solver)
                 for k in np.flatnonzero(~solved.feasible)]
    if conflicts:
        return PartPlan(_sends(compact, np.zeros(0, dtype=np.int64)), Suppressions.empty(), {},
                        {}, {}, ["INFEASIBLE"], conflicts)
    part = finish(compact, np.flatnonzero(solved.chosen), ctx, scenario)
    part.bound = {t: max(b, part.achieved.get(t, 0.0)) for t, b in tier_bounds.items()}
    part.statuses = ["OPTIMAL"]
    part.solver_calls = customer_solver.cpsat_calls
    return part


def _conflict(block: Block, compact: CustomerBlock, k: int,
              solver: SolverOptions) -> tuple[list[str], np.ndarray]:
    """The rules in conflict for customer k of a block, named by CP-SAT's core."""
    from optimiser.joint import split_by_customer  # it builds on this module

    customer = int(compact.customers[k])
    subs = split_by_customer(block)
    owners = block.options["customer"].to_numpy(np.int64)
    sub = next(s for s in subs if owners[s.option_vars[0]] == customer)
    return diagnose(block, sub, solver), block.options["cand"].to_numpy()[sub.option_vars]


def finish(compact: CustomerBlock, sent: np.ndarray, ctx: BuildContext,
           scenario: Scenario) -> PartPlan:
    """Fill and explain a block that is the whole plan of its customers (no other block
    shares a global row with it): its finished rows."""
    final = fill_part(compact, sent, None, ctx)
    candidate_ids = scenario.candidates["candidate_id"].array
    values = scenario.candidates["value"].to_numpy(float)
    reasons = block_global_reasons(compact, final, ctx, candidate_ids, values)
    return explain_part(compact, final, None, ctx, scenario, reasons)


def fill_part(compact: CustomerBlock, sent: np.ndarray, others: np.ndarray | None,
              ctx: BuildContext) -> np.ndarray:
    """`sent` (the block's option numbers) with what still fits added; `others` is what the
    rest of the plan puts on each global row spec (None: nothing)."""
    state = _state(compact, sent, others, ctx)
    fill(compact, state)
    return state.sent


def explain_part(compact: CustomerBlock, sent: np.ndarray, others: np.ndarray | None,
                 ctx: BuildContext, scenario: Scenario,
                 global_reasons: list[tuple[str, str, str]]) -> PartPlan:
    """The finished rows of a block's final plan: its sends, and why every other candidate
    was left out (`global_reasons`: what explains a send a global row spec stops)."""
    state = _state(compact, sent, others, ctx)
    candidate_ids = scenario.candidates["candidate_id"].array
    values = scenario.candidates["value"].to_numpy(float)
    suppressed = explain(compact, state, candidate_ids, values, global_reasons)
    achieved = {int(t): float(compact.objective[sent][compact.tier[sent] == t].sum())
                for t in unique(compact.tier).tolist()}
    return PartPlan(_sends(compact, sent), suppressed, achieved, dict(achieved),
                    dict(compact.objective_margin), [], sent_options=sent)


def _state(compact: CustomerBlock, sent: np.ndarray, others: np.ndarray | None,
           ctx: BuildContext) -> RowState:
    specs = ctx.global_specs
    index = ScanIndex(compact, *ScanIndex.spec_bounds([(s.lb, s.ub) for s in specs]))
    return RowState(compact, index, sent, others)


def block_global_reasons(compact: CustomerBlock, sent: np.ndarray, ctx: BuildContext,
                         candidate_ids: Any, values: np.ndarray) -> list[tuple[str, str, str]]:
    """(reason, rule, what won) of every global row spec, from this block's sends alone."""
    return global_reasons([winners(compact, sent, len(ctx.global_specs))], ctx, candidate_ids,
                          values)


def winners(compact: CustomerBlock, sent: np.ndarray, n_specs: int) -> list[np.ndarray]:
    """Per global row spec, the candidates (positions) of this block's sends it counts."""
    chosen = np.zeros(compact.n_options, dtype=bool)
    chosen[sent] = True
    out = []
    for g in range(n_specs):
        members = compact.global_option[compact.global_ptr[g]:compact.global_ptr[g + 1]]
        out.append(unique(compact.cand[members[chosen[members]]]))
    return out


def global_reasons(per_block: list[list[np.ndarray]], ctx: BuildContext, candidate_ids: Any,
                   values: np.ndarray) -> list[tuple[str, str, str]]:
    """(reason, rule, what won) of every global row spec, from the winners every block
    reports (blocks hold different customers, so their winners are distinct)."""
    out = []
    for g, spec in enumerate(ctx.global_specs):
        won = np.sort(np.concatenate([w[g] for w in per_block]))
        out.append((spec.reason, spec.rule.name, describe_winners(won, candidate_ids, values)))
    return out


def _sends(compact: CustomerBlock, sent: np.ndarray) -> pd.DataFrame:
    """The plan rows of a block's sent options."""
    return pd.DataFrame({
        "cand": compact.cand[sent],
        "customer": compact.customers[compact.owner[sent]],
        "comm": compact.comm[sent],
        "channel": compact.channel[sent],
        "day": compact.day[sent],
        "cost": compact.cost[sent],
        "coef": compact.coef[sent],
        "tier": compact.tier[sent],
    }, columns=list(SEND_COLUMNS))
