"""A block: the options of some customers and the linear rows that constrain them.

The model is kept solver-neutral: rule families (optimiser/rules/) append
integer linear rows over three kinds of variables, indexed in one space:

- option variables 0..n-1: send option i (a candidate on a day by a channel);
- indicator variables: "some send of this set happens on this day", each
  tied to its member options by link rows (x - y <= 0);
- slack variables: how far a soft global rule is violated, priced per unit.

CP-SAT reads the rows in optimiser/cpsat.py; optimiser/reasons.py reads the
same rows to say which rule stopped a candidate. One description, two uses,
so an explanation can never disagree with the model that was solved.

Rows are stored column-wise (CSR arrays in a `RowTable`), appended in bulk by
the rule families: a million customers make tens of millions of rows, far too
many for one Python object each. `block.rows[i]` still gives a `Row` view.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
import pandas as pd

NO_LB = -(2**62)  # "no lower bound" in the row arrays
NO_UB = 2**62  # "no upper bound"
REASONS = ("", "candidate", "duplicate", "frequency_cap", "never_together", "min_gap",
           "exclusion", "capacity", "budget", "volume")
REASON_CODE = {name: code for code, name in enumerate(REASONS)}


@dataclass
class Row:
    """lb <= sum(coefs * vars) <= ub (None: unbounded), owned by one rule."""

    vars: np.ndarray
    coefs: np.ndarray
    lb: int | None
    ub: int | None
    rule: str
    reason: str  # suppression reason vocabulary: frequency_cap, min_gap, duplicate, ...
    link: bool = False  # indicator link rows explain nothing by themselves
    scale: int = 1  # integer row units per real unit of the rule's metric (global rows)


class _Column:
    """One of a RowTable's arrays, read by name: pending appends are consolidated first."""

    def __init__(self, position: int) -> None:
        self.position = position

    def __get__(self, table: RowTable, owner: type | None = None) -> np.ndarray:
        return table._consolidated()[self.position]


class RowTable(Sequence[Row]):
    """Every row of a block as arrays: entries in CSR form plus one value per row.

    Rule names are codes into `names`; a negative code -1-c names candidate c's own row
    ("candidate:c"), so the candidate rows need no string each.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self._name_code: dict[str, int] = {}
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._arrays: tuple[np.ndarray, ...] | None = None

    def code(self, rule: str) -> int:
        if rule not in self._name_code:
            self._name_code[rule] = len(self.names)
            self.names.append(rule)
        return self._name_code[rule]

    def extend(self, lengths: np.ndarray, vars_: np.ndarray, coefs: np.ndarray,
               lb: np.ndarray | int | None, ub: np.ndarray | int | None,
               rule: np.ndarray | str, reason: str, link: bool = False,
               scale: int = 1) -> None:
        """Append len(lengths) rows; row i has the next lengths[i] entries of vars_/coefs.

        `rule` is one name for all rows, or an array of rule codes (see the class doc).
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        count = len(lengths)
        if count == 0:
            return

        def column(value: np.ndarray | int | None, absent: int) -> np.ndarray:
            if value is None:
                return np.full(count, absent, dtype=np.int64)
            return np.broadcast_to(np.asarray(value, dtype=np.int64), (count,)).copy()

        codes = (np.full(count, self.code(rule), dtype=np.int64) if isinstance(rule, str)
                 else np.asarray(rule, dtype=np.int64))
        self._pending.append((
            lengths, np.asarray(vars_, dtype=np.int64), np.asarray(coefs, dtype=np.int64),
            column(lb, NO_LB), column(ub, NO_UB), codes,
            np.full(count, REASON_CODE[reason], dtype=np.int8), np.full(count, link),
            np.full(count, scale, dtype=np.int64)))
        self._arrays = None

    def _consolidated(self) -> tuple[np.ndarray, ...]:
        if self._arrays is None:
            if not self._pending:
                empty = np.zeros(0, dtype=np.int64)
                self._pending = [(empty, empty, empty, empty, empty, empty,
                                  np.zeros(0, dtype=np.int8), np.zeros(0, dtype=bool), empty)]
            parts = [np.concatenate(column) for column in zip(*self._pending, strict=True)]
            self._pending = [tuple(parts)]
            lengths = parts[0]
            ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths, out=ptr[1:])
            self._arrays = (ptr, *parts[1:])
        return self._arrays

    # the arrays, by name (each consolidates pending appends first)
    ptr = _Column(0)
    entry_var = _Column(1)
    entry_coef = _Column(2)
    lb = _Column(3)
    ub = _Column(4)
    rule_code = _Column(5)
    reason_code = _Column(6)
    link = _Column(7)
    scale = _Column(8)

    def rule_name(self, row_id: int) -> str:
        code = int(self.rule_code[row_id])
        return self.names[code] if code >= 0 else f"candidate:{-code - 1}"

    def reason(self, row_id: int) -> str:
        return REASONS[int(self.reason_code[row_id])]

    def has_reason(self, *reasons: str) -> np.ndarray:
        """A mask over rows: is the row's reason one of `reasons`."""
        return np.isin(self.reason_code, [REASON_CODE[r] for r in reasons])

    def __len__(self) -> int:
        return sum(len(part[0]) for part in self._pending) if self._arrays is None else len(
            self._arrays[3])

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        ptr, vars_, coefs, lb, ub, _, _, link, scale = self._consolidated()
        if index < 0:
            index += len(lb)
        start, stop = ptr[index], ptr[index + 1]
        low, high = int(lb[index]), int(ub[index])
        return Row(vars_[start:stop], coefs[start:stop], None if low == NO_LB else low,
                   None if high == NO_UB else high, self.rule_name(index), self.reason(index),
                   bool(link[index]), int(scale[index]))

    def __iter__(self) -> Iterator[Row]:
        for index in range(len(self)):
            yield self[index]


@dataclass
class Slack:
    """A soft rule's violation variable: 0..ub, costing `penalty` scaled units each, in `tier`."""

    ub: int
    penalty: int
    tier: int
    rule: str


@dataclass
class Block:
    """Options of a set of customers plus every row and variable that constrains them."""

    options: pd.DataFrame  # rows of Options.frame, reset to local index 0..n-1
    rows: RowTable = field(default_factory=RowTable)
    indicator_members: list[np.ndarray] = field(default_factory=list)
    slacks: list[Slack] = field(default_factory=list)
    objective: dict[int, np.ndarray] = field(default_factory=dict)  # tier -> scaled coefs
    bound_slack: dict[int, float] = field(default_factory=dict)  # tier -> honest bound margin
    global_rows: list[tuple[int, int]] = field(default_factory=list)  # (row, row spec index)

    @property
    def n_options(self) -> int:
        return len(self.options)

    @property
    def n_indicators(self) -> int:
        return len(self.indicator_members)

    def slack_var(self, index: int) -> int:
        return self.n_options + self.n_indicators + index

    def add(
        self,
        vars_: np.ndarray | list[int],
        coefs: np.ndarray | list[int],
        lb: int | None,
        ub: int | None,
        rule: str,
        reason: str,
        link: bool = False,
        scale: int = 1,
    ) -> None:
        """Append one row (rule families with many rows use `rows.extend`)."""
        vars_ = np.asarray(vars_, dtype=np.int64)
        self.rows.extend(np.array([len(vars_)]), vars_, np.asarray(coefs, dtype=np.int64),
                         lb, ub, rule, reason, link, scale)

    def indicator(self, members: np.ndarray) -> int:
        """A variable that is 1 whenever any member option is sent (one member: itself)."""
        members = np.asarray(members, dtype=np.int64)
        if len(members) == 1:
            return int(members[0])
        self.indicator_members.append(members)
        index = self.n_options + len(self.indicator_members) - 1
        return index

    def add_indicators(self, ptr: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Many indicators at once (CSR member lists); returns their variables.

        A one-member set is its member itself, as in `indicator`.
        """
        lengths = np.diff(ptr)
        out = np.empty(len(lengths), dtype=np.int64)
        single = lengths == 1
        out[single] = members[ptr[:-1][single]]
        many = np.flatnonzero(~single)
        first = self.n_options + len(self.indicator_members)
        out[many] = first + np.arange(len(many))
        pieces = np.split(members, ptr[1:-1])
        self.indicator_members.extend(pieces[i] for i in many)
        return out

    def finish_links(self) -> None:
        """Append the link rows x_member - y <= 0 of every indicator (after all are created)."""
        if not self.indicator_members:
            return
        lengths = np.array([len(m) for m in self.indicator_members], dtype=np.int64)
        members = np.concatenate(self.indicator_members)
        ys = np.repeat(self.n_options + np.arange(len(lengths)), lengths)
        entries = np.column_stack([members, ys]).ravel()
        coefs = np.tile(np.array([1, -1], dtype=np.int64), len(members))
        self.rows.extend(np.full(len(members), 2), entries, coefs, None, 0, "", "", link=True)

    def add_slack(self, ub: int, penalty: int, tier: int, rule: str) -> int:
        """Register a slack variable; returns its index in the variable space.

        Slacks are numbered after all indicators, so call only once indicators are done.
        """
        self.slacks.append(Slack(ub, penalty, tier, rule))
        return len(self.slacks) - 1
