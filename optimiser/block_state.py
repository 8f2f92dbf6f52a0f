"""Row activities of a plan over one customer block: what the fill and the explanations read.

`ScanIndex` turns a `CustomerBlock`'s rows inside out (variable -> rows) for the
compiled scans of optimiser/scan.py: customer rows first, then one row per
global row spec, whose activity is the whole plan's (every block's sends), not
this block's alone, so that a capacity another block used up is seen as used up
here. Soft global rows are judged by their bounds, as if hard: an explanation
says which limit a send would cross, and the fill never crosses one.
"""

from __future__ import annotations

import numpy as np

from optimiser import scan
from optimiser.arrays import ranges
from optimiser.block import NO_LB, NO_UB
from optimiser.customer_block import CustomerBlock


class ScanIndex:
    """Variable -> (row, coefficient) and option -> indicators of a block, built once."""

    def __init__(self, block: CustomerBlock, spec_lb: np.ndarray, spec_ub: np.ndarray) -> None:
        arrays = block.arrays
        n, n_own = block.n_options, len(arrays.row_lb)
        n_vars = n + len(arrays.ind_member_ptr) - 1
        own_rows = np.repeat(np.arange(n_own), np.diff(arrays.entry_ptr))
        spec_rows = n_own + np.repeat(np.arange(len(spec_lb)), np.diff(block.global_ptr))
        flat_vars = np.concatenate([arrays.entry_var, block.global_option])
        flat_rows = np.concatenate([own_rows, spec_rows])
        flat_coefs = np.concatenate([arrays.entry_coef, block.global_coef])
        order = np.argsort(flat_vars, kind="stable")
        self.var_ptr = np.searchsorted(flat_vars[order], np.arange(n_vars + 1))
        self.var_rows = flat_rows[order]
        self.var_coefs = flat_coefs[order]
        indicator = np.repeat(np.arange(n_vars - n), np.diff(arrays.ind_member_ptr))
        order = np.argsort(arrays.ind_members, kind="stable")
        self.ind_ptr = np.searchsorted(arrays.ind_members[order], np.arange(n + 1))
        self.ind_of = n + indicator[order]
        self.lb = np.concatenate([arrays.row_lb, spec_lb])
        self.ub = np.concatenate([arrays.row_ub, spec_ub])
        self.n_own_rows, self.n_vars = n_own, n_vars
        self.csr = scan.as_int64(self.var_ptr, self.var_rows, self.var_coefs, self.ind_ptr,
                                 self.ind_of, self.lb, self.ub)
        self.every_row = np.ones(len(self.lb), dtype=bool)
        self.delta = np.zeros(len(self.lb), dtype=np.int64)  # scratch, zero between calls
        self.touched = np.empty(len(self.lb), dtype=np.int64)

    @staticmethod
    def spec_bounds(specs: list[tuple[int | None, int | None]]) -> tuple[np.ndarray, np.ndarray]:
        """(lb, ub) arrays of the global row specs, absent bounds as NO_LB / NO_UB."""
        lb = np.array([NO_LB if low is None else low for low, _ in specs], dtype=np.int64)
        ub = np.array([NO_UB if high is None else high for _, high in specs], dtype=np.int64)
        return lb, ub


class RowState:
    """Row activities of a set of sends of one block, updated as options are added.

    `others` is what the rest of the plan (the other blocks) puts on each global row
    spec; it is added to this block's own usage, so a global row's activity here is
    the plan's.
    """

    def __init__(self, block: CustomerBlock, index: ScanIndex, sent: np.ndarray,
                 others: np.ndarray | None = None) -> None:
        self.block, self.index = block, index
        sent = np.asarray(sent, dtype=np.int64)
        self.value = np.zeros(index.n_vars, dtype=np.int64)
        self.value[sent] = 1
        self.value[index.ind_of[ranges(index.ind_ptr[sent], index.ind_ptr[sent + 1])]] = 1
        entry_var = np.repeat(np.arange(index.n_vars), np.diff(index.var_ptr))
        self.activity = np.bincount(index.var_rows,
                                    weights=index.var_coefs * self.value[entry_var],
                                    minlength=len(index.lb)).astype(np.int64)
        if others is not None:
            self.activity[index.n_own_rows:] += np.asarray(others, dtype=np.int64)

    def breaks_a_row(self, option: int) -> bool:
        """Whether sending `option` would push some row past a bound."""
        index = self.index
        return scan.first_blocking(option, self.value, self.activity, *index.csr,
                                   index.every_row, index.delta, index.touched) >= 0

    def add(self, option: int) -> None:
        scan.send(option, self.value, self.activity, *self.index.csr[:5])

    @property
    def sent(self) -> np.ndarray:
        return np.flatnonzero(self.value[: self.block.n_options] > 0)

    def rows_hold(self, hard_specs: list[bool]) -> bool:
        """Whether every customer row, and every global row spec marked hard, is within
        its bounds."""
        checked = np.concatenate([np.ones(self.index.n_own_rows, dtype=bool),
                                  np.asarray(hard_specs, dtype=bool)])
        activity = self.activity
        broken = (activity < self.index.lb) | (activity > self.index.ub)
        return not bool(broken[checked].any())

    def winners(self, row: int) -> np.ndarray:
        """Options sent that count in a customer row (through its indicators too)."""
        arrays, n = self.block.arrays, self.block.n_options
        entries = arrays.entry_var[arrays.entry_ptr[row]:arrays.entry_ptr[row + 1]]
        direct = entries[entries < n]
        indicators = entries[entries >= n] - n
        through = arrays.ind_members[ranges(arrays.ind_member_ptr[indicators],
                                            arrays.ind_member_ptr[indicators + 1])]
        members = np.concatenate([direct, through])
        return members[self.value[members] > 0]
