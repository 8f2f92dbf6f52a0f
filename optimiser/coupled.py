"""The customers global rules couple: planned together, then finished block by block.

Few coupled options (`JOINT_OPTION_LIMIT`) make one joint CP-SAT model
(optimiser/joint.py), rebuilt from the scenario for just those customers. More
are planned by the priced decomposition (optimiser/decomposition.py) over the
blocks' compact rows. Either way each block's plan is then filled in block
order, every block seeing what the others put on each global row, and only
then explained, against the final plan's use of every global row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import Scenario
from optimiser.backends import LocalBackend
from optimiser.blocks import (
    PartPlan,
    explain_part,
    fill_part,
    global_reasons,
    make_block,
    winners,
)
from optimiser.cpsat import SolverOptions
from optimiser.customer_block import CustomerBlock
from optimiser.decomposition import Decomposition, decompose
from optimiser.joint import solve_block, whole
from optimiser.options import build_options
from optimiser.rules import BuildContext

# above this many coupled options `auto` decomposes. The joint model proves the optimum of
# scenarios/b2b_product_silos (18,688 options) in 6.5 s, tier by tier, exactly; on GS1
# (25,340) it ran its 60 s for 151,025.30, the decomposition 151,025.33 (gap 0.0017%) in
# 1.0 s; on scenarios/retail_bank_week (121,509) 152,059 (gap 30%) in 51 s against
# 154,542 (gap 1.1%) in 17 s, tier 2 held 0.09% lower (FLOOR_TOLERANCE allows 0.1%)
JOINT_OPTION_LIMIT = 20_000
JOINT_FALLBACK_LIMIT = 1_200_000  # the most options a joint model is built for, as a fallback


class NoPlanFound(RuntimeError):
    """The decomposition found no plan meeting every hard global rule, and the coupled
    customers are too many for the joint model to decide."""


def plan_coupled(blocks: list[CustomerBlock], customers: np.ndarray, ctx: BuildContext,
                 solver: SolverOptions, scenario: Scenario) -> list[PartPlan]:
    """The finished parts of every coupled customer (positions `customers`, whose compact
    rows are `blocks`)."""
    n_options = sum(b.n_options for b in blocks)
    strategy = solver.strategy
    if strategy == "auto":
        strategy = "joint" if n_options <= JOINT_OPTION_LIMIT else "decompose"
    if strategy == "decompose" and n_options:
        try:
            return _decomposed(blocks, ctx, solver, scenario)
        except RuntimeError:
            # the decomposition is a heuristic: when its repair cannot meet a hard rule
            # (or the rules are infeasible) the exact joint model decides, with its
            # diagnosis, if it is small enough to be built
            if n_options > JOINT_FALLBACK_LIMIT:
                raise NoPlanFound(
                    "no plan meeting every hard capacity, budget or volume rule was found; "
                    "check that the hard global rules can be met together") from None
    return [_joint(customers, ctx, solver, scenario)]


def _joint(customers: np.ndarray, ctx: BuildContext, solver: SolverOptions,
           scenario: Scenario) -> PartPlan:
    """One CP-SAT model of every coupled customer (their candidates the pre-filter dropped
    were reported by their blocks already)."""
    options = build_options(scenario, ctx.matcher, ctx.codes, customers)
    joint = make_block(options.frame, ctx, with_global=True)
    return solve_block(joint, [whole(joint)], solver, scenario, ctx)


def _decomposed(blocks: list[CustomerBlock], ctx: BuildContext, solver: SolverOptions,
                scenario: Scenario) -> list[PartPlan]:
    plan = decompose(blocks, ctx.global_specs, ctx.objective_scale, solver.seed)
    parts = finish_together(blocks, plan.sent, ctx, scenario, solver.workers)
    _account(parts, plan, blocks, ctx)
    return parts


def finish_together(blocks: list[CustomerBlock], plans: list[np.ndarray], ctx: BuildContext,
                    scenario: Scenario, workers: int = 1) -> list[PartPlan]:
    """Fill each block's plan in block order (each seeing what the others put on every
    global row), then explain each against the final plan: the explanations are
    independent, so `workers` processes of this machine share them (the same rows for any
    number)."""
    n_specs = len(ctx.global_specs)
    usage = [b.global_usage(p, n_specs) for b, p in zip(blocks, plans, strict=True)]
    total = np.sum(usage, axis=0) if usage else np.zeros(n_specs)
    final = []
    for index, (block, plan) in enumerate(zip(blocks, plans, strict=True)):
        filled = fill_part(block, plan, total - usage[index], ctx)
        grown = block.global_usage(filled, n_specs)
        total = total + grown - usage[index]
        usage[index] = grown
        final.append(filled)
    candidate_ids = scenario.candidates["candidate_id"].array
    values = scenario.candidates["value"].to_numpy(float)
    reasons = global_reasons([winners(b, s, n_specs) for b, s in zip(blocks, final, strict=True)],
                             ctx, candidate_ids, values)
    explaining = _Explaining(blocks, final, [total - u for u in usage], ctx, scenario, reasons)
    chunks = [np.array([index]) for index in range(len(blocks))]
    return list(LocalBackend(workers).map(_explain, chunks, explaining))


@dataclass(frozen=True)
class _Explaining:
    """What explaining the finished blocks needs (fork-pool processes inherit it)."""

    blocks: list[CustomerBlock]
    final: list[np.ndarray]
    others: list[np.ndarray]  # per block, what the other blocks put on each global row
    ctx: BuildContext
    scenario: Scenario
    reasons: list[tuple[str, str, str]]


def _explain(chunk: np.ndarray, explaining: _Explaining) -> PartPlan:
    index = int(chunk[0])
    return explain_part(explaining.blocks[index], explaining.final[index],
                        explaining.others[index], explaining.ctx, explaining.scenario,
                        explaining.reasons)


def _account(parts: list[PartPlan], plan: Decomposition, blocks: list[CustomerBlock],
             ctx: BuildContext) -> None:
    """Per-tier bounds and prices of the decomposition, on the first part (parts add up);
    the other parts keep their achieved values and objective margins only."""
    for part in parts:
        part.bound = {}
        part.statuses = ["FEASIBLE"]
    first = parts[0]
    first.bound = dict(plan.bound)
    first.prices = dict(plan.prices)
    first.solver_calls = plan.evaluations + plan.cpsat_calls
    counts = np.sum([np.diff(b.global_ptr) for b in blocks], axis=0)
    for tier, margin in soft_margins(ctx, counts).items():
        first.margin[tier] = first.margin.get(tier, 0.0) + margin


def soft_margins(ctx: BuildContext, members: np.ndarray) -> dict[int, float]:
    """Value units per tier the bound adds for the integer rounding of soft global rows: a
    row's bound is rounded to whole units, and an inexact row's member amounts up or down
    (at most one unit each, `members` per spec)."""
    out: dict[int, float] = {}
    for g, spec in enumerate(ctx.global_specs):
        soft = spec.rule.soft
        if soft is None:
            continue
        low, high = spec.bounds
        for scaled, real in ((spec.ub, high), (spec.lb, low)):
            if scaled is None or real is None:
                continue
            rounding = abs(scaled - real * spec.scale) + (0 if spec.exact else int(members[g]))
            out[soft.tier] = out.get(soft.tier, 0.0) + soft.penalty * rounding / spec.scale
    return out
