"""Customers coupled by global rules, planned by a priced decomposition over customer blocks.

Capacity, budget and volume rows are the only links between customers. Priority
tiers are phases, tier 1 first; phase k maximises tier k's total (less the soft
penalties it is charged) with every higher tier held at the total it reached
(not each customer's share of it: a service message may move to a customer whose
sales it does not crowd out), and every hard global row kept.

Phase k, in three steps:

1. The bound. Dualise the global rows (prices p >= 0, one per side of a row) and
   the higher tiers' totals T_j >= A_j (weights w_j >= 0):

       L_k(p, w) = sum_c max_x [T_k + sum_j w_j T_j - p.g](x) + p.b - sum_j w_j A_j,

   each customer's inner maximum solved exactly by the compiled search
   (optimiser/customer_solve.py), block by block. Any p, w >= 0 gives an upper
   bound on the phase's optimum; cutting planes (optimiser/dual.py) search for the
   least, and every evaluation leaves each customer a plan (a column).
2. The plans. The master LP (optimiser/master.py) mixes each customer's columns
   under the rows and floors; its duals make every customer propose again
   (evaluating L_k there too) until the LP meets the bound (column generation).
3. Rounding and repair in column space, so every hard row and floor holds
   exactly (the master LP holds each floor a sliver higher, FLOOR_HEADROOM, so
   that rounding its few mixed customers has room); the chosen plans are the next
   phase's previous plan (a column that meets every limit of the next phase by
   construction).

Blocks only answer questions (solve your customers under these prices; what do
these sends add up to): the coordinator here holds every column, so the blocks
may live in other processes. The bound reported per tier is the least L_k; the
last master's duals are the shadow prices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from optimiser import dual
from optimiser.arrays import ptr_of, unique_inverse
from optimiser.column_repair import repair
from optimiser.customer_block import CustomerBlock
from optimiser.customer_solve import CustomerSolver
from optimiser.improve import improve
from optimiser.master import (
    Columns,
    Limit,
    Master,
    holds,
    mend_floors,
    penalties,
    restore_lower,
    revert_until_holds,
    violation,
)
from optimiser.rules.global_rules import GlobalRowSpec

WEIGHT_STEPS = 64  # priced weights are floored to 1/64 of a model unit for the exact search
MAX_TIER_WEIGHT = 1e4  # most a higher tier's unit may be worth in the bound's objective
MINIMUM_PRICE_FACTOR = 1.0  # a minimum's price at most this times the most any unit is worth
DUAL_PIECES = 64  # customer groups with a cut each in the dual's master program
# evaluations the cutting planes may spend before the plan master: the master's own dual
# search over the columns is cheap, and at 100k the three more (5-7 s each in phase 4, far
# from the optimum) bought nothing: 1 instead of 4 gave 153.8 s vs 188.8 s wall, gap
# 0.1294% vs 0.1301% (10k seeds 0/1/2: 0.1219/0.1124/0.1153% vs 0.1227/0.1125/0.1151%)
BOUND_EVALUATIONS = 1
PLAN_ROUNDS = 20  # master solves, each followed by an evaluation at the master's duals
# relative distance of master and bound that ends the rounds: the last one of phase 3 at 100k
# (2e-4 away) cost 4 s and gained 2e-5 of the tier
PLAN_TOLERANCE = 3e-4
# Relative: how far below its phase's total a higher tier may end in the later phases. Exact
# floors leave the repair no room when every capacity is full of higher-tier sends and the
# rounded LP holds one send too many; the bound of each phase is computed for the same
# relaxed floors, so the reported gap stays an honest one.
FLOOR_TOLERANCE = 1e-3
# relative: how much above each floor the master LP holds it (the repairs and the bound keep
# the true floor). The LP sits on every tight row; at 10k, with tier 2's calls filling every
# day's capacity, rounding its few mixed customers left tier 2's floor 7e-6 short, no move
# (nor pair of moves) mended that without breaking a capacity, and sending customers back
# to their previous plan lost 9% of the last tier (gap 0.77%; 0.13% with this room)
FLOOR_HEADROOM = 1e-5


@dataclass(frozen=True)
class PricedRow:
    """One side of a global row spec: at most `ub` (or at least `lb`) in scaled units.
    Soft rows cost `rate` objective units per scaled unit beyond, in tier `soft_tier`."""

    spec: int
    lb: int | None
    ub: int | None
    soft_tier: int | None
    rate: float

    @property
    def sign(self) -> float:
        """How a unit of usage moves the row's Lagrangian term: -1 charged, +1 rewarded."""
        return -1.0 if self.ub is not None else 1.0

    @property
    def bound(self) -> float:
        return float(self.ub if self.ub is not None else self.lb)  # type: ignore[arg-type]


def priced_rows(specs: Sequence[GlobalRowSpec], objective_scale: int) -> list[PricedRow]:
    """Every side of every global row spec; a soft one priced at its exact penalty."""
    rows = []
    for g, spec in enumerate(specs):
        soft = spec.rule.soft
        rate = 0.0 if soft is None else soft.penalty * objective_scale / spec.scale
        tier = None if soft is None else soft.tier
        if spec.ub is not None:
            rows.append(PricedRow(g, None, spec.ub, tier, rate))
        if spec.lb is not None:
            rows.append(PricedRow(g, spec.lb, None, tier, rate))
    return rows


class CoupledBlock:
    """A block of coupled customers, with what the decomposition asks of it."""

    def __init__(self, block: CustomerBlock, free_phase: np.ndarray, n_specs: int,
                 seed: int) -> None:
        self.block, self.n_specs = block, n_specs
        self.solver = CustomerSolver(block, seed)
        self.free_from = _free_from(block, free_phase)
        self.spec_of_entry = np.repeat(np.arange(n_specs), np.diff(block.global_ptr))
        self.owner = block.owner
        # each option's candidate, numbered within the block (found once: an evaluation
        # needs it, and at 100k finding it took a sixth of an evaluation's time)
        self.local_cand = unique_inverse(block.cand)[1]

    def evaluate(self, phase: int, tier_weight: dict[int, float],
                 spec_price: np.ndarray) -> BlockEvaluation:
        """Every customer's best plan at these prices: each tier's total counts with its
        weight (the phase's tier first), each unit of spec g with spec_price[g] (negative:
        a charge)."""
        block = self.block
        weight = np.zeros(block.n_options)
        for tier, w in tier_weight.items():
            weight += np.where(block.tier == tier, w * block.objective, 0.0)
        np.add.at(weight, block.global_option,
                  spec_price[self.spec_of_entry] * block.global_coef)
        fixed = np.where(self.free_from > phase, 0, -1)
        steps = weight * WEIGHT_STEPS
        floored = np.floor(steps)
        solved = self.solver.solve(floored.astype(np.int64), fixed)
        if not solved.feasible.all():
            raise RuntimeError("a coupled customer's own hard rules conflict")
        # flooring could undercount: each candidate sends at most one option, so adding its
        # largest dropped fraction keeps the bound honest
        fraction = np.zeros(len(block.cand))
        allowed = fixed < 0
        np.maximum.at(fraction, self.local_cand[allowed], (steps - floored)[allowed])
        sent = np.flatnonzero(solved.chosen)
        return BlockEvaluation(float(solved.bound.sum() + fraction.sum()) / WEIGHT_STEPS,
                               sent, self.summary(sent, list(tier_weight), weight))

    def removable(self, sent: np.ndarray, spec: int,
                  minimum_specs: np.ndarray) -> tuple[np.ndarray, ...]:
        """(option, coefficient, objective, tier) of the sends in spec `spec` that may be
        dropped: not mandatory, in no minimum."""
        block = self.block
        members = block.global_option[block.global_ptr[spec]:block.global_ptr[spec + 1]]
        coefs = block.global_coef[block.global_ptr[spec]:block.global_ptr[spec + 1]]
        in_minimum = np.zeros(block.n_options, dtype=bool)
        for g in minimum_specs.tolist():
            in_minimum[block.global_option[block.global_ptr[g]:block.global_ptr[g + 1]]] = True
        chosen = np.zeros(block.n_options, dtype=bool)
        chosen[sent] = True
        keep = (chosen[members] & ~block.message_mandatory[members] & ~in_minimum[members]
                & (coefs > 0))
        picked = members[keep]
        return picked, coefs[keep], block.objective[picked], block.tier[picked]

    def summary(self, sent: np.ndarray, tiers: list[int],
                weight: np.ndarray | None = None) -> Summary:
        """Per customer, what these sends (a plan per customer) add up to."""
        block, k = self.block, self.block.n_customers
        owner = self.owner[sent]
        chosen = np.zeros(block.n_options, dtype=bool)
        chosen[sent] = True
        tier_totals = np.column_stack([
            np.bincount(owner, weights=np.where(block.tier[sent] == t, block.objective[sent],
                                                0).astype(float), minlength=k)
            for t in tiers]) if tiers else np.zeros((k, 0))
        picked = chosen[block.global_option]
        usage = np.zeros((k, self.n_specs))
        np.add.at(usage, (self.owner[block.global_option[picked]], self.spec_of_entry[picked]),
                  block.global_coef[picked].astype(float))
        priced = (np.bincount(owner, weights=weight[sent], minlength=k) if weight is not None
                  else np.zeros(k))
        counts = np.bincount(owner, minlength=k)
        return Summary(tier_totals, usage, priced, ptr_of(counts), sent)


@dataclass(frozen=True)
class Summary:
    """Per customer of a block: its plan's total per tier (columns in the order asked), its
    usage of every spec, its priced value, and its sends (sends[ptr[k]:ptr[k+1]])."""

    tiers: np.ndarray
    usage: np.ndarray
    priced: np.ndarray
    ptr: np.ndarray
    sends: np.ndarray


@dataclass(frozen=True)
class BlockEvaluation:
    """A block's share of L (the exact inner maxima, honestly rounded) and its plans."""

    inner: float
    sent: np.ndarray
    summary: Summary


@dataclass
class Decomposition:
    """The plan of every coupled block (its option numbers) and what it achieved."""

    sent: list[np.ndarray]
    achieved: dict[int, float]  # tier -> scaled total less its soft penalties
    bound: dict[int, float]
    prices: dict[str, float] = field(default_factory=dict)  # rule -> value per metric unit
    evaluations: int = 0
    cpsat_calls: int = 0
    fractional: int = 0


def _free_from(block: CustomerBlock, free_phase: np.ndarray) -> np.ndarray:
    """The first phase in which an option may be sent: its tier, or earlier when a minimum
    charged in an earlier tier (or a hard one, phase 0) needs it, or when its message is
    mandatory (from the first phase on)."""
    first = block.tier.astype(float).copy()
    first[block.message_mandatory] = -np.inf
    spec_of_entry = np.repeat(np.arange(len(free_phase)), np.diff(block.global_ptr))
    np.minimum.at(first, block.global_option, free_phase[spec_of_entry])
    return first


class Coordinator:
    """The decomposition over blocks: phases, bounds, columns, repair."""

    def __init__(self, blocks: list[CustomerBlock], specs: Sequence[GlobalRowSpec],
                 objective_scale: int, seed: int) -> None:
        self.specs, self.scale = specs, objective_scale
        self.rows = priced_rows(specs, objective_scale)
        tiers = sorted({int(t) for b in blocks for t in np.unique(b.tier)})
        soft_tiers = {r.soft_tier for r in self.rows if r.soft_tier is not None}
        self.phases = sorted(set(tiers) | soft_tiers)
        top = self.phases[0] if self.phases else 1
        free_phase = np.full(len(specs), np.inf)
        for row in self.rows:
            if row.lb is not None:
                phase = top if row.soft_tier is None else row.soft_tier
                free_phase[row.spec] = min(free_phase[row.spec], phase)
        self.blocks = [CoupledBlock(b, free_phase, len(specs), seed) for b in blocks]
        self.minimum_specs = np.array(sorted({r.spec for r in self.rows  # hard minimums
                                              if r.lb is not None and r.soft_tier is None}),
                                      dtype=np.int64)
        self.offsets = np.cumsum([0] + [b.n_options for b in blocks])
        self.first_customer = np.cumsum([0] + [b.n_customers for b in blocks])
        self.n_customers = int(self.first_customer[-1])
        self.evaluations = 0
        self.seed = seed

    def run(self) -> Decomposition:
        achieved: dict[int, float] = {}
        bounds: dict[int, float] = {}
        prices = np.zeros(len(self.rows))
        previous: list[np.ndarray] | None = None
        fractional = 0
        for phase in self.phases:
            plan, value, bound, prices, mixed = self._phase(phase, achieved, prices, previous)
            achieved[phase], bounds[phase], previous = value, bound, plan
            fractional += mixed
        assert previous is not None
        report: dict[str, float] = {}
        for row, price in zip(self.rows, prices, strict=True):
            spec = self.specs[row.spec]
            per_unit = float(price) * spec.scale / self.scale
            report[spec.rule.name] = max(report.get(spec.rule.name, 0.0), per_unit)
        return Decomposition(previous, achieved, bounds, report, self.evaluations,
                             sum(b.solver.cpsat_calls for b in self.blocks), fractional)

    def _phase(self, phase: int, achieved: dict[int, float], prices: np.ndarray,
               previous: list[np.ndarray] | None
               ) -> tuple[list[np.ndarray], float, float, np.ndarray, int]:
        """(plan per block, tier total less penalties, bound, prices, customers mixed)."""
        higher = [t for t in self.phases if t < phase]
        # each higher tier held at its total less a sliver: a plan that moves one send of a
        # higher tier off a full capacity is then still a plan (see FLOOR_TOLERANCE)
        achieved = {t: v - FLOOR_TOLERANCE * abs(v) for t, v in achieved.items()}
        usable = [i for i, r in enumerate(self.rows)
                  if r.soft_tier is None or r.soft_tier <= phase]
        columns = Columns(self.n_customers, len(higher), len(self.specs))
        limits = [self._limit(self.rows[i], phase, higher) for i in usable]
        least = np.array([achieved[t] for t in higher])
        previous_columns = None
        if previous is not None:
            previous_columns = self._add(columns, [b.summary(p, [phase, *higher])
                                                   for b, p in zip(self.blocks, previous,
                                                                   strict=True)])
        seen: list[float] = []

        def evaluate(row_prices: np.ndarray, tier_weights: dict[int, float]) -> dual.Evaluation:
            found = self._evaluate(phase, higher, usable, row_prices, tier_weights, achieved,
                                   columns)
            seen.append(found.value)
            return found

        start = self._dual_start(prices, usable, higher)
        best = self._dual_search(evaluate, start, phase, higher, usable)
        # the LP holds each floor a sliver higher than the rounding and repairs must (see
        # FLOOR_HEADROOM); the bound keeps the true floors
        headroom = FLOOR_HEADROOM * np.abs(least)
        master = Master(columns, limits, least + headroom, previous_columns,
                        self._box(phase, higher, usable))
        solution = master.solve(best[: len(usable)], best[len(usable):])
        for _ in range(PLAN_ROUNDS):
            bound = min(seen)
            # what the headroom costs the LP is at most its floors' duals times it (the LP's
            # value is concave in its floors): the rounds do not chase that
            reach = solution.value + float(solution.floor_weights @ headroom)
            if bound - reach <= PLAN_TOLERANCE * max(1.0, abs(bound)):
                break
            before = len(columns)
            row_prices = np.zeros(len(self.rows))
            row_prices[usable] = solution.limit_prices
            evaluate(row_prices[usable], dict(zip(higher, solution.floor_weights.tolist(),
                                                  strict=True)))
            if len(columns) == before:
                break  # nobody has a new plan to offer: the LP cannot move
            solution = master.solve(solution.limit_prices, solution.floor_weights)
        plan, value = self._settle(columns, solution.chosen, phase, higher, limits, least,
                                   previous_columns)
        bound = min(seen)
        prices = prices.copy()
        prices[usable] = solution.limit_prices
        return plan, value, bound, prices, len(solution.mixed)

    def _settle(self, columns: Columns, rounded: np.ndarray, phase: int, higher: list[int],
                limits: list[Limit], least: np.ndarray, previous_columns: np.ndarray | None
                ) -> tuple[list[np.ndarray], float]:
        """The master's rounded choice made exact: floors mended, repaired, sent back,
        improved, trimmed; (plan per block, the phase's tier total less its penalties)."""
        chosen = mend_floors(columns, rounded, limits, least)
        if not holds(columns, chosen, limits, least):
            chosen = self._repair(columns, chosen, limits, least, previous_columns)
        chosen = restore_lower(columns, chosen, limits, least, previous_columns)
        if holds(columns, chosen, limits, least):
            chosen = improve(columns, chosen, limits, least)
        plan = self._plan(columns, chosen)
        totals_now = self._totals(plan, higher)[1]
        plan = self._trim(plan, phase, limits, dict(zip(higher, (totals_now - least).tolist(),
                                                          strict=True)))
        usage, tiers = self._totals(plan, [phase, *higher])
        if not self._holds(limits, least, usage, tiers[1:]):
            if previous_columns is None:
                raise RuntimeError("the decomposition found no plan that meets every hard "
                                   "global rule")
            # the previous plan meets every limit: the fewest customers sent back to it,
            # then the best moves that keep every limit
            kept = revert_until_holds(columns, chosen, limits, least, previous_columns)
            plan = self._plan(columns, improve(columns, kept, limits, least))
            usage, tiers = self._totals(plan, [phase, *higher])
        own = penalties(limits, usage, len(higher))[0]
        return plan, float(tiers[0]) - own

    def _repair(self, columns: Columns, chosen: np.ndarray, limits: list[Limit],
                least: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        """The rounded assignment made to hold by CP-SAT (optimiser.column_repair): the
        customers it moved off their previous plan (most value at stake first, as many as
        it takes) choose again, the rounding as the hint, then (if that finds nothing) that
        plan, which holds. Unchanged if neither finds one, or with no previous plan."""
        if previous is None:
            return chosen
        moved = np.flatnonzero((chosen != previous) & (previous >= 0))
        stake = np.abs(columns.value[np.maximum(chosen[moved], 0)] - columns.value[
            previous[moved]])
        moved = moved[np.argsort(-stake, kind="stable")]  # most value at stake first
        for hint in (chosen, previous):
            repaired = repair(columns, chosen, limits, least, moved, hint, self.seed)
            if repaired is not None:
                return repaired
        return chosen

    def _totals(self, plan: list[np.ndarray], tiers: list[int]) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        """What a plan (per block) adds up to: usage of every spec, total of each tier in
        `tiers` (in that order)."""
        summaries = [b.summary(p, tiers) for b, p in zip(self.blocks, plan, strict=True)]
        return (np.sum([s.usage.sum(axis=0) for s in summaries], axis=0),
                np.sum([s.tiers.sum(axis=0) for s in summaries], axis=0))

    def _holds(self, limits: list[Limit], least: np.ndarray, usage: np.ndarray,
               floors: np.ndarray) -> bool:
        """Whether plan totals meet every hard limit and floor exactly."""
        return not (violation(limits, least, usage, floors, np.ones(len(limits) + len(least)))
                    > 0).any()

    def _trim(self, plan: list[np.ndarray], phase: int, limits: list[Limit],
              room: dict[int, float]) -> list[np.ndarray]:
        """Drop sends over each hard maximum, the least valuable per unit of the row first,
        lower tiers first: a send of this phase's tier or a lower one, or of a higher tier
        while its total stays at its floor (`room`: how far each higher tier is above it);
        never a mandatory message nor a member of a minimum. Every customer's own rules
        hold after a send is dropped (they only cap sends, but for mandatory ones)."""
        usage = np.sum([b.block.global_usage(p, len(self.specs)) for b, p in zip(
            self.blocks, plan, strict=True)], axis=0)
        plan = [p.copy() for p in plan]
        for lim in limits:
            if lim.soft or lim.ub is None or usage[lim.spec] <= lim.ub:
                continue
            found = [b.removable(p, lim.spec, self.minimum_specs)
                     for b, p in zip(self.blocks, plan, strict=True)]
            block_of = np.concatenate([np.full(len(f[0]), i) for i, f in enumerate(found)])
            option = np.concatenate([f[0] for f in found])
            coef = np.concatenate([f[1] for f in found]).astype(float)
            worth = np.concatenate([f[2] for f in found]).astype(float)
            tier = np.concatenate([f[3] for f in found])
            order = np.lexsort((option, block_of, worth / np.maximum(coef, 1e-12), -tier))
            dropped: list[list[int]] = [[] for _ in self.blocks]
            for i in order.tolist():
                if usage[lim.spec] <= lim.ub:
                    break
                if tier[i] < phase:
                    if room[int(tier[i])] < worth[i]:
                        continue
                    room[int(tier[i])] -= worth[i]
                dropped[int(block_of[i])].append(int(option[i]))
                usage = usage - self.blocks[int(block_of[i])].block.global_usage(
                    np.array([option[i]]), len(self.specs))
            plan = [np.setdiff1d(p, np.array(d, dtype=np.int64)) for p, d in zip(
                plan, dropped, strict=True)]
        return plan

    def _limit(self, row: PricedRow, phase: int, higher: list[int]) -> Limit:
        floor = None if row.soft_tier in (None, phase) else higher.index(row.soft_tier)
        return Limit(row.spec, row.lb, row.ub, row.soft_tier is not None, row.rate, floor)

    def _add(self, columns: Columns, summaries: list[Summary]) -> np.ndarray:
        """Add every customer's plan of one evaluation; returns their columns."""
        tiers = np.concatenate([s.tiers for s in summaries])
        usage = np.concatenate([s.usage for s in summaries])
        ptr = np.concatenate([[0]] + [s.ptr[1:] + off for s, off in zip(
            summaries, np.cumsum([0] + [len(s.sends) for s in summaries[:-1]]), strict=True)])
        sends = np.concatenate([s.sends + self.offsets[b] for b, s in enumerate(summaries)])
        customer = np.arange(self.n_customers)
        return columns.add(customer, tiers[:, 0], tiers[:, 1:], usage, ptr.astype(np.int64),
                           sends)

    def _plan(self, columns: Columns, chosen: np.ndarray) -> list[np.ndarray]:
        """The sends of the chosen columns, per block in its option numbers."""
        sends = np.sort(columns.sends_of(chosen))
        block_of = np.searchsorted(self.offsets, sends, side="right") - 1
        return [sends[block_of == b] - self.offsets[b] for b in range(len(self.blocks))]

    def _evaluate(self, phase: int, higher: list[int], usable: list[int],
                  row_prices: np.ndarray, tier_weights: dict[int, float],
                  achieved: dict[int, float], columns: Columns) -> dual.Evaluation:
        """L at (row prices of the usable rows, tier weights), its cuts, and its plans added
        as columns."""
        prices = np.array(row_prices, dtype=float)
        for position, index in enumerate(usable):  # paying a penalty caps a soft row's price
            row = self.rows[index]
            if row.soft_tier is not None:
                weight = 1.0 if row.soft_tier == phase else tier_weights[row.soft_tier]
                prices[position] = min(prices[position], weight * row.rate)
        spec_price = np.zeros(len(self.specs))
        for position, index in enumerate(usable):
            row = self.rows[index]
            spec_price[row.spec] += row.sign * prices[position]
        weights = {phase: 1.0, **tier_weights}
        parts = [b.evaluate(phase, weights, spec_price) for b in self.blocks]
        self.evaluations += 1
        summaries = [p.summary for p in parts]
        self._add(columns, [Summary(s.tiers, s.usage, s.priced, s.ptr, s.sends)
                            for s in summaries])
        constant = -sum(w * achieved[t] for t, w in tier_weights.items())
        for position, index in enumerate(usable):
            row = self.rows[index]
            constant += -row.sign * prices[position] * row.bound
        inner = sum(p.inner for p in parts)
        return self._cuts(inner + constant, constant, summaries, usable, higher, achieved)

    def _cuts(self, value: float, constant: float, summaries: list[Summary], usable: list[int],
              higher: list[int], achieved: dict[int, float]) -> dual.Evaluation:
        """One cut per group of customers, plus one for the constant part (p.b - w.A)."""
        pieces = min(DUAL_PIECES, max(1, self.n_customers)) + 1
        group = np.arange(self.n_customers) * (pieces - 1) // max(1, self.n_customers)
        priced = np.concatenate([s.priced for s in summaries])
        usage = np.concatenate([s.usage for s in summaries])
        tiers = np.concatenate([s.tiers for s in summaries])
        cut_values = np.bincount(group, priced, minlength=pieces)
        cut_values[-1] = constant
        slopes = np.zeros((pieces, len(usable) + len(higher)))
        for position, index in enumerate(usable):
            row = self.rows[index]
            slopes[:, position] = row.sign * np.bincount(group, usage[:, row.spec],
                                                         minlength=pieces)
            slopes[-1, position] = -row.sign * row.bound
        for offset, tier in enumerate(higher):
            position = len(usable) + offset
            slopes[:, position] = np.bincount(group, tiers[:, 1 + offset], minlength=pieces)
            slopes[-1, position] = -achieved[tier]
        return dual.Evaluation(value, cut_values, slopes)

    def _dual_start(self, prices: np.ndarray, usable: list[int],
                    higher: list[int]) -> np.ndarray:
        return np.concatenate([prices[usable], np.ones(len(higher))])

    def _dual_search(self, evaluate: object, start: np.ndarray, phase: int,
                     higher: list[int], usable: list[int]) -> np.ndarray:
        """The multipliers of the least bound the cutting planes find (prices, weights)."""
        assert callable(evaluate)
        upper, links = self._box(phase, higher, usable)

        def at(point: np.ndarray) -> dual.Evaluation:
            weights = {t: float(point[len(usable) + h]) for h, t in enumerate(higher)}
            return evaluate(point[: len(usable)], weights)

        found = dual.minimise(at, np.minimum(start, upper), upper, links, BOUND_EVALUATIONS)
        return found.point

    def _box(self, phase: int, higher: list[int],
             usable: list[int]) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
        """Where the multipliers (prices of the usable rows, then the higher tiers' weights)
        are searched: a maximum's price at most what any member is worth per unit of it, a
        minimum's generously more, a soft row's
        price at most its penalty (times its tier's weight: the links)."""
        upper = np.full(len(usable) + len(higher), MAX_TIER_WEIGHT)
        links: list[tuple[int, int, float]] = []
        worth = self._value_per_unit(phase, higher)
        # a minimum's price pays members for their use, not charges them: what a member is
        # worth does not bound it, what it may cost the others to meet it does
        generous = max(float(worth.max(initial=0.0)), 1.0) * MINIMUM_PRICE_FACTOR
        for position, index in enumerate(usable):
            row = self.rows[index]
            upper[position] = max(worth[row.spec], 1e-6) if row.ub is not None else generous
            if row.soft_tier == phase:
                upper[position] = min(upper[position], row.rate)
            elif row.soft_tier is not None:
                links.append((position, len(usable) + higher.index(row.soft_tier), row.rate))
        return upper, links

    def _value_per_unit(self, phase: int, higher: list[int]) -> np.ndarray:
        """Per spec, a price above which no member is worth its use of the row (a generous
        box for the dual search, whatever the tier weights)."""
        out = np.zeros(len(self.specs))
        for cb in self.blocks:
            block = cb.block
            worth = np.abs(block.objective).astype(float) * np.where(
                block.tier < phase, MAX_TIER_WEIGHT, np.where(block.tier == phase, 1.0, 0.0))
            members = block.global_option
            coefs = block.global_coef.astype(float)
            used = coefs > 0
            ratio = np.zeros(len(members))
            ratio[used] = worth[members[used]] / coefs[used]
            np.maximum.at(out, cb.spec_of_entry, 2.0 * ratio)
        return out


def decompose(blocks: list[CustomerBlock], specs: Sequence[GlobalRowSpec],
              objective_scale: int, seed: int) -> Decomposition:
    """Plan the coupled customers of `blocks` (see the module docstring)."""
    return Coordinator(blocks, specs, objective_scale, seed).run()


