"""Some customers' options and rows as compact arrays: what every later step reads.

A `Block` (optimiser/block.py) is how rule families write rows: a frame of
options and a table of rows with their own variable numbering. Once written,
the rows of a block of customers are turned into a `CustomerBlock` and the
Block is dropped. It keeps, per customer in turn, its options, indicators and
own rows in the flat layout of the exact search (`exact.CustomerArrays`), and
the block's share of every global row (capacity, budget, volume) by row spec
(`rules.global_rules.row_specs`), so shares of separate blocks add up.

The same arrays serve the exact search, the prices of the decomposition, the
greedy fill and the explanations (optimiser/reasons.py): one description of
the model for all of them, whatever process or machine holds the block.

Row order: a customer's rows keep the order the rule families wrote them in,
and every global row comes after every customer row, as in the Block; so "the
first row that blocks an option" names the same rule as it would there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser import exact
from optimiser.arrays import ptr_of, ranges
from optimiser.block import Block

GLOBAL_REASON_CODES = ("capacity", "budget", "volume")


@dataclass(frozen=True)
class CustomerBlock:
    """Customers (ascending positions) with their options grouped by customer.

    Options are numbered 0..n-1 in that grouping (`arrays.opt_ptr` delimits each
    customer's); `arrays` holds every customer row. Global rows are by spec: spec g
    has members global_option[global_ptr[g]:global_ptr[g+1]] with their coefficients.
    """

    customers: np.ndarray
    source: np.ndarray  # the Block's number of each option
    cand: np.ndarray  # global candidate position of each option
    comm: np.ndarray
    channel: np.ndarray
    day: np.ndarray
    coef: np.ndarray  # value net of cost (float): the plan's objective contribution
    cost: np.ndarray
    tier: np.ndarray
    mandatory: np.ndarray
    message_mandatory: np.ndarray
    objective: np.ndarray  # scaled integer objective of the option in its own tier
    arrays: exact.CustomerArrays
    row_rule: np.ndarray  # code into `names`; -1-c for candidate c's own row
    row_reason: np.ndarray  # code into block.REASONS
    names: tuple[str, ...]
    global_ptr: np.ndarray
    global_option: np.ndarray
    global_coef: np.ndarray
    objective_margin: dict[int, float]  # tier -> value units the bound adds for rounding

    @property
    def n_options(self) -> int:
        return len(self.cand)

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    @property
    def owner(self) -> np.ndarray:
        """Customer number (0..K-1) of each option."""
        return np.repeat(np.arange(self.n_customers), np.diff(self.arrays.opt_ptr))

    def global_usage(self, options: np.ndarray, n_specs: int) -> np.ndarray:
        """How much of each global row spec the given options (a set) use."""
        chosen = np.zeros(self.n_options, dtype=bool)
        chosen[options] = True
        spec = np.repeat(np.arange(n_specs), np.diff(self.global_ptr))
        picked = chosen[self.global_option]
        return np.bincount(spec[picked], weights=self.global_coef[picked].astype(float),
                           minlength=n_specs)

    def rule_name(self, row: int) -> str:
        code = int(self.row_rule[row])
        return self.names[code] if code >= 0 else f"candidate:{-code - 1}"


def from_block(block: Block, n_specs: int) -> CustomerBlock:
    """The compact form of a written Block (its global rows by `block.global_rows`)."""
    frame = block.options
    n = block.n_options
    customer = frame["customer"].to_numpy(np.int64)
    order = np.argsort(customer, kind="stable")  # by customer, written order within
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    customers, counts = np.unique(customer[order], return_counts=True) if n else (
        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    owner = np.repeat(np.arange(len(customers)), counts)  # of each option, new numbering
    opt_ptr = ptr_of(counts)

    ind_ptr, member_ptr, members, new_indicator = _indicators(block, position, owner,
                                                              len(customers))
    rows = block.rows
    global_row_ids = np.array([r for r, _ in block.global_rows], dtype=np.int64)
    is_global = np.zeros(len(rows), dtype=bool)
    is_global[global_row_ids] = True
    own = np.flatnonzero(~rows.link & ~is_global & (np.diff(rows.ptr) > 0))
    first_var = rows.entry_var[rows.ptr[own]]
    # a row's customer is its first variable's: an option's, or an indicator's members'
    first_local = np.where(first_var < n, position[np.minimum(first_var, n - 1)],
                           members[member_ptr[new_indicator[np.maximum(first_var - n, 0)]]]
                           if len(new_indicator) else 0)
    row_owner = owner[first_local]
    by_owner = np.argsort(row_owner, kind="stable")
    own, row_owner = own[by_owner], row_owner[by_owner]
    entries = ranges(rows.ptr[own], rows.ptr[own + 1])
    var = rows.entry_var[entries]
    local = np.where(var < n, position[np.minimum(var, n - 1)],
                     n + (new_indicator[np.maximum(var - n, 0)] if len(new_indicator) else 0))
    arrays = exact.CustomerArrays(
        opt_ptr, frame["cand"].to_numpy(np.int64)[order], ind_ptr, member_ptr,
        _narrow(members), ptr_of(np.bincount(row_owner, minlength=len(customers))),
        ptr_of(rows.ptr[own + 1] - rows.ptr[own]), _narrow(local),
        _narrow(rows.entry_coef[entries]), rows.lb[own], rows.ub[own])
    arrays.validate()
    global_ptr, global_option, global_coef = _global_rows(block, position, n_specs)
    objective = np.zeros(n, dtype=np.int64)
    for coefs in block.objective.values():
        objective += coefs
    columns = {name: frame[name].to_numpy()[order] for name in (
        "comm", "channel", "day", "coef", "cost", "tier", "mandatory", "message_mandatory")}
    return CustomerBlock(
        customers=customers.astype(np.int64),
        source=order.astype(np.int64),
        cand=arrays.opt_cand,
        comm=columns["comm"].astype(np.int64),
        channel=columns["channel"].astype(np.int64),
        day=columns["day"].astype(np.int64),
        coef=columns["coef"].astype(float),
        cost=columns["cost"].astype(float),
        tier=columns["tier"].astype(np.int64),
        mandatory=columns["mandatory"].astype(bool),
        message_mandatory=columns["message_mandatory"].astype(bool),
        objective=objective[order],
        arrays=arrays,
        row_rule=rows.rule_code[own],
        row_reason=rows.reason_code[own],
        names=tuple(rows.names),
        global_ptr=global_ptr,
        global_option=global_option,
        global_coef=global_coef,
        objective_margin=dict(block.bound_slack),
    )


def _indicators(block: Block, position: np.ndarray, option_owner: np.ndarray,
                n_customers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(indicators per customer pointer, member pointer, members as option numbers, new
    number of each block indicator): indicators grouped by customer, written order within.
    `option_owner` is each option's customer in the new numbering."""
    sets = block.indicator_members
    lengths = np.array([len(m) for m in sets], dtype=np.int64)
    flat = np.concatenate(sets) if sets else np.zeros(0, dtype=np.int64)
    old_ptr = ptr_of(lengths)
    owner = option_owner[position[flat[old_ptr[:-1]]]] if len(sets) else lengths
    order = np.argsort(owner, kind="stable")
    new_number = np.empty(len(sets), dtype=np.int64)
    new_number[order] = np.arange(len(sets))
    members = position[flat[ranges(old_ptr[order], old_ptr[order + 1])]]
    return (ptr_of(np.bincount(owner, minlength=n_customers)), ptr_of(lengths[order]), members,
            new_number)


def _global_rows(block: Block, position: np.ndarray,
                 n_specs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block's members of every global row spec, as CSR over specs (slacks left out:
    they belong to the rule, not to a block). A spec's two sides share their members."""
    rows, n = block.rows, block.n_options
    per_spec: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for row, spec in block.global_rows:
        if spec in per_spec:
            continue
        start, stop = rows.ptr[row], rows.ptr[row + 1]
        var, coef = rows.entry_var[start:stop], rows.entry_coef[start:stop]
        plain = var < n
        per_spec[spec] = (position[var[plain]], coef[plain])
    empty = np.zeros(0, dtype=np.int64)
    parts = [per_spec.get(g, (empty, empty)) for g in range(n_specs)]
    lengths = np.array([len(p[0]) for p in parts], dtype=np.int64)
    return (ptr_of(lengths), np.concatenate([p[0] for p in parts]) if parts else empty,
            np.concatenate([p[1] for p in parts]) if parts else empty)


def _narrow(values: np.ndarray) -> np.ndarray:
    """`values` as int32 when they fit: the rule entries are most of a coupled block's
    memory (at 100k, 12.7 million entries per 16,000 customers, 194 MB of 312 in int64),
    and the coordinator holds every coupled block."""
    info = np.iinfo(np.int32)
    if len(values) == 0 or (values.min() >= info.min and values.max() <= info.max):
        return values.astype(np.int32)
    return values
