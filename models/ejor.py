"""Import an instance of the EJOR 2023 customer-assignment benchmark as a scenario.

The benchmark of Bigler, Kammermann & Baumann, "A matheuristic for a customer
assignment problem in direct marketing", EJOR 304(2), 2023 (CC BY 4.0) ships
each instance as four tables:

- ``table1.csv``: Activity, Day, Channel, TargetProducts, Cost
- ``table2.csv``: Customer, Activity, ExpectedProfit, ResponseProbability
- ``table3.csv``: Index, Type, StartDay, EndDay, Channels, TargetProducts, Bound
- ``table4.csv``: Index, Channel1, TargetProduct1, Channel2, TargetProduct2, Lag

``import_ejor`` turns one into a scenario folder as section 6 of the scenario
format says, so that the scenario's objective is the paper's: total expected
profit minus penalised slack. Every problem with the input is a located
``ScenarioError``; nothing is written unless the whole folder can be.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from models.errors import ScenarioError

__all__ = ["import_ejor"]

#: The benchmark's channel names and the scenario channel each one becomes.
CHANNELS: dict[str, str] = {
    "text message": "sms",
    "call center": "call",
    "direct mail": "mail",
    "email": "email",
}

#: The columns each table must have (others are ignored).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "table1.csv": ("Activity", "Day", "Channel", "TargetProducts", "Cost"),
    "table2.csv": ("Customer", "Activity", "ExpectedProfit", "ResponseProbability"),
    "table3.csv": ("Index", "Type", "StartDay", "EndDay", "Channels", "TargetProducts", "Bound"),
    "table4.csv": ("Index", "Channel1", "TargetProduct1", "Channel2", "TargetProduct2", "Lag"),
}

#: table3 rule types, by their normalised name.
RULE_TYPES = (
    "maximum contact",
    "minimum assignment",
    "maximum assignment",
    "budget",
    "minimum sales",
    "maximum sales",
)

SOURCE = {
    "citation": (
        "Bigler, Kammermann & Baumann, A matheuristic for a customer assignment "
        "problem in direct marketing, EJOR 304(2), 2023"
    ),
    "licence": "CC BY 4.0",
}

CUSTOMERS_FILE = "customers.csv"
COMMUNICATIONS_FILE = "communications.csv"
CANDIDATES_FILE = "candidates.parquet"
SCENARIO_FILE = "scenario.yaml"

_ALL = "all"
_INTEGER = re.compile(r"[+-]?\d+")
# float() also takes "1_000", "nan" and "inf"; the benchmark never writes those.
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class _Activity:
    activity: int
    day: int
    channel: str
    products: tuple[int, ...]
    cost: float


@dataclass(frozen=True)
class _Selection:
    """Channels and products of a table3/table4 row; ``None`` means ALL."""

    channels: tuple[str, ...] | None
    products: tuple[int, ...] | None

    def as_yaml(self) -> dict[str, Any]:
        select: dict[str, Any] = {}
        if self.channels is not None:
            select["channels"] = list(self.channels)
        if self.products is not None:
            select["tags"] = [_product_tag(p) for p in self.products]
        return select


@dataclass(frozen=True)
class _Rule:
    """One table3 row."""

    index: int
    kind: str  # one of RULE_TYPES
    start_day: int
    end_day: int
    selection: _Selection
    bound: float


@dataclass(frozen=True)
class _Conflict:
    """One table4 row."""

    index: int
    first: _Selection
    then: _Selection
    lag: int


@dataclass(frozen=True)
class _Instance:
    activities: dict[int, _Activity]
    #: table2 in file order: Customer, Activity (int64), ExpectedProfit,
    #: ResponseProbability (float64).
    assignments: pd.DataFrame
    rules: list[_Rule]
    conflicts: list[_Conflict]


def import_ejor(source_dir: Path, out_dir: Path, start: date = date(2026, 1, 1)) -> Path:
    """Convert the benchmark instance in ``source_dir`` into a scenario folder ``out_dir``.

    Day k of the instance becomes ``start + (k - 1)``. ``out_dir`` must not
    exist or be empty; it is written whole or not at all. Returns ``out_dir``.
    Raises ``ScenarioError`` (naming file, row and column) for bad input.
    """
    source_dir = Path(source_dir)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir} exists and is not an empty folder; refusing to overwrite")

    instance = _read_instance(source_dir)
    name = f"EJOR 2023 {source_dir.resolve().name}"
    # Everything is read and checked before anything is written.
    _write_atomically(out_dir, lambda folder: _write_scenario(instance, folder, name, start))
    return out_dir


# ---------------------------------------------------------------------------
# Reading and checking the four tables


def _read_instance(source_dir: Path) -> _Instance:
    if not source_dir.is_dir():
        raise ScenarioError("benchmark instance folder not found", file=str(source_dir))
    activities = _read_activities(source_dir)
    assignments = _read_assignments(source_dir, activities)
    rules = _read_rules(source_dir)
    conflicts = _read_conflicts(source_dir)
    return _Instance(activities, assignments, rules, conflicts)


class _Table:
    """A benchmark table as text, with every cell's spreadsheet row number."""

    def __init__(self, source_dir: Path, name: str) -> None:
        self.file = str(source_dir / name)
        path = source_dir / name
        if not path.is_file():
            raise ScenarioError("missing table file", file=self.file)
        try:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                encoding="utf-8-sig",
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"not a readable CSV table: {exc}", file=self.file) from exc
        frame.columns = [str(c).strip() for c in frame.columns]
        for column in TABLE_COLUMNS[name]:
            if column not in frame.columns:
                raise ScenarioError("missing column", file=self.file, row=1, column=column)
        frame = frame[list(TABLE_COLUMNS[name])]
        for column in frame.columns:
            frame[column] = frame[column].str.strip()
        # Blank lines are tolerated but still count, so row numbers match the file.
        blank = (frame == "").all(axis=1)
        self.rows: np.ndarray = np.arange(len(frame))[~blank.to_numpy()] + 2
        self.frame = frame[~blank].reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.frame)

    def error(self, message: str, i: int | None = None, column: str | None = None) -> ScenarioError:
        row = None if i is None else int(self.rows[i])
        return ScenarioError(message, file=self.file, row=row, column=column)

    def text(self, column: str) -> list[str]:
        return [str(v) for v in self.frame[column].tolist()]

    def integers(self, column: str, minimum: int | None = None) -> np.ndarray:
        values = self.frame[column]
        ok = values.str.fullmatch(_INTEGER.pattern).to_numpy(dtype=bool)
        if not ok.all():
            i = int(np.argmin(ok))
            raise self.error(f"not an integer: {values.iloc[i]!r}", i, column)
        numbers = values.astype("int64").to_numpy()
        if minimum is not None and (numbers < minimum).any():
            i = int(np.argmax(numbers < minimum))
            raise self.error(f"must be at least {minimum}, got {numbers[i]}", i, column)
        return numbers

    def floats(self, column: str) -> np.ndarray:
        values = self.frame[column]
        ok = values.str.fullmatch(_DECIMAL.pattern).to_numpy(dtype=bool)
        if not ok.all():
            i = int(np.argmin(ok))
            raise self.error(f"not a number: {values.iloc[i]!r}", i, column)
        # Python's float() rounds correctly, so every value round-trips exactly.
        numbers = np.fromiter((float(v) for v in values.tolist()), np.float64, len(values))
        finite = np.isfinite(numbers)
        if not finite.all():
            i = int(np.argmin(finite))
            raise self.error(f"number out of range: {values.iloc[i]!r}", i, column)
        return numbers

    def unique(self, column: str, numbers: np.ndarray) -> None:
        seen = pd.Series(numbers).duplicated().to_numpy()
        if seen.any():
            i = int(np.argmax(seen))
            raise self.error(f"{numbers[i]} appears twice", i, column)


def _read_activities(source_dir: Path) -> dict[int, _Activity]:
    table = _Table(source_dir, "table1.csv")
    if len(table) == 0:
        raise table.error("no activities")
    ids = table.integers("Activity")
    table.unique("Activity", ids)
    days = table.integers("Day", minimum=1)
    costs = table.floats("Cost")
    channels = table.text("Channel")
    products = table.text("TargetProducts")
    activities: dict[int, _Activity] = {}
    for i, activity in enumerate(ids.tolist()):
        channel = _channel(table, i, "Channel", channels[i])
        targets = _products(table, i, "TargetProducts", products[i])
        if targets is None:
            raise table.error("an activity names its target products, not ALL", i, "TargetProducts")
        activities[activity] = _Activity(activity, int(days[i]), channel, targets, float(costs[i]))
    return activities


def _read_assignments(source_dir: Path, activities: dict[int, _Activity]) -> pd.DataFrame:
    table = _Table(source_dir, "table2.csv")
    if len(table) == 0:
        raise table.error("no customer-activity pairs")
    customers = table.integers("Customer")
    assigned = table.integers("Activity")
    known = np.isin(assigned, np.fromiter(activities, np.int64, len(activities)))
    if not known.all():
        i = int(np.argmin(known))
        raise table.error(f"activity {assigned[i]} is not in table1.csv", i, "Activity")
    pairs = pd.DataFrame({"Customer": customers, "Activity": assigned})
    twice = pairs.duplicated().to_numpy()
    if twice.any():
        i = int(np.argmax(twice))
        raise table.error(
            f"customer {customers[i]} is listed twice for activity {assigned[i]}", i, "Activity"
        )
    pairs["ExpectedProfit"] = table.floats("ExpectedProfit")
    pairs["ResponseProbability"] = table.floats("ResponseProbability")
    return pairs


def _read_rules(source_dir: Path) -> list[_Rule]:
    table = _Table(source_dir, "table3.csv")
    indexes = table.integers("Index")
    table.unique("Index", indexes)
    starts = table.integers("StartDay", minimum=1)
    ends = table.integers("EndDay", minimum=1)
    bounds = table.floats("Bound")
    kinds = table.text("Type")
    channels = table.text("Channels")
    products = table.text("TargetProducts")
    rules = []
    for i, index in enumerate(indexes.tolist()):
        kind = " ".join(kinds[i].lower().split())
        if kind not in RULE_TYPES:
            known = ", ".join(t.capitalize() for t in RULE_TYPES)
            raise table.error(f"unknown rule type {kinds[i]!r} (known: {known})", i, "Type")
        if ends[i] < starts[i]:
            raise table.error(f"ends before its StartDay {starts[i]}", i, "EndDay")
        if bounds[i] < 0:
            raise table.error(f"a bound cannot be negative, got {bounds[i]!r}", i, "Bound")
        selection = _Selection(
            _channels(table, i, "Channels", channels[i]),
            _products(table, i, "TargetProducts", products[i]),
        )
        rules.append(_Rule(index, kind, int(starts[i]), int(ends[i]), selection, float(bounds[i])))
    return rules


def _read_conflicts(source_dir: Path) -> list[_Conflict]:
    table = _Table(source_dir, "table4.csv")
    indexes = table.integers("Index")
    table.unique("Index", indexes)
    lags = table.integers("Lag", minimum=0)
    columns = {c: table.text(c) for c in TABLE_COLUMNS["table4.csv"][1:5]}
    conflicts = []
    for i, index in enumerate(indexes.tolist()):
        first = _Selection(
            _channels(table, i, "Channel1", columns["Channel1"][i]),
            _products(table, i, "TargetProduct1", columns["TargetProduct1"][i]),
        )
        then = _Selection(
            _channels(table, i, "Channel2", columns["Channel2"][i]),
            _products(table, i, "TargetProduct2", columns["TargetProduct2"][i]),
        )
        conflicts.append(_Conflict(index, first, then, int(lags[i])))
    return conflicts


def _items(table: _Table, i: int, column: str, cell: str) -> list[str] | None:
    """The ``;``-separated items of a cell, or None for ``ALL``."""
    if cell.strip().lower() == _ALL:
        return None
    items = [item.strip() for item in cell.split(";")]
    if not cell.strip() or "" in items:
        raise table.error(f"empty item in {cell!r} (write ALL for no restriction)", i, column)
    return items


def _channel(table: _Table, i: int, column: str, name: str) -> str:
    channel = CHANNELS.get(" ".join(name.lower().split()))
    if channel is None:
        known = ", ".join(CHANNELS)
        raise table.error(f"unknown channel {name!r} (known: {known})", i, column)
    return channel


def _channels(table: _Table, i: int, column: str, cell: str) -> tuple[str, ...] | None:
    items = _items(table, i, column, cell)
    if items is None:
        return None
    return tuple(dict.fromkeys(_channel(table, i, column, item) for item in items))


def _products(table: _Table, i: int, column: str, cell: str) -> tuple[int, ...] | None:
    items = _items(table, i, column, cell)
    if items is None:
        return None
    for item in items:
        if not _INTEGER.fullmatch(item):
            raise table.error(f"target product {item!r} is not a product number", i, column)
    return tuple(dict.fromkeys(int(item) for item in items))


def _product_tag(product: int) -> str:
    return f"p{product}"


# ---------------------------------------------------------------------------
# Writing the scenario


def _write_atomically(out_dir: Path, write: Callable[[Path], None]) -> None:
    """Build the folder next to ``out_dir`` and rename it into place when complete."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write(building)
        building.chmod(0o755)  # mkdtemp makes it private; a scenario is an ordinary folder
        # os.replace also takes the place of an existing empty folder.
        os.replace(building, out_dir)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _write_scenario(instance: _Instance, folder: Path, name: str, start: date) -> None:
    activities = instance.activities
    pairs = instance.assignments
    horizon_days = max(
        max(a.day for a in activities.values()),
        max((r.end_day for r in instance.rules), default=1),
    )

    def day(k: int) -> date:
        return start + timedelta(days=k - 1)

    # communications: one per activity, in table1 order.
    communications = pd.DataFrame(
        {
            "comm_id": [str(a.activity) for a in activities.values()],
            "product_line": [f"ejor-{a.channel}" for a in activities.values()],
            "category": "marketing",
            "priority": 1,
            "mandatory": "false",
            "dedup_key": "",
            "tags": ["|".join(_product_tag(p) for p in a.products) for a in activities.values()],
            "cost": [repr(a.cost) for a in activities.values()],
        }
    )
    communications.to_csv(folder / COMMUNICATIONS_FILE, index=False)

    # candidates: one per table2 row, in file order.
    activity_ids = pairs["Activity"].to_numpy()
    channel_of = {a.activity: a.channel for a in activities.values()}
    date_of = {a.activity: day(a.day).isoformat() for a in activities.values()}
    channels = [channel_of[a] for a in activity_ids.tolist()]
    dates = [date_of[a] for a in activity_ids.tolist()]
    customer_ids = pairs["Customer"].astype(str)
    comm_ids = pairs["Activity"].astype(str)
    candidates = pa.table(
        {
            "candidate_id": pa.array((customer_ids + "-" + comm_ids).tolist(), pa.string()),
            "customer_id": pa.array(customer_ids.tolist(), pa.string()),
            "comm_id": pa.array(comm_ids.tolist(), pa.string()),
            "channels": pa.array(channels, pa.string()),
            "earliest": pa.array(dates, pa.string()),
            "latest": pa.array(dates, pa.string()),
            "value": pa.array(pairs["ExpectedProfit"].to_numpy(), pa.float64()),
            "response_probability": pa.array(pairs["ResponseProbability"].to_numpy(), pa.float64()),
            "source": pa.array(["ejor"] * len(pairs), pa.string()),
        }
    )
    pq.write_table(candidates, folder / CANDIDATES_FILE, compression="zstd")

    # customers: everyone with a table2 row; consent on exactly the channels
    # they have an eligible activity on.
    with_channel = pd.DataFrame({"Customer": pairs["Customer"], "channel": channels})
    customer_numbers = np.sort(pairs["Customer"].unique())
    customers = pd.DataFrame({"customer_id": customer_numbers.astype(str)})
    for channel in CHANNELS.values():
        reached = with_channel.loc[with_channel["channel"] == channel, "Customer"].unique()
        consent = np.isin(customer_numbers, reached)
        customers[f"consent_{channel}"] = np.where(consent, "true", "false")
    customers.to_csv(folder / CUSTOMERS_FILE, index=False)

    penalty = float(np.abs(pairs["ExpectedProfit"].to_numpy()).max())
    rules = [_rule_yaml(rule, day, penalty) for rule in instance.rules]
    rules += [_conflict_yaml(conflict) for conflict in instance.conflicts]

    scenario: dict[str, Any] = {
        "name": name,
        "source": dict(SOURCE),
        "horizon": {"start": start, "days": horizon_days},
        "data": {
            "customers": CUSTOMERS_FILE,
            "communications": COMMUNICATIONS_FILE,
            "candidates": CANDIDATES_FILE,
        },
        "channels": {channel: {"cost": 0.0} for channel in CHANNELS.values()},
        "rules": rules,
        "dedup": _Off(),  # each activity is its own message
        "objective": {"cost_weight": 0},
        "solver": {"time_limit_s": 60, "seed": 0},
    }
    (folder / SCENARIO_FILE).write_text(_scenario_yaml(scenario, penalty), encoding="utf-8")


def _rule_yaml(rule: _Rule, day: Callable[[int], date], penalty: float) -> dict[str, Any]:
    name = f"t3-{rule.index}-{rule.kind.replace(' ', '-')}"
    select = rule.selection.as_yaml()
    select["dates"] = {"from": day(rule.start_day), "to": day(rule.end_day)}
    soft = {"soft": {"penalty": penalty}}
    body: dict[str, Any] = {"name": name, "select": select}
    if rule.kind == "maximum contact":
        # A per-customer count: fractional bounds mean the integer below.
        body |= {"max": math.floor(rule.bound), "period": "horizon"}
        return {"frequency_cap": body}
    if rule.kind == "budget":
        return {"budget": body | {"max": rule.bound}}
    if rule.kind == "minimum assignment":
        return {"volume": body | {"min": rule.bound, "metric": "count"} | soft}
    if rule.kind == "maximum assignment":
        return {"volume": body | {"max": rule.bound, "metric": "count"}}
    if rule.kind == "minimum sales":
        return {"volume": body | {"min": rule.bound, "metric": "response_probability"} | soft}
    if rule.kind == "maximum sales":
        return {"volume": body | {"max": rule.bound, "metric": "response_probability"} | soft}
    raise AssertionError(f"unhandled rule type {rule.kind!r}")


def _conflict_yaml(conflict: _Conflict) -> dict[str, Any]:
    # The paper forbids the second contact up to and including Lag days after
    # the first; min_gap forbids 0 <= d2 - d1 < days, hence days = Lag + 1.
    return {
        "min_gap": {
            "name": f"t4-{conflict.index}",
            "first": conflict.first.as_yaml(),
            "then": conflict.then.as_yaml(),
            "days": conflict.lag + 1,
        }
    }


class _Off:
    """The value of ``dedup: off``, written as the spec spells it."""


class _ScenarioDumper(yaml.SafeDumper):
    pass


# `off` is YAML 1.1's spelling of false, so every PyYAML reader loads it as False.
_ScenarioDumper.add_representer(
    _Off, lambda dumper, _: dumper.represent_scalar("tag:yaml.org,2002:bool", "off")
)


def _scenario_yaml(scenario: dict[str, Any], penalty: float) -> str:
    header = (
        "# Imported by contact-plan from the EJOR 2023 customer-assignment benchmark.\n"
        f"# Soft rules cost max |ExpectedProfit| = {penalty!r} per unit of violation.\n"
    )
    body = yaml.dump(
        scenario,
        Dumper=_ScenarioDumper,
        sort_keys=False,
        default_flow_style=None,
        allow_unicode=True,
        width=1000,
    )
    return header + body
