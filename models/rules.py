"""One dataclass per rule type of the contact strategy, and the Selection they share.

These are plain data: what a planner wrote in scenario.yaml, checked for shape
and sign. How a rule becomes constraints lives in optimiser/rules/; how it is
re-checked lives in optimiser/verify.py. Both read these dataclasses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Per = Literal["day", "horizon"]
Period = Literal["rolling", "horizon", "week"]


@dataclass(frozen=True)
class Selection:
    """Which sends a rule looks at. Every given key narrows; an empty selection matches all.

    `customers` maps a customers-table column to the values it may take.
    `dates` are inclusive day offsets from the horizon start (None: unbounded).
    """

    channels: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    product_lines: tuple[str, ...] | None = None
    comm_ids: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    priorities: tuple[int, ...] | None = None
    customers: tuple[tuple[str, tuple[object, ...]], ...] | None = None
    date_from: int | None = None
    date_to: int | None = None

    def is_empty(self) -> bool:
        return all(
            getattr(self, name) is None
            for name in (
                "channels",
                "categories",
                "product_lines",
                "comm_ids",
                "tags",
                "priorities",
                "customers",
                "date_from",
                "date_to",
            )
        )


@dataclass(frozen=True)
class Soft:
    """A global rule that may be violated at `penalty` per unit, charged in `tier`."""

    penalty: float
    tier: int = 1


@dataclass(frozen=True)
class FrequencyCap:
    """At most `max` matching sends in every window (rolling days, the horizon, or a week)."""

    name: str
    select: Selection
    max: int
    window_days: int | None = None
    period: Period = "rolling"


@dataclass(frozen=True)
class MinGap:
    """After a `first` send on d1, no other `then` send on d2 with 0 <= d2 - d1 < days."""

    name: str
    first: Selection
    then: Selection
    days: int


@dataclass(frozen=True)
class StateExclusion:
    """No matching send on a day the customer is in one of `states`."""

    name: str
    select: Selection
    states: tuple[str, ...]


@dataclass(frozen=True)
class CustomerExclusion:
    """Customers whose row matches `customers` never get matching sends."""

    name: str
    select: Selection
    customers: tuple[tuple[str, tuple[object, ...]], ...]


@dataclass(frozen=True)
class AroundExclusion:
    """No `select` send from `days_before` days before to `days_after` days after an `around`
    send."""

    name: str
    select: Selection
    around: Selection
    days_before: int
    days_after: int


@dataclass(frozen=True)
class NeverTogether:
    """At most one matching send per customer within any `window_days` (None: the horizon)."""

    name: str
    select: Selection
    window_days: int | None = None


@dataclass(frozen=True)
class Capacity:
    """At most `max` matching sends per day, or in the whole horizon, across all customers."""

    name: str
    select: Selection
    max: float
    per: Per = "day"
    soft: Soft | None = None


@dataclass(frozen=True)
class Budget:
    """Total cost (channel + communication) of matching sends at most `max`."""

    name: str
    select: Selection
    max: float
    soft: Soft | None = None


@dataclass(frozen=True)
class Volume:
    """The sum of `metric` (count, cost or a candidate column) over matching sends in [min, max]."""

    name: str
    select: Selection
    min: float | None = None
    max: float | None = None
    metric: str = "count"
    soft: Soft | None = None


PerCustomerRule = (
    FrequencyCap | MinGap | StateExclusion | CustomerExclusion | AroundExclusion | NeverTogether
)
GlobalRule = Capacity | Budget | Volume
Rule = PerCustomerRule | GlobalRule

GLOBAL_RULE_TYPES = (Capacity, Budget, Volume)


@dataclass(frozen=True)
class Channel:
    """A channel the organisation may use, its cost per send and the days it is shut."""

    name: str
    cost: float = 0.0
    closed_weekdays: frozenset[int] = frozenset()  # 0 = Monday
    closed_dates: frozenset[dt.date] = frozenset()


@dataclass(frozen=True)
class Dedup:
    """Candidates that are the same message: at most one sent, none repeating recent history."""

    enabled: bool = True
    window_days: int = 30


@dataclass(frozen=True)
class Objective:
    """How sends are valued: value x channel weight - cost x cost_weight, by priority tier."""

    cost_weight: float = 0.0
    preference_weights: tuple[float, ...] | None = None
    preference_others: float = 1.0


@dataclass(frozen=True)
class SolverSettings:
    """Defaults for a run; the CLI overrides them."""

    time_limit_s: float = 60.0
    seed: int = 0
    workers: int = 1
    extra: dict[str, object] = field(default_factory=dict)
