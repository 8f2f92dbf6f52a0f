"""The second opinion: re-check a written plan against its scenario, rule by rule.

`verify_plan(scenario, plan_dir)` reads a plan folder (calendar.csv,
suppressed.csv, summary.json; spec section 5) and returns one human-readable
line per violation; an empty list means the plan is verified.

This module deliberately shares no code with the optimiser: selections,
windows, weights and penalties are re-implemented here from the spec
(docs: shared/spec/scenario-format.md), so a bug in the model builder cannot
hide itself by being repeated in its own check. Only the data layer (`models`)
is shared. Every check is a small function over pandas frames:

- planned sends come from calendar.csv, joined to the scenario's candidate and
  communication rows (the plan decides day and channel; who gets which message
  is the candidate's, and a calendar row saying otherwise is itself reported);
- per-customer rules look at "events": planned sends plus history rows, which
  count exactly like planned sends (spec 1.4) but are never "the same
  candidate" as a planned send;
- day offsets from the horizon start are the unit of time (history < 0).

When a check finds many violations of one kind it lists the first
`MAX_LINES_PER_KIND` and adds one "... and N more" line, so a badly broken
plan yields a readable report rather than a hundred thousand lines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models import Scenario
from models.rules import (
    AroundExclusion,
    Budget,
    Capacity,
    CustomerExclusion,
    FrequencyCap,
    MinGap,
    NeverTogether,
    Selection,
    StateExclusion,
    Volume,
)
from models.tables import FALSE_WORDS, TRUE_WORDS

CALENDAR_COLUMNS = (
    "date",
    "customer_id",
    "channel",
    "comm_id",
    "candidate_id",
    "product_line",
    "category",
    "priority",
    "value",
    "cost",
)
SUPPRESSED_COLUMNS = (
    "candidate_id",
    "customer_id",
    "comm_id",
    "product_line",
    "reason",
    "rule",
    "detail",
)
REASONS = frozenset(
    {
        "invalid",
        "outside_horizon",
        "no_consent",
        "channel_closed",
        "exclusion",
        "duplicate",
        "frequency_cap",
        "min_gap",
        "never_together",
        "capacity",
        "budget",
        "volume",
        "no_value",
    }
)
# Reasons for which a mandatory candidate may stay unsent: the data makes it impossible
# (spec section 4), or the message is a duplicate (another copy sent, or recently in history).
DATA_REASONS = frozenset({"outside_horizon", "no_consent", "channel_closed", "duplicate"})
GOOD_STATUSES = frozenset({"OPTIMAL", "FEASIBLE"})

VALUE_REL_TOL = 1e-9  # calendar value/cost against the scenario; global-rule bounds
OBJECTIVE_REL_TOL = 1e-6  # objective figures, which sum many floats
GAP_TOL = 1e-9
MAX_LINES_PER_KIND = 25


@dataclass
class PlanFiles:
    """The three files of a plan folder, ids and all cells read as text."""

    calendar: pd.DataFrame
    suppressed: pd.DataFrame
    summary: dict[str, Any]


# --------------------------------------------------------------------------- entry point


def verify_plan(scenario: Scenario, plan_dir: Path) -> list[str]:
    """Re-check a plan folder against its scenario; one line per violation, [] if verified."""
    problems, plan = check_files(Path(plan_dir))
    if plan is None:
        return problems
    problems += check_status(plan.summary)
    problems += check_accounting(scenario, plan)
    problems += check_calendar_rows(scenario, plan.calendar)
    problems += check_suppressed_rows(scenario, plan.suppressed)
    sends = planned_sends(scenario, plan.calendar)
    problems += check_send_dates_and_channels(scenario, plan.calendar, sends)
    problems += check_suppression_reasons(scenario, plan, sends)
    problems += check_mandatory(scenario, plan.suppressed)

    events = customer_events(scenario, sends)
    for rule in scenario.customer_rules:
        if isinstance(rule, FrequencyCap):
            problems += check_frequency_cap(scenario, rule, events)
        elif isinstance(rule, NeverTogether):
            problems += check_never_together(scenario, rule, events)
        elif isinstance(rule, MinGap):
            problems += check_min_gap(scenario, rule, events)
        elif isinstance(rule, StateExclusion):
            problems += check_state_exclusion(scenario, rule, events)
        elif isinstance(rule, CustomerExclusion):
            problems += check_customer_exclusion(scenario, rule, events)
        elif isinstance(rule, AroundExclusion):
            problems += check_around_exclusion(scenario, rule, events)
    problems += check_dedup(scenario, events)

    penalties: dict[int, float] = {}
    for rule in scenario.global_rules:
        assert isinstance(rule, (Capacity, Budget, Volume))
        lines, penalty = check_global_rule(scenario, rule, sends, plan.summary)
        problems += lines
        if rule.soft is not None:
            penalties[rule.soft.tier] = penalties.get(rule.soft.tier, 0.0) + penalty
    problems += check_objective(scenario, sends, penalties, plan.summary)
    return problems


# --------------------------------------------------------------------------- 1. files


def check_files(plan_dir: Path) -> tuple[list[str], PlanFiles | None]:
    """The folder holds summary.json, calendar.csv and suppressed.csv with the spec's columns.

    Returns the problems and the loaded files (None when the plan cannot be read at all,
    e.g. a folder holding only the summary of an INFEASIBLE run).
    """
    problems: list[str] = []
    summary: dict[str, Any] = {}
    summary_path = plan_dir / "summary.json"
    if not summary_path.is_file():
        problems.append(f"summary.json is missing from {plan_dir}")
    else:
        try:
            loaded = json.loads(summary_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"summary.json is not valid JSON: {exc}")
        else:
            if isinstance(loaded, dict):
                summary = loaded
            else:
                problems.append("summary.json is not a JSON object")
    if not (plan_dir / "calendar.csv").is_file():
        status = summary.get("status", "unknown")
        problems.append(f"plan has no calendar (calendar.csv missing; summary status {status})")
        return problems, None
    tables = {}
    for name, columns in (("calendar", CALENDAR_COLUMNS), ("suppressed", SUPPRESSED_COLUMNS)):
        path = plan_dir / f"{name}.csv"
        if not path.is_file():
            problems.append(f"{name}.csv is missing from {plan_dir}")
            continue
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            problems.append(f"{name}.csv cannot be read: {exc}")
            continue
        missing = [c for c in columns if c not in table.columns]
        if missing:
            problems.append(f"{name}.csv lacks column(s) {', '.join(missing)}")
            continue
        tables[name] = table
    if problems:
        return problems, None
    calendar = tables["calendar"]
    order = list(zip(calendar["date"], calendar["customer_id"], strict=True))
    if order != sorted(order):
        problems.append("calendar.csv is not sorted by date, customer_id")
    return problems, PlanFiles(calendar, tables["suppressed"], summary)


def check_status(summary: dict[str, Any]) -> list[str]:
    """A plan with a calendar must come from an OPTIMAL or FEASIBLE run."""
    status = summary.get("status")
    if status not in GOOD_STATUSES:
        return [f"summary status is {status!r}, expected OPTIMAL or FEASIBLE"]
    return []


# --------------------------------------------------------------------------- 2. accounting


def check_accounting(scenario: Scenario, plan: PlanFiles) -> list[str]:
    """Every candidate appears exactly once across calendar and suppressed; no unknown ids."""
    known = set(scenario.candidates["candidate_id"])
    in_calendar = plan.calendar["candidate_id"].value_counts()
    in_suppressed = plan.suppressed["candidate_id"].value_counts()
    seen = in_calendar.add(in_suppressed, fill_value=0).astype(int)

    unknown = sorted(set(seen.index) - known)
    twice = sorted(seen.index[(seen > 1).to_numpy() & seen.index.isin(list(known))])
    missing = sorted(known - set(seen.index))
    lines = _report(
        "unknown candidates",
        unknown,
        lambda c: f"candidate {c!r} is in the plan but not in the scenario",
    )
    lines += _report(
        "repeated candidates",
        twice,
        lambda c: (
            f"candidate {c!r} appears {seen[c]} times (calendar {int(in_calendar.get(c, 0))}, "
            f"suppressed {int(in_suppressed.get(c, 0))}); expected exactly once"
        ),
    )
    lines += _report(
        "missing candidates",
        missing,
        lambda c: f"candidate {c!r} is missing: neither in calendar.csv nor in suppressed.csv",
    )
    return lines


def check_calendar_rows(scenario: Scenario, calendar: pd.DataFrame) -> list[str]:
    """Each calendar row repeats its candidate's facts and costs channel cost + comm cost."""
    rows = _with_candidate_facts(scenario, calendar)
    lines: list[str] = []
    for column in ("customer_id", "comm_id", "product_line", "category"):
        lines += _field_mismatches("calendar", rows, column)
    priority = pd.to_numeric(rows["priority"], errors="coerce")
    bad = rows[~(priority == rows["true_priority"])]
    lines += _report(
        "calendar priority",
        list(bad.itertuples(index=False)),
        lambda r: (
            f"calendar row of candidate {r.candidate_id!r}: priority is {r.priority!r}, "
            f"the scenario says {r.true_priority}"
        ),
    )
    value = pd.to_numeric(rows["value"], errors="coerce").to_numpy(float)
    bad = rows[~_close(value, rows["true_value"].to_numpy(float), VALUE_REL_TOL)]
    lines += _report(
        "calendar value",
        list(bad.itertuples(index=False)),
        lambda r: (
            f"calendar row of candidate {r.candidate_id!r}: value is {r.value!r}, "
            f"the scenario says {r.true_value!r}"
        ),
    )
    declared = rows["channel"].isin(list(scenario.channels)).to_numpy()
    cost = pd.to_numeric(rows["cost"], errors="coerce").to_numpy(float)
    wrong_cost = declared & ~_close(cost, rows["true_cost"].to_numpy(float), VALUE_REL_TOL)
    lines += _report(
        "calendar cost",
        list(rows[wrong_cost].itertuples(index=False)),
        lambda r: (
            f"calendar row of candidate {r.candidate_id!r}: cost is {r.cost!r}, expected "
            f"{r.true_cost!r} (channel {r.channel} + communication {r.true_comm_id})"
        ),
    )
    return lines


def check_suppressed_rows(scenario: Scenario, suppressed: pd.DataFrame) -> list[str]:
    """Each suppressed row repeats its candidate's customer, comm and product line."""
    rows = _with_candidate_facts(scenario, suppressed)
    lines: list[str] = []
    for column in ("customer_id", "comm_id", "product_line"):
        lines += _field_mismatches("suppressed", rows, column)
    return lines


def _field_mismatches(table: str, rows: pd.DataFrame, column: str) -> list[str]:
    """Rows whose `column` differs from the scenario's `true_<column>`."""
    bad = rows[rows[column] != rows[f"true_{column}"]]
    mismatches = list(zip(bad["candidate_id"], bad[column], bad[f"true_{column}"], strict=True))
    return _report(
        f"{table} {column}",
        mismatches,
        lambda m: (
            f"{table} row of candidate {m[0]!r}: {column} is {m[1]!r}, the scenario says {m[2]!r}"
        ),
    )


def _with_candidate_facts(scenario: Scenario, table: pd.DataFrame) -> pd.DataFrame:
    """Plan rows of known candidates, with the scenario's facts as `true_*` columns."""
    facts = _candidate_facts(scenario)
    rows = table.merge(facts, on="candidate_id", how="inner")
    channel_cost = (
        rows["channel"]
        .map({name: spec.cost for name, spec in scenario.channels.items()})
        .astype(float)
        if "channel" in rows
        else 0.0
    )
    rows["true_cost"] = channel_cost + rows["true_comm_cost"]
    return rows


def _candidate_facts(scenario: Scenario) -> pd.DataFrame:
    """candidate_id -> customer, comm, product line, category, priority, value, comm cost."""
    cands = scenario.candidates
    comms = scenario.communications.set_index("comm_id")
    return pd.DataFrame(
        {
            "candidate_id": cands["candidate_id"].astype(str),
            "true_customer_id": cands["customer_id"].astype(str),
            "true_comm_id": cands["comm_id"].astype(str),
            "true_product_line": cands["comm_id"].map(comms["product_line"]).astype(str),
            "true_category": cands["comm_id"].map(comms["category"]).astype(str),
            "true_priority": cands["comm_id"].map(comms["priority"]).astype(np.int64),
            "true_value": cands["value"].astype(float),
            "true_comm_cost": cands["comm_id"].map(comms["cost"]).astype(float),
        }
    )


# --------------------------------------------------------------------------- planned sends


def planned_sends(scenario: Scenario, calendar: pd.DataFrame) -> pd.DataFrame:
    """The calendar's sends of known candidates with a readable date, as scenario facts.

    Columns: candidate_id, customer_id, comm_id (the candidate's), channel, day, date,
    value (the candidate's), cost (channel cost + comm cost, recomputed), the comm's
    product_line, category, priority, tags, dedup_key, and one `metric:<name>` column per
    numeric candidates column (prefixed so that a metric can never shadow a send field).
    Rows with an unknown candidate or an unreadable date are reported by other checks.
    """
    cands = scenario.candidates
    metric_columns = [m for m in scenario.metrics if m not in ("count", "cost")]
    base = cands[["candidate_id", "customer_id", "comm_id", "value"]].assign(
        **{f"metric:{m}": cands[m].astype(float) for m in metric_columns}
    )
    rows = calendar[["candidate_id", "channel", "date"]].merge(base, on="candidate_id")
    rows["day"] = _day_offsets(scenario, rows["date"])
    rows = rows[rows["day"].notna()].copy()
    rows["day"] = rows["day"].astype(np.int64)
    rows = _with_comm_facts(scenario, rows)
    channel_cost = (
        rows["channel"]
        .map({name: spec.cost for name, spec in scenario.channels.items()})
        .fillna(0.0)
    )
    rows["cost"] = channel_cost.astype(float) + rows["comm_cost"].astype(float)
    rows["value"] = rows["value"].astype(float)
    return rows.reset_index(drop=True)


def customer_events(scenario: Scenario, sends: pd.DataFrame) -> pd.DataFrame:
    """Planned sends and history rows in one frame: what per-customer rules count.

    `planned` tells them apart; every history row gets its own pseudo candidate id so it
    is always "another send" than any planned one.
    """
    history = scenario.history
    past = pd.DataFrame(
        {
            "candidate_id": [f"history#{i}" for i in range(len(history))],
            "customer_id": history["customer_id"].astype(str).to_numpy(),
            "comm_id": history["comm_id"].astype(str).to_numpy(),
            "channel": history["channel"].astype(str).to_numpy(),
            "day": history["day"].astype(np.int64).to_numpy(),
        }
    )
    past = _with_comm_facts(scenario, past)
    columns = [
        "candidate_id",
        "customer_id",
        "comm_id",
        "channel",
        "day",
        "product_line",
        "category",
        "priority",
        "tags",
        "dedup_key",
    ]
    planned = sends[columns].assign(planned=True)
    events = pd.concat([planned, past[columns].assign(planned=False)], ignore_index=True)
    events["day"] = events["day"].astype(np.int64)
    events["planned"] = events["planned"].astype(bool)
    return events


def _with_comm_facts(scenario: Scenario, rows: pd.DataFrame) -> pd.DataFrame:
    comms = scenario.communications.set_index("comm_id")
    rows = rows.copy()
    rows["product_line"] = rows["comm_id"].map(comms["product_line"]).astype(str)
    rows["category"] = rows["comm_id"].map(comms["category"]).astype(str)
    rows["priority"] = rows["comm_id"].map(comms["priority"]).astype(np.int64)
    rows["tags"] = rows["comm_id"].map(comms["tags"]).fillna("").astype(str)
    rows["dedup_key"] = rows["comm_id"].map(comms["dedup_key"]).fillna("").astype(str)
    rows["comm_cost"] = rows["comm_id"].map(comms["cost"]).astype(float)
    return rows


def _day_offsets(scenario: Scenario, dates: pd.Series) -> pd.Series:
    """ISO dates -> day offsets from the horizon start (NaN where unreadable)."""
    stamps = pd.to_datetime(dates.astype(str), format="%Y-%m-%d", errors="coerce")
    return (stamps - pd.Timestamp(scenario.start)).dt.days


# --------------------------------------------------------------------------- 3. each send


def check_send_dates_and_channels(
    scenario: Scenario, calendar: pd.DataFrame, sends: pd.DataFrame
) -> list[str]:
    """Each send: a real date in the horizon and in its window, on an allowed, declared,
    consented channel that is open that day."""
    lines: list[str] = []
    unreadable = calendar[_day_offsets(scenario, calendar["date"]).isna()]
    lines += _report(
        "unreadable dates",
        list(unreadable.itertuples(index=False)),
        lambda r: f"calendar row of candidate {r.candidate_id!r}: date {r.date!r} is not ISO",
    )
    rows = sends.merge(
        scenario.candidates[["candidate_id", "channels", "earliest_day", "latest_day"]],
        on="candidate_id",
    )
    outside = rows[(rows["day"] < 0) | (rows["day"] >= scenario.days)]
    lines += _report(
        "outside horizon",
        list(outside.itertuples(index=False)),
        lambda r: (
            f"send of candidate {r.candidate_id!r} on {r.date} is outside the horizon "
            f"{scenario.start}..{scenario.end}"
        ),
    )
    early_late = rows[(rows["day"] < rows["earliest_day"]) | (rows["day"] > rows["latest_day"])]
    lines += _report(
        "outside window",
        list(early_late.itertuples(index=False)),
        lambda r: (
            f"send of candidate {r.candidate_id!r} on {r.date} is outside its window "
            f"{scenario.date_of(r.earliest_day)}..{scenario.date_of(r.latest_day)}"
        ),
    )
    allowed = [
        channel in {part.strip() for part in text.split("|")}
        for channel, text in zip(rows["channel"], rows["channels"], strict=True)
    ]
    not_allowed = rows[~np.array(allowed, dtype=bool)]
    lines += _report(
        "channel not allowed",
        list(not_allowed.itertuples(index=False)),
        lambda r: (
            f"send of candidate {r.candidate_id!r} uses channel {r.channel!r}, not one of its "
            f"channels {r.channels!r}"
        ),
    )
    undeclared = rows[~rows["channel"].isin(list(scenario.channels))]
    lines += _report(
        "undeclared channel",
        list(undeclared.itertuples(index=False)),
        lambda r: (
            f"send of candidate {r.candidate_id!r} uses channel {r.channel!r}, which the "
            f"scenario does not declare"
        ),
    )
    declared = rows[rows["channel"].isin(list(scenario.channels))]
    consent = _consent_lookup(scenario, declared["customer_id"], declared["channel"])
    lines += _report(
        "no consent",
        list(declared[~consent].itertuples(index=False)),
        lambda r: (
            f"send of candidate {r.candidate_id!r} on {r.channel} but customer "
            f"{r.customer_id!r} has no consent for {r.channel}"
        ),
    )
    closed_days = {name: scenario.closed_days(name) for name in scenario.channels}
    closed = np.array(
        [
            day in closed_days[channel]
            for channel, day in zip(declared["channel"], declared["day"], strict=True)
        ],
        dtype=bool,
    )
    lines += _report(
        "closed channel",
        list(declared[closed].itertuples(index=False)),
        lambda r: (
            f"send of candidate {r.candidate_id!r} on {r.channel} on {r.date}, a day the "
            f"channel is closed"
        ),
    )
    return lines


def _consent_lookup(scenario: Scenario, customers: pd.Series, channels: pd.Series) -> np.ndarray:
    """Whether each (customer, channel) pair has consent; a missing column means no."""
    table = scenario.customers.set_index("customer_id")
    result = np.zeros(len(customers), dtype=bool)
    channel_values = channels.to_numpy()
    customer_values = customers.to_numpy()
    for channel in pd.unique(channel_values):
        column = f"consent_{channel}"
        if column not in table.columns:
            continue
        pick = channel_values == channel
        flags = pd.Series(customer_values[pick]).map(table[column].astype(bool))
        result[pick] = flags.fillna(False).to_numpy(bool)
    return result


# --------------------------------------------------------------------------- 4. reasons


def check_suppression_reasons(
    scenario: Scenario, plan: PlanFiles, sends: pd.DataFrame
) -> list[str]:
    """Reasons come from the spec's vocabulary, and data reasons are true of the data.

    outside_horizon: the window misses the horizon. no_consent: no allowed channel has
    consent. channel_closed: every consented allowed channel is closed on every day of the
    clipped window. duplicate: dedup is on and either another candidate of the same
    customer and message is in the calendar, or a history send of the message is recent
    enough to block the last sendable day of the window.
    """
    suppressed = plan.suppressed
    lines = _report(
        "unknown reasons",
        list(suppressed[~suppressed["reason"].isin(REASONS)].itertuples()),
        lambda r: (
            f"candidate {r.candidate_id!r} is suppressed for {r.reason!r}, which is not a "
            f"reason of the spec ({', '.join(sorted(REASONS))})"
        ),
    )
    facts = candidate_reachability(scenario)
    rows = suppressed[["candidate_id", "reason"]].merge(facts, on="candidate_id")
    false_claims = {
        "outside_horizon": rows["in_horizon"],
        "no_consent": rows["consented"],
        "channel_closed": rows["open"],
    }
    for reason, wrong_if in false_claims.items():
        bad = rows[(rows["reason"] == reason) & wrong_if]
        lines += _report(
            f"false {reason}",
            list(bad.itertuples(index=False)),
            lambda r: (
                f"candidate {r.candidate_id!r} is suppressed for {r.reason} "
                f"but {_reachability_text(r)}"
            ),
        )
    duplicates = rows[rows["reason"] == "duplicate"]
    if len(duplicates):
        real = _duplicate_is_real(scenario, duplicates, sends)
        lines += _report(
            "false duplicate",
            list(duplicates[~real].itertuples(index=False)),
            lambda r: (
                f"candidate {r.candidate_id!r} is suppressed as a duplicate but "
                + (
                    "dedup is off"
                    if not scenario.dedup.enabled
                    else "no other copy of its message is planned and no recent history send of "
                    "it blocks its window"
                )
            ),
        )
    return lines


def candidate_reachability(scenario: Scenario) -> pd.DataFrame:
    """What the data alone allows, per candidate.

    Columns: candidate_id; in_horizon (the window clipped to the horizon is not empty);
    consented (some allowed, declared channel has consent); open (some consented allowed
    channel is open on some day of the clipped window); last_open_day (the latest such day,
    -1 when none).
    """
    cands = scenario.candidates
    low = np.maximum(cands["earliest_day"].to_numpy(np.int64), 0)
    high = np.minimum(cands["latest_day"].to_numpy(np.int64), scenario.days - 1)
    pairs = pd.DataFrame(
        {
            "position": np.arange(len(cands)),
            "channel": cands["channels"].astype(str).str.split("|"),
        }
    ).explode("channel")
    pairs["channel"] = pairs["channel"].astype(str).str.strip()
    pairs = pairs[pairs["channel"].isin(list(scenario.channels))].drop_duplicates()
    positions = pairs["position"].to_numpy(np.int64)
    customer = cands["customer_id"].to_numpy()[positions]
    consent = _consent_lookup(scenario, pd.Series(customer), pairs["channel"])

    last_open = np.full(len(pairs), -1, dtype=np.int64)
    channel_values = pairs["channel"].to_numpy()
    for channel in scenario.channels:
        pick = channel_values == channel
        if not pick.any():
            continue
        # latest open day at or before each horizon day, -1 if none yet
        closed = scenario.closed_days(channel)
        latest = np.full(scenario.days, -1, dtype=np.int64)
        running = -1
        for day in range(scenario.days):
            if day not in closed:
                running = day
            latest[day] = running
        window_high = high[positions[pick]]
        window_low = low[positions[pick]]
        found = latest[np.clip(window_high, 0, scenario.days - 1)]
        usable = (window_low <= window_high) & (found >= window_low)
        last_open[pick] = np.where(usable, found, -1)
    last_open = np.where(consent, last_open, -1)

    per_candidate = (
        pd.DataFrame({"position": positions, "consent": consent, "last_open": last_open})
        .groupby("position")
        .max()
    )
    consented = per_candidate["consent"].reindex(range(len(cands)), fill_value=False)
    best = per_candidate["last_open"].reindex(range(len(cands)), fill_value=-1)
    return pd.DataFrame(
        {
            "candidate_id": cands["candidate_id"].astype(str),
            "in_horizon": low <= high,
            "consented": consented.to_numpy(bool),
            "open": best.to_numpy(np.int64) >= 0,
            "last_open_day": best.to_numpy(np.int64),
        }
    )


def _reachability_text(row: Any) -> str:
    if not row.in_horizon:
        return "its window is outside the horizon"
    if not row.consented:
        return "its window is in the horizon, though no allowed channel has consent"
    if not row.open:
        return "a consented channel exists, though every one is closed throughout its window"
    return "its window is in the horizon and a consented channel is open in it"


def _duplicate_is_real(
    scenario: Scenario, duplicates: pd.DataFrame, sends: pd.DataFrame
) -> np.ndarray:
    """Whether each 'duplicate' suppression is explained by a planned copy or recent history."""
    if not scenario.dedup.enabled:
        return np.zeros(len(duplicates), dtype=bool)
    message = _message_of(scenario)
    cands = scenario.candidates.set_index("candidate_id")
    customer = duplicates["candidate_id"].map(cands["customer_id"]).astype(str)
    keys = customer + "\x1f" + duplicates["candidate_id"].map(cands["comm_id"]).map(message)

    planned_keys = sends["customer_id"] + "\x1f" + sends["comm_id"].map(message)
    planned_by_key: dict[str, set[str]] = {}
    for key, candidate in zip(planned_keys, sends["candidate_id"], strict=True):
        planned_by_key.setdefault(key, set()).add(candidate)
    history = scenario.history
    history_keys = (
        history["customer_id"].astype(str) + "\x1f" + history["comm_id"].astype(str).map(message)
    )
    last_history = pd.Series(history["day"].to_numpy(np.int64), index=history_keys.to_numpy())
    last_history = last_history.groupby(level=0).max()

    real = []
    for key, candidate, last_open, reachable in zip(
        keys,
        duplicates["candidate_id"],
        duplicates["last_open_day"],
        duplicates["open"],
        strict=True,
    ):
        other_copy = bool(planned_by_key.get(key, set()) - {candidate})
        recent = key in last_history.index and (
            not reachable or last_open - int(last_history[key]) < scenario.dedup.window_days
        )
        real.append(other_copy or recent)
    return np.array(real, dtype=bool)


# --------------------------------------------------------------------------- 8. mandatory


def check_mandatory(scenario: Scenario, suppressed: pd.DataFrame) -> list[str]:
    """A mandatory candidate is sent unless the data makes it impossible (or a duplicate).

    Candidates missing from the plan altogether are reported by check_accounting; the
    truth of the data reasons by check_suppression_reasons.
    """
    comms = scenario.communications.set_index("comm_id")
    mandatory = scenario.candidates["comm_id"].map(comms["mandatory"]).astype(bool)
    mandatory_ids = set(scenario.candidates.loc[mandatory.to_numpy(), "candidate_id"])
    rows = suppressed[
        suppressed["candidate_id"].isin(mandatory_ids) & ~suppressed["reason"].isin(DATA_REASONS)
    ]
    return _report(
        "mandatory suppressed",
        list(rows.itertuples(index=False)),
        lambda r: (
            f"mandatory candidate {r.candidate_id!r} of customer {r.customer_id!r} is "
            f"suppressed for {r.reason}"
            + (f" (rule {r.rule!r})" if r.rule else "")
            + "; only outside_horizon, no_consent, channel_closed or duplicate may stop it"
        ),
    )


# --------------------------------------------------------------------------- selections


def selection_mask(scenario: Scenario, selection: Selection, events: pd.DataFrame) -> np.ndarray:
    """Which events (planned or history) a selection picks; every given key narrows."""
    mask = np.ones(len(events), dtype=bool)
    comms = scenario.communications
    comm_ok = np.ones(len(comms), dtype=bool)
    if selection.categories is not None:
        comm_ok &= comms["category"].isin(selection.categories).to_numpy()
    if selection.product_lines is not None:
        comm_ok &= comms["product_line"].isin(selection.product_lines).to_numpy()
    if selection.comm_ids is not None:
        comm_ok &= comms["comm_id"].isin(selection.comm_ids).to_numpy()
    if selection.priorities is not None:
        comm_ok &= comms["priority"].isin(selection.priorities).to_numpy()
    if selection.tags is not None:
        wanted = set(selection.tags)
        comm_ok &= np.array(
            [
                bool(wanted & {tag.strip() for tag in str(text).split("|")})
                for text in comms["tags"].fillna("")
            ],
            dtype=bool,
        )
    if not comm_ok.all():
        mask &= events["comm_id"].isin(comms["comm_id"][comm_ok]).to_numpy()
    if selection.channels is not None:
        mask &= events["channel"].isin(selection.channels).to_numpy()
    if selection.customers is not None:
        flagged = customers_matching(scenario, selection.customers)
        mask &= events["customer_id"].isin(flagged).to_numpy()
    if selection.date_from is not None:
        mask &= (events["day"] >= selection.date_from).to_numpy()
    if selection.date_to is not None:
        mask &= (events["day"] <= selection.date_to).to_numpy()
    return mask


def customers_matching(
    scenario: Scenario, wanted: tuple[tuple[str, tuple[object, ...]], ...]
) -> list[str]:
    """Ids of customers whose every named column holds one of the wanted values."""
    table = scenario.customers
    mask = np.ones(len(table), dtype=bool)
    for column, values in wanted:
        cells = table[column]
        column_ok = np.zeros(len(table), dtype=bool)
        for value in values:
            column_ok |= cell_matches(cells, value)
        mask &= column_ok
    return list(table["customer_id"][mask])


def cell_matches(cells: pd.Series, wanted: object) -> np.ndarray:
    """Customer-cell semantics: a YAML bool matches boolean words, a number matches
    numerically, anything else by text equality."""
    text = cells.astype(str).str.strip()
    if isinstance(wanted, bool):
        words = TRUE_WORDS if wanted else FALSE_WORDS
        return text.str.lower().isin(words).to_numpy(bool)
    if isinstance(wanted, (int, float)):
        return (pd.to_numeric(text, errors="coerce") == float(wanted)).to_numpy(bool)
    return (text == str(wanted)).to_numpy(bool)


# --------------------------------------------------------------------------- 5. customer rules


def check_frequency_cap(scenario: Scenario, rule: FrequencyCap, events: pd.DataFrame) -> list[str]:
    """At most `max` matching sends per rolling window, per week, or in the horizon.

    Rolling: every window of window_days consecutive days holding a planned matching send,
    history included. Week: calendar weeks Mon-Sun holding a planned send, history included.
    Horizon: planned matching sends only.
    """
    matching = events[selection_mask(scenario, rule.select, events)]
    if rule.period == "horizon":
        return _horizon_count(rule.name, "frequency_cap", rule.max, matching)
    if rule.period == "week":
        return _week_count(scenario, rule, matching)
    assert rule.window_days is not None
    return _rolling_count(
        scenario, rule.name, "frequency_cap", rule.max, rule.window_days, matching
    )


def check_never_together(
    scenario: Scenario, rule: NeverTogether, events: pd.DataFrame
) -> list[str]:
    """At most one matching send per customer in any window_days (default: the horizon)."""
    matching = events[selection_mask(scenario, rule.select, events)]
    if rule.window_days is None:
        return _horizon_count(rule.name, "never_together", 1, matching)
    return _rolling_count(scenario, rule.name, "never_together", 1, rule.window_days, matching)


def _horizon_count(name: str, kind: str, cap: int, matching: pd.DataFrame) -> list[str]:
    """Planned matching sends per customer in the whole horizon (history not counted)."""
    counts = matching[matching["planned"]].groupby("customer_id").size()
    over = counts[counts > cap]
    return _report(
        f"{kind} {name!r}",
        list(over.items()),
        lambda item: (
            f"{kind} {name!r}: customer {item[0]!r} has {item[1]} matching sends in the "
            f"horizon (max {cap})"
        ),
    )


def _week_count(scenario: Scenario, rule: FrequencyCap, matching: pd.DataFrame) -> list[str]:
    """Matching sends (history included) per customer and Mon-Sun week with a planned send."""
    monday_offset = scenario.start.weekday()  # days from the Monday of the first week
    week = (matching["day"] + monday_offset) // 7
    frame = matching.assign(week=week)
    grouped = (
        frame.groupby(["customer_id", "week"])
        .agg(total=("day", "size"), planned=("planned", "sum"))
        .reset_index()
    )
    over = grouped[(grouped["planned"] > 0) & (grouped["total"] > rule.max)]
    return _report(
        f"frequency_cap {rule.name!r}",
        list(over.itertuples(index=False)),
        lambda r: (
            f"frequency_cap {rule.name!r}: customer {r.customer_id!r} has {r.total} matching "
            f"sends ({r.planned} planned) in the week of "
            f"{scenario.date_of(r.week * 7 - monday_offset)} (max {rule.max})"
        ),
    )


def _rolling_count(
    scenario: Scenario, name: str, kind: str, cap: int, window_days: int, matching: pd.DataFrame
) -> list[str]:
    """Every window of window_days days that holds a planned send holds at most `cap`.

    The fullest window around a planned send can always be slid to start on a matching
    send, so windows starting on each matching send's day are the only ones to count.
    One line per customer: its earliest overfull window.
    """
    if not matching["planned"].any():
        return []
    group = _codes(matching["customer_id"])
    start = matching["day"].to_numpy(np.int64)
    end = start + window_days - 1
    total = _count_within(group, start, group, start, end)
    planned = matching["planned"].to_numpy(bool)
    in_plan = _count_within(group[planned], start[planned], group, start, end)
    hit = (in_plan > 0) & (total > cap)
    over = (
        pd.DataFrame(
            {
                "customer_id": matching["customer_id"].to_numpy()[hit],
                "start": start[hit],
                "total": total[hit],
                "planned": in_plan[hit],
            }
        )
        .sort_values(["customer_id", "start"])
        .drop_duplicates("customer_id")
    )
    return _report(
        f"{kind} {name!r}",
        list(over.itertuples(index=False)),
        lambda r: (
            f"{kind} {name!r}: customer {r.customer_id!r} has {r.total} matching sends "
            f"({r.planned} planned, {r.total - r.planned} history) in the {window_days} days "
            f"from {scenario.date_of(r.start)} to {scenario.date_of(r.start + window_days - 1)}"
            f" (max {cap})"
        ),
    )


def check_min_gap(scenario: Scenario, rule: MinGap, events: pd.DataFrame) -> list[str]:
    """No planned `then` send on d2 with a different `first` send (or history) on d1 such
    that 0 <= d2 - d1 < days."""
    first = events[selection_mask(scenario, rule.first, events)]
    then = events[selection_mask(scenario, rule.then, events) & events["planned"].to_numpy()]
    low = then["day"].to_numpy(np.int64) - rule.days + 1
    high = then["day"].to_numpy(np.int64)
    clash = then[_others_within(first, then, low, high)]
    shown = _reported_part(first, clash)
    return _report(
        f"min_gap {rule.name!r}",
        list(clash.itertuples(index=False)),
        lambda r: (
            f"min_gap {rule.name!r}: customer {r.customer_id!r} gets {r.comm_id} (candidate "
            f"{r.candidate_id!r}) on {scenario.date_of(r.day)}, less than {rule.days} days "
            f"after {_nearby(scenario, shown, r, r.day - rule.days + 1, r.day)}"
        ),
    )


def check_state_exclusion(
    scenario: Scenario, rule: StateExclusion, events: pd.DataFrame
) -> list[str]:
    """No planned matching send on a day the customer is in one of the rule's states."""
    sends = events[selection_mask(scenario, rule.select, events) & events["planned"].to_numpy()]
    states = scenario.states[scenario.states["state"].isin(rule.states)]
    joined = sends.merge(states[["customer_id", "state", "start_day", "end_day"]], on="customer_id")
    inside = joined[(joined["day"] >= joined["start_day"]) & (joined["day"] <= joined["end_day"])]
    inside = inside.drop_duplicates(["candidate_id", "day"])
    return _report(
        f"exclusion {rule.name!r}",
        list(inside.itertuples(index=False)),
        lambda r: (
            f"exclusion {rule.name!r}: customer {r.customer_id!r} gets {r.comm_id} (candidate "
            f"{r.candidate_id!r}) on {scenario.date_of(r.day)} while in state {r.state!r}"
        ),
    )


def check_customer_exclusion(
    scenario: Scenario, rule: CustomerExclusion, events: pd.DataFrame
) -> list[str]:
    """Customers flagged by the rule's columns get no planned matching send."""
    flagged = customers_matching(scenario, rule.customers)
    pick = (
        selection_mask(scenario, rule.select, events)
        & events["planned"].to_numpy()
        & events["customer_id"].isin(flagged).to_numpy()
    )
    flags = ", ".join(f"{column}={list(values)}" for column, values in rule.customers)
    return _report(
        f"exclusion {rule.name!r}",
        list(events[pick].itertuples(index=False)),
        lambda r: (
            f"exclusion {rule.name!r}: customer {r.customer_id!r} ({flags}) gets {r.comm_id} "
            f"(candidate {r.candidate_id!r}) on {scenario.date_of(r.day)}"
        ),
    )


def check_around_exclusion(
    scenario: Scenario, rule: AroundExclusion, events: pd.DataFrame
) -> list[str]:
    """No planned `select` send on d when another send matching `around` (planned or
    history) is on a day a with a - days_before <= d <= a + days_after."""
    around = events[selection_mask(scenario, rule.around, events)]
    sends = events[selection_mask(scenario, rule.select, events) & events["planned"].to_numpy()]
    low = sends["day"].to_numpy(np.int64) - rule.days_after
    high = sends["day"].to_numpy(np.int64) + rule.days_before
    clash = sends[_others_within(around, sends, low, high)]
    shown = _reported_part(around, clash)
    return _report(
        f"exclusion {rule.name!r}",
        list(clash.itertuples(index=False)),
        lambda r: (
            f"exclusion {rule.name!r}: customer {r.customer_id!r} gets {r.comm_id} (candidate "
            f"{r.candidate_id!r}) on {scenario.date_of(r.day)}, too close to "
            f"{_nearby(scenario, shown, r, r.day - rule.days_after, r.day + rule.days_before)}"
        ),
    )


def check_dedup(scenario: Scenario, events: pd.DataFrame) -> list[str]:
    """One planned send per customer and message, none repeating a recent history send.

    Two sends are one message when they share a comm_id or a non-empty dedup_key.
    """
    if not scenario.dedup.enabled:
        return []
    message = events["comm_id"].map(_message_of(scenario))
    key = events["customer_id"] + "\x1f" + message
    planned = events["planned"].to_numpy(bool)
    sends = events[planned].assign(key=key[planned])
    repeated = sends[sends.duplicated("key", keep=False)]
    per_key = repeated.groupby("key").agg(
        customer_id=("customer_id", "first"),
        sends=("candidate_id", "size"),
        candidates=("candidate_id", lambda ids: ", ".join(sorted(ids))),
    )
    lines = _report(
        "dedup",
        list(per_key.itertuples()),
        lambda r: (
            f"dedup: customer {r.customer_id!r} gets the message of {_message_label(r.Index)} "
            f"{r.sends} times (candidates {r.candidates})"
        ),
    )
    window = scenario.dedup.window_days
    if window > 0 and not planned.all():
        group = _codes(key)
        days = events["day"].to_numpy(np.int64)
        past = ~planned
        recent = _count_within(
            group[past], days[past], group[planned], days[planned] - window + 1, days[planned]
        )
        repeats = sends[recent > 0]
        history = _reported_part(events[past].assign(key=key[~planned]), repeats)
        lines += _report(
            "dedup history",
            list(repeats.itertuples(index=False)),
            lambda r: (
                f"dedup: customer {r.customer_id!r} gets {r.comm_id} (candidate "
                f"{r.candidate_id!r}) on {scenario.date_of(r.day)}, less than {window} days "
                f"after the same message in history: "
                + _nearby(scenario, history[history["key"] == r.key], r, r.day - window + 1, r.day)
            ),
        )
    return lines


def _message_of(scenario: Scenario) -> dict[str, str]:
    """comm_id -> message: the dedup_key when it has one, else the comm itself."""
    comms = scenario.communications
    keys = comms["dedup_key"].fillna("").astype(str).str.strip()
    ids = comms["comm_id"].astype(str)
    message = np.where(keys != "", "key:" + keys, "comm:" + ids)
    return dict(zip(ids, message, strict=True))


def _message_label(key: str) -> str:
    """'C1\x1fkey:offer' -> "dedup_key 'offer'"; 'C1\x1fcomm:NEWS' -> "comm 'NEWS'"."""
    message = key.split("\x1f", 1)[1]
    kind, _, name = message.partition(":")
    return f"dedup_key {name!r}" if kind == "key" else f"comm {name!r}"


# --------------------------------------------------------------------------- window arithmetic


def _codes(keys: pd.Series) -> np.ndarray:
    """Integer codes for string keys (customer, or customer+message)."""
    codes, _ = pd.factorize(keys.to_numpy())
    return codes.astype(np.int64)


def _count_within(
    ref_group: np.ndarray,
    ref_day: np.ndarray,
    query_group: np.ndarray,
    query_low: np.ndarray,
    query_high: np.ndarray,
) -> np.ndarray:
    """For each query, how many reference events share its group and have low <= day <= high.

    Events are sorted once by (group, day) encoded as one integer, then each query is two
    binary searches; this is what keeps rolling windows linear-ish over 100k sends.
    """
    if len(query_group) == 0 or len(ref_group) == 0:
        return np.zeros(len(query_group), dtype=np.int64)
    base = min(int(ref_day.min()), int(query_low.min()))
    top = max(int(ref_day.max()), int(query_high.max()))
    span = top - base + 1
    ref_key = np.sort(ref_group * span + (ref_day - base))
    low_key = query_group * span + (query_low - base)
    high_key = query_group * span + (query_high - base)
    counts = np.searchsorted(ref_key, high_key, "right") - np.searchsorted(ref_key, low_key, "left")
    return np.maximum(counts, 0).astype(np.int64)


def _others_within(
    ref: pd.DataFrame, query: pd.DataFrame, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """For each query send: is there a reference send of the same customer, of a different
    candidate, on a day in [low, high]?"""
    if len(query) == 0 or len(ref) == 0:
        return np.zeros(len(query), dtype=bool)
    customers = _codes(pd.concat([ref["customer_id"], query["customer_id"]], ignore_index=True))
    candidates = _codes(pd.concat([ref["candidate_id"], query["candidate_id"]], ignore_index=True))
    n = len(ref)
    ref_day = ref["day"].to_numpy(np.int64)
    every = _count_within(customers[:n], ref_day, customers[n:], low, high)
    same = _count_within(candidates[:n], ref_day, candidates[n:], low, high)
    return (every - same) > 0


def _reported_part(ref: pd.DataFrame, violations: pd.DataFrame) -> pd.DataFrame:
    """The sends of `ref` of the customers whose violations will be listed (for _nearby)."""
    customers = violations["customer_id"].head(MAX_LINES_PER_KIND)
    return ref[ref["customer_id"].isin(customers)]


def _nearby(scenario: Scenario, ref: pd.DataFrame, row: Any, low: int, high: int) -> str:
    """Describe one send of `ref` that conflicts with `row` (for a report line)."""
    near = ref[
        (ref["customer_id"] == row.customer_id)
        & (ref["candidate_id"] != row.candidate_id)
        & (ref["day"] >= low)
        & (ref["day"] <= high)
    ]
    if near.empty:
        return "another send"
    other = near.iloc[0]
    origin = f"candidate {other['candidate_id']!r}" if other["planned"] else "history"
    return f"{other['comm_id']} ({origin}) on {scenario.date_of(int(other['day']))}"


# --------------------------------------------------------------------------- 6. global rules


def check_global_rule(
    scenario: Scenario,
    rule: Capacity | Budget | Volume,
    sends: pd.DataFrame,
    summary: dict[str, Any],
) -> tuple[list[str], float]:
    """A hard rule's bounds hold (1e-9 relative slack); a soft rule's penalty is computed.

    Capacity counts sends per day (or in the horizon), budget sums cost, volume sums its
    metric. Violation = amount beyond the bounds (summed over days for a daily capacity);
    penalty = soft.penalty x violation. The summary's own figures for the rule must agree.
    Returns the problems and the penalty (0 for a hard rule).
    """
    mask = selection_mask(scenario, rule.select, sends)
    low: float | None
    high: float | None
    if isinstance(rule, Capacity):
        kind, low, high, metric = "capacity", None, rule.max, "count"
    elif isinstance(rule, Budget):
        kind, low, high, metric = "budget", None, rule.max, "cost"
    else:
        kind, low, high, metric = "volume", rule.min, rule.max, rule.metric
    if metric == "count":
        amounts = np.ones(len(sends))
    elif metric == "cost":
        amounts = sends["cost"].to_numpy(float)
    else:
        amounts = sends[f"metric:{metric}"].to_numpy(float)
    amounts = np.where(mask, amounts, 0.0)

    lines: list[str] = []
    usage: float | dict[str, float]
    if isinstance(rule, Capacity) and rule.per == "day":
        per_day = pd.Series(amounts).groupby(sends["day"].to_numpy()).sum()
        usage = {
            scenario.date_of(day).isoformat(): float(per_day.get(day, 0.0))
            for day in range(scenario.days)
        }
        violation = float(sum(max(0.0, used - rule.max) for used in usage.values()))
        if rule.soft is None:
            for date, used in usage.items():
                if used > rule.max + _tolerance(rule.max, VALUE_REL_TOL):
                    lines.append(
                        f"capacity {rule.name!r}: {used:g} sends on {date} (max {rule.max:g})"
                    )
    else:
        total = float(amounts.sum())
        usage = total
        violation = (max(0.0, low - total) if low is not None else 0.0) + (
            max(0.0, total - high) if high is not None else 0.0
        )
        if rule.soft is None:
            if high is not None and total > high + _tolerance(high, VALUE_REL_TOL):
                lines.append(
                    f"{kind} {rule.name!r}: {metric} total {total:.10g} is above "
                    f"the max {high:.10g}"
                )
            if low is not None and total < low - _tolerance(low, VALUE_REL_TOL):
                lines.append(
                    f"{kind} {rule.name!r}: {metric} total {total:.10g} is below the min {low:.10g}"
                )
    penalty = rule.soft.penalty * violation if rule.soft is not None else 0.0
    lines += _summary_rule_agrees(rule.name, kind, summary, usage, violation, penalty)
    return lines, penalty


def _summary_rule_agrees(
    name: str,
    kind: str,
    summary: dict[str, Any],
    usage: float | dict[str, float],
    violation: float,
    penalty: float,
) -> list[str]:
    """summary.json's global_rules entry for this rule reports the same usage and penalty."""
    entries = [
        e
        for e in summary.get("global_rules") or []
        if isinstance(e, dict) and e.get("name") == name
    ]
    if not entries:
        return [f"{kind} {name!r}: summary.json global_rules has no entry for this rule"]
    entry = entries[0]
    lines = []
    for key, expected in (("violation", violation), ("penalty", penalty)):
        got = _as_float(entry.get(key))
        if got is None or not _agrees(got, expected, OBJECTIVE_REL_TOL):
            lines.append(
                f"{kind} {name!r}: summary reports {key} {entry.get(key)!r}, "
                f"recomputed {expected:.10g}"
            )
    reported = entry.get("usage")
    if isinstance(usage, dict):
        if not isinstance(reported, dict):
            lines.append(f"{kind} {name!r}: summary usage should be per day, got {reported!r}")
        else:
            for date in sorted(set(usage) | set(reported)):
                got = _as_float(reported.get(date, 0.0))
                want = usage.get(date, 0.0)
                if got is None or not _agrees(got, want, OBJECTIVE_REL_TOL):
                    lines.append(
                        f"{kind} {name!r}: summary usage on {date} is "
                        f"{reported.get(date)!r}, recomputed {want:g}"
                    )
    else:
        got = _as_float(reported)
        if got is None or not _agrees(got, usage, OBJECTIVE_REL_TOL):
            lines.append(f"{kind} {name!r}: summary usage is {reported!r}, recomputed {usage:.10g}")
    return lines


# --------------------------------------------------------------------------- 7. objective


def channel_weights(scenario: Scenario, sends: pd.DataFrame) -> np.ndarray:
    """channel_weight of each send from its customer's ranked preferred_channels.

    No `channel_preference` key: 1.0 everywhere. Otherwise rank r (0 = first) gets
    weights[min(r, len - 1)], a channel not in the list gets `others`, and a customer
    without preferences gets 1.0 on every channel.
    """
    objective = scenario.objective
    weights = np.ones(len(sends))
    if objective.preference_weights is None or len(sends) == 0:
        return weights
    ranked = objective.preference_weights
    rank_of: dict[tuple[str, str], int] = {}
    has_preferences: set[str] = set()
    for customer, text in zip(
        scenario.customers["customer_id"],
        scenario.customers["preferred_channels"].fillna(""),
        strict=True,
    ):
        names = [part.strip() for part in str(text).split("|") if part.strip()]
        if names:
            has_preferences.add(customer)
        for position, name in enumerate(names):
            rank_of.setdefault((customer, name), position)  # a repeated channel keeps its best
    for i, (customer, channel) in enumerate(
        zip(sends["customer_id"], sends["channel"], strict=True)
    ):
        if customer not in has_preferences:
            continue
        rank = rank_of.get((customer, channel))
        if rank is None:
            weights[i] = objective.preference_others
        else:
            weights[i] = ranked[min(rank, len(ranked) - 1)]
    return weights


def check_objective(
    scenario: Scenario, sends: pd.DataFrame, penalties: dict[int, float], summary: dict[str, Any]
) -> list[str]:
    """Recompute the objective per tier and compare it, the bound and the gap with summary.json.

    Tier t = sum over sends whose comm has priority t of value x channel_weight - cost x
    cost_weight, minus the soft penalties charged in tier t.
    """
    gain = (
        sends["value"].to_numpy(float) * channel_weights(scenario, sends)
        - sends["cost"].to_numpy(float) * scenario.objective.cost_weight
    )
    per_tier = pd.Series(gain).groupby(sends["priority"].to_numpy()).sum()
    expected = {int(t): float(v) for t, v in zip(per_tier.index, per_tier.to_numpy(), strict=True)}
    for tier, penalty in penalties.items():
        expected[tier] = expected.get(tier, 0.0) - penalty
    total = float(sum(expected.values()))

    lines: list[str] = []
    objective = _as_float(summary.get("objective"))
    if objective is None:
        lines.append(f"summary objective is {summary.get('objective')!r}, expected a number")
    elif not _agrees(objective, total, OBJECTIVE_REL_TOL):
        lines.append(f"objective: summary says {objective:.10g}, recomputed {total:.10g}")

    reported = summary.get("objective_by_tier")
    if not isinstance(reported, dict):
        lines.append(f"summary objective_by_tier is {reported!r}, expected a mapping")
        reported = {}
    reported_tiers: dict[int, Any] = {}
    for key, value in reported.items():
        try:
            reported_tiers[int(key)] = value
        except ValueError:
            lines.append(f"summary objective_by_tier has a key {key!r} that is not a tier")
    for tier in sorted(set(expected) | set(reported_tiers)):
        got = _as_float(reported_tiers.get(tier, 0.0))
        want = expected.get(tier, 0.0)
        if got is None or not _agrees(got, want, OBJECTIVE_REL_TOL):
            lines.append(
                f"objective of tier {tier}: summary says "
                f"{reported_tiers.get(tier, 'nothing')!r}, recomputed {want:.10g}"
            )

    bound = _as_float(summary.get("bound"))
    gap = _as_float(summary.get("gap"))
    if bound is None:
        lines.append(f"summary bound is {summary.get('bound')!r}, expected a number")
    elif objective is not None:
        if bound < objective - _tolerance(objective, OBJECTIVE_REL_TOL):
            lines.append(f"bound {bound:.10g} is below the objective {objective:.10g}")
        expected_gap = (bound - objective) / max(1.0, abs(bound))
        if gap is None or abs(gap - expected_gap) > GAP_TOL * max(1.0, abs(expected_gap)):
            lines.append(
                f"gap: summary says {summary.get('gap')!r}, (bound - objective) / "
                f"max(1, |bound|) = {expected_gap:.12g}"
            )
    return lines


# --------------------------------------------------------------------------- small helpers


def _report(kind: str, items: Sequence[Any], describe: Callable[[Any], str]) -> list[str]:
    """One line per item, at most MAX_LINES_PER_KIND, then a count of the rest."""
    lines = [describe(item) for item in items[:MAX_LINES_PER_KIND]]
    if len(items) > MAX_LINES_PER_KIND:
        lines.append(
            f"{kind}: ... and {len(items) - MAX_LINES_PER_KIND} more like these "
            f"({len(items)} in all)"
        )
    return lines


def _tolerance(reference: float, rel: float) -> float:
    return rel * max(1.0, abs(reference))


def _agrees(got: float, expected: float, rel: float) -> bool:
    return abs(got - expected) <= _tolerance(expected, rel)


def _close(got: np.ndarray, expected: np.ndarray, rel: float) -> np.ndarray:
    """Element-wise math.isclose (NaN never close), for calendar values and costs."""
    with np.errstate(invalid="ignore"):
        diff = np.abs(got - expected)
        scale = np.maximum(np.abs(got), np.abs(expected))
        return (diff <= rel * scale) | (diff <= 1e-12)


def _as_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
