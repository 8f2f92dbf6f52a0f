"""Global rules by decomposition: price the few rows that couple customers.

Capacity, budget and volume rows are the only links between customers. Priority
tiers are phases, tier 1 first; phase k maximises tier k's total with every
higher tier held at the total it achieved (not each customer's share of it:
a service message may move to a customer whose sales it does not crowd out).

Phase k, in three steps:

1. The bound. Dualise the global rows (prices p >= 0) and the higher tiers'
   totals T_j >= A_j (weights w_j >= 0):

       L_k(p, w) = sum_c max_x [T_k + sum_j w_j T_j - p.g](x) + p.b - sum_j w_j A_j,

   each customer's inner maximum solved exactly (`CustomerBatch`). Any p, w >= 0
   gives an upper bound on the phase's optimum; cutting planes (`optimiser.dual`)
   search for the least, and every evaluation leaves each customer a plan.
2. The plans. A master LP (`optimiser.columns`) mixes each customer's plans
   under the global rows and the higher tiers' totals; its dual prices make
   every customer propose a new plan (evaluating L_k there too), until the LP
   meets the bound. With a few global rows and many customers the LP mixes only
   a handful of customers (Shapley-Folkman), so rounding loses little.
3. Repair and fill. What rounding left over a limit is trimmed, what still fits
   is added (`_repair`), and the sends become the next phase's previous plan.

The reported bound is the sum over tiers of the least L_k, as the spec defines
it; the master's dual prices are the shadow prices reported per rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimiser import columns, dual
from optimiser.block import Block
from optimiser.cpsat import SolverOptions, SubProblem
from optimiser.customers import CustomerBatch
from optimiser.reasons import RowState, fill

GLOBAL_REASONS = frozenset({"capacity", "budget", "volume"})


@dataclass
class GlobalRow:
    """One coupling row, in the block's scaled integer units."""

    row_id: int
    members: np.ndarray  # option indices
    coefs: np.ndarray  # scaled amounts per member
    lb: int | None
    ub: int | None
    soft_tier: int | None  # tier whose objective pays its penalty (None: hard)
    rate: float  # penalty per scaled row unit, in objective units (soft only)
    rule: str
    scale: int = 1  # row units per metric unit


def global_rows(block: Block) -> list[GlobalRow]:
    """The coupling rows of a joint block, with their slack (if soft) folded into a rate."""
    out = []
    n_plain = block.n_options + block.n_indicators
    for row_id in np.flatnonzero(block.rows.has_reason(*GLOBAL_REASONS)):
        row = block.rows[int(row_id)]
        slack_at = np.flatnonzero(row.vars >= n_plain)
        plain = row.vars < n_plain
        tier, rate = None, 0.0
        if len(slack_at):
            slack = block.slacks[int(row.vars[slack_at[0]]) - n_plain]
            granularity = abs(int(row.coefs[slack_at[0]]))
            tier, rate = slack.tier, slack.penalty / granularity
        # a two-sided row is priced per side: one multiplier each
        for low, high in ((row.lb, None), (None, row.ub)):
            if low is None and high is None:
                continue
            out.append(GlobalRow(int(row_id), row.vars[plain], row.coefs[plain], low, high, tier,
                                 rate, row.rule, row.scale))
    return out


@dataclass
class Decomposition:
    sent: np.ndarray
    achieved: dict[int, float]
    bound: dict[int, float]
    prices: dict[str, float] = field(default_factory=dict)  # rule -> price per unit (value)
    rounds: int = 0
    cpsat_calls: int = 0  # customer solves the compiled search handed to CP-SAT


def _free_from(block: Block, rows: list[GlobalRow], tiers: np.ndarray) -> np.ndarray:
    """The first phase in which an option may be chosen: its tier, or earlier when a
    volume minimum charged in an earlier tier (or a hard one) needs it."""
    first = tiers.copy()
    top = int(tiers.min()) if len(tiers) else 1
    # a mandatory message must be sendable from the first phase on, whatever its tier
    first[block.options["message_mandatory"].to_numpy(bool)] = top
    for row in rows:
        if row.lb is None:
            continue
        phase = top if row.soft_tier is None else row.soft_tier
        first[row.members] = np.minimum(first[row.members], phase)
    return first


@dataclass(frozen=True)
class _Bound:
    """A Lagrangian bound on one tier and the multipliers that gave it."""

    value: float
    row_prices: np.ndarray
    tier_weights: dict[int, float]  # higher tier -> weight of its floor

    def honest(self, held: dict[int, float], final: dict[int, float]) -> float:
        """The bound for the higher tiers' final totals. It was computed with each higher
        tier held at `held`; if a later repair cost that tier something, the constant
        -w.A of the Lagrangian grows by w times the loss."""
        return self.value + sum(w * max(0.0, held[t] - final[t])
                                for t, w in self.tier_weights.items())


def decompose(block: Block, subs: list[SubProblem], solver: SolverOptions,
              objective_scale: int) -> Decomposition:
    """Phase by tier: price, solve customers, repair, fill; bound by Lagrangian duality."""
    rows = global_rows(block)
    tiers = block.options["tier"].to_numpy(np.int64)
    free_from = _free_from(block, rows, tiers)
    phases = sorted(set(int(t) for t in np.unique(tiers)) | {r.soft_tier for r in rows
                                                              if r.soft_tier is not None})
    batch = CustomerBatch(block, subs, tiers, free_from, solver.seed)
    zero = np.zeros(block.n_options, dtype=np.int64)
    objective = {t: block.objective.get(t, zero) for t in phases}
    state = RowState(block, np.array([], dtype=np.int64))
    achieved: dict[int, float] = {}
    bounds: dict[int, list[_Bound]] = {}
    prices = np.zeros(len(rows))
    relaxed: dict[int, tuple[int | None, int | None]] = {}  # soft rows of earlier tiers
    rounds = 0
    for phase in phases:
        active = [i for i, r in enumerate(rows)
                  if r.soft_tier is None or r.soft_tier == phase or i in relaxed]
        coefs = objective[phase]
        secondary = sum((objective[t] for t in phases if t > phase), zero)
        # the bound first: its optimal multipliers are the best prices we know, and the
        # customers' plans it met on the way are the pieces of the primal
        plans: list[np.ndarray] = []
        best = _dual_bound(batch, objective, rows, prices, phase, achieved, plans)
        prices[:] = best.row_prices
        trim = _Trimmer(batch, coefs, phase, secondary)
        previous = np.flatnonzero(state.value[: block.n_options] > 0) if achieved else None
        bounds[phase] = [best]  # every bound met; which is least shows only at the end
        choice = _generate_plans(batch, plans, previous, objective, rows, active, phase,
                                 free_from, achieved, bounds[phase])
        rounds += len(plans)  # one batch solve of every customer each
        prices[active] = choice.row_prices  # the master's duals: the shadow prices
        state = _repair(block, rows, active, relaxed, choice.sent, coefs, free_from, phase,
                        prices, trim)
        current = np.flatnonzero(state.value[: block.n_options] > 0)
        achieved[phase] = float(coefs[current].sum()) - _penalty(rows, state, phase)
        for row_index, row in enumerate(rows):
            if row.soft_tier == phase:
                relaxed[row_index] = _relaxed_bounds(row, state)
        is_sent = state.value[: block.n_options] > 0
        pinned = is_sent & (free_from == phase) & (tiers > phase)
        batch.set_floor(phase, coefs, np.flatnonzero(is_sent), pinned)
    final = np.flatnonzero(state.value[: block.n_options] > 0)
    totals = {t: float(objective[t][final].sum()) - _penalty(rows, state, t) for t in phases}
    bound = {t: min(b.honest(achieved, totals) for b in bounds[t]) for t in phases}
    price_report: dict[str, float] = {}
    for row, price in zip(rows, prices, strict=True):
        # objective units per row unit -> value per unit of the rule's metric
        per_unit = float(price) * row.scale / objective_scale
        price_report[row.rule] = max(price_report.get(row.rule, 0.0), per_unit)
    return Decomposition(final, totals, bound, price_report, rounds, batch.cpsat_calls)


def _dualised(rows: list[GlobalRow], objective: dict[int, np.ndarray],
              phase: int) -> tuple[list[int], list[int]]:
    """What phase `phase` prices: the global rows that constrain it (hard ones, and soft
    ones paid by this or a higher tier), and the higher tiers whose totals it must hold."""
    usable = [i for i, r in enumerate(rows) if r.soft_tier is None or r.soft_tier <= phase]
    return usable, [t for t in objective if t < phase]


PLAN_TOLERANCE = 1e-4  # relative distance of master and bound that ends the rounds
PLAN_ROUNDS = 20  # master solves, each followed by a batch solve at the master's prices


def _generate_plans(batch: CustomerBatch, plans: list[np.ndarray], previous: np.ndarray | None,
                    objective: dict[int, np.ndarray], rows: list[GlobalRow], active: list[int],
                    phase: int, free_from: np.ndarray, achieved: dict[int, float],
                    seen: list[_Bound]) -> columns.Choice:
    """Column generation: the master mixes the plans so far; its dual prices make every
    customer propose a new plan (which also evaluates the Lagrangian bound there), until
    the master's LP value meets the bound. Every bound met is added to `seen` (the first
    is the dual search's); returns the master's last choice."""
    usable, higher = _dualised(rows, objective, phase)
    master = _plan_master(batch, plans, previous, objective, rows, active, phase, free_from,
                          achieved)
    choice = master.solve()
    for _ in range(PLAN_ROUNDS):
        bound = min(b.value for b in seen)
        if bound - choice.lp_value <= PLAN_TOLERANCE * max(1.0, abs(bound)):
            break
        prices = np.zeros(len(rows))
        prices[active] = choice.row_prices
        tier_weights = dict(zip(higher, choice.floor_weights.tolist(), strict=True))
        evaluation, sent = _lagrangian(batch, objective, rows, usable, prices, tier_weights,
                                       phase, achieved)
        seen.append(_Bound(evaluation.value, prices, tier_weights))
        plans.append(sent)
        if master.add(sent[free_from[sent] <= phase]) == 0:
            break  # no customer has anything new to offer: the LP cannot move
        choice = master.solve()
    return choice


def _plan_master(batch: CustomerBatch, plans: list[np.ndarray], previous: np.ndarray | None,
                 objective: dict[int, np.ndarray], rows: list[GlobalRow], active: list[int],
                 phase: int, free_from: np.ndarray, achieved: dict[int, float]
                 ) -> columns.PlanMaster:
    """The master over the dual's customer plans (optimiser.columns), sends not yet free in
    this phase left out, the higher tiers held at what they achieved. `previous` (in the
    first phase, which has none, the first plan stands in for it) is the fallback plan."""
    n = len(free_from)
    higher = _dualised(rows, objective, phase)[1]
    master_rows = []
    for index in active:
        row = rows[index]
        usage = np.zeros(n)
        usage[row.members] = row.coefs
        # a higher tier's soft row keeps its penalty, paid out of that tier's floor: the
        # master is then the exact phase problem, and its prices make an honest bound
        master_rows.append(columns.MasterRow(
            usage, row.lb, row.ub, None if row.soft_tier is None else row.rate,
            None if row.soft_tier in (None, phase) else higher.index(row.soft_tier)))
    usable = [plan[free_from[plan] <= phase] for plan in plans]
    if previous is None:
        previous = usable[0]
    floors = [(objective[t], achieved[t]) for t in higher]
    master = columns.PlanMaster(batch.owner, len(batch.subs), previous, objective[phase],
                                master_rows, floors)
    for plan in usable:
        master.add(plan)
    return master


def _penalty(rows: list[GlobalRow], state: RowState, phase: int) -> float:
    """Scaled soft penalty charged to `phase` by the current solution."""
    total = 0.0
    for row in rows:
        if row.soft_tier != phase:
            continue
        amount = int(state.activity[row.row_id])
        excess = 0
        if row.ub is not None:
            excess += max(0, amount - row.ub)
        if row.lb is not None:
            excess += max(0, row.lb - amount)
        total += row.rate * excess
    return total


def _relaxed_bounds(row: GlobalRow, state: RowState) -> tuple[int | None, int | None]:
    """A soft row of a finished tier becomes hard at what that tier achieved."""
    amount = int(state.activity[row.row_id])
    low = None if row.lb is None else min(row.lb, amount)
    high = None if row.ub is None else max(row.ub, amount)
    return low, high


def _repair(block: Block, rows: list[GlobalRow], active: list[int],
            relaxed: dict[int, tuple[int | None, int | None]], sent: np.ndarray,
            coefs: np.ndarray, free_from: np.ndarray, phase: int,
            prices: np.ndarray, trim: _Trimmer) -> RowState:
    """Make the union of customer solutions satisfy every active global row, then fill.

    Over a `<=` limit we drop the sends with the least value per unit of the row
    (never mandatory ones, lower tiers before higher); under a `>=` limit we add
    the best sends that break no rule. Prices become the marginal value per unit.
    """
    state = RowState(block, np.sort(sent))
    value = block.options["coef"].to_numpy(float)
    tier = block.options["tier"].to_numpy(np.int64)
    # a copy carrying a mandatory message is as untouchable as the mandatory copy itself
    mandatory = block.options["message_mandatory"].to_numpy(bool)
    for index in active:
        row = rows[index]
        low, high = relaxed.get(index, (row.lb, row.ub))
        if row.soft_tier == phase:
            # priced, not enforced; but sends beyond a minimum that earn nothing in this
            # tier only take room from lower tiers: hand them back
            if low is not None and state.activity[row.row_id] > low:
                _trim_surplus(state, row, low, coefs, mandatory, tier, phase, trim)
            continue
        if high is not None and state.activity[row.row_id] > high:
            members = row.members[state.value[row.members] > 0]
            amounts = row.coefs[state.value[row.members] > 0].astype(float)
            removable = ~mandatory[members] & (amounts > 0)
            per_unit = np.where(removable, value[members] / np.maximum(amounts, 1e-12), np.inf)
            order = np.lexsort((per_unit, -tier[members]))
            turned_away = 0.0
            for position in order:
                if state.activity[row.row_id] <= high:
                    break
                if not removable[position]:
                    continue
                state.remove(int(members[position]))
                turned_away = max(turned_away, coefs[members[position]] / amounts[position])
            prices[index] = max(prices[index], turned_away)
        if low is not None and state.activity[row.row_id] < low:
            _raise_to(block, state, row, low, value, free_from, phase)
    allowed = free_from <= phase
    fill(block, state, allowed)
    return state


class _Trimmer:
    """Measures what a send costs lower tiers: the customer's tie-break value without it."""

    def __init__(self, batch: CustomerBatch, coefs: np.ndarray, phase: int,
                 secondary: np.ndarray) -> None:
        self.batch, self.coefs, self.phase, self.secondary = batch, coefs, phase, secondary

    def displacement(self, state: RowState, option: int) -> float:
        """Lower-tier value the customer would gain if `option` were not sent."""
        customer = int(self.batch.owner[option])
        mine = self.batch.subs[customer].option_vars
        with_it = float(self.secondary[mine[state.value[mine] > 0]].sum())
        chosen = self.batch.solve_one(customer, self.coefs, self.phase, self.secondary,
                                      option)
        return float(self.secondary[chosen].sum()) - with_it


def _trim_surplus(state: RowState, row: GlobalRow, low: int, coefs: np.ndarray,
                  mandatory: np.ndarray, tier: np.ndarray, phase: int, trim: _Trimmer) -> None:
    """Remove sends above a row's minimum that are worth nothing in the current phase,
    those that crowd out the most lower-tier value first."""
    members = row.members[state.value[row.members] > 0]
    amounts = row.coefs[state.value[row.members] > 0]
    free = np.flatnonzero((coefs[members] == 0) & ~mandatory[members] & (tier[members] > phase))
    cost = np.array([trim.displacement(state, int(members[p])) for p in free])
    for position in free[np.argsort(-cost, kind="stable")]:
        if state.activity[row.row_id] - amounts[position] < low:
            continue
        state.remove(int(members[position]))


def _raise_to(block: Block, state: RowState, row: GlobalRow, low: int, value: np.ndarray,
              free_from: np.ndarray, phase: int) -> None:
    """Add the most valuable sends of a row that break nothing until it reaches `low`."""
    cand = block.options["cand"].to_numpy(np.int64)
    sent_cands = set(cand[state.value[: block.n_options] > 0].tolist())
    order = np.argsort(-value[row.members], kind="stable")
    for position in order:
        if state.activity[row.row_id] >= low:
            return
        option = int(row.members[position])
        if cand[option] in sent_cands or row.coefs[position] <= 0 or free_from[option] > phase:
            continue
        if not state.breaks_a_row(option):
            state.add(option)
            sent_cands.add(int(cand[option]))


BOUND_EVALUATIONS = 4  # batch solves the dual may spend on one tier's bound
WEIGHT_STEPS = 64  # the bound's priced weights are floored to 1/64 of a model unit
MAX_TIER_WEIGHT = 1e4  # most a higher tier's unit may be worth in the bound's objective
DUAL_PIECES = 64  # customer groups with a cut each in the dual's master program


def _dual_bound(batch: CustomerBatch, objective: dict[int, np.ndarray],
                rows: list[GlobalRow], prices: np.ndarray, phase: int,
                achieved: dict[int, float], plans: list[np.ndarray]) -> _Bound:
    """The least Lagrangian bound on tier `phase` that cutting planes find (optimiser.dual),
    and the row prices where it was found.

    Dualised: every global row that constrains tiers up to `phase` (price p >= 0) and
    every higher tier's floor T_j >= A_j (weight w_j >= 0):

        L(p, w) = sum_c max_x [T_phase + sum_j w_j T_j - p.g](x) + p.b - sum_j w_j A_j.

    A soft row of tier j prices at most its penalty times that tier's weight (1 for
    this tier): beyond that, paying the penalty is cheaper than keeping the row.
    """
    usable, higher = _dualised(rows, objective, phase)
    dim = len(usable) + len(higher)
    weight_at = {t: len(usable) + h for h, t in enumerate(higher)}
    upper = np.full(dim, MAX_TIER_WEIGHT)
    links: list[tuple[int, int, float]] = []
    value_per_unit = _value_per_unit(objective, rows, phase)
    for position, index in enumerate(usable):
        row = rows[index]
        upper[position] = max(value_per_unit[index], 1e-6)
        if row.soft_tier == phase:
            upper[position] = min(upper[position], row.rate)
        elif row.soft_tier is not None:
            links.append((position, weight_at[row.soft_tier], row.rate))
    start = np.concatenate([np.minimum(prices[usable], upper[: len(usable)]),
                            np.ones(len(higher))])

    def evaluate(point: np.ndarray) -> dual.Evaluation:
        row_prices = np.zeros(len(rows))
        row_prices[usable] = point[: len(usable)]
        tier_weights = {t: float(point[weight_at[t]]) for t in higher}
        found = _lagrangian(batch, objective, rows, usable, row_prices, tier_weights, phase,
                            achieved)
        plans.append(found[1])
        return found[0]

    found = dual.minimise(evaluate, start, upper, links, BOUND_EVALUATIONS)
    row_prices = np.zeros(len(rows))
    row_prices[usable] = found.point[: len(usable)]
    return _Bound(found.value, row_prices,
                  {t: float(found.point[weight_at[t]]) for t in higher})


def _value_per_unit(objective: dict[int, np.ndarray], rows: list[GlobalRow],
                    phase: int) -> np.ndarray:
    """Per row, a price above which no member is worth its use of the row (a generous
    box for the dual search, whatever the tier weights)."""
    worth = sum((np.abs(objective[t]).astype(float) * (MAX_TIER_WEIGHT if t < phase else 1.0)
                 for t in objective if t <= phase),
                np.zeros_like(next(iter(objective.values())), dtype=float))
    out = np.zeros(len(rows))
    for index, row in enumerate(rows):
        used = row.coefs > 0
        if used.any():
            out[index] = 2.0 * float((worth[row.members[used]] / row.coefs[used]).max())
    return out


def _lagrangian(batch: CustomerBatch, objective: dict[int, np.ndarray],
                rows: list[GlobalRow], usable: list[int], prices: np.ndarray,
                tier_weights: dict[int, float], phase: int,
                achieved: dict[int, float]) -> tuple[dual.Evaluation, np.ndarray]:
    """L(p, w) for tier `phase` (scaled units), valid for any p, w >= 0 (see _dual_bound),
    with the affine minorant of the customers' maximisers; and what they send."""
    prices = prices.copy()
    for index in usable:  # the bound holds only while paying a penalty beats the price
        row = rows[index]
        if row.soft_tier is not None:
            weight = 1.0 if row.soft_tier == phase else tier_weights[row.soft_tier]
            prices[index] = min(prices[index], weight * row.rate)
    weights = objective[phase].astype(float)
    for tier, weight in tier_weights.items():
        weights = weights + weight * objective[tier]
    priced = _adjusted_exact(weights, rows, prices, usable)
    constant = -sum(w * achieved[t] for t, w in tier_weights.items())
    for index in usable:
        row = rows[index]
        constant += prices[index] * (row.ub if row.ub is not None else -(row.lb or 0))
    steps = priced * WEIGHT_STEPS
    floored = np.floor(steps)
    solved = batch.solve(floored.astype(np.int64))
    # flooring could undercount: each candidate sends at most one option, so adding its
    # largest dropped fraction keeps the bound honest
    fraction = np.zeros(int(batch.arrays.opt_cand.max(initial=-1)) + 1)
    np.maximum.at(fraction, batch.arrays.opt_cand, (steps - floored)[batch.perm])
    inner = (float(solved.bound.sum()) + float(fraction.sum())) / WEIGHT_STEPS
    sent = np.zeros(len(priced), dtype=bool)
    sent[solved.sent] = True
    # one cut per group of customers, plus one for the constant part (p.b - w.A)
    pieces = min(DUAL_PIECES, len(batch.subs)) + 1
    group = np.full(len(priced), pieces - 1, dtype=np.int64)
    group[batch.perm] = batch.owner[batch.perm] * (pieces - 1) // max(1, len(batch.subs))
    chosen = np.flatnonzero(sent)
    cut_values = np.bincount(group[chosen], priced[chosen], minlength=pieces)
    cut_values[-1] = constant
    slopes = np.zeros((pieces, len(usable) + len(tier_weights)))
    for position, index in enumerate(usable):
        row = rows[index]
        members = row.members[sent[row.members]]
        used = np.bincount(group[members], row.coefs[sent[row.members]].astype(float),
                           minlength=pieces)
        if row.ub is not None:
            slopes[:, position] = -used
            slopes[-1, position] = row.ub
        else:
            slopes[:, position] = used
            slopes[-1, position] = -(row.lb or 0)
    for position, tier in enumerate(tier_weights, start=len(usable)):
        slopes[:, position] = np.bincount(group[chosen], objective[tier][chosen].astype(float),
                                          minlength=pieces)
        slopes[-1, position] = -achieved[tier]
    return dual.Evaluation(inner + constant, cut_values, slopes), solved.sent


def _adjusted_exact(coefs: np.ndarray, rows: list[GlobalRow], prices: np.ndarray,
                    active: list[int]) -> np.ndarray:
    """Objective minus prices: a `<=` row charges its users, a `>=` row rewards them."""
    adjusted = coefs.astype(float)
    for i in active:
        sign = -1.0 if rows[i].ub is not None else 1.0
        np.add.at(adjusted, rows[i].members, sign * prices[i] * rows[i].coefs)
    return adjusted
