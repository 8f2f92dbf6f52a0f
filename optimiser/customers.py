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
from optimiser.block import Block
from optimiser.cpsat import SubProblem
from optimiser.customer_model import CustomerModel
from optimiser.rules.arrays import ranges

TIE_BREAK_LIMIT = 2**62  # weights * scale + tie must stay below this (int64 sums)


@dataclass
class Solved:
    """One batch solve: the sends (block option indices) and each customer's optimum."""

    sent: np.ndarray
    value: np.ndarray  # per customer: primary objective of its solution (exact optimum)
    bound: np.ndarray  # per customer: an upper bound on the primary objective


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
        opt_ptr = _ptr(lengths)
        self.arrays = exact.CustomerArrays(
            opt_ptr, block.options["cand"].to_numpy(np.int64)[self.perm],
            *self._indicators(), *self._rows())
        self.arrays.validate()
        self.floors: list[tuple[int, np.ndarray, np.ndarray]] = []  # tier, coefs, lb per cust
        self.pinned: list[tuple[int, np.ndarray]] = []  # tier, options kept sent after it
        self.fallback: dict[int, CustomerModel] = {}
        self.cpsat_calls = 0
        self._single: dict[int, exact.CustomerArrays] = {}

    def _indicators(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        block, n = self.block, self.block.n_options
        per_customer = [s.indicator_vars for s in self.subs]
        self.indicator_vars = (np.concatenate(per_customer) if per_customer
                               else np.zeros(0, dtype=np.int64))
        self.indicator_at = np.full(block.n_indicators, -1, dtype=np.int64)
        self.indicator_at[self.indicator_vars - n] = np.arange(len(self.indicator_vars))
        members = [block.indicator_members[int(v) - n] for v in self.indicator_vars]
        member_ptr = _ptr(np.array([len(m) for m in members], dtype=np.int64))
        flat = np.concatenate(members) if members else np.zeros(0, dtype=np.int64)
        ind_ptr = _ptr(np.array([len(v) for v in per_customer], dtype=np.int64))
        return ind_ptr, member_ptr, self.position[flat]

    def _rows(self) -> tuple[np.ndarray, ...]:
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
        local[~is_option] = len(self.perm) + self.indicator_at[var[~is_option] - n]
        return (row_ptr, _ptr(stops - starts), local, rows.entry_coef[entries],
                rows.lb[row_ids], rows.ub[row_ids])

    def set_floor(self, tier: int, coefs: np.ndarray, sent: np.ndarray,
                  pinned: np.ndarray) -> None:
        """Keep tier `tier` at each customer's value under `sent` in later phases, and keep
        `pinned` options (sent early for a volume minimum charged in this tier) sent."""
        chosen = np.zeros(self.block.n_options, dtype=np.int64)
        chosen[sent] = 1
        floor = self._per_customer(coefs * chosen)
        self.floors.append((tier, coefs.astype(np.int64), floor))
        self.pinned.append((tier, pinned.copy()))

    def _per_customer(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-option array over each customer's options."""
        ordered = values[self.perm].astype(np.int64)
        return np.add.reduceat(ordered, self.arrays.opt_ptr[:-1]) * (
            np.diff(self.arrays.opt_ptr) > 0) if len(ordered) else np.zeros(
            len(self.subs), dtype=np.int64)

    def solve(self, coefs: np.ndarray, phase: int, floors: bool,
              secondary: np.ndarray | None = None, banned: tuple[int, ...] = ()) -> Solved:
        """Maximise coefs.x for every customer exactly.

        `secondary` breaks ties: per customer the weights are W*coefs + secondary with W
        above that customer's whole secondary range, so it never overrides coefs.
        """
        primary = np.asarray(coefs, dtype=np.int64)
        weights = primary.copy()
        if secondary is not None:
            tie = np.asarray(secondary, dtype=np.int64)
            scale = self._per_customer(np.abs(tie)) + 1
            room = self._per_customer(np.abs(primary)) + 1
            fits = scale.astype(float) * room.astype(float) < TIE_BREAK_LIMIT
            option_scale = np.where(fits, scale, 1)[self.owner.clip(0)]
            option_tie = np.where(fits[self.owner.clip(0)], tie, 0)
            weights = primary * option_scale + option_tie
        fixed = np.full(self.block.n_options, -1, dtype=np.int64)
        fixed[self.free_from > phase] = 0
        active_floors = [f for f in self.floors if floors and f[0] < phase]
        if floors:
            for tier, pinned in self.pinned:
                if tier < phase:
                    fixed[pinned] = 1
        fixed[list(banned)] = 0
        active = np.ones(len(self.subs), dtype=bool)
        chosen, status = self._kernel(weights, fixed, active_floors, active)
        retry = active & (status == exact.INFEASIBLE) & floors
        if retry.any():
            # earlier floors can conflict with what repair left a customer; its own rules
            # alone never do (its earlier solution satisfied them)
            again = self.solve(coefs, phase, False, secondary, banned)
            mask = retry[self.owner]
            chosen[mask] = np.isin(np.flatnonzero(mask), again.sent)
            status[retry] = exact.OPTIMAL
        sent = np.flatnonzero(chosen)
        value = self._per_customer(primary * chosen)
        bound = value.astype(float)
        for k in np.flatnonzero(active & (status != exact.OPTIMAL)):
            mine, upper = self._cpsat(int(k)).solve(coefs, phase, floors, secondary, banned)
            sent = np.union1d(sent, mine)
            value[k] = int(primary[mine].sum())
            bound[k] = upper
        return Solved(np.sort(sent), value, bound)

    def _kernel(self, weights: np.ndarray, fixed: np.ndarray,
                floors: list[tuple[int, np.ndarray, np.ndarray]],
                active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        perm = self.perm
        floor_coef = np.array([c[perm] for _, c, _ in floors], dtype=np.int64).reshape(
            len(floors), len(perm))
        floor_lb = np.array([lb for _, _, lb in floors], dtype=np.int64).reshape(
            len(floors), len(self.subs))
        picked, _, status = exact.solve_batch(self.arrays, weights[perm], fixed[perm],
                                              floor_coef, floor_lb, active, validated=True)
        chosen = np.zeros(self.block.n_options, dtype=bool)
        chosen[perm[picked]] = True
        return chosen, status

    def solve_one(self, k: int, coefs: np.ndarray, phase: int, secondary: np.ndarray,
                  banned: int) -> np.ndarray:
        """`solve` (with floors) for customer k alone, one option banned: its sends.

        The repair asks this for one customer at a time, so everything here touches only
        that customer's slice of the arrays.
        """
        if k not in self._single:
            self._single[k] = _slice(self.arrays, k)
        arrays = self._single[k]
        options = self.perm[self.arrays.opt_ptr[k]:self.arrays.opt_ptr[k + 1]]
        primary = coefs[options].astype(np.int64)
        tie = secondary[options].astype(np.int64)
        scale = int(np.abs(tie).sum()) + 1
        fits = float(scale) * float(np.abs(primary).sum() + 1) < TIE_BREAK_LIMIT
        weights = primary * scale + tie if fits else primary
        fixed = np.where(self.free_from[options] > phase, 0, -1)
        floors = [f for f in self.floors if f[0] < phase]
        for tier, pinned in self.pinned:
            if tier < phase:
                fixed[pinned[options]] = 1
        fixed[options == banned] = 0
        floor_coef = np.array([c[options] for _, c, _ in floors], dtype=np.int64).reshape(
            len(floors), len(options))
        floor_lb = np.array([[lb[k]] for _, _, lb in floors], dtype=np.int64).reshape(
            len(floors), 1)
        picked, _, status = exact.solve_batch(arrays, weights, fixed, floor_coef, floor_lb,
                                              np.ones(1, dtype=bool))
        if status[0] == exact.OPTIMAL:
            return options[picked]
        # node limit, or floors that conflict with what repair left this customer: the
        # CP-SAT model settles both (it drops the floors when they conflict)
        mine, _ = self._cpsat(k).solve(coefs, phase, True, secondary, (banned,))
        return mine

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


def _ptr(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out
