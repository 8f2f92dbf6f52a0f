"""The second opinion: re-check a written plan against its scenario, rule by rule.

`verify_plan(scenario, plan_dir)` reads a plan folder (calendar.csv,
suppressed.csv, summary.json; spec section 5) and returns one human-readable
line per violation; an empty list means the plan is verified.

This module deliberately shares no code with the optimiser: selections,
windows, weights and penalties are re-implemented here from the spec
(docs: shared/spec/scenario-format.md), so a bug in the model builder cannot
hide itself by being repeated in its own check. Only the data layer (`models`)
is shared. The checks work on integer codes (optimiser/verify_codes.py): the
plan's ids are looked up once, then every check is a whole-array pass, so a
plan of fifteen million candidates (a million customers) verifies in well
under a minute, in a few GB.

- planned sends come from calendar.csv, joined to the scenario's candidate and
  communication rows (the plan decides day and channel; who gets which message
  is the candidate's, and a calendar row saying otherwise is itself reported);
- per-customer rules look at "events": planned sends plus history rows, which
  count exactly like planned sends (spec 1.4) but are never "the same
  candidate" as a planned send;
- day offsets from the horizon start are the unit of time (history < 0).

When a check finds many violations of one kind it lists the first
`MAX_LINES_PER_KIND` and adds one "... and N more" line, so a badly broken
plan yields a readable report rather than a hundred thousand lines. Lines list
violations in file order (calendar, then history) or, for per-customer counts,
by customer id.
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
import pyarrow as pa
import pyarrow.compute as pc

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
from optimiser.verify_codes import (
    TEXT,
    Events,
    PlanRows,
    ScenarioCodes,
    Sends,
    count_within,
    csv_header,
    distinct_codes,
    message_texts,
    numbers_of,
    plain_text,
    positions_in,
    read_text_csv,
    text_at,
    text_of,
    text_order,
    vocabulary,
)

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
# What the checks read: suppressed.csv's free-text detail is never needed.
SUPPRESSED_READ = SUPPRESSED_COLUMNS[:-1]
# Columns of few distinct values, read dictionary-encoded.
REPEATED_COLUMNS = frozenset(
    {"date", "channel", "comm_id", "product_line", "category", "priority", "cost", "reason", "rule"}
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
    """The three files of a plan folder, every cell read as text (Arrow tables)."""

    calendar: pa.Table
    suppressed: pa.Table
    summary: dict[str, Any]


# --------------------------------------------------------------------------- entry point


def verify_plan(scenario: Scenario, plan_dir: Path) -> list[str]:
    """Re-check a plan folder against its scenario; one line per violation, [] if verified."""
    problems, plan = check_files(Path(plan_dir))
    if plan is None:
        return problems
    codes = ScenarioCodes.build(scenario)
    rows = PlanRows.build(codes, plan.calendar, plan.suppressed)
    problems += check_status(plan.summary)
    problems += check_accounting(codes, rows)
    problems += check_calendar_rows(codes, rows)
    problems += check_suppressed_rows(codes, rows)
    sends = Sends.build(codes, rows)
    problems += check_send_dates_and_channels(codes, rows, sends)
    problems += check_suppression_reasons(codes, rows, sends)
    problems += check_mandatory(codes, rows)

    events = Events.build(codes, sends)
    for rule in scenario.customer_rules:
        problems += check_customer_rule(codes, rule, events)
    problems += check_dedup(codes, events)

    penalties: dict[int, float] = {}
    for rule in scenario.global_rules:
        assert isinstance(rule, (Capacity, Budget, Volume))
        lines, penalty = check_global_rule(codes, rule, sends, plan.summary)
        problems += lines
        if rule.soft is not None:
            penalties[rule.soft.tier] = penalties.get(rule.soft.tier, 0.0) + penalty
    problems += check_objective(codes, sends, penalties, plan.summary)
    return problems


def check_customer_rule(codes: ScenarioCodes, rule: object, events: Events) -> list[str]:
    """Dispatch one per-customer rule to its check."""
    if isinstance(rule, FrequencyCap):
        return check_frequency_cap(codes, rule, events)
    if isinstance(rule, NeverTogether):
        return check_never_together(codes, rule, events)
    if isinstance(rule, MinGap):
        return check_min_gap(codes, rule, events)
    if isinstance(rule, StateExclusion):
        return check_state_exclusion(codes, rule, events)
    if isinstance(rule, CustomerExclusion):
        return check_customer_exclusion(codes, rule, events)
    if isinstance(rule, AroundExclusion):
        return check_around_exclusion(codes, rule, events)
    return []


# --------------------------------------------------------------------------- 1. files


def check_files(plan_dir: Path) -> tuple[list[str], PlanFiles | None]:
    """The folder holds summary.json, calendar.csv and suppressed.csv with the spec's columns.

    Returns the problems and the loaded files (None when the plan cannot be read at all,
    e.g. a folder holding only the summary of an INFEASIBLE run).
    """
    problems, summary = _read_summary(plan_dir)
    if not (plan_dir / "calendar.csv").is_file():
        status = summary.get("status", "unknown")
        problems.append(f"plan has no calendar (calendar.csv missing; summary status {status})")
        return problems, None
    tables = {}
    for name, columns, wanted in (
        ("calendar", CALENDAR_COLUMNS, CALENDAR_COLUMNS),
        ("suppressed", SUPPRESSED_COLUMNS, SUPPRESSED_READ),
    ):
        table, problem = _read_plan_table(plan_dir / f"{name}.csv", name, columns, wanted)
        if problem:
            problems.append(problem)
        else:
            tables[name] = table
    if problems:
        return problems, None
    calendar = tables["calendar"]
    if not _sorted_by_date_and_customer(calendar):
        problems.append("calendar.csv is not sorted by date, customer_id")
    return problems, PlanFiles(calendar, tables["suppressed"], summary)


def _read_summary(plan_dir: Path) -> tuple[list[str], dict[str, Any]]:
    """summary.json as a mapping ({} when missing or unreadable, with the problem)."""
    path = plan_dir / "summary.json"
    if not path.is_file():
        return [f"summary.json is missing from {plan_dir}"], {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [f"summary.json is not valid JSON: {exc}"], {}
    if not isinstance(loaded, dict):
        return ["summary.json is not a JSON object"], {}
    return [], loaded


def _read_plan_table(
    path: Path, name: str, columns: Sequence[str], wanted: Sequence[str]
) -> tuple[pa.Table, str | None]:
    """One plan CSV with every spec column present; the `wanted` ones read, as text."""
    empty = pa.table({})
    if not path.is_file():
        return empty, f"{name}.csv is missing from {path.parent}"
    try:
        header = csv_header(path)
        missing = [c for c in columns if c not in header]
        if missing:
            return empty, f"{name}.csv lacks column(s) {', '.join(missing)}"
        return read_text_csv(path, list(wanted), REPEATED_COLUMNS), None
    except (pa.ArrowInvalid, ValueError, UnicodeDecodeError) as exc:
        return empty, f"{name}.csv cannot be read: {exc}"


def _sorted_by_date_and_customer(calendar: pa.Table) -> bool:
    """Every calendar row is <= the next by (date, customer_id) text."""
    if calendar.num_rows < 2:
        return True
    date_codes, dates = distinct_codes(calendar.column("date"))
    date = text_order(vocabulary(dates))[date_codes]
    customer = plain_text(calendar.column("customer_id"))
    customer_le = np.asarray(
        pc.less_equal(customer.slice(0, len(customer) - 1), customer.slice(1)), dtype=bool
    )
    in_order = (date[:-1] < date[1:]) | ((date[:-1] == date[1:]) & customer_le)
    return bool(in_order.all())


def check_status(summary: dict[str, Any]) -> list[str]:
    """A plan with a calendar must come from an OPTIMAL or FEASIBLE run."""
    status = summary.get("status")
    if status not in GOOD_STATUSES:
        return [f"summary status is {status!r}, expected OPTIMAL or FEASIBLE"]
    return []


# --------------------------------------------------------------------------- 2. accounting


def check_accounting(codes: ScenarioCodes, rows: PlanRows) -> list[str]:
    """Every candidate appears exactly once across calendar and suppressed; no unknown ids."""
    n = len(codes.candidate_ids)
    in_calendar = np.bincount(rows.cal_candidate[rows.cal_candidate >= 0], minlength=n)
    in_suppressed = np.bincount(rows.sup_candidate[rows.sup_candidate >= 0], minlength=n)
    seen = in_calendar + in_suppressed

    unknown = _unknown_ids(rows)
    lines = _report(
        "unknown candidates",
        _first_in_text_order(unknown, np.arange(len(unknown))).tolist(),
        lambda i: f"candidate {unknown[i].as_py()!r} is in the plan but not in the scenario",
        total=len(unknown),
    )
    twice = np.flatnonzero(seen > 1)
    lines += _report(
        "repeated candidates",
        _first_in_text_order(codes.candidate_ids, twice).tolist(),
        lambda c: (
            f"candidate {codes.candidate_ids[c].as_py()!r} appears {seen[c]} times (calendar "
            f"{in_calendar[c]}, suppressed {in_suppressed[c]}); expected exactly once"
        ),
        total=len(twice),
    )
    missing = np.flatnonzero(seen == 0)
    lines += _report(
        "missing candidates",
        _first_in_text_order(codes.candidate_ids, missing).tolist(),
        lambda c: (
            f"candidate {codes.candidate_ids[c].as_py()!r} is missing: neither in calendar.csv "
            f"nor in suppressed.csv"
        ),
        total=len(missing),
    )
    return lines


def _unknown_ids(rows: PlanRows) -> pa.Array:
    """The distinct candidate ids of either file that the scenario does not know."""
    parts = [
        pc.take(rows.column(table, "candidate_id"), np.flatnonzero(candidate < 0))
        for table, candidate in (
            ("calendar", rows.cal_candidate),
            ("suppressed", rows.sup_candidate),
        )
    ]
    chunks = [chunk for part in parts for chunk in part.chunks]
    return pc.unique(pa.chunked_array(chunks, type=TEXT))


def _first_in_text_order(texts: pa.Array, picked: np.ndarray) -> np.ndarray:
    """The first MAX_LINES_PER_KIND + 1 of `picked` (rows of `texts`) in text order."""
    if len(picked) == 0:
        return picked
    shown = pc.bottom_k_unstable(pc.take(texts, picked), min(len(picked), MAX_LINES_PER_KIND + 1))
    return picked[np.asarray(shown, dtype=np.int64)]


def check_calendar_rows(codes: ScenarioCodes, rows: PlanRows) -> list[str]:
    """Each calendar row repeats its candidate's facts and costs channel cost + comm cost."""
    known = np.flatnonzero(rows.cal_candidate >= 0)
    candidate = rows.cal_candidate[known]
    comm = codes.cand_comm[candidate]
    lines: list[str] = []
    for column in ("customer_id", "comm_id", "product_line", "category"):
        lines += _field_mismatches(codes, rows, "calendar", column, known)
    cell = _cells(rows, "calendar", known)
    priority = numbers_of(rows.column("calendar", "priority"))[known]
    true_priority = codes.comm_priority[comm]
    lines += _report(
        "calendar priority",
        np.flatnonzero(~(priority == true_priority)),
        lambda i: (
            f"calendar row of candidate {cell(i, 'candidate_id')!r}: priority is "
            f"{cell(i, 'priority')!r}, the scenario says {true_priority[i]}"
        ),
    )
    value = numbers_of(rows.column("calendar", "value"))[known]
    true_value = codes.cand_value[candidate]
    lines += _report(
        "calendar value",
        np.flatnonzero(~_close(value, true_value, VALUE_REL_TOL)),
        lambda i: (
            f"calendar row of candidate {cell(i, 'candidate_id')!r}: value is "
            f"{cell(i, 'value')!r}, the scenario says {float(true_value[i])!r}"
        ),
    )
    channel = rows.cal_channel[known]
    declared = channel >= 0
    true_cost = np.where(declared, codes.cost_of_channel(channel), np.nan) + codes.comm_cost[comm]
    cost = numbers_of(rows.column("calendar", "cost"))[known]
    lines += _report(
        "calendar cost",
        np.flatnonzero(declared & ~_close(cost, true_cost, VALUE_REL_TOL)),
        lambda i: (
            f"calendar row of candidate {cell(i, 'candidate_id')!r}: cost is "
            f"{cell(i, 'cost')!r}, expected {float(true_cost[i])!r} (channel "
            f"{cell(i, 'channel')} + communication {codes.comm_ids[comm[i]].as_py()})"
        ),
    )
    return lines


def check_suppressed_rows(codes: ScenarioCodes, rows: PlanRows) -> list[str]:
    """Each suppressed row repeats its candidate's customer, comm and product line."""
    known = np.flatnonzero(rows.sup_candidate >= 0)
    lines: list[str] = []
    for column in ("customer_id", "comm_id", "product_line"):
        lines += _field_mismatches(codes, rows, "suppressed", column, known)
    return lines


def _field_mismatches(
    codes: ScenarioCodes, rows: PlanRows, table: str, column: str, known: np.ndarray
) -> list[str]:
    """Rows (of known candidates) whose `column` differs from the scenario's."""
    candidate = (rows.cal_candidate if table == "calendar" else rows.sup_candidate)[known]
    truth, vocabulary = _true_codes(codes, column, candidate)
    written = positions_in(rows.column(table, column), vocabulary)[known]
    cell = _cells(rows, table, known)
    return _report(
        f"{table} {column}",
        np.flatnonzero(written != truth),
        lambda i: (
            f"{table} row of candidate {cell(i, 'candidate_id')!r}: {column} is "
            f"{cell(i, column)!r}, the scenario says {vocabulary[truth[i]].as_py()!r}"
        ),
    )


def _true_codes(
    codes: ScenarioCodes, column: str, candidate: np.ndarray
) -> tuple[np.ndarray, pa.Array]:
    """The scenario's `column` for each candidate, as codes into a vocabulary of texts."""
    if column == "customer_id":
        return codes.cand_customer[candidate], codes.customer_ids
    if column == "comm_id":
        return codes.cand_comm[candidate], codes.comm_ids
    per_comm, texts = distinct_codes(codes.scenario.communications[column].astype(str))
    return per_comm[codes.cand_comm[candidate]], vocabulary(texts)


def _cells(rows: PlanRows, table: str, picked: np.ndarray) -> Callable[[int, str], str]:
    """cell(i, column): the text of plan row picked[i] (for report lines)."""
    source = rows.calendar if table == "calendar" else rows.suppressed

    def cell(i: int, column: str) -> str:
        return str(source.column(column)[int(picked[i])].as_py())

    return cell


# --------------------------------------------------------------------------- 3. each send


def check_send_dates_and_channels(codes: ScenarioCodes, rows: PlanRows, sends: Sends) -> list[str]:
    """Each send: a real date in the horizon and in its window, on an allowed, declared,
    consented channel that is open that day."""
    return _send_dates(codes, rows, sends) + _send_channels(codes, rows, sends)


def _send_dates(codes: ScenarioCodes, rows: PlanRows, sends: Sends) -> list[str]:
    """Calendar dates are ISO dates in the horizon and in the candidate's window."""
    scenario = codes.scenario
    every = _cells(rows, "calendar", np.arange(rows.calendar.num_rows))
    lines = _report(
        "unreadable dates",
        np.flatnonzero(np.isnan(rows.cal_day)),
        lambda i: (
            f"calendar row of candidate {every(i, 'candidate_id')!r}: date "
            f"{every(i, 'date')!r} is not ISO"
        ),
    )
    cell = _cells(rows, "calendar", sends.row)
    earliest = codes.cand_earliest[sends.candidate]
    latest = codes.cand_latest[sends.candidate]
    lines += _report(
        "outside horizon",
        np.flatnonzero((sends.day < 0) | (sends.day >= scenario.days)),
        lambda i: (
            f"send of candidate {cell(i, 'candidate_id')!r} on {cell(i, 'date')} is outside "
            f"the horizon {scenario.start}..{scenario.end}"
        ),
    )
    lines += _report(
        "outside window",
        np.flatnonzero((sends.day < earliest) | (sends.day > latest)),
        lambda i: (
            f"send of candidate {cell(i, 'candidate_id')!r} on {cell(i, 'date')} is outside "
            f"its window {scenario.date_of(earliest[i])}..{scenario.date_of(latest[i])}"
        ),
    )
    return lines


def _send_channels(codes: ScenarioCodes, rows: PlanRows, sends: Sends) -> list[str]:
    """Each send's channel is one of its candidate's, declared, consented and open."""
    scenario = codes.scenario
    cell = _cells(rows, "calendar", sends.row)
    lines = _report(
        "channel not allowed",
        np.flatnonzero(~codes.allowed(sends.candidate, sends.channel)),
        lambda i: (
            f"send of candidate {cell(i, 'candidate_id')!r} uses channel "
            f"{cell(i, 'channel')!r}, not one of its channels "
            f"{str(scenario.candidates['channels'].iloc[sends.candidate[i]])!r}"
        ),
    )
    declared = sends.channel >= 0
    lines += _report(
        "undeclared channel",
        np.flatnonzero(~declared),
        lambda i: (
            f"send of candidate {cell(i, 'candidate_id')!r} uses channel "
            f"{cell(i, 'channel')!r}, which the scenario does not declare"
        ),
    )
    lines += _report(
        "no consent",
        np.flatnonzero(declared & ~_consented(codes, sends.channel, sends.customer)),
        lambda i: (
            f"send of candidate {cell(i, 'candidate_id')!r} on {cell(i, 'channel')} but "
            f"customer {codes.customer_ids[sends.customer[i]].as_py()!r} has no consent for "
            f"{cell(i, 'channel')}"
        ),
    )
    closed = declared & codes.is_closed(np.maximum(sends.channel, 0), sends.day)
    lines += _report(
        "closed channel",
        np.flatnonzero(closed),
        lambda i: (
            f"send of candidate {cell(i, 'candidate_id')!r} on {cell(i, 'channel')} on "
            f"{cell(i, 'date')}, a day the channel is closed"
        ),
    )
    return lines


def _consented(codes: ScenarioCodes, channel: np.ndarray, customer: np.ndarray) -> np.ndarray:
    """Whether each (declared channel code, customer code) pair has consent."""
    if len(codes.channels) == 0:
        return np.zeros(len(channel), dtype=bool)
    return (channel >= 0) & codes.consent[np.maximum(channel, 0), customer]


# --------------------------------------------------------------------------- 4. reasons


@dataclass
class Reachability:
    """What the data alone allows, per candidate (see candidate_reachability)."""

    in_horizon: np.ndarray
    consented: np.ndarray
    open: np.ndarray
    last_open_day: np.ndarray


def check_suppression_reasons(codes: ScenarioCodes, rows: PlanRows, sends: Sends) -> list[str]:
    """Reasons come from the spec's vocabulary, and data reasons are true of the data.

    outside_horizon: the window misses the horizon. no_consent: no allowed channel has
    consent. channel_closed: every consented allowed channel is closed on every day of the
    clipped window. duplicate: dedup is on and either another candidate of the same
    customer and message is in the calendar, or a history send of the message is recent
    enough to block the last sendable day of the window.
    """
    reason = _reason_codes(rows)
    every = _cells(rows, "suppressed", np.arange(rows.suppressed.num_rows))
    lines = _report(
        "unknown reasons",
        np.flatnonzero(reason < 0),
        lambda i: (
            f"candidate {every(i, 'candidate_id')!r} is suppressed for "
            f"{every(i, 'reason')!r}, which is not a reason of the spec "
            f"({', '.join(sorted(REASONS))})"
        ),
    )
    known = np.flatnonzero(rows.sup_candidate >= 0)
    candidate = rows.sup_candidate[known]
    reason = reason[known]
    facts = candidate_reachability(codes, candidate)
    cell = _cells(rows, "suppressed", known)
    false_claims = {
        "outside_horizon": facts.in_horizon,
        "no_consent": facts.consented,
        "channel_closed": facts.open,
    }
    for claim, wrong_if in false_claims.items():
        lines += _false_claims(claim, (reason == REASON_CODES[claim]) & wrong_if, facts, cell)
    duplicates = np.flatnonzero(reason == REASON_CODES["duplicate"])
    if len(duplicates):
        real = _duplicate_is_real(codes, candidate[duplicates], facts, duplicates, sends)
        because = (
            "dedup is off"
            if not codes.scenario.dedup.enabled
            else "no other copy of its message is planned and no recent history send of "
            "it blocks its window"
        )
        lines += _report(
            "false duplicate",
            duplicates[~real],
            lambda i: (
                f"candidate {cell(i, 'candidate_id')!r} is suppressed as a duplicate but " + because
            ),
        )
    return lines


def _false_claims(
    claim: str, false: np.ndarray, facts: Reachability, cell: Callable[[int, str], str]
) -> list[str]:
    """Report the rows suppressed for a data reason that the data contradicts."""
    return _report(
        f"false {claim}",
        np.flatnonzero(false),
        lambda i: (
            f"candidate {cell(i, 'candidate_id')!r} is suppressed for {claim} "
            f"but {_reachability_text(facts, i)}"
        ),
    )


REASON_LIST = tuple(sorted(REASONS))
REASON_CODES = {reason: code for code, reason in enumerate(REASON_LIST)}


def _reason_codes(rows: PlanRows) -> np.ndarray:
    """Each suppressed row's reason as a REASON_LIST position, -1 outside the spec's words."""
    return positions_in(rows.column("suppressed", "reason"), vocabulary(REASON_LIST))


def candidate_reachability(codes: ScenarioCodes, candidate: np.ndarray) -> Reachability:
    """What the data alone allows, for each of some candidates.

    in_horizon: the window clipped to the horizon is not empty; consented: some allowed
    channel has consent; open: some consented allowed channel is open on some day of the
    clipped window; last_open_day: the latest such day, -1 when none. Worked out in blocks
    of REACHABILITY_BLOCK candidates, which bounds the temporaries at any plan size.
    """
    parts = [
        _reachability_of_block(codes, candidate[start : start + REACHABILITY_BLOCK])
        for start in range(0, len(candidate), REACHABILITY_BLOCK)
    ]
    if not parts:
        parts = [_reachability_of_block(codes, candidate)]
    return Reachability(
        *(np.concatenate([getattr(part, name) for part in parts]) for name in REACHABILITY_FIELDS)
    )


REACHABILITY_BLOCK = 1 << 21
REACHABILITY_FIELDS = ("in_horizon", "consented", "open", "last_open_day")


def _reachability_of_block(codes: ScenarioCodes, candidate: np.ndarray) -> Reachability:
    days = codes.scenario.days
    low = np.maximum(codes.cand_earliest[candidate], 0)
    high = np.minimum(codes.cand_latest[candidate], days - 1)
    in_horizon = low <= high
    lists = codes.cand_channel_list[candidate]
    customer = codes.cand_customer[candidate]
    clipped_high = np.clip(high, 0, days - 1)
    consented = np.zeros(len(candidate), dtype=bool)
    last_open = np.full(len(candidate), -1, dtype=np.int64)
    for channel in range(len(codes.channels)):
        usable = codes.channel_lists[lists, channel] & codes.consent[channel, customer]
        consented |= usable
        found = _latest_open_day(codes, channel)[clipped_high]
        reachable = usable & in_horizon & (found >= low)
        np.maximum(last_open, found, out=last_open, where=reachable)
    return Reachability(in_horizon, consented, last_open >= 0, last_open)


def _latest_open_day(codes: ScenarioCodes, channel: int) -> np.ndarray:
    """For each horizon day, the latest day at or before it the channel is open (-1: none)."""
    open_days = np.where(~codes.closed[channel], np.arange(codes.scenario.days), -1)
    return np.maximum.accumulate(open_days)


def _reachability_text(facts: Reachability, i: int) -> str:
    if not facts.in_horizon[i]:
        return "its window is outside the horizon"
    if not facts.consented[i]:
        return "its window is in the horizon, though no allowed channel has consent"
    if not facts.open[i]:
        return "a consented channel exists, though every one is closed throughout its window"
    return "its window is in the horizon and a consented channel is open in it"


def _duplicate_is_real(
    codes: ScenarioCodes,
    candidate: np.ndarray,
    facts: Reachability,
    picked: np.ndarray,
    sends: Sends,
) -> np.ndarray:
    """Whether each 'duplicate' suppression is explained by a planned copy or recent history.

    `picked` are the rows of `facts` that belong to `candidate`.
    """
    if not codes.scenario.dedup.enabled:
        return np.zeros(len(candidate), dtype=bool)
    key = _message_keys(codes, codes.cand_customer[candidate], codes.cand_comm[candidate])
    send_keys = np.sort(_message_keys(codes, sends.customer, sends.comm))
    with_key = _count_equal(send_keys, key)
    of_this_candidate = _count_equal(np.sort(sends.candidate), candidate)
    other_copy = with_key > of_this_candidate

    history = codes.scenario.history
    history_keys = _message_keys(
        codes, codes.customer_codes(history["customer_id"]), codes.comm_codes(history["comm_id"])
    )
    last_day, known = _last_day_per_key(history_keys, history["day"].to_numpy(np.int64), key)
    reachable = facts.open[picked]
    gap = facts.last_open_day[picked] - last_day
    recent = known & (~reachable | (gap < codes.scenario.dedup.window_days))
    return other_copy | recent


def _message_keys(codes: ScenarioCodes, customer: np.ndarray, comm: np.ndarray) -> np.ndarray:
    """One integer per (customer, dedup message): what dedup calls the same message."""
    messages = int(codes.comm_message.max()) + 1 if len(codes.comm_message) else 1
    return customer.astype(np.int64) * messages + codes.comm_message[comm]


def _count_equal(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """How many of `sorted_values` equal each query."""
    return np.searchsorted(sorted_values, queries, "right") - np.searchsorted(
        sorted_values, queries, "left"
    )


def _last_day_per_key(
    keys: np.ndarray, days: np.ndarray, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each query key: the latest day among rows with that key, and whether there is one."""
    if len(keys) == 0:
        return np.zeros(len(queries), dtype=np.int64), np.zeros(len(queries), dtype=bool)
    order = np.argsort(keys, kind="stable")
    distinct, first = np.unique(keys[order], return_index=True)
    latest = np.maximum.reduceat(days[order], first)
    at = np.minimum(np.searchsorted(distinct, queries), len(distinct) - 1)
    known = distinct[at] == queries
    return np.where(known, latest[at], 0), known


# --------------------------------------------------------------------------- 8. mandatory


def check_mandatory(codes: ScenarioCodes, rows: PlanRows) -> list[str]:
    """A mandatory candidate is sent unless the data makes it impossible (or a duplicate).

    Candidates missing from the plan altogether are reported by check_accounting; the
    truth of the data reasons by check_suppression_reasons.
    """
    candidate = rows.sup_candidate
    known = candidate >= 0
    mandatory = known & codes.comm_mandatory[codes.cand_comm[np.maximum(candidate, 0)]]
    data_reason = positions_in(
        rows.column("suppressed", "reason"), vocabulary(sorted(DATA_REASONS))
    )
    cell = _cells(rows, "suppressed", np.arange(rows.suppressed.num_rows))
    return _report(
        "mandatory suppressed",
        np.flatnonzero(mandatory & (data_reason < 0)),
        lambda i: (
            f"mandatory candidate {cell(i, 'candidate_id')!r} of customer "
            f"{cell(i, 'customer_id')!r} is suppressed for {cell(i, 'reason')}"
            + (f" (rule {cell(i, 'rule')!r})" if cell(i, "rule") else "")
            + "; only outside_horizon, no_consent, channel_closed or duplicate may stop it"
        ),
    )


# --------------------------------------------------------------------------- selections


def selection_mask(scenario: Scenario, selection: Selection, events: pd.DataFrame) -> np.ndarray:
    """Which rows of a frame (comm_id, channel, customer_id, day) a selection picks.

    Every given key narrows. For other modules (explain) that hold sends as frames; the
    verifier itself selects on codes (_selected).
    """
    mask = np.ones(len(events), dtype=bool)
    comms = scenario.communications
    comm_ok = comm_selected(scenario, selection)
    if not comm_ok.all():
        mask &= events["comm_id"].isin(comms["comm_id"][comm_ok]).to_numpy()
    if selection.channels is not None:
        mask &= events["channel"].isin(selection.channels).to_numpy()
    if selection.customers is not None:
        flagged = scenario.customers["customer_id"][customer_flags(scenario, selection.customers)]
        mask &= events["customer_id"].isin(flagged).to_numpy()
    if selection.date_from is not None:
        mask &= (events["day"] >= selection.date_from).to_numpy()
    if selection.date_to is not None:
        mask &= (events["day"] <= selection.date_to).to_numpy()
    return mask


def _selected(
    codes: ScenarioCodes,
    selection: Selection,
    comm: np.ndarray,
    channel: np.ndarray,
    customer: np.ndarray,
    day: np.ndarray,
) -> np.ndarray:
    """Which sends or events (given as codes) a selection picks; every given key narrows."""
    scenario = codes.scenario
    mask = np.ones(len(day), dtype=bool)
    comm_ok = comm_selected(scenario, selection)
    if not comm_ok.all():
        mask &= comm_ok[comm]
    if selection.channels is not None:
        wanted = [name in selection.channels for name in codes.channels] + [False]
        mask &= np.array(wanted, dtype=bool)[channel]  # -1 (undeclared) -> the last: False
    if selection.customers is not None:
        mask &= customer_flags(scenario, selection.customers)[customer]
    if selection.date_from is not None:
        mask &= day >= selection.date_from
    if selection.date_to is not None:
        mask &= day <= selection.date_to
    return mask


def _events_selected(codes: ScenarioCodes, selection: Selection, events: Events) -> np.ndarray:
    return _selected(codes, selection, events.comm, events.channel, events.customer, events.day)


def comm_selected(scenario: Scenario, selection: Selection) -> np.ndarray:
    """Which communications rows the selection's comm-level keys allow."""
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
    return comm_ok


def customer_flags(
    scenario: Scenario, wanted: tuple[tuple[str, tuple[object, ...]], ...]
) -> np.ndarray:
    """Per customer row: does every named column hold one of the wanted values?

    Matched once per distinct cell value: attribute columns repeat a few values.
    """
    table = scenario.customers
    mask = np.ones(len(table), dtype=bool)
    for column, values in wanted:
        cell_codes, distinct = pd.factorize(table[column], use_na_sentinel=False)
        cells = pd.Series(distinct, dtype=table[column].dtype)
        column_ok = np.zeros(len(cells), dtype=bool)
        for value in values:
            column_ok |= cell_matches(cells, value)
        mask &= column_ok[cell_codes]
    return mask


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


def check_frequency_cap(codes: ScenarioCodes, rule: FrequencyCap, events: Events) -> list[str]:
    """At most `max` matching sends per rolling window, per week, or in the horizon.

    Rolling: every window of window_days consecutive days holding a planned matching send,
    history included. Week: calendar weeks Mon-Sun holding a planned send, history included.
    Horizon: planned matching sends only.
    """
    matching = _events_selected(codes, rule.select, events)
    if rule.period == "horizon":
        return _horizon_count(codes, rule.name, "frequency_cap", rule.max, matching, events)
    if rule.period == "week":
        return _week_count(codes, rule, matching, events)
    assert rule.window_days is not None
    return _rolling_count(
        codes, rule.name, "frequency_cap", rule.max, rule.window_days, matching, events
    )


def check_never_together(codes: ScenarioCodes, rule: NeverTogether, events: Events) -> list[str]:
    """At most one matching send per customer in any window_days (default: the horizon)."""
    matching = _events_selected(codes, rule.select, events)
    if rule.window_days is None:
        return _horizon_count(codes, rule.name, "never_together", 1, matching, events)
    return _rolling_count(codes, rule.name, "never_together", 1, rule.window_days, matching, events)


def _horizon_count(
    codes: ScenarioCodes, name: str, kind: str, cap: int, matching: np.ndarray, events: Events
) -> list[str]:
    """Planned matching sends per customer in the whole horizon (history not counted)."""
    counts = np.bincount(
        events.customer[matching & events.planned], minlength=len(codes.customer_ids)
    )
    over = np.flatnonzero(counts > cap)
    over = over[np.argsort(codes.customer_rank[over], kind="stable")]
    return _report(
        f"{kind} {name!r}",
        over,
        lambda c: (
            f"{kind} {name!r}: customer {codes.customer_ids[c].as_py()!r} has {counts[c]} "
            f"matching sends in the horizon (max {cap})"
        ),
    )


def _week_count(
    codes: ScenarioCodes, rule: FrequencyCap, matching: np.ndarray, events: Events
) -> list[str]:
    """Matching sends (history included) per customer and Mon-Sun week with a planned send."""
    scenario = codes.scenario
    monday_offset = scenario.start.weekday()  # days from the Monday of the first week
    picked = np.flatnonzero(matching)
    if len(picked) == 0:
        return []
    week = (events.day[picked] + monday_offset) // 7
    first_week = int(week.min())
    weeks = int(week.max()) - first_week + 1
    group, inverse, total = np.unique(
        events.customer[picked].astype(np.int64) * weeks + (week - first_week),
        return_inverse=True,
        return_counts=True,
    )
    planned = np.bincount(inverse, weights=events.planned[picked], minlength=len(group))
    over = np.flatnonzero((planned > 0) & (total > rule.max))
    customer = group // weeks
    week_of = group % weeks + first_week
    over = over[np.lexsort((week_of[over], codes.customer_rank[customer[over]]))]
    return _report(
        f"frequency_cap {rule.name!r}",
        over,
        lambda g: (
            f"frequency_cap {rule.name!r}: customer "
            f"{codes.customer_ids[customer[g]].as_py()!r} has {total[g]} matching sends "
            f"({int(planned[g])} planned) in the week of "
            f"{scenario.date_of(week_of[g] * 7 - monday_offset)} (max {rule.max})"
        ),
    )


def _rolling_count(
    codes: ScenarioCodes,
    name: str,
    kind: str,
    cap: int,
    window_days: int,
    matching: np.ndarray,
    events: Events,
) -> list[str]:
    """Every window of window_days days that holds a planned send holds at most `cap`.

    The fullest window around a planned send can always be slid to start on a matching
    send, so windows starting on each matching send's day are the only ones to count.
    One line per customer: its earliest overfull window.
    """
    if not (matching & events.planned).any():
        return []
    picked = np.flatnonzero(matching)
    customer = events.customer[picked]
    start = events.day[picked]
    end = start + window_days - 1
    total = count_within(customer, start, customer, start, end)
    planned = events.planned[picked]
    in_plan = count_within(customer[planned], start[planned], customer, start, end)
    hit = np.flatnonzero((in_plan > 0) & (total > cap))
    # sorted by (customer, day): a customer's first hit is its earliest window
    _, first = np.unique(customer[hit], return_index=True)
    over = hit[first]
    over = over[np.argsort(codes.customer_rank[customer[over]], kind="stable")]
    scenario = codes.scenario
    return _report(
        f"{kind} {name!r}",
        over,
        lambda i: (
            f"{kind} {name!r}: customer {codes.customer_ids[customer[i]].as_py()!r} has "
            f"{total[i]} matching sends ({in_plan[i]} planned, {total[i] - in_plan[i]} "
            f"history) in the {window_days} days from {scenario.date_of(start[i])} to "
            f"{scenario.date_of(start[i] + window_days - 1)} (max {cap})"
        ),
    )


def check_min_gap(codes: ScenarioCodes, rule: MinGap, events: Events) -> list[str]:
    """No planned `then` send on d2 with a different `first` send (or history) on d1 such
    that 0 <= d2 - d1 < days."""
    first = _events_selected(codes, rule.first, events)
    then = np.flatnonzero(_events_selected(codes, rule.then, events) & events.planned)
    low = events.day[then] - rule.days + 1
    high = events.day[then]
    clash = _in_event_order(events, then[_others_within(events, first, then, low, high)])
    scenario = codes.scenario
    return _report(
        f"min_gap {rule.name!r}",
        clash,
        lambda e: (
            f"min_gap {rule.name!r}: {_send_text(codes, events, e)} on "
            f"{scenario.date_of(events.day[e])}, less than {rule.days} days after "
            + _nearby(codes, events, first, e, events.day[e] - rule.days + 1, int(events.day[e]))
        ),
    )


def check_state_exclusion(codes: ScenarioCodes, rule: StateExclusion, events: Events) -> list[str]:
    """No planned matching send on a day the customer is in one of the rule's states."""
    sends = _in_event_order(
        events, np.flatnonzero(_events_selected(codes, rule.select, events) & events.planned)
    )
    states = codes.scenario.states
    states = states[states["state"].isin(rule.states).to_numpy()]
    send, state = _sends_in_states(codes, events, sends, states)
    names = text_of(states["state"])
    return _report(
        f"exclusion {rule.name!r}",
        np.arange(len(send)),
        lambda i: (
            f"exclusion {rule.name!r}: {_send_text(codes, events, send[i])} on "
            f"{codes.scenario.date_of(events.day[send[i]])} while in state "
            f"{text_at(names, state[i : i + 1])[0]!r}"
        ),
    )


def _sends_in_states(
    codes: ScenarioCodes, events: Events, sends: np.ndarray, states: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(send event, state row) pairs where the send's day is in its customer's state.

    In send order, then state-table order; one pair per (candidate, day), the first.
    """
    state_customer = codes.customer_codes(states["customer_id"])
    by_customer = np.argsort(state_customer, kind="stable")
    sorted_customer = state_customer[by_customer]
    low = np.searchsorted(sorted_customer, events.customer[sends], "left")
    count = np.searchsorted(sorted_customer, events.customer[sends], "right") - low
    send = np.repeat(sends, count)
    starts = np.repeat(low - np.cumsum(count) + count, count)
    state = by_customer[starts + np.arange(len(send))] if len(send) else send
    day = events.day[send]
    inside = (day >= states["start_day"].to_numpy(np.int64)[state]) & (
        day <= states["end_day"].to_numpy(np.int64)[state]
    )
    send, state = send[inside], state[inside]
    first = _first_of_each(events.candidate[send], events.day[send])
    return send[first], state[first]


def _first_of_each(group: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each (group, day) pair, in their order."""
    if len(day) == 0:
        return np.zeros(0, dtype=np.int64)
    base = int(day.min())
    span = int(day.max()) - base + 1
    _, first = np.unique(group.astype(np.int64) * span + (day - base), return_index=True)
    return np.sort(first)


def check_customer_exclusion(
    codes: ScenarioCodes, rule: CustomerExclusion, events: Events
) -> list[str]:
    """Customers flagged by the rule's columns get no planned matching send."""
    flagged = customer_flags(codes.scenario, rule.customers)
    pick = _events_selected(codes, rule.select, events) & events.planned & flagged[events.customer]
    flags = ", ".join(f"{column}={list(values)}" for column, values in rule.customers)
    return _report(
        f"exclusion {rule.name!r}",
        _in_event_order(events, np.flatnonzero(pick)),
        lambda e: (
            f"exclusion {rule.name!r}: customer "
            f"{codes.customer_ids[events.customer[e]].as_py()!r} ({flags}) gets "
            f"{codes.comm_ids[events.comm[e]].as_py()} (candidate "
            f"{codes.candidate_ids[events.candidate[e]].as_py()!r}) on "
            f"{codes.scenario.date_of(events.day[e])}"
        ),
    )


def check_around_exclusion(
    codes: ScenarioCodes, rule: AroundExclusion, events: Events
) -> list[str]:
    """No planned `select` send on d when another send matching `around` (planned or
    history) is on a day a with a - days_before <= d <= a + days_after."""
    around = _events_selected(codes, rule.around, events)
    sends = np.flatnonzero(_events_selected(codes, rule.select, events) & events.planned)
    low = events.day[sends] - rule.days_after
    high = events.day[sends] + rule.days_before
    clash = _in_event_order(events, sends[_others_within(events, around, sends, low, high)])
    return _report(
        f"exclusion {rule.name!r}",
        clash,
        lambda e: (
            f"exclusion {rule.name!r}: {_send_text(codes, events, e)} on "
            f"{codes.scenario.date_of(events.day[e])}, too close to "
            + _nearby(
                codes,
                events,
                around,
                e,
                int(events.day[e]) - rule.days_after,
                int(events.day[e]) + rule.days_before,
            )
        ),
    )


def check_dedup(codes: ScenarioCodes, events: Events) -> list[str]:
    """One planned send per customer and message, none repeating a recent history send.

    Two sends are one message when they share a comm_id or a non-empty dedup_key.
    """
    if not codes.scenario.dedup.enabled:
        return []
    key = _message_keys(codes, events.customer, events.comm)
    lines = _repeated_messages(codes, events, key)
    window = codes.scenario.dedup.window_days
    if window > 0 and not events.planned.all():
        lines += _messages_in_recent_history(codes, events, key, window)
    return lines


def _repeated_messages(codes: ScenarioCodes, events: Events, key: np.ndarray) -> list[str]:
    """Customers planned one message more than once; listed by customer id, then message."""
    planned = np.flatnonzero(events.planned)
    _, first, inverse, count = np.unique(
        key[planned], return_index=True, return_inverse=True, return_counts=True
    )
    repeated = np.flatnonzero(count > 1)
    customer = events.customer[planned[first]]
    message = codes.comm_message[events.comm[planned[first]]]
    repeated = repeated[np.lexsort((message[repeated], codes.customer_rank[customer[repeated]]))]
    labels = _message_labels(codes.scenario)

    def candidates(g: int) -> str:
        members = planned[inverse == g]
        return ", ".join(sorted(text_at(codes.candidate_ids, events.candidate[members])))

    return _report(
        "dedup",
        repeated,
        lambda g: (
            f"dedup: customer {codes.customer_ids[customer[g]].as_py()!r} gets the message of "
            f"{labels[message[g]]} {count[g]} times (candidates {candidates(g)})"
        ),
    )


def _messages_in_recent_history(
    codes: ScenarioCodes, events: Events, key: np.ndarray, window: int
) -> list[str]:
    """Planned sends of a message the customer had in history less than `window` days ago."""
    past = np.flatnonzero(~events.planned)
    past = past[np.argsort(key[past], kind="stable")]  # by (key, day): days already sorted
    planned = np.flatnonzero(events.planned)
    days = events.day[planned]
    recent = count_within(key[past], events.day[past], key[planned], days - window + 1, days)
    repeats = _in_event_order(events, planned[recent > 0])
    return _report(
        "dedup history",
        repeats,
        lambda e: (
            f"dedup: {_send_text(codes, events, e)} on {codes.scenario.date_of(events.day[e])}, "
            f"less than {window} days after the same message in history: "
            + _nearby(
                codes,
                events,
                ~events.planned,
                e,
                int(events.day[e]) - window + 1,
                int(events.day[e]),
                same_message=True,
            )
        ),
    )


def _message_labels(scenario: Scenario) -> dict[int, str]:
    """Message code -> "dedup_key 'offer'" or "comm 'NEWS'"."""
    texts = sorted(set(message_texts(scenario)))
    labels = {}
    for code, text in enumerate(texts):
        kind, _, name = text.partition(":")
        labels[code] = f"dedup_key {name!r}" if kind == "key" else f"comm {name!r}"
    return labels


# --------------------------------------------------------------------------- event helpers


def _in_event_order(events: Events, picked: np.ndarray) -> np.ndarray:
    """Events sorted back into file order (calendar rows, then history rows)."""
    return picked[np.argsort(events.origin[picked], kind="stable")]


def _others_within(
    events: Events, ref: np.ndarray, query: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """For each query event: is there a `ref` event of the same customer, of a different
    candidate, on a day in [low, high]?"""
    if len(query) == 0:
        return np.zeros(0, dtype=bool)
    picked = np.flatnonzero(ref)
    every = count_within(
        events.customer[picked], events.day[picked], events.customer[query], low, high
    )
    by_candidate = events.by_candidate[ref[events.by_candidate]]
    same = count_within(
        events.candidate[by_candidate],
        events.day[by_candidate],
        events.candidate[query],
        low,
        high,
    )
    return (every - same) > 0


def _send_text(codes: ScenarioCodes, events: Events, e: int) -> str:
    """ "customer 'C1' gets NEWS (candidate 'K3')" for a planned event."""
    return (
        f"customer {codes.customer_ids[events.customer[e]].as_py()!r} gets "
        f"{codes.comm_ids[events.comm[e]].as_py()} (candidate "
        f"{codes.candidate_ids[events.candidate[e]].as_py()!r})"
    )


def _nearby(
    codes: ScenarioCodes,
    events: Events,
    ref: np.ndarray,
    e: int,
    low: int,
    high: int,
    same_message: bool = False,
) -> str:
    """Describe the first `ref` event (in file order) that conflicts with event `e`: same
    customer, another candidate, a day in [low, high] (and the same message if asked)."""
    span = events.customer_slice(int(events.customer[e]))
    near = (
        ref[span]
        & (events.candidate[span] != events.candidate[e])
        & (events.day[span] >= low)
        & (events.day[span] <= high)
    )
    if same_message:
        near &= codes.comm_message[events.comm[span]] == codes.comm_message[events.comm[e]]
    found = np.flatnonzero(near) + span.start
    if len(found) == 0:
        return "another send"
    other = found[np.argmin(events.origin[found])]
    origin = (
        f"candidate {codes.candidate_ids[events.candidate[other]].as_py()!r}"
        if events.planned[other]
        else "history"
    )
    comm = codes.comm_ids[events.comm[other]].as_py()
    return f"{comm} ({origin}) on {codes.scenario.date_of(int(events.day[other]))}"


# --------------------------------------------------------------------------- 6. global rules


def check_global_rule(
    codes: ScenarioCodes,
    rule: Capacity | Budget | Volume,
    sends: Sends,
    summary: dict[str, Any],
) -> tuple[list[str], float]:
    """A hard rule's bounds hold (1e-9 relative slack); a soft rule's penalty is computed.

    Capacity counts sends per day (or in the horizon), budget sums cost, volume sums its
    metric. Violation = amount beyond the bounds (summed over days for a daily capacity);
    penalty = soft.penalty x violation. The summary's own figures for the rule must agree.
    Returns the problems and the penalty (0 for a hard rule).
    """
    scenario = codes.scenario
    mask = _selected(codes, rule.select, sends.comm, sends.channel, sends.customer, sends.day)
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
        amounts = sends.cost
    else:
        amounts = sends.metric(codes, metric)
    amounts = np.where(mask, amounts, 0.0)

    lines: list[str] = []
    usage: float | dict[str, float]
    if isinstance(rule, Capacity) and rule.per == "day":
        inside = (sends.day >= 0) & (sends.day < scenario.days)
        per_day = np.bincount(sends.day[inside], weights=amounts[inside], minlength=scenario.days)
        usage = {
            scenario.date_of(day).isoformat(): float(per_day[day]) for day in range(scenario.days)
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
    """channel_weight of each send (a frame with customer_id and channel) from its
    customer's ranked preferred_channels.

    No `channel_preference` key: 1.0 everywhere. Otherwise rank r (0 = first) gets
    weights[min(r, len - 1)], a channel not in the list gets `others`, and a customer
    without preferences (or not in scenario.customers) gets 1.0 on every channel.
    """
    customer = positions_in(sends["customer_id"], plain_text(scenario.customers["customer_id"]))
    channel = positions_in(sends["channel"], vocabulary(list(scenario.channels)))
    return _preference_weights(scenario, customer, channel)


def _preference_weights(
    scenario: Scenario, customer: np.ndarray, channel: np.ndarray
) -> np.ndarray:
    """channel_weight per (customer code, channel code); -1 codes: unknown customer, or a
    channel the scenario does not declare (never in a preference list)."""
    objective = scenario.objective
    weights = np.ones(len(customer))
    if objective.preference_weights is None or len(customer) == 0:
        return weights
    list_of, rank, has_preferences = _preference_ranks(scenario)
    known = customer >= 0
    lists = np.where(known, list_of[np.maximum(customer, 0)], 0)
    ranked = np.asarray(objective.preference_weights, dtype=float)
    position = np.where(channel >= 0, rank[lists, np.maximum(channel, 0)], -1)
    by_rank = np.where(
        position >= 0,
        ranked[np.clip(position, 0, len(ranked) - 1)],
        objective.preference_others,
    )
    return np.where(known & has_preferences[lists], by_rank, weights)


def _preference_ranks(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer: the code of its preferred_channels text; per distinct text: the rank
    of each declared channel in it (-1: not listed; a repeated channel keeps its best),
    and whether it lists any channel."""
    channels = {name: code for code, name in enumerate(scenario.channels)}
    list_of, texts = distinct_codes(scenario.customers["preferred_channels"].fillna(""))
    rank = np.full((max(len(texts), 1), max(len(channels), 1)), -1, dtype=np.int64)
    has_preferences = np.zeros(max(len(texts), 1), dtype=bool)
    for row, text in enumerate(texts):
        names = [part.strip() for part in str(text).split("|") if part.strip()]
        has_preferences[row] = bool(names)
        for position, name in enumerate(names):
            code = channels.get(name)
            if code is not None and rank[row, code] < 0:
                rank[row, code] = position
    return list_of, rank, has_preferences


def check_objective(
    codes: ScenarioCodes, sends: Sends, penalties: dict[int, float], summary: dict[str, Any]
) -> list[str]:
    """Recompute the objective per tier and compare it, the bound and the gap with summary.json.

    Tier t = sum over sends whose comm has priority t of value x channel_weight - cost x
    cost_weight, minus the soft penalties charged in tier t.
    """
    scenario = codes.scenario
    gain = (
        sends.value * _preference_weights(scenario, sends.customer, sends.channel)
        - sends.cost * scenario.objective.cost_weight
    )
    per_tier = pd.Series(gain).groupby(sends.priority).sum()
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
    lines += _tiers_agree(expected, summary)
    lines += _bound_and_gap_agree(objective, summary)
    return lines


def _tiers_agree(expected: dict[int, float], summary: dict[str, Any]) -> list[str]:
    """summary.json's objective_by_tier matches the recomputed tiers."""
    lines: list[str] = []
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
    return lines


def _bound_and_gap_agree(objective: float | None, summary: dict[str, Any]) -> list[str]:
    """The bound is not below the objective and the gap is (bound - objective) / max(1, |bound|)."""
    lines: list[str] = []
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


def _report(
    kind: str,
    items: Sequence[Any] | np.ndarray,
    describe: Callable[[Any], str],
    total: int | None = None,
) -> list[str]:
    """One line per item, at most MAX_LINES_PER_KIND, then a count of the rest.

    `total` is how many there are in all when `items` holds only the first few.
    """
    total = len(items) if total is None else total
    lines = [describe(item) for item in items[:MAX_LINES_PER_KIND]]
    if total > MAX_LINES_PER_KIND:
        lines.append(
            f"{kind}: ... and {total - MAX_LINES_PER_KIND} more like these ({total} in all)"
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
