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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


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
    rows: list[Row] = field(default_factory=list)
    indicator_members: list[np.ndarray] = field(default_factory=list)
    slacks: list[Slack] = field(default_factory=list)
    objective: dict[int, np.ndarray] = field(default_factory=dict)  # tier -> scaled coefs
    bound_slack: dict[int, float] = field(default_factory=dict)  # tier -> honest bound margin

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
        self.rows.append(
            Row(
                np.asarray(vars_, dtype=np.int64),
                np.asarray(coefs, dtype=np.int64),
                lb,
                ub,
                rule,
                reason,
                link,
                scale,
            )
        )

    def indicator(self, members: np.ndarray) -> int:
        """A variable that is 1 whenever any member option is sent (one member: itself)."""
        members = np.asarray(members, dtype=np.int64)
        if len(members) == 1:
            return int(members[0])
        self.indicator_members.append(members)
        index = self.n_options + len(self.indicator_members) - 1
        return index

    def finish_links(self) -> None:
        """Append the link rows x_member - y <= 0 of every indicator (after all are created)."""
        for offset, members in enumerate(self.indicator_members):
            y = self.n_options + offset
            for member in members:
                self.add([int(member), y], [1, -1], None, 0, "", "", link=True)

    def add_slack(self, ub: int, penalty: int, tier: int, rule: str) -> int:
        """Register a slack variable; returns its index in the variable space.

        Slacks are numbered after all indicators, so call only once indicators are done.
        """
        self.slacks.append(Slack(ub, penalty, tier, rule))
        return len(self.slacks) - 1
