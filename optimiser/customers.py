"""Every customer's own model, solved exactly many times under changing objectives.

The decomposition re-solves each customer's problem (its own rules, one
objective) once per pricing round, per tier and for the bound: hundreds of
thousands of tiny solves. `CustomerBatch` lays all customers out once as flat
arrays for the compiled branch-and-bound of `optimiser.exact`, which proves
each optimum itself. The few customers it cannot settle (a node limit, or a
row shape it cannot prune soundly) are solved by a CP-SAT `CustomerModel`,
so every answer is exact either way.

Lexicographic phases are expressed as in the CP-SAT model: options free only
from a later phase are fixed off; a finished tier keeps a floor (its achieved
value) and its pinned sends; a ban fixes one option off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser import exact
from optimiser.arrays import ranges
from optimiser.block import Block
from optimiser.cpsat import SubProblem
from optimiser.customer_model import CustomerModel

TIE_BREAK_LIMIT = 2**62  # weights * scale + tie must stay below this (int64 sums)
EVERY_PHASE = 10**9  # a phase after every tier: no option is held back for a later one


@dataclass
class Solved:
    """One solve: the sends (block option indices) and, per customer solved, an upper
    bound on its primary objective (its exact optimum unless CP-SAT stopped early)."""

    sent: np.ndarray
    bound: np.ndarray


class CustomerBatch:
    """All customers of a block as one `exact.CustomerArrays`, plus their phase state."""

    def __init__(self, block: Block, subs: list[SubProblem], tiers: np.ndarray,
                 free_from: np.ndarray, seed: int) -> None:
        self.block, self.subs, self.tiers, self.free_from = block, subs, tiers, free_from
        self.seed = seed
        n = block.n_options
        lengths = np.array([len(s.option_vars) for s in subs], dtype=np.int64)
        self.perm = (np.concatenate([s.option_vars for s in subs]) if subs
                     else np.zeros(0, dtype=np.int64))
        self.position = np.full(n, -1, dtype=np.int64)
        self.position[self.perm] = np.arange(len(self.perm))
        self.owner = np.full(n, -1, dtype=np.int64)
        self.owner[self.perm] = np.repeat(np.arange(len(subs)), lengths)
        ind_ptr, member_ptr, members, indicator_at = self._indicators()
        self.arrays = exact.CustomerArrays(
            _ptr(lengths), block.options["cand"].to_numpy(np.int64)[self.perm],
            ind_ptr, member_ptr, members, *self._rows(indicator_at))
        self.arrays.validate()
        self.floors: list[tuple[int, np.ndarray, np.ndarray]] = []  # tier, coefs, lb per cust
        self.pinned: list[tuple[int, np.ndarray]] = []  # tier, options kept sent after it
        self.fallback: dict[int, CustomerModel] = {}
        self.cpsat_calls = 0
        self._single: dict[int, exact.CustomerArrays] = {}

    def _indicators(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(indicator pointer per customer, member pointer, members as batch positions,
        batch number of each block indicator)."""
        block, n = self.block, self.block.n_options
        per_customer = [s.indicator_vars for s in self.subs]
        variables = (np.concatenate(per_customer) if per_customer
                     else np.zeros(0, dtype=np.int64))
        indicator_at = np.full(block.n_indicators, -1, dtype=np.int64)
        indicator_at[variables - n] = np.arange(len(variables))
        members = [block.indicator_members[int(v) - n] for v in variables]
        member_ptr = _ptr(np.array([len(m) for m in members], dtype=np.int64))
        flat = np.concatenate(members) if members else np.zeros(0, dtype=np.int64)
        ind_ptr = _ptr(np.array([len(v) for v in per_customer], dtype=np.int64))
        return ind_ptr, member_ptr, self.position[flat], indicator_at

    def _rows(self, indicator_at: np.ndarray) -> tuple[np.ndarray, ...]:
        rows, n = self.block.rows, self.block.n_options
        link = rows.link
        per_customer = [s.rows[~link[s.rows]] for s in self.subs]
        row_ids = (np.concatenate(per_customer) if per_customer
                   else np.zeros(0, dtype=np.int64))
        row_ptr = _ptr(np.array([len(r) for r in per_customer], dtype=np.int64))
        starts, stops = rows.ptr[row_ids], rows.ptr[row_ids + 1]
        entries = ranges(starts, stops)
        var = rows.entry_var[entries]
        is_option = var < n
        local = np.empty(len(var), dtype=np.int64)
        local[is_option] = self.position[var[is_option]]
        local[~is_option] = len(self.perm) + indicator_at[var[~is_option] - n]
        return (row_ptr, _ptr(stops - starts), local, rows.entry_coef[entries],
                rows.lb[row_ids], rows.ub[row_ids])

    def set_floor(self, tier: int, coefs: np.ndarray, sent: np.ndarray,
                  pinned: np.ndarray) -> None:
        """Keep tier `tier` at each customer's value under `sent` in later phases, and keep
        `pinned` options (sent early for a volume minimum charged in this tier) sent."""
        chosen = np.zeros(self.block.n_options, dtype=np.int64)
        chosen[sent] = 1
        floor = _group_sums((coefs * chosen)[self.perm], self.arrays.opt_ptr)
        self.floors.append((tier, coefs.astype(np.int64), floor))
        self.pinned.append((tier, pinned.copy()))

    def solve(self, coefs: np.ndarray) -> Solved:
        """Maximise coefs.x for every customer exactly, under its own rules alone: every
        option free, no floor and no pin (the Lagrangian dualises the tiers' totals)."""
        customers = np.arange(len(self.subs))
        return self._solve(self.arrays, self.perm, customers, coefs, EVERY_PHASE, False,
                           None, ())

    def solve_one(self, k: int, coefs: np.ndarray, phase: int, secondary: np.ndarray,
                  banned: int) -> np.ndarray:
        """Customer k alone in `phase`, with the floors and pins of the earlier tiers,
        `secondary` breaking ties and one option banned: its sends.

        The repair asks this for one customer at a time, so it runs on that customer's
        own slice of the arrays: a whole-batch call would cost O(batch) each time.
        """
        if k not in self._single:
            self._single[k] = _slice(self.arrays, k)
            self._single[k].validate()
        options = self.perm[self.arrays.opt_ptr[k]:self.arrays.opt_ptr[k + 1]]
        return self._solve(self._single[k], options, np.array([k]), coefs, phase, True,
                           secondary, (banned,)).sent

    def _solve(self, arrays: exact.CustomerArrays, options: np.ndarray,
               customers: np.ndarray, coefs: np.ndarray, phase: int, floors: bool,
               secondary: np.ndarray | None, banned: tuple[int, ...]) -> Solved:
        """Solve `customers` (laid out as `arrays`, whose options are the block's
        `options` in order): compiled search first, CP-SAT for what it hands back."""
        primary = np.asarray(coefs, dtype=np.int64)[options]
        ptr = arrays.opt_ptr
        weights = primary
        if secondary is not None:
            tie = np.asarray(secondary, dtype=np.int64)[options]
            scale = _group_sums(np.abs(tie), ptr) + 1
            room = _group_sums(np.abs(primary), ptr) + 1
            fits = scale.astype(float) * room.astype(float) < TIE_BREAK_LIMIT
            group = np.repeat(np.arange(len(customers)), np.diff(ptr))
            weights = np.where(fits[group], primary * scale[group] + tie, primary)
        active = np.ones(len(customers), dtype=bool)
        chosen, status = self._kernel(arrays, options, customers, weights, phase, floors,
                                      banned, active)
        if floors:
            # earlier floors can conflict with what repair left a customer; its own rules
            # alone never do (its earlier solution satisfied them): those go again without
            retry = status == exact.INFEASIBLE
            if retry.any():
                again, status_again = self._kernel(arrays, options, customers, weights, phase,
                                                   False, banned, retry)
                owner_retried = np.repeat(retry, np.diff(ptr))
                chosen[owner_retried] = again[owner_retried]
                status[retry] = status_again[retry]
        sent = options[chosen]
        bound = _group_sums(primary * chosen, ptr).astype(float)
        for position in np.flatnonzero(status != exact.OPTIMAL):
            mine, upper = self._cpsat(int(customers[position])).solve(
                coefs, phase, floors, secondary, banned)
            sent = np.union1d(sent, mine)
            bound[position] = upper
        return Solved(np.sort(sent), bound)

    def _kernel(self, arrays: exact.CustomerArrays, options: np.ndarray,
                customers: np.ndarray, weights: np.ndarray, phase: int, floors: bool,
                banned: tuple[int, ...], active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One compiled call: (chosen mask over `options`, status per customer)."""
        fixed = np.where(self.free_from[options] > phase, 0, -1)
        used = [f for f in self.floors if floors and f[0] < phase]
        if floors:
            for tier, pinned in self.pinned:
                if tier < phase:
                    fixed[pinned[options]] = 1
        fixed[np.isin(options, banned)] = 0
        floor_coef = np.array([c[options] for _, c, _ in used], dtype=np.int64).reshape(
            len(used), len(options))
        floor_lb = np.array([lb[customers] for _, _, lb in used], dtype=np.int64).reshape(
            len(used), len(customers))
        # every layout was validated once when built
        chosen, _, status = exact.solve_batch(arrays, weights, fixed, floor_coef, floor_lb,
                                              active, validated=True)
        return chosen, status

    def _cpsat(self, k: int) -> CustomerModel:
        """The CP-SAT model of customer k, built on first need with the floors so far."""
        if k not in self.fallback:
            model = CustomerModel(self.block, self.subs[k], self.tiers, self.free_from,
                                  self.seed)
            for (tier, coefs, floor), (_, pinned) in zip(self.floors, self.pinned,
                                                          strict=True):
                model.set_floor(tier, coefs, int(floor[k]), pinned)
            self.fallback[k] = model
        self.cpsat_calls += 1
        return self.fallback[k]


def _slice(arrays: exact.CustomerArrays, k: int) -> exact.CustomerArrays:
    """Customer k of a batch as a batch of one (indices rebased to its own numbering)."""
    o0, o1 = arrays.opt_ptr[k], arrays.opt_ptr[k + 1]
    i0, i1 = arrays.ind_ptr[k], arrays.ind_ptr[k + 1]
    r0, r1 = arrays.row_ptr[k], arrays.row_ptr[k + 1]
    e0, e1 = arrays.entry_ptr[r0], arrays.entry_ptr[r1]
    m0, m1 = arrays.ind_member_ptr[i0], arrays.ind_member_ptr[i1]
    n, width = len(arrays.opt_cand), o1 - o0
    var = arrays.entry_var[e0:e1]
    local = np.where(var < n, var - o0, var - n - i0 + width)
    return exact.CustomerArrays(
        np.array([0, width]), arrays.opt_cand[o0:o1], np.array([0, i1 - i0]),
        arrays.ind_member_ptr[i0:i1 + 1] - m0, arrays.ind_members[m0:m1] - o0,
        np.array([0, r1 - r0]), arrays.entry_ptr[r0:r1 + 1] - e0, local,
        arrays.entry_coef[e0:e1], arrays.row_lb[r0:r1], arrays.row_ub[r0:r1])


def _group_sums(values: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Sum of `values` over each run ptr[g]:ptr[g+1] (int64, exact; empty runs sum to 0)."""
    totals = np.zeros(len(ptr) - 1, dtype=np.int64)
    filled = np.diff(ptr) > 0
    if filled.any():
        totals[filled] = np.add.reduceat(values.astype(np.int64), ptr[:-1][filled])
    return totals


def _ptr(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out
