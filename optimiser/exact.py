"""Exact compiled branch-and-bound for batches of tiny per-customer 0/1 problems.

The optimiser solves thousands of independent customer problems per run (1-60 candidates,
each sent by at most one of a few (day, channel) options). A CP-SAT call costs 1-2 ms each,
mostly overhead, so this module solves a whole batch in one numba call and proves each
optimum itself. When it cannot (node limit hit, or a row its pruning cannot reason about
soundly) it says so per customer, and the caller solves just those with CP-SAT.

Per customer: binary options x_o, at most one per candidate (the candidate rows say so and
the search relies on it); indicators y_j = OR of their member options, never branched on;
rows lb <= sum(coef * var) <= ub over options and indicators; floor rows
sum(floor_coef[f] * x) >= floor_lb[f, k]; fixings. Maximise sum(weight * x).

Search: depth-first over candidates, those that must send first (fixed on, or needed by a lower
bound), then by best weight; each tries its options best-first and then "none". A choice is
refused when it pushes a row over its upper bound (upper-bounded rows have no negative
coefficient, so activity only grows going down) or leaves a lower bound out of reach of what
the undecided candidates could still add. A node is pruned when an optimistic value cannot
beat the incumbent: each undecided candidate adds its best option that still fits, counted
best-first while its "group" caps (unit caps over whole candidates, e.g. "at most 3 sends
this week") have room. Without the groups such caps over 40 candidates make the search
exponential.

Unsupported (the caller falls back): a negative coefficient in a row with an upper bound, and
an indicator in a row with a lower bound. Lower-bounded rows without an upper bound may have
negative option coefficients, like floors.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

NO_LB = -(2**62)
NO_UB = 2**62

OPTIMAL, INFEASIBLE, LIMIT, UNSUPPORTED = 0, 1, 2, 3

# Whether batches run on every core (numba prange). Fork-pool workers switch it off and run
# the same kernel on one thread: the pool already has a process per core.
PARALLEL = True

# numba's default threading layer here is GNU OpenMP, which is not fork-safe: numba kills
# every child forked after OpenMP ran ("fork() called from a process already using GNU
# OpenMP"), and the fork pool then respawns workers forever. The built-in workqueue layer
# survives fork. It is not thread-safe, so only the main thread runs the parallel kernel.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

_FIRST = 2**63 - 1  # sort key that puts candidates that must send ahead of any weight


@dataclass(frozen=True)
class CustomerArrays:
    """A batch of customer problems in flat CSR arrays of integers (int64; entry_var,
    entry_coef and ind_members may be int32, see customer_block._narrow), ready for the
    compiled kernel.

    Customer k owns options opt_ptr[k]:opt_ptr[k+1], indicators ind_ptr[k]:ind_ptr[k+1] and rows
    row_ptr[k]:row_ptr[k+1]. An entry_var below n (number of options) is an option position,
    otherwise indicator entry_var - n. Absent bounds are NO_LB / NO_UB.
    """

    opt_ptr: np.ndarray
    opt_cand: np.ndarray
    ind_ptr: np.ndarray
    ind_member_ptr: np.ndarray
    ind_members: np.ndarray
    row_ptr: np.ndarray
    entry_ptr: np.ndarray
    entry_var: np.ndarray
    entry_coef: np.ndarray
    row_lb: np.ndarray
    row_ub: np.ndarray

    @property
    def n_customers(self) -> int:
        return len(self.opt_ptr) - 1

    def validate(self) -> None:
        """Raise ValueError on malformed arrays: the kernel does no bounds checks, so a stray
        index would read another customer's data (or memory) instead of failing."""
        for name in self.__dataclass_fields__:
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype.kind not in "iu":
                raise ValueError(f"{name} must be a 1-D integer array")
        n, n_ind, n_rows = len(self.opt_cand), len(self.ind_member_ptr) - 1, len(self.row_lb)
        k = self.n_customers
        _check_ptr("opt_ptr", self.opt_ptr, n, k)
        _check_ptr("ind_ptr", self.ind_ptr, n_ind, k)
        _check_ptr("ind_member_ptr", self.ind_member_ptr, len(self.ind_members), n_ind)
        _check_ptr("row_ptr", self.row_ptr, n_rows, k)
        _check_ptr("entry_ptr", self.entry_ptr, len(self.entry_var), n_rows)
        if len(self.row_ub) != n_rows or len(self.entry_coef) != len(self.entry_var):
            raise ValueError("row_ub / entry_coef lengths do not match row_lb / entry_var")
        # Every entry and indicator member must belong to its own customer.
        if not _entries_own(self.row_ptr, self.entry_ptr, self.entry_var, self.opt_ptr,
                            self.ind_ptr, n):
            raise ValueError("a row entry refers to a variable of another customer")
        if not _members_own(self.ind_ptr, self.ind_member_ptr, self.ind_members, self.opt_ptr):
            raise ValueError("an indicator member is not an option of its customer")


def _check_ptr(name: str, ptr: np.ndarray, total: int, count: int) -> None:
    size = max(count, 0) + 1
    if len(ptr) != size or ptr[0] != 0 or ptr[-1] != total or np.any(np.diff(ptr) < 0):
        raise ValueError(f"{name} must be {size} non-decreasing offsets from 0 to {total}")


@numba.njit(cache=True)
def _entries_own(row_ptr, entry_ptr, entry_var, opt_ptr, ind_ptr, n):
    """Whether every row entry is an option or indicator of the row's own customer (one
    compiled pass: the vectorised check built five temporaries per entry, 0.8 s for a
    block of 6M entries)."""
    for k in range(len(row_ptr) - 1):
        for r in range(row_ptr[k], row_ptr[k + 1]):
            for e in range(entry_ptr[r], entry_ptr[r + 1]):
                v = entry_var[e]
                if v < n:
                    if v < opt_ptr[k] or v >= opt_ptr[k + 1]:
                        return False
                elif v < n + ind_ptr[k] or v >= n + ind_ptr[k + 1]:
                    return False
    return True


@numba.njit(cache=True)
def _members_own(ind_ptr, ind_member_ptr, ind_members, opt_ptr):
    """Whether every indicator's members are options of the indicator's customer."""
    for k in range(len(ind_ptr) - 1):
        for j in range(ind_ptr[k], ind_ptr[k + 1]):
            for t in range(ind_member_ptr[j], ind_member_ptr[j + 1]):
                if ind_members[t] < opt_ptr[k] or ind_members[t] >= opt_ptr[k + 1]:
                    return False
    return True


def solve_batch(
    arrays: CustomerArrays,
    weights: np.ndarray,
    fixed: np.ndarray,
    floor_coef: np.ndarray,
    floor_lb: np.ndarray,
    active: np.ndarray,
    node_limit: int = 200_000,
    validated: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve every active customer exactly -> (chosen bool[n], value int64[K], status int8[K]).

    weights[n] and fixed[n] (-1 free, 0 off, 1 on) are per option; floor_coef is (F, n) and
    floor_lb (F, K), NO_LB where customer k has no floor f. Only OPTIMAL customers get options
    in `chosen`; inactive ones are reported OPTIMAL with nothing chosen and value 0.
    `validated=True` skips `arrays.validate()` for arrays the caller checked once already
    (it costs O(batch) per call, which a caller solving the same batch often repeats).
    """
    if not validated:
        arrays.validate()
    n, k = len(arrays.opt_cand), arrays.n_customers
    weights = _int64(weights, (n,), "weights")
    fixed = _int64(fixed, (n,), "fixed")
    if not np.all((fixed >= -1) & (fixed <= 1)):
        raise ValueError("fixed must hold -1, 0 or 1")
    floor_coef = _int64(floor_coef, (len(floor_coef), n), "floor_coef")
    floor_lb = _int64(floor_lb, (len(floor_coef), k), "floor_lb")
    active = np.ascontiguousarray(active, dtype=np.bool_)
    if active.shape != (k,):
        raise ValueError(f"active must have shape ({k},)")
    chosen = np.zeros(n, dtype=np.bool_)
    value = np.zeros(k, dtype=np.int64)
    status = np.zeros(k, dtype=np.int8)
    # int32 entries stay int32 (the kernel is compiled for them too): widening them cost a
    # copy of every entry per call, a sixth of an evaluation at 100k
    batch = tuple(_integers(getattr(arrays, f)) for f in arrays.__dataclass_fields__)
    parallel = PARALLEL and threading.current_thread() is threading.main_thread()
    kernel = _solve_all if parallel else _solve_all_serial
    kernel(batch, weights, fixed, floor_coef, floor_lb, active, node_limit, chosen, value, status)
    return chosen, value, status


def _integers(arr: np.ndarray) -> np.ndarray:
    """`arr` contiguous, as int32 if it is, else int64."""
    return np.ascontiguousarray(arr, dtype=np.int32 if arr.dtype == np.int32 else np.int64)


def _int64(arr: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    out = np.ascontiguousarray(arr, dtype=np.int64)
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, not {out.shape}")
    return out


class _Csr(NamedTuple):
    """Compressed lists: item i owns idx[ptr[i]:ptr[i+1]] with values val[ptr[i]:ptr[i+1]]."""

    ptr: np.ndarray
    idx: np.ndarray
    val: np.ndarray


class _Model(NamedTuple):
    """One customer in local numbering: options 0..m-1, indicator j is item m+j, rows 0..nr-1
    (the customer's rows, then its active floors)."""

    lb: np.ndarray
    ub: np.ndarray
    items: _Csr  # option or indicator item -> (row, net coefficient)
    opt_inds: _Csr  # option -> its indicators (local j)
    choices: _Csr  # candidate -> options to try, best first; -1 = "none"
    reach: _Csr  # candidate -> (lower-bounded row, most it can add to it)
    order: np.ndarray  # candidates in branching order (those with something to decide)
    groups: _Csr  # candidate -> the group rows capping its optimism in the bound
    weight: np.ndarray
    n_opt: int


@numba.njit(cache=True, parallel=True)
def _solve_all(
    batch, weights, fixed, floor_coef, floor_lb, active, node_limit, chosen, value, status
):
    """Solve every customer, writing results in place: one compiled call per batch, the
    customers shared among the cores (each writes only its own slots, so the result does
    not depend on the thread count)."""
    (
        opt_ptr, opt_cand, ind_ptr, ind_member_ptr, ind_members, row_ptr, entry_ptr, entry_var,
        entry_coef, row_lb, row_ub,
    ) = batch  # fmt: skip
    n = len(opt_cand)
    for k in numba.prange(len(opt_ptr) - 1):
        if not active[k]:
            continue
        a, b = opt_ptr[k], opt_ptr[k + 1]
        rows, lb, ub = _local_rows(
            k, n, a, b - a, ind_ptr[k], row_ptr, entry_ptr, entry_var, entry_coef, row_lb,
            row_ub, floor_coef, floor_lb,
        )  # fmt: skip
        if not _supported(rows, lb, ub, b - a):
            status[k] = UNSUPPORTED
            continue
        choices, forced, ok = _choices(opt_cand[a:b], weights[a:b], fixed[a:b])
        if not ok:
            status[k] = INFEASIBLE
            continue
        items = _transpose(rows, b - a + ind_ptr[k + 1] - ind_ptr[k])
        opt_inds = _option_indicators(k, a, b - a, ind_ptr, ind_member_ptr, ind_members)
        model, rem = _build(rows, lb, ub, items, opt_inds, choices, forced, weights[a:b])
        pick = np.full(len(model.order), -1, np.int64)
        status[k], value[k] = _search(model, rem, node_limit, pick)
        if status[k] == OPTIMAL:
            for o in pick:
                if o >= 0:
                    chosen[a + o] = True


_solve_all_serial = numba.njit(cache=True)(_solve_all.py_func)


@numba.njit(cache=True)
def _local_rows(
    k, n, a, m, ia, row_ptr, entry_ptr, entry_var, entry_coef, row_lb, row_ub, floor_coef,
    floor_lb,
):  # fmt: skip
    """Customer k's rows followed by its active floors, over local items.

    Zero coefficients are dropped: they change nothing, and must not make a row unsupported.
    """
    ra, rb = row_ptr[k], row_ptr[k + 1]
    n_rows, size = rb - ra, 0
    for e in range(entry_ptr[ra], entry_ptr[rb]):
        size += entry_coef[e] != 0
    for f in range(floor_lb.shape[0]):
        if floor_lb[f, k] > NO_LB:
            n_rows += 1
            for i in range(m):
                size += floor_coef[f, a + i] != 0
    ptr = np.zeros(n_rows + 1, np.int64)
    var, coef = np.empty(size, np.int64), np.empty(size, np.int64)
    lb, ub = np.empty(n_rows, np.int64), np.empty(n_rows, np.int64)
    s = 0
    for r in range(rb - ra):
        lb[r], ub[r] = row_lb[ra + r], row_ub[ra + r]
        for e in range(entry_ptr[ra + r], entry_ptr[ra + r + 1]):
            if entry_coef[e] != 0:
                v = entry_var[e]
                var[s] = v - a if v < n else m + v - n - ia
                coef[s] = entry_coef[e]
                s += 1
        ptr[r + 1] = s
    r = rb - ra
    for f in range(floor_lb.shape[0]):
        if floor_lb[f, k] > NO_LB:
            lb[r], ub[r] = floor_lb[f, k], NO_UB
            for i in range(m):
                if floor_coef[f, a + i] != 0:
                    var[s], coef[s] = i, floor_coef[f, a + i]
                    s += 1
            r += 1
            ptr[r] = s
    return _Csr(ptr, var, coef), lb, ub


@numba.njit(cache=True)
def _supported(rows, lb, ub, m):
    """False when the pruning would be unsound: an upper-bounded row must only grow as options
    are added (no negative coefficient), and a lower-bounded row's reach is only computed for
    options (an indicator's OR is not additive)."""
    for r in range(len(lb)):
        for e in range(rows.ptr[r], rows.ptr[r + 1]):
            if (ub[r] < NO_UB and rows.val[e] < 0) or (lb[r] > NO_LB and rows.idx[e] >= m):
                return False
    return True


@numba.njit(cache=True)
def _transpose(rows, n_items):
    """Item -> (row, coefficient), repeated entries of an item in one row summed: the reach and
    the group test reason about an option's net coefficient, which split entries would hide."""
    last = np.full(n_items, -1, np.int64)
    ptr = np.zeros(n_items + 1, np.int64)
    for r in range(len(rows.ptr) - 1):
        for e in range(rows.ptr[r], rows.ptr[r + 1]):
            v = rows.idx[e]
            if last[v] != r:
                last[v] = r
                ptr[v + 1] += 1
    ptr = np.cumsum(ptr)
    fill = ptr[:-1].copy()
    idx, val = np.empty(ptr[-1], np.int64), np.empty(ptr[-1], np.int64)
    last[:] = -1
    for r in range(len(rows.ptr) - 1):
        for e in range(rows.ptr[r], rows.ptr[r + 1]):
            v = rows.idx[e]
            if last[v] != r:
                last[v] = r
                idx[fill[v]], val[fill[v]] = r, rows.val[e]
                fill[v] += 1
            else:
                val[fill[v] - 1] += rows.val[e]
    return _Csr(ptr, idx, val)


@numba.njit(cache=True)
def _option_indicators(k, a, m, ind_ptr, ind_member_ptr, ind_members):
    """Option -> indicators it is a member of (local numbering)."""
    ptr = np.zeros(m + 1, np.int64)
    for j in range(ind_ptr[k], ind_ptr[k + 1]):
        for e in range(ind_member_ptr[j], ind_member_ptr[j + 1]):
            ptr[ind_members[e] - a + 1] += 1
    ptr = np.cumsum(ptr)
    fill = ptr[:-1].copy()
    idx = np.empty(ptr[-1], np.int64)
    for j in range(ind_ptr[k], ind_ptr[k + 1]):
        for e in range(ind_member_ptr[j], ind_member_ptr[j + 1]):
            o = ind_members[e] - a
            idx[fill[o]] = j - ind_ptr[k]
            fill[o] += 1
    return _Csr(ptr, idx, idx)


@numba.njit(cache=True)
def _sort_desc(items, key):
    """Stable insertion sort of items by key[item], descending: lists are tiny, and stability
    is what makes ties (and so the returned optimum) deterministic."""
    for i in range(1, len(items)):
        it, j = items[i], i
        while j > 0 and key[items[j - 1]] < key[it]:
            items[j] = items[j - 1]
            j -= 1
        items[j] = it


@numba.njit(cache=True)
def _choices(cand_key, weight, fixed):
    """Candidate -> options to try (best weight first, then -1 for "none"), which candidates
    are forced to send, and ok = False when two options of one candidate are fixed on.

    Candidates are numbered by first option position, so that ties break by position. A
    forced candidate tries only its fixed option; one with nothing allowed tries only "none".
    """
    m = len(cand_key)
    srt = np.argsort(cand_key, kind="mergesort")
    run, n_run = np.empty(m, np.int64), 0
    for t in range(m):
        if t > 0 and cand_key[srt[t]] != cand_key[srt[t - 1]]:
            n_run += 1
        run[srt[t]] = n_run
    label, cand, nc = np.full(n_run + 1, -1, np.int64), np.empty(m, np.int64), 0
    for i in range(m):
        if label[run[i]] < 0:
            label[run[i]] = nc
            nc += 1
        cand[i] = label[run[i]]
    n_allowed, n_forced = np.zeros(nc, np.int64), np.zeros(nc, np.int64)
    for i in range(m):
        n_allowed[cand[i]] += fixed[i] != 0
        n_forced[cand[i]] += fixed[i] == 1
    ptr = np.zeros(nc + 1, np.int64)
    for c in range(nc):
        if n_forced[c] > 1:
            return _Csr(ptr, ptr, ptr), n_forced > 0, False
        ptr[c + 1] = ptr[c] + (1 if n_forced[c] else n_allowed[c] + 1)
    opts = np.full(ptr[nc], -1, np.int64)
    fill = ptr[:-1].copy()
    for i in range(m):
        c = cand[i]
        if fixed[i] == 1 or (fixed[i] == -1 and n_forced[c] == 0):
            opts[fill[c]] = i
            fill[c] += 1
    for c in range(nc):
        _sort_desc(opts[ptr[c] : fill[c]], weight)
    return _Csr(ptr, opts, opts), n_forced > 0, True


@numba.njit(cache=True)
def _options(choices, c):
    """Range of candidate c's real options in choices.idx (its "none" comes last)."""
    lo, hi = choices.ptr[c], choices.ptr[c + 1]
    return lo, hi - (choices.idx[hi - 1] < 0)


@numba.njit(cache=True)
def _build(rows, lb, ub, items, opt_inds, choices, forced, weight):
    """The customer's _Model and the initial reach rem[r] of every row (all undecided)."""
    m, nr, nc = len(weight), len(lb), len(choices.ptr) - 1
    # Reach: for each candidate and lower-bounded row, the most any of its options adds.
    rptr = np.zeros(nc + 1, np.int64)
    ridx, rval = np.empty(items.ptr[m], np.int64), np.empty(items.ptr[m], np.int64)
    most, rem, s = np.zeros(nr, np.int64), np.zeros(nr, np.int64), 0
    for c in range(nc):
        lo, hi = _options(choices, c)
        for o in choices.idx[lo:hi]:
            for e in range(items.ptr[o], items.ptr[o + 1]):
                r, v = items.idx[e], items.val[e]
                if lb[r] > NO_LB and v > most[r]:
                    if most[r] == 0:
                        ridx[s] = r
                        s += 1
                    most[r] = v
        for t in range(rptr[c], s):
            rval[t] = most[ridx[t]]
            rem[ridx[t]] += most[ridx[t]]
            most[ridx[t]] = 0
        rptr[c + 1] = s
    # Branching order: first the candidates that must send (fixed on, or a lower bound is out of
    # reach without them), so that the caps they use count in every bound; then best weight.
    key, order, n_branch = np.empty(nc, np.int64), np.empty(nc, np.int64), 0
    for c in range(nc):
        lo, hi = _options(choices, c)
        if hi > lo:
            key[c] = _FIRST if forced[c] else weight[choices.idx[lo]]
            for t in range(rptr[c], rptr[c + 1]):
                if rem[ridx[t]] - rval[t] < lb[ridx[t]]:
                    key[c] = _FIRST
            order[n_branch] = c
            n_branch += 1
    order = order[:n_branch]
    _sort_desc(order, key)
    reach = _Csr(rptr, ridx, rval)
    groups = _groups(rows, items, choices, order, ub, m)
    return _Model(lb, ub, items, opt_inds, choices, reach, order, groups, weight, m), rem


@numba.njit(cache=True)
def _groups(rows, items, choices, order, ub, m):
    """Candidate -> the group rows that cap how many such candidates the bound may count.

    A group row is a cap over options only, all coefficients 1, touching two candidates or
    more; its members are the candidates it holds every option of, so a member that sends uses
    exactly one unit of its room. The groups kept form a laminar family (any two member sets
    nested or disjoint), so counting candidates best-first while all their groups have room is
    an optimal pick for the relaxation (a laminar matroid): the bound stays an upper bound.
    Rows are offered tightest first: smallest ub, then more members, then lower index.
    """
    nr, nc = len(ub), len(choices.ptr) - 1
    unit = ub < NO_UB
    for r in range(nr):
        for e in range(rows.ptr[r], rows.ptr[r + 1]):
            unit[r] &= rows.idx[e] < m
    for e in range(items.ptr[m]):
        unit[items.idx[e]] &= items.val[e] == 1
    covers, seen = np.zeros(nr, np.int64), np.full(nr, -1, np.int64)
    for c in order:
        lo, hi = _options(choices, c)
        for o in choices.idx[lo:hi]:
            for r in items.idx[items.ptr[o] : items.ptr[o + 1]]:
                if seen[r] != c:
                    seen[r] = c
                    covers[r] += 1
    member, size = np.zeros((nr, nc), np.bool_), np.zeros(nr, np.int64)
    held = np.zeros(nr, np.int64)
    for c in order:
        lo, hi = _options(choices, c)
        for o in choices.idx[lo:hi]:
            for r in items.idx[items.ptr[o] : items.ptr[o + 1]]:
                held[r] += 1
        for r in items.idx[items.ptr[choices.idx[lo]] : items.ptr[choices.idx[lo] + 1]]:
            if held[r] == hi - lo and unit[r] and covers[r] >= 2:
                member[r, c] = True
                size[r] += 1
        for o in choices.idx[lo:hi]:
            for r in items.idx[items.ptr[o] : items.ptr[o + 1]]:
                held[r] = 0
    offered = np.flatnonzero(size)
    for i in range(1, len(offered)):  # insertion sort, tightest first
        r, j = offered[i], i
        while j > 0 and _tighter(r, offered[j - 1], ub, size):
            offered[j] = offered[j - 1]
            j -= 1
        offered[j] = r
    kept, n_kept = np.empty(len(offered), np.int64), 0
    for g in offered:
        laminar = True
        for h in kept[:n_kept]:
            both = np.sum(member[g] & member[h])
            laminar &= both == 0 or both == size[g] or both == size[h]
        if laminar:
            kept[n_kept] = g
            n_kept += 1
    ptr = np.zeros(nc + 1, np.int64)
    for c in range(nc):
        ptr[c + 1] = ptr[c] + np.sum(member[kept[:n_kept], c])
    idx = np.empty(ptr[nc], np.int64)
    for c in range(nc):
        t = ptr[c]
        for g in kept[:n_kept]:
            if member[g, c]:
                idx[t] = g
                t += 1
    return _Csr(ptr, idx, idx)


@numba.njit(cache=True)
def _tighter(r, g, ub, size):
    """Row r is offered before row g as a group: smaller cap, then more members, then index."""
    if ub[r] != ub[g]:
        return ub[r] < ub[g]
    return size[r] > size[g] or (size[r] == size[g] and r < g)


@numba.njit(cache=True)
def _search(md, rem, node_limit, best_pick):
    """Depth-first branch-and-bound over md.order -> (status, value); best_pick[d] gets the
    option of the d-th candidate in the optimum (-1: none). Only strict improvements replace
    the incumbent, so the first optimum in search order is the one returned.

    The helpers are closures over the state: numba inlines them without the reference counting
    a call passing arrays costs, which made nodes ten times slower.
    """
    items, opt_inds, choices, reach, groups = md.items, md.opt_inds, md.choices, md.reach, md.groups
    lb, ub, order, weight, n_opt = md.lb, md.ub, md.order, md.weight, md.n_opt
    nr, depth = len(lb), len(order)
    act, used = np.zeros(nr, np.int64), np.zeros(nr, np.int64)
    count = np.zeros(len(items.ptr) - 1 - n_opt, np.int64)  # chosen members per indicator
    ranked, gain = np.empty(depth, np.int64), np.zeros(len(choices.ptr) - 1, np.int64)

    def shift(item, sign):
        """Add (1) or remove (-1) an item's row activity; True if an upper bound breaks."""
        broken = False
        for e in range(items.ptr[item], items.ptr[item + 1]):
            r = items.idx[e]
            act[r] += sign * items.val[e]
            broken |= act[r] > ub[r]
        return broken

    def decide(c, o, sign):
        """Apply (1) or retract (-1) candidate c taking option o (-1: none); True if refused.

        Applying always completes, so retracting restores the state exactly. A choice is refused
        when a row is over its upper bound, or a lower bound is out of reach even if every
        undecided candidate adds the most it can (only rows whose reach shrank, or that o
        touches, can have newly failed).
        """
        broken = False
        for t in range(reach.ptr[c], reach.ptr[c + 1]):
            rem[reach.idx[t]] -= sign * reach.val[t]
        if o >= 0:
            broken = shift(o, sign)
            for t in range(opt_inds.ptr[o], opt_inds.ptr[o + 1]):
                j = opt_inds.idx[t]
                if sign > 0:
                    if count[j] == 0:
                        broken |= shift(n_opt + j, 1)
                    count[j] += 1
                else:
                    count[j] -= 1
                    if count[j] == 0:
                        shift(n_opt + j, -1)
        if sign > 0 and not broken:
            for t in range(reach.ptr[c], reach.ptr[c + 1]):
                r = reach.idx[t]
                broken |= act[r] + rem[r] < lb[r]
            if o >= 0:
                for r in items.idx[items.ptr[o] : items.ptr[o + 1]]:
                    broken |= act[r] + rem[r] < lb[r]
        return broken

    def gain_of(c):
        """The most undecided candidate c can still add: the weight of its best option that
        fits its rows' upper bounds now (indicators and lower bounds ignored: optimistic)."""
        for t in range(choices.ptr[c], choices.ptr[c + 1]):
            o = choices.idx[t]
            if o < 0 or weight[o] <= 0:
                return 0
            fits = True
            for e in range(items.ptr[o], items.ptr[o + 1]):
                fits &= act[items.idx[e]] + items.val[e] <= ub[items.idx[e]]
            if fits:
                return weight[o]
        return 0

    def bound(d):
        """Optimistic value of the candidates order[d:]: best gain first, each counted while
        every one of its groups has room (greedy is optimal on laminar groups, see _groups)."""
        n = 0
        for c in order[d:]:  # insertion by gain; order[d:] is nearly sorted already
            gain[c] = gain_of(c)
            if gain[c] > 0:
                j = n
                while j > 0 and gain[ranked[j - 1]] < gain[c]:
                    ranked[j] = ranked[j - 1]
                    j -= 1
                ranked[j] = c
                n += 1
        total = 0
        for c in ranked[:n]:
            room = True
            for g in groups.idx[groups.ptr[c] : groups.ptr[c + 1]]:
                room &= ub[g] - act[g] - used[g] > 0
            if room:
                total += gain[c]
                for g in groups.idx[groups.ptr[c] : groups.ptr[c + 1]]:
                    used[g] += 1
        for c in ranked[:n]:
            for g in groups.idx[groups.ptr[c] : groups.ptr[c + 1]]:
                used[g] = 0
        return total

    for r in range(nr):
        if ub[r] < 0 or rem[r] < lb[r]:
            return INFEASIBLE, 0
    if depth == 0:
        return OPTIMAL, 0
    pick, pos = np.empty(depth, np.int64), np.empty(depth, np.int64)
    found, best, value, nodes, d = False, 0, 0, 0, 0
    pos[0] = choices.ptr[order[0]]
    while d >= 0:
        c = order[d]
        if pos[d] == choices.ptr[c + 1]:  # every choice tried: back up
            d -= 1
            if d >= 0:
                decide(order[d], pick[d], -1)
                value -= weight[pick[d]] if pick[d] >= 0 else 0
            continue
        o = choices.idx[pos[d]]
        pos[d] += 1
        nodes += 1
        if nodes > node_limit:
            return LIMIT, 0
        if decide(c, o, 1):
            decide(c, o, -1)
            continue
        pick[d] = o
        value += weight[o] if o >= 0 else 0
        if d + 1 < depth and not (found and value + bound(d + 1) <= best):
            d += 1
            pos[d] = choices.ptr[order[d]]
            continue
        if d + 1 == depth and (not found or value > best):
            found, best = True, value
            best_pick[:] = pick
        decide(c, o, -1)
        value -= weight[o] if o >= 0 else 0
    return (OPTIMAL, best) if found else (INFEASIBLE, 0)
