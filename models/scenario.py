"""The whole scenario as validated data, loaded from a scenario folder.

`load_scenario(folder)` reads scenario.yaml and its tables, converts types,
checks every cross-reference, and returns a `Scenario` whose dates are also
expressed as integer day offsets from the horizon start (day 0), the unit the
optimiser and the verifier both work in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from models import config
from models.errors import ScenarioError
from models.rules import (
    GLOBAL_RULE_TYPES,
    Channel,
    Dedup,
    GlobalRule,
    Objective,
    Rule,
    SolverSettings,
)
from models.tables import (
    DATE_DTYPE,
    Column,
    RawTable,
    TableSchema,
    arrow_column,
    check_reference,
    fail_row,
    read_raw,
    typed_table,
)

TOP_LEVEL_KEYS = {
    "name",
    "description",
    "horizon",
    "data",
    "channels",
    "rules",
    "dedup",
    "objective",
    "solver",
    "source",
}
DATA_KEYS = {"customers", "communications", "candidates", "history", "states"}
OPEN_END = 10**6  # an open-ended state lasts beyond any horizon
EPOCH = dt.date(1970, 1, 1)  # Arrow's day 0

CUSTOMERS = TableSchema(
    "customers",
    (Column("customer_id", "id"), Column("preferred_channels", "str", required=False)),
    key="customer_id",
)
COMMUNICATIONS = TableSchema(
    "communications",
    (
        Column("comm_id", "id"),
        Column("product_line", "str"),
        Column("category", "str"),
        Column("priority", "int"),
        Column("mandatory", "bool", required=False, default=False),
        Column("dedup_key", "str", required=False),
        Column("tags", "str", required=False),
        Column("cost", "float", required=False, default=0.0),
    ),
    key="comm_id",
)
CANDIDATES = TableSchema(
    "candidates",
    (
        Column("candidate_id", "id"),
        Column("customer_id", "id"),
        Column("comm_id", "id"),
        Column("channels", "str"),
        Column("earliest", "date"),
        Column("latest", "date"),
        Column("value", "float"),
        Column("source", "str", required=False),
    ),
    extra_numeric=True,
    key="candidate_id",
)
HISTORY = TableSchema(
    "history",
    (
        Column("customer_id", "id"),
        Column("comm_id", "id"),
        Column("channel", "id"),
        Column("date", "date"),
    ),
)
STATES = TableSchema(
    "states",
    (
        Column("customer_id", "id"),
        Column("state", "id"),
        Column("start", "date"),
        Column("end", "optional_date", required=False),
    ),
)


@dataclass(frozen=True)
class Scenario:
    """Everything a planner said: horizon, channels, tables, rules, objective.

    Tables (pandas, one row per record; ids and text are Arrow-backed `str`, dates are
    `date32[pyarrow]` whose cells are datetime.date, see models/tables.py):
    - customers: customer_id, consent_<channel> (bool, one per channel), preferred_channels,
      and any other attribute columns (text).
    - communications: comm_id, product_line, category, priority, mandatory, dedup_key, tags, cost.
    - candidates: the columns of the spec plus earliest_day/latest_day (offsets from start)
      and float metric columns.
    - history: customer_id, comm_id, channel, date, day (negative offsets).
    - states: customer_id, state, start, end (NA: open-ended), start_day, end_day.
    """

    folder: Path
    name: str
    start: dt.date
    days: int
    channels: dict[str, Channel]
    customers: pd.DataFrame
    communications: pd.DataFrame
    candidates: pd.DataFrame
    history: pd.DataFrame
    states: pd.DataFrame
    rules: tuple[Rule, ...]
    dedup: Dedup
    objective: Objective
    solver: SolverSettings
    metrics: tuple[str, ...]

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)

    def date_of(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=int(day))

    @property
    def global_rules(self) -> tuple[GlobalRule, ...]:
        return tuple(r for r in self.rules if isinstance(r, GLOBAL_RULE_TYPES))

    @property
    def customer_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if not isinstance(r, GLOBAL_RULE_TYPES))

    def closed_days(self, channel: str) -> frozenset[int]:
        """Horizon days (offsets) on which a channel is shut."""
        spec = self.channels[channel]
        return frozenset(
            day
            for day in range(self.days)
            if self.date_of(day).weekday() in spec.closed_weekdays
            or self.date_of(day) in spec.closed_dates
        )


class _TextDatesLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: `2026-13-45` stays text, so our own date parsing
    can name the key and say what was expected (PyYAML would raise a bare ValueError)."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_scenario(folder: str | Path) -> Scenario:
    """Load and validate a scenario folder; raise ScenarioError naming what is wrong."""
    folder = Path(folder)
    yaml_path = folder / "scenario.yaml"
    if not yaml_path.is_file():
        raise ScenarioError("scenario.yaml not found", file=str(yaml_path))
    try:
        doc = yaml.load(yaml_path.read_text(encoding="utf-8"), Loader=_TextDatesLoader)
    except yaml.YAMLError as exc:
        # one line, located: PyYAML's own message spans several lines with a caret drawing
        parts = []
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context:
            parts.append(context + (f" at line {context_mark.line + 1}" if context_mark else ""))
        problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
        if problem:
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            parts.append(problem + where)
        message = ": ".join(parts) or str(exc).splitlines()[0]
        raise ScenarioError(f"not valid YAML: {message}", file=str(yaml_path)) from exc
    top = config.expect_mapping(doc, "<top>")
    config.check_keys(top, TOP_LEVEL_KEYS, "<top>")

    start, days = _horizon(top.get("horizon"))
    channels = config.parse_channels(top.get("channels"), start, days)
    data = config.expect_mapping(top.get("data"), "data")
    config.check_keys(data, DATA_KEYS, "data")
    for required in ("customers", "communications", "candidates"):
        if required not in data:
            raise config.fail("data", f"missing required table '{required}'")

    customers = _customers(read_raw(folder, data["customers"], "customers"), channels)
    communications_raw = read_raw(folder, data["communications"], "communications")
    communications = typed_table(communications_raw, COMMUNICATIONS)
    _check_priorities(communications_raw, communications)
    candidates_raw = read_raw(folder, data["candidates"], "candidates")
    candidates = _candidates(candidates_raw, customers, communications, channels, start)
    history = _history(folder, data.get("history"), customers, communications, channels, start)
    states = _states(folder, data.get("states"), customers, start)

    metrics = ("count", "cost") + tuple(
        c
        for c in candidates.columns
        if c not in {col.name for col in CANDIDATES.columns}
        and c not in ("earliest_day", "latest_day")
        and pd.api.types.is_float_dtype(candidates[c])
    )
    selection = config.SelectionParser(
        start, days, set(channels), set(communications["comm_id"]), set(customers.columns)
    )
    rules = config.parse_rules(top.get("rules"), selection, set(metrics))
    return Scenario(
        folder=folder,
        name=str(top.get("name") or folder.name),
        start=start,
        days=days,
        channels=channels,
        customers=customers,
        communications=communications,
        candidates=candidates,
        history=history,
        states=states,
        rules=rules,
        dedup=config.parse_dedup(top.get("dedup")),
        objective=config.parse_objective(top.get("objective")),
        solver=config.parse_solver(top.get("solver")),
        metrics=metrics,
    )


def _horizon(raw: Any) -> tuple[dt.date, int]:
    horizon = config.expect_mapping(raw, "horizon")
    config.check_keys(horizon, {"start", "days"}, "horizon")
    if "start" not in horizon or "days" not in horizon:
        raise config.fail("horizon", "expected {start: YYYY-MM-DD, days: N}")
    start = config.parse_date(horizon["start"], "horizon.start")
    days = config.parse_int(horizon["days"], "horizon.days", minimum=1)
    return start, days


def _channel_list(text: str) -> list[str]:
    return [part.strip() for part in text.split("|") if part.strip()]


def _check_lists(
    raw: RawTable, lists: pd.Series, column: str, problem: Callable[[list[str]], str | None]
) -> None:
    """Check a column of channel lists once per distinct list (a million rows hold a few
    dozen), and raise at the first row whose list has a problem."""
    codes, values = pd.factorize(lists)
    problems = [problem(_channel_list(str(text))) for text in values]
    bad = np.array([found is not None for found in problems], dtype=bool)
    if bad.any():
        position = int(np.flatnonzero(bad[codes])[0])
        raise fail_row(raw, position, column, str(problems[codes[position]]))


def _customers(raw: RawTable, channels: dict[str, Channel]) -> pd.DataFrame:
    schema_columns = list(CUSTOMERS.columns) + [
        Column(f"consent_{name}", "bool", required=False, default=False) for name in channels
    ]
    customers = typed_table(raw, TableSchema("customers", tuple(schema_columns), key="customer_id"))

    def unknown(parts: list[str]) -> str | None:
        wrong = [channel for channel in parts if channel not in channels]
        return f"unknown channel {wrong[0]!r}" if wrong else None

    _check_lists(raw, customers["preferred_channels"], "preferred_channels", unknown)
    return customers


def _check_priorities(raw: RawTable, communications: pd.DataFrame) -> None:
    bad = np.flatnonzero((communications["priority"] < 1).to_numpy())
    if len(bad):
        raise fail_row(raw, int(bad[0]), "priority", "expected an integer >= 1")
    bad = np.flatnonzero((communications["cost"] < 0).to_numpy())
    if len(bad):
        raise fail_row(raw, int(bad[0]), "cost", "expected a cost >= 0")


def _candidates(
    raw: RawTable,
    customers: pd.DataFrame,
    communications: pd.DataFrame,
    channels: dict[str, Channel],
    start: dt.date,
) -> pd.DataFrame:
    candidates = typed_table(raw, CANDIDATES)
    check_reference(raw, candidates, "customer_id", customers["customer_id"], "customer_id")
    check_reference(raw, candidates, "comm_id", communications["comm_id"], "comm_id")

    def problem(parts: list[str]) -> str | None:
        if not parts:
            return "expected at least one channel"
        wrong = [channel for channel in parts if channel not in channels]
        if wrong:
            return f"unknown channel {wrong[0]!r} (expected one of {sorted(channels)})"
        return None

    _check_lists(raw, candidates["channels"], "channels", problem)
    candidates["earliest_day"] = _offsets(candidates["earliest"], start)
    candidates["latest_day"] = _offsets(candidates["latest"], start)
    reversed_rows = np.flatnonzero(
        (candidates["earliest_day"] > candidates["latest_day"]).to_numpy()
    )
    if len(reversed_rows):
        raise fail_row(
            raw, int(reversed_rows[0]), "latest", "expected a date on or after 'earliest'"
        )
    return candidates


def _offsets(dates: pd.Series, start: dt.date) -> pd.Series:
    """Day offsets from the horizon start of a date column without missing dates."""
    days = pc.cast(arrow_column(dates), pa.int32()).to_numpy()  # days since 1970-01-01
    offsets = np.subtract(days, (start - EPOCH).days, dtype=np.int64)
    return pd.Series(offsets, index=dates.index, copy=False)


def _history(
    folder: Path,
    spec: object,
    customers: pd.DataFrame,
    communications: pd.DataFrame,
    channels: dict[str, Channel],
    start: dt.date,
) -> pd.DataFrame:
    if spec is None:
        return _empty(customer_id="str", comm_id="str", channel="str", date=DATE_DTYPE, day="int64")
    raw = read_raw(folder, spec, "history")
    history = typed_table(raw, HISTORY)
    check_reference(raw, history, "customer_id", customers["customer_id"], "customer_id")
    check_reference(raw, history, "comm_id", communications["comm_id"], "comm_id")
    check_reference(raw, history, "channel", channels, "channel")
    history["day"] = _offsets(history["date"], start)
    late = np.flatnonzero((history["day"] >= 0).to_numpy())
    if len(late):
        raise fail_row(raw, int(late[0]), "date", f"expected a date before the horizon ({start})")
    return history


def _states(folder: Path, spec: object, customers: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    if spec is None:
        return _empty(customer_id="str", state="str", start=DATE_DTYPE, end=DATE_DTYPE,
                      start_day="int64", end_day="int64")
    raw = read_raw(folder, spec, "states")
    states = typed_table(raw, STATES)
    check_reference(raw, states, "customer_id", customers["customer_id"], "customer_id")
    states["start_day"] = _offsets(states["start"], start)
    open_ended = states["end"].isna()
    ends = _offsets(states["end"].fillna(states["start"]), start)
    states["end_day"] = ends.where(~open_ended, OPEN_END).astype(np.int64)
    reversed_rows = np.flatnonzero((states["end_day"] < states["start_day"]).to_numpy())
    if len(reversed_rows):
        raise fail_row(raw, int(reversed_rows[0]), "end", "expected a date on or after 'start'")
    return states


def _empty(**dtypes: str | pd.api.extensions.ExtensionDtype) -> pd.DataFrame:
    """A table with no rows but the dtypes a loaded one has."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})
