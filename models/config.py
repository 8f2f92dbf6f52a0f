"""Parse the YAML half of a scenario (channels, rules, selections, objective) strictly.

Unknown keys are errors, never silent no-ops: a misspelt `window_day` would
otherwise quietly turn a cap off. Errors name `scenario.yaml` and the key path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from models.errors import ScenarioError
from models.rules import (
    AroundExclusion,
    Budget,
    Capacity,
    Channel,
    CustomerExclusion,
    Dedup,
    FrequencyCap,
    MinGap,
    NeverTogether,
    Objective,
    Rule,
    Selection,
    Soft,
    SolverSettings,
    StateExclusion,
    Volume,
)

FILE = "scenario.yaml"
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
SELECTION_KEYS = {
    "channels",
    "categories",
    "product_lines",
    "comm_ids",
    "tags",
    "priorities",
    "customers",
    "dates",
}


def fail(path: str, message: str) -> ScenarioError:
    return ScenarioError(message, file=FILE, column=path)


def expect_mapping(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail(path, f"expected a mapping, got {value!r}")
    return value


def check_keys(mapping: Mapping[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise fail(path, f"unknown key {unknown[0]!r} (expected one of {sorted(allowed)})")


def parse_date(value: object, path: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise fail(path, f"expected an ISO date YYYY-MM-DD, got {value!r}") from None


def parse_int(value: object, path: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise fail(path, f"expected an integer, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise fail(path, f"expected an integer >= {minimum}, got {number}")
    return number


def parse_number(value: object, path: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(path, f"expected a number, got {value!r}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise fail(path, f"expected a finite number, got {value!r}")
    if minimum is not None and number < minimum:
        raise fail(path, f"expected a number >= {minimum}, got {number}")
    return number


def string_list(value: object, path: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, (dict, list)) or item is None:
            raise fail(path, f"expected a string or list of strings, got {value!r}")
        out.append(str(item).lower() if isinstance(item, bool) else str(item))
    return tuple(out)


def parse_channels(raw: object, start: dt.date, days: int) -> dict[str, Channel]:
    mapping = expect_mapping(raw, "channels")
    if not mapping:
        raise fail("channels", "at least one channel is required")
    channels = {}
    for name, spec in mapping.items():
        path = f"channels.{name}"
        spec = expect_mapping(spec, path)
        check_keys(spec, {"cost", "closed"}, path)
        weekdays: set[int] = set()
        dates: set[dt.date] = set()
        closed = spec.get("closed") or []
        for item in closed if isinstance(closed, list) else [closed]:
            key = str(item).lower()[:3]
            if isinstance(item, str) and key in WEEKDAYS and not item[:1].isdigit():
                weekdays.add(WEEKDAYS[key])
            else:
                dates.add(parse_date(item, f"{path}.closed"))
        cost = parse_number(spec.get("cost", 0.0), f"{path}.cost", minimum=0.0)
        channels[str(name)] = Channel(str(name), cost, frozenset(weekdays), frozenset(dates))
    return channels


class SelectionParser:
    """Parse selections and check every channel, comm, column and date they name."""

    def __init__(
        self,
        start: dt.date,
        days: int,
        channels: set[str],
        comm_ids: set[str],
        customer_columns: set[str],
    ) -> None:
        self.start = start
        self.days = days
        self.channels = channels
        self.comm_ids = comm_ids
        self.customer_columns = customer_columns

    def __call__(self, raw: object, path: str) -> Selection:
        mapping = expect_mapping(raw, path)
        check_keys(mapping, SELECTION_KEYS, path)
        values: dict[str, Any] = {}
        for key in ("channels", "categories", "product_lines", "comm_ids", "tags"):
            if key in mapping:
                values[key] = string_list(mapping[key], f"{path}.{key}")
        for channel in values.get("channels", ()):
            if channel not in self.channels:
                raise fail(f"{path}.channels", f"unknown channel {channel!r}")
        for comm in values.get("comm_ids", ()):
            if comm not in self.comm_ids:
                raise fail(f"{path}.comm_ids", f"unknown comm_id {comm!r}")
        if "priorities" in mapping:
            raw_priorities = mapping["priorities"]
            items = raw_priorities if isinstance(raw_priorities, list) else [raw_priorities]
            values["priorities"] = tuple(
                parse_int(p, f"{path}.priorities", minimum=1) for p in items
            )
        if "customers" in mapping:
            values["customers"] = self.customer_filter(mapping["customers"], f"{path}.customers")
        if "dates" in mapping:
            dates = expect_mapping(mapping["dates"], f"{path}.dates")
            check_keys(dates, {"from", "to"}, f"{path}.dates")
            if "from" in dates:
                values["date_from"] = self.day(dates["from"], f"{path}.dates.from")
            if "to" in dates:
                values["date_to"] = self.day(dates["to"], f"{path}.dates.to")
            low = values.get("date_from", 0)
            high = values.get("date_to", self.days - 1)
            if low > high:
                raise fail(f"{path}.dates", "'from' is after 'to'")
            if high < 0 or low > self.days - 1:
                raise fail(
                    f"{path}.dates",
                    f"window lies outside the horizon {self.start} .. "
                    f"{self.start + dt.timedelta(days=self.days - 1)}",
                )
        return Selection(**values)

    def customer_filter(self, raw: object, path: str) -> tuple[tuple[str, tuple[object, ...]], ...]:
        mapping = expect_mapping(raw, path)
        if not mapping:
            raise fail(path, "expected at least one column: value")
        out = []
        for column, wanted in mapping.items():
            if column not in self.customer_columns:
                raise fail(path, f"unknown customers column {column!r}")
            items = wanted if isinstance(wanted, list) else [wanted]
            out.append((str(column), tuple(items)))
        return tuple(out)

    def day(self, value: object, path: str) -> int:
        return (parse_date(value, path) - self.start).days


def parse_soft(raw: object, path: str) -> Soft | None:
    if raw is None:
        return None
    mapping = expect_mapping(raw, path)
    check_keys(mapping, {"penalty", "tier"}, path)
    if "penalty" not in mapping:
        raise fail(path, "soft rules need a 'penalty'")
    penalty = parse_number(mapping["penalty"], f"{path}.penalty", minimum=0.0)
    tier = parse_int(mapping.get("tier", 1), f"{path}.tier", minimum=1)
    return Soft(penalty, tier)


RuleParser = Callable[[Mapping[str, Any], str, str, SelectionParser], Rule]


def _frequency_cap(spec: Mapping[str, Any], name: str, path: str, sel: SelectionParser) -> Rule:
    check_keys(spec, {"name", "select", "max", "window_days", "period"}, path)
    if "max" not in spec:
        raise fail(path, "frequency_cap needs 'max'")
    period = spec.get("period", "rolling")
    if period not in ("rolling", "horizon", "week"):
        raise fail(f"{path}.period", f"expected horizon or week, got {period!r}")
    window = None
    if period == "rolling":
        if "window_days" not in spec:
            raise fail(path, "frequency_cap needs 'window_days' or 'period: horizon|week'")
        window = parse_int(spec["window_days"], f"{path}.window_days", minimum=1)
    elif "window_days" in spec:
        raise fail(path, "give either 'window_days' or 'period', not both")
    return FrequencyCap(
        name,
        sel(spec.get("select"), f"{path}.select"),
        parse_int(spec["max"], f"{path}.max", minimum=0),
        window,
        period,
    )


def _min_gap(spec: Mapping[str, Any], name: str, path: str, sel: SelectionParser) -> Rule:
    check_keys(spec, {"name", "first", "then", "days"}, path)
    if "days" not in spec:
        raise fail(path, "min_gap needs 'days'")
    return MinGap(
        name,
        sel(spec.get("first"), f"{path}.first"),
        sel(spec.get("then"), f"{path}.then"),
        parse_int(spec["days"], f"{path}.days", minimum=1),
    )


def _exclusion(spec: Mapping[str, Any], name: str, path: str, sel: SelectionParser) -> Rule:
    forms = [key for key in ("states", "customers", "around") if key in spec]
    if len(forms) != 1:
        raise fail(path, "exclusion needs exactly one of 'states', 'customers' or 'around'")
    select = sel(spec.get("select"), f"{path}.select")
    if forms[0] == "states":
        check_keys(spec, {"name", "select", "states"}, path)
        return StateExclusion(name, select, string_list(spec["states"], f"{path}.states"))
    if forms[0] == "customers":
        check_keys(spec, {"name", "select", "customers"}, path)
        return CustomerExclusion(
            name, select, sel.customer_filter(spec["customers"], f"{path}.customers")
        )
    check_keys(spec, {"name", "select", "around", "days_before", "days_after"}, path)
    return AroundExclusion(
        name,
        select,
        sel(spec["around"], f"{path}.around"),
        parse_int(spec.get("days_before", 0), f"{path}.days_before", minimum=0),
        parse_int(spec.get("days_after", 0), f"{path}.days_after", minimum=0),
    )


def _never_together(spec: Mapping[str, Any], name: str, path: str, sel: SelectionParser) -> Rule:
    check_keys(spec, {"name", "select", "window_days"}, path)
    window = spec.get("window_days")
    return NeverTogether(
        name,
        sel(spec.get("select"), f"{path}.select"),
        None if window is None else parse_int(window, f"{path}.window_days", minimum=1),
    )


def _capacity(spec: Mapping[str, Any], name: str, path: str, sel: SelectionParser) -> Rule:
    check_keys(spec, {"name", "select", "max", "per", "soft"}, path)
    if "max" not in spec:
        raise fail(path, "capacity needs 'max'")
    per = spec.get("per", "day")
    if per not in ("day", "horizon"):
        raise fail(f"{path}.per", f"expected day or horizon, got {per!r}")
    return Capacity(
        name,
        sel(spec.get("select"), f"{path}.select"),
        parse_number(spec["max"], f"{path}.max", minimum=0.0),
        per,
        parse_soft(spec.get("soft"), f"{path}.soft"),
    )


def _budget(spec: Mapping[str, Any], name: str, path: str, sel: SelectionParser) -> Rule:
    check_keys(spec, {"name", "select", "max", "soft"}, path)
    if "max" not in spec:
        raise fail(path, "budget needs 'max'")
    return Budget(
        name,
        sel(spec.get("select"), f"{path}.select"),
        parse_number(spec["max"], f"{path}.max", minimum=0.0),
        parse_soft(spec.get("soft"), f"{path}.soft"),
    )


def _volume(spec: Mapping[str, Any], name: str, path: str, sel: SelectionParser) -> Rule:
    check_keys(spec, {"name", "select", "min", "max", "metric", "soft"}, path)
    if "min" not in spec and "max" not in spec:
        raise fail(path, "volume needs 'min', 'max' or both")
    low = parse_number(spec["min"], f"{path}.min") if "min" in spec else None
    high = parse_number(spec["max"], f"{path}.max") if "max" in spec else None
    if low is not None and high is not None and low > high:
        raise fail(path, f"min {low} is above max {high}")
    return Volume(
        name,
        sel(spec.get("select"), f"{path}.select"),
        low,
        high,
        str(spec.get("metric", "count")),
        parse_soft(spec.get("soft"), f"{path}.soft"),
    )


RULE_PARSERS: dict[str, RuleParser] = {
    "frequency_cap": _frequency_cap,
    "min_gap": _min_gap,
    "exclusion": _exclusion,
    "never_together": _never_together,
    "capacity": _capacity,
    "budget": _budget,
    "volume": _volume,
}


def parse_rules(raw: object, sel: SelectionParser, metrics: set[str]) -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail("rules", "expected a list of rules")
    rules: list[Rule] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        path = f"rules[{index}]"
        if not isinstance(item, Mapping) or len(item) != 1:
            raise fail(path, "each rule is a one-key mapping '- <type>: {...}'")
        kind, spec = next(iter(item.items()))
        if kind not in RULE_PARSERS:
            raise fail(path, f"unknown rule type {kind!r} (expected one of {sorted(RULE_PARSERS)})")
        spec = expect_mapping(spec, f"{path}.{kind}")
        name = str(spec.get("name") or f"{kind}-{index + 1}")
        if name in names:
            raise fail(f"{path}.{kind}.name", f"duplicate rule name {name!r}")
        names.add(name)
        rule = RULE_PARSERS[kind](spec, name, f"{path}.{kind}", sel)
        if isinstance(rule, Volume) and rule.metric not in metrics:
            raise fail(
                f"{path}.{kind}.metric",
                f"unknown metric {rule.metric!r} (expected count, cost or a numeric "
                f"candidates column: {sorted(metrics - {'count', 'cost'})})",
            )
        rules.append(rule)
    return tuple(rules)


def parse_dedup(raw: object) -> Dedup:
    if raw is None:
        return Dedup()
    if raw is False or raw == "off":
        return Dedup(enabled=False)
    mapping = expect_mapping(raw, "dedup")
    check_keys(mapping, {"window_days"}, "dedup")
    return Dedup(True, parse_int(mapping.get("window_days", 30), "dedup.window_days", minimum=0))


def parse_objective(raw: object) -> Objective:
    mapping = expect_mapping(raw, "objective")
    check_keys(mapping, {"cost_weight", "channel_preference"}, "objective")
    cost_weight = parse_number(mapping.get("cost_weight", 0.0), "objective.cost_weight", 0.0)
    if "channel_preference" not in mapping:
        return Objective(cost_weight)
    pref = expect_mapping(mapping["channel_preference"], "objective.channel_preference")
    check_keys(pref, {"weights", "others"}, "objective.channel_preference")
    weights = pref.get("weights", [1.0])
    if not isinstance(weights, list) or not weights:
        raise fail("objective.channel_preference.weights", "expected a non-empty list of numbers")
    parsed = tuple(parse_number(w, "objective.channel_preference.weights", 0.0) for w in weights)
    others = parse_number(
        pref.get("others", parsed[-1]), "objective.channel_preference.others", 0.0
    )
    return Objective(cost_weight, parsed, others)


def parse_solver(raw: object) -> SolverSettings:
    mapping = expect_mapping(raw, "solver")
    check_keys(mapping, {"time_limit_s", "seed", "workers", "parameters"}, "solver")
    extra = expect_mapping(mapping.get("parameters"), "solver.parameters")
    return SolverSettings(
        parse_number(mapping.get("time_limit_s", 60.0), "solver.time_limit_s", 0.0),
        parse_int(mapping.get("seed", 0), "solver.seed", 0),
        parse_int(mapping.get("workers", 1), "solver.workers", 1),
        dict(extra),
    )
