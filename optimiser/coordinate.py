"""Global rules by decomposition: price the few rows that couple customers.

Capacity, budget and volume rows are the only links between customers. We
price them (Lagrangian multipliers), solve every customer's own small model
under those prices, then repair the union to exact feasibility and fill what
still fits. Priority tiers are handled as phases, tier 1 first: in phase k a
customer maximises its tier-k value minus prices, keeping each higher tier at
the value it achieved in its own phase, so no lower-tier gain ever pays for a
higher-tier loss.

Prices come from market clearing: after a repair, a row's price is the value
per unit of the best send it had to turn away. Any non-negative prices give
an honest upper bound (weak duality). For tier k we bound

    max T_k  s.t.  T_j >= A_j (j < k), global rows, customer rules

by dualising the global rows (prices p) and the higher-tier floors (weight 1):

    L_k = sum_c max_x [T_1 + ... + T_k - p.g](x) + p.b - (A_1 + ... + A_{k-1}),

each customer's inner maximum solved exactly by CP-SAT. The reported bound is
the sum over tiers, as the spec defines it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    bound: dict[int, float] = {}
    prices = np.zeros(len(rows))
    relaxed: dict[int, tuple[int | None, int | None]] = {}  # soft rows of earlier tiers
    rounds = 0
    for phase in phases:
        active = [i for i, r in enumerate(rows)
                  if r.soft_tier is None or r.soft_tier == phase or i in relaxed]
        coefs = objective[phase]
        secondary = sum((objective[t] for t in phases if t > phase), zero)
        # a soft row starts at its full penalty rate: sending (or not) is worth exactly that
        prices[:] = [r.rate if r.soft_tier == phase else 0.0 for r in rows]
        trim = _Trimmer(batch, coefs, phase, secondary)
        sent = _round(batch, coefs, rows, prices, active, phase, True, secondary)
        rounds += 1
        state = _repair(block, rows, active, relaxed, sent, coefs, free_from, phase, prices,
                        trim)
        # a second round under the prices the first repair set (always run: determinism)
        sent = _round(batch, coefs, rows, prices, active, phase, True, secondary)
        rounds += 1
        state = _repair(block, rows, active, relaxed, sent, coefs, free_from, phase,
                        prices, trim)
        current = np.flatnonzero(state.value[: block.n_options] > 0)
        achieved[phase] = float(coefs[current].sum()) - _penalty(rows, state, phase)
        bound[phase] = _refined_bound(batch, objective, rows, _bound_prices(rows, prices,
                                                                               state, phase),
                                         phase, achieved)
        rounds += 1
        for row_index, row in enumerate(rows):
            if row.soft_tier == phase:
                relaxed[row_index] = _relaxed_bounds(row, state)
        is_sent = state.value[: block.n_options] > 0
        pinned = is_sent & (free_from == phase) & (tiers > phase)
        batch.set_floor(phase, coefs, np.flatnonzero(is_sent), pinned)
    final = np.flatnonzero(state.value[: block.n_options] > 0)
    price_report: dict[str, float] = {}
    for row, price in zip(rows, prices, strict=True):
        # objective units per row unit -> value per unit of the rule's metric
        per_unit = float(price) * row.scale / objective_scale
        price_report[row.rule] = max(price_report.get(row.rule, 0.0), per_unit)
    return Decomposition(final, achieved, bound, price_report, rounds, batch.cpsat_calls)


def _bound_prices(rows: list[GlobalRow], prices: np.ndarray, state: RowState,
                  phase: int) -> np.ndarray:
    """Prices for the bound: a soft row of this phase that ended satisfied is worth 0 at
    the margin (complementary slackness), one left violated is worth its penalty rate."""
    out = prices.copy()
    for index, row in enumerate(rows):
        if row.soft_tier != phase:
            continue
        amount = int(state.activity[row.row_id])
        violated = (row.lb is not None and amount < row.lb) or (
            row.ub is not None and amount > row.ub)
        out[index] = row.rate if violated else 0.0
    return out


def _adjusted(coefs: np.ndarray, rows: list[GlobalRow], prices: np.ndarray,
              active: list[int]) -> np.ndarray:
    """The priced objective rounded to the integers a customer model takes."""
    return np.round(_adjusted_exact(coefs, rows, prices, active)).astype(np.int64)


def _round(batch: CustomerBatch, coefs: np.ndarray, rows: list[GlobalRow],
           prices: np.ndarray, active: list[int], phase: int, floors: bool,
           secondary: np.ndarray | None = None) -> np.ndarray:
    priced = _adjusted(coefs, rows, prices, active)
    return batch.solve(priced, phase, floors, secondary).sent


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


BOUND_STEPS = 8  # subgradient steps on the bound's prices per tier (one batch solve each)


def _refined_bound(batch: CustomerBatch, objective: dict[int, np.ndarray],
                   rows: list[GlobalRow], prices: np.ndarray, phase: int,
                   achieved: dict[int, float]) -> float:
    """The least L_k over a few projected subgradient steps from the repair's prices.

    Every price vector >= 0 gives a valid bound, so the least one seen is reported. The
    step is Polyak's, aimed at what this tier achieved (the bound can go no lower).
    """
    best, best_prices, best_slope = np.inf, prices.copy(), np.zeros(len(rows))
    current, step = prices.copy(), 1.0
    for _ in range(BOUND_STEPS):
        value, slope = _lagrangian_bound(batch, objective, rows, current, phase, achieved)
        if value < best:
            best, best_prices, best_slope = value, current, slope
        else:
            step /= 2  # overshot: a shorter step from the best prices so far
        norm = float(best_slope @ best_slope)
        excess = best - achieved[phase]
        if norm <= 0 or excess <= 1e-9 * max(1.0, abs(best)):
            break
        current = np.maximum(best_prices - best_slope * (step * excess / norm), 0.0)
    return float(best)


def _lagrangian_bound(batch: CustomerBatch, objective: dict[int, np.ndarray],
                      rows: list[GlobalRow], prices: np.ndarray, phase: int,
                      achieved: dict[int, float]) -> tuple[float, np.ndarray]:
    """L_k (scaled units; see the module docstring), valid for any prices >= 0, and its
    slope in each price (limit minus use at the customers' optimum)."""
    combined = sum((objective[t] for t in objective if t <= phase),
                   np.zeros_like(next(iter(objective.values()))))
    usable = []
    constant = 0.0
    local_prices = prices.copy()
    for index, row in enumerate(rows):
        soft_here = row.soft_tier is not None and row.soft_tier <= phase
        if row.soft_tier is not None and not soft_here:
            local_prices[index] = 0.0
            continue  # its penalty is not in tiers <= phase: the row constrains nothing
        if soft_here:
            # a soft row is never worth more than its penalty rate
            local_prices[index] = min(prices[index], row.rate)
        price = local_prices[index]
        if price <= 0:
            continue
        usable.append(index)
        if row.ub is not None:
            constant += price * row.ub
        if row.lb is not None:
            constant -= price * row.lb
    priced = _adjusted_exact(combined, rows, local_prices, usable)
    solved = batch.solve(np.floor(priced).astype(np.int64), 10**9, floors=False)
    # rounding the priced coefficients down could undercount: add each option's fraction
    fraction = (priced - np.floor(priced))[batch.perm]
    inner = float(solved.bound.sum()) + float(fraction[fraction > 0].sum())
    higher = sum(achieved[t] for t in achieved if t < phase)
    sent = np.zeros(len(priced), dtype=bool)
    sent[solved.sent] = True
    slope = np.zeros(len(rows))
    for index, row in enumerate(rows):
        if row.soft_tier is not None and row.soft_tier > phase:
            continue
        used = float(row.coefs[sent[row.members]].sum())
        slope[index] = (row.ub - used) if row.ub is not None else (used - (row.lb or 0))
    return inner + constant - higher, slope


def _adjusted_exact(coefs: np.ndarray, rows: list[GlobalRow], prices: np.ndarray,
                    active: list[int]) -> np.ndarray:
    """Objective minus prices: a `<=` row charges its users, a `>=` row rewards them."""
    adjusted = coefs.astype(float)
    for i in active:
        sign = -1.0 if rows[i].ub is not None else 1.0
        np.add.at(adjusted, rows[i].members, sign * prices[i] * rows[i].coefs)
    return adjusted
