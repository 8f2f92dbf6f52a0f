"""Why a customer's week looks as it does, and what would have to change for a dropped candidate.

`explain_customer(view, customer_id)` lays out one customer's timeline: the
history within reach of the rules, the planned sends, the suppressed
candidates with their reason, rule and detail, the customer's states and the
closed channels, day by day. `explain_candidate(view, candidate_id)` takes one
candidate and, when it was not sent, re-derives from the scenario's rules and
the plan's files what stops each of its (day, channel) options and what would
have to change for it to go: which rule, by how much, or the value it would
need against a global rule's shadow price.

Everything is read from the plan folder (calendar.csv, suppressed.csv,
summary.json) and the scenario it was made from, with plain pandas: no
solver, no model. With every other send held where the plan put it, a rule
"stops" an option when adding it alone would break that rule; the rule the
plan names in suppressed.csv is marked binding, and a named rule that stops
nothing now is said so rather than hidden.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from models import Scenario, load_scenario
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
from models.scenario import OPEN_END
from optimiser.plan_folder import read_summary, scenario_folder
from optimiser.verify import cell_matches, channel_weights, selection_mask

CALENDAR_COLUMNS = (
    "date", "customer_id", "channel", "comm_id", "candidate_id", "priority", "value", "cost",
)
SUPPRESSED_COLUMNS = ("candidate_id", "customer_id", "comm_id", "reason", "rule", "detail")
DATA_REASONS = ("invalid", "outside_horizon", "no_consent", "channel_closed", "no_value")
EPS = 1e-9
SHOWN = 3  # sends listed when naming the lowest-value ones that could make room
WINNER = re.compile(r"([^\s,;:()]+) \(value ([-+0-9.eE]+|nan|inf)\)")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class ExplainError(Exception):
    """The plan folder cannot be read, or the customer / candidate is not in it."""


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class PlanView:
    """A plan folder and the scenario it was made from; plan cells as text, value as float."""

    scenario: Scenario
    plan_dir: Path
    summary: dict[str, Any]
    calendar: pd.DataFrame
    suppressed: pd.DataFrame


def load_plan_view(plan_dir: str | Path, scenario_dir: str | Path | None = None) -> PlanView:
    """Read a plan folder and its scenario (default: summary.json's scenario_path).

    Raises ExplainError for a folder that is not a readable plan; ScenarioError from the
    scenario loader passes through.
    """
    plan_dir = Path(plan_dir)
    summary = read_summary(plan_dir, ExplainError)
    if not (plan_dir / "calendar.csv").is_file():
        why = summary.get("diagnosis")
        raise ExplainError(
            f"{plan_dir} holds no calendar.csv (status {summary.get('status', '?')}"
            + (f": {why}" if why else "")
            + "): there is no plan to explain"
        )
    scenario = load_scenario(scenario_folder(plan_dir, summary, scenario_dir, ExplainError))
    calendar = _read_table(plan_dir / "calendar.csv", CALENDAR_COLUMNS)
    for column in ("value", "cost"):
        calendar[column] = pd.to_numeric(calendar[column], errors="coerce").astype(float)
    calendar["tier"] = pd.to_numeric(calendar["priority"], errors="coerce").fillna(0).astype(int)
    # what the objective counts for each send: value x channel weight - cost x cost_weight
    calendar["worth"] = (
        calendar["value"] * channel_weights(scenario, calendar)
        - calendar["cost"] * scenario.objective.cost_weight
    )
    stamps = pd.to_datetime(calendar["date"], format="%Y-%m-%d", errors="coerce")
    calendar["day"] = (stamps - pd.Timestamp(scenario.start)).dt.days
    if calendar["day"].isna().any():
        bad = calendar.loc[calendar["day"].isna(), "date"].iloc[0]
        raise ExplainError(f"{plan_dir / 'calendar.csv'}: unreadable date {bad!r}")
    calendar["day"] = calendar["day"].astype(np.int64)
    suppressed = _read_table(plan_dir / "suppressed.csv", SUPPRESSED_COLUMNS)
    return PlanView(scenario, plan_dir, summary, calendar, suppressed)


def _read_table(path: Path, needs: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise ExplainError(f"{path}: not found")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in needs if c not in table.columns]
    if missing:
        raise ExplainError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


# --------------------------------------------------------------------------- results


@dataclass
class Finding:
    """One rule (or data fact) that stops some of a candidate's options: the facts, the fix.

    `blocks` lists the options it stops as "YYYY-MM-DD channel"; `data` holds the same
    facts as numbers and ids for scripts. A soft global rule does not stop an option, it
    charges for it: `soft` is then true.
    """

    reason: str
    rule: str
    binding: bool
    blocks: list[str]
    facts: list[str]
    change: list[str]
    soft: bool = False
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class CandidateExplanation:
    candidate_id: str
    customer_id: str
    comm_id: str
    product_line: str
    category: str
    tier: int
    value: float
    earliest: str
    latest: str
    channels: list[str]
    status: str  # "sent" or "suppressed"
    sent: dict[str, Any] | None
    reason: str
    rule: str
    detail: str
    options: list[dict[str, Any]]
    findings: list[Finding]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TimelineEvent:
    kind: str  # "history", "sent" or "suppressed"
    candidate_id: str
    comm_id: str
    channel: str
    product_line: str
    tier: int
    value: float | None
    reason: str = ""
    rule: str = ""
    detail: str = ""
    window: str = ""


@dataclass
class TimelineDay:
    date: str
    weekday: str
    in_horizon: bool
    states: list[str]
    closed: list[str]
    events: list[TimelineEvent]


@dataclass
class CustomerExplanation:
    customer_id: str
    plan: str
    scenario: str
    status: str
    attributes: dict[str, str]
    consent: list[str]
    no_consent: list[str]
    states: list[dict[str, str]]
    lookback_days: int
    older_history: int
    timeline: list[TimelineDay]
    candidates: list[CandidateExplanation]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- customer view


def explain_customer(view: PlanView, customer_id: str) -> CustomerExplanation:
    """The customer's timeline and an explanation of every suppressed candidate of theirs."""
    scenario = view.scenario
    customers = scenario.customers
    row = customers[customers["customer_id"] == customer_id]
    if row.empty:
        raise ExplainError(
            f"unknown customer {customer_id!r}: not in the scenario's customers table "
            f"({len(customers)} customers, e.g. {customers['customer_id'].iloc[0]!r})"
            if len(customers)
            else f"unknown customer {customer_id!r}: the scenario has no customers"
        )
    person = row.iloc[0]
    channels = list(scenario.channels)
    consent = [c for c in channels if bool(person[f"consent_{c}"])]
    attributes = {
        str(c): str(person[c])
        for c in customers.columns
        if c != "customer_id" and not str(c).startswith("consent_")
    }
    states = scenario.states[scenario.states["customer_id"] == customer_id]
    lookback = rule_lookback(scenario)
    sends = CustomerSends(scenario, customer_events(view, customer_id))
    events = sends.frame
    cands = scenario.candidates[scenario.candidates["customer_id"] == customer_id]
    explained = [explain_candidate(view, str(c), sends) for c in cands["candidate_id"]]

    by_day: dict[int, list[TimelineEvent]] = {}
    history = events[events["source"] == "history"]
    shown_history = history[history["day"] >= -lookback]
    for day, comm_id, channel, line, tier in zip(
        shown_history["day"], shown_history["comm_id"], shown_history["channel"],
        shown_history["product_line"], shown_history["priority"], strict=True,
    ):
        by_day.setdefault(int(day), []).append(
            TimelineEvent("history", "", str(comm_id), str(channel), str(line), int(tier), None)
        )
    for item in explained:
        first = _window_days(scenario, item)[0]
        if item.status == "sent":
            assert item.sent is not None
            by_day.setdefault(int(item.sent["day"]), []).append(
                TimelineEvent("sent", item.candidate_id, item.comm_id, item.sent["channel"],
                              item.product_line, item.tier, item.value)
            )
        else:
            by_day.setdefault(first, []).append(
                TimelineEvent("suppressed", item.candidate_id, item.comm_id,
                              "|".join(item.channels), item.product_line, item.tier, item.value,
                              item.reason, item.rule, item.detail,
                              f"{item.earliest}..{item.latest}")
            )
    order = {"history": 0, "sent": 1, "suppressed": 2}
    closed_days = {c: scenario.closed_days(c) for c in channels}
    days = sorted(set(by_day) | set(range(scenario.days)))
    timeline = []
    for day in days:
        date = scenario.date_of(day)
        in_state = states[(states["start_day"] <= day) & (states["end_day"] >= day)]
        closed = [c for c in channels if day in closed_days[c]]
        timeline.append(
            TimelineDay(
                date.isoformat(),
                WEEKDAYS[date.weekday()],
                0 <= day < scenario.days,
                sorted(set(in_state["state"].astype(str))),
                closed,
                sorted(by_day.get(day, []), key=lambda e: (order[e.kind], e.candidate_id,
                                                             e.comm_id)),
            )
        )
    return CustomerExplanation(
        customer_id=customer_id,
        plan=str(view.plan_dir),
        scenario=str(view.summary.get("scenario") or scenario.name),
        status=str(view.summary.get("status", "")),
        attributes=attributes,
        consent=consent,
        no_consent=[c for c in channels if c not in consent],
        states=[
            {"state": str(state), "start": scenario.date_of(int(start)).isoformat(),
             "end": _end_text(scenario, int(end))}
            for state, start, end in sorted(
                zip(states["state"], states["start_day"], states["end_day"], strict=True),
                key=lambda span: int(span[1]),
            )
        ],
        lookback_days=lookback,
        older_history=int(len(history) - len(shown_history)),
        timeline=timeline,
        candidates=explained,
    )


def rule_lookback(scenario: Scenario) -> int:
    """How many days before the horizon a history send can still matter to some rule."""
    reach = 0
    for rule in scenario.customer_rules:
        if isinstance(rule, FrequencyCap):
            reach = max(reach, 6 if rule.period == "week" else (rule.window_days or 1) - 1)
        elif isinstance(rule, NeverTogether):
            reach = max(reach, (rule.window_days or 1) - 1)
        elif isinstance(rule, MinGap):
            reach = max(reach, rule.days - 1)
        elif isinstance(rule, AroundExclusion):
            reach = max(reach, rule.days_after)
    if scenario.dedup.enabled:
        reach = max(reach, scenario.dedup.window_days - 1)
    return reach


def _window_days(scenario: Scenario, item: CandidateExplanation) -> list[int]:
    """The candidate's window clipped to the horizon; its earliest day when outside it."""
    low = (dt.date.fromisoformat(item.earliest) - scenario.start).days
    high = (dt.date.fromisoformat(item.latest) - scenario.start).days
    clipped = list(range(max(low, 0), min(high, scenario.days - 1) + 1))
    return clipped or [low]


def _end_text(scenario: Scenario, end_day: int) -> str:
    return "open-ended" if end_day >= OPEN_END else scenario.date_of(end_day).isoformat()


# --------------------------------------------------------------------------- events


def customer_events(view: PlanView, customer_id: str) -> pd.DataFrame:
    """The customer's history and planned sends, with the communication's facts.

    Columns: source ("history" / "planned"), candidate_id ("" for history), customer_id,
    comm_id, channel, day, value and worth (value x channel weight - cost x cost_weight; NaN
    for history), product_line, category, priority, tags, dedup_key, mandatory.
    """
    scenario = view.scenario
    history = scenario.history[scenario.history["customer_id"] == customer_id]
    planned = view.calendar[view.calendar["customer_id"] == customer_id]
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "source": "history",
                    "candidate_id": "",
                    "customer_id": customer_id,
                    "comm_id": history["comm_id"].astype(str).to_numpy(),
                    "channel": history["channel"].astype(str).to_numpy(),
                    "day": history["day"].to_numpy(np.int64),
                    "value": np.nan,
                    "worth": np.nan,
                }
            ),
            pd.DataFrame(
                {
                    "source": "planned",
                    "candidate_id": planned["candidate_id"].to_numpy(),
                    "customer_id": customer_id,
                    "comm_id": planned["comm_id"].to_numpy(),
                    "channel": planned["channel"].to_numpy(),
                    "day": planned["day"].to_numpy(np.int64),
                    "value": planned["value"].to_numpy(float),
                    "worth": planned["worth"].to_numpy(float),
                }
            ),
        ],
        ignore_index=True,
    )
    comms = scenario.communications.set_index("comm_id")
    events["day"] = events["day"].astype(np.int64)
    events["product_line"] = events["comm_id"].map(comms["product_line"]).fillna("").astype(str)
    events["category"] = events["comm_id"].map(comms["category"]).fillna("").astype(str)
    events["priority"] = events["comm_id"].map(comms["priority"]).fillna(0).astype(np.int64)
    events["tags"] = events["comm_id"].map(comms["tags"]).fillna("").astype(str)
    events["dedup_key"] = events["comm_id"].map(comms["dedup_key"]).fillna("").astype(str)
    events["mandatory"] = events["comm_id"].map(comms["mandatory"]).fillna(False).astype(bool)
    return events.sort_values(["day", "source", "candidate_id"], kind="stable").reset_index(
        drop=True
    )


class Send(NamedTuple):
    """One event of a customer: a history row or a planned send."""

    source: str  # "history" or "planned"
    candidate_id: str
    comm_id: str
    channel: str
    day: int
    value: float
    priority: int
    mandatory: bool
    dedup_key: str
    worth: float


class Option(NamedTuple):
    """One (day, channel) a candidate could be sent on."""

    date: str
    day: int
    channel: str
    consent: bool
    open: bool
    cost: float
    weight: float
    coef: float


class CustomerSends:
    """One customer's events (customer_events) as records, each selection's matches kept."""

    def __init__(self, scenario: Scenario, frame: pd.DataFrame) -> None:
        self.scenario = scenario
        self.frame = frame
        self.all = [
            Send(str(a), str(b), str(c), str(d), int(e), float(f), int(g), bool(h), str(i),
                 float(j))
            for a, b, c, d, e, f, g, h, i, j in zip(*(frame[n] for n in Send._fields),
                                                    strict=True)
        ]
        self._matches: dict[Selection, list[Send]] = {}

    def matching(self, selection: Selection) -> list[Send]:
        found = self._matches.get(selection)
        if found is None:
            mask = selection_mask(self.scenario, selection, self.frame)
            found = [send for send, keep in zip(self.all, mask, strict=True) if keep]
            self._matches[selection] = found
        return found


def _message(comm_id: str, dedup_key: str) -> str:
    key = str(dedup_key).strip()
    return f"key:{key}" if key else f"comm:{comm_id}"


# --------------------------------------------------------------------------- candidate view


def explain_candidate(
    view: PlanView, candidate_id: str, sends: CustomerSends | None = None
) -> CandidateExplanation:
    """One candidate: where it was sent, or what stops each of its options and what would
    have to change for it to go. `sends` (its customer's, from explain_customer) saves
    re-reading them for every candidate of one customer."""
    scenario = view.scenario
    cands = scenario.candidates
    rows = cands[cands["candidate_id"] == candidate_id]
    if rows.empty:
        raise ExplainError(
            f"unknown candidate {candidate_id!r}: not in the scenario's candidates table "
            f"({len(cands)} candidates)"
        )
    cand = rows.iloc[0]
    comm = scenario.communications.set_index("comm_id").loc[cand["comm_id"]]
    sent = view.calendar[view.calendar["candidate_id"] == candidate_id]
    dropped = view.suppressed[view.suppressed["candidate_id"] == candidate_id]
    if sent.empty and dropped.empty:
        raise ExplainError(
            f"candidate {candidate_id!r} is in neither calendar.csv nor suppressed.csv of "
            f"{view.plan_dir}: was this plan made from this scenario?"
        )
    channels = [c.strip() for c in str(cand["channels"]).split("|") if c.strip()]
    explanation = CandidateExplanation(
        candidate_id=candidate_id,
        customer_id=str(cand["customer_id"]),
        comm_id=str(cand["comm_id"]),
        product_line=str(comm["product_line"]),
        category=str(comm["category"]),
        tier=int(comm["priority"]),
        value=float(cand["value"]),
        earliest=str(cand["earliest"]),
        latest=str(cand["latest"]),
        channels=channels,
        status="sent" if not sent.empty else "suppressed",
        sent=None,
        reason="",
        rule="",
        detail="",
        options=[],
        findings=[],
        notes=[],
    )
    if not sent.empty:
        first = sent.iloc[0]
        explanation.sent = {"date": first["date"], "day": int(first["day"]),
                            "channel": first["channel"], "value": float(first["value"])}
        return explanation
    row = dropped.iloc[0]
    explanation.reason, explanation.rule, explanation.detail = (
        str(row["reason"]), str(row["rule"]), str(row["detail"]))
    if sends is None:
        sends = CustomerSends(scenario, customer_events(view, explanation.customer_id))
    analysis = _Analysis(view, cand, comm, sends, explanation)
    analysis.run()
    return explanation


def _value_text(value: float, worth: float, tier: int) -> str:
    """"value 9, tier 1", with the objective's worth when channel weight or cost change it."""
    shown = f"value {value:g}"
    if not np.isnan(worth) and f"{worth:.4g}" != f"{value:.4g}":
        shown += f", worth {worth:.4g}"
    return f"{shown}, tier {int(tier)}"


def _calendar_sends(scenario: Scenario, rows: pd.DataFrame) -> list[Send]:
    """Calendar rows (of any customers) as Send records."""
    comms = scenario.communications.set_index("comm_id")
    mandatory = rows["comm_id"].map(comms["mandatory"]).fillna(False).astype(bool)
    return [
        Send("planned", str(c), str(m), str(ch), int(d), float(v), int(t), bool(k), "", float(w))
        for c, m, ch, d, v, t, k, w in zip(rows["candidate_id"], rows["comm_id"],
                                           rows["channel"], rows["day"], rows["value"],
                                           rows["tier"], mandatory, rows["worth"], strict=True)
    ]


def _records(options: pd.DataFrame) -> list[Option]:
    return [
        Option(str(a), int(b), str(c), bool(d), bool(e), float(f), float(g), float(h))
        for a, b, c, d, e, f, g, h in zip(*(options[n] for n in Option._fields), strict=True)
    ]


class _Analysis:
    """What stops each option of one unsent candidate, rule by rule, with every other send
    held where the plan put it."""

    def __init__(
        self,
        view: PlanView,
        cand: pd.Series,
        comm: pd.Series,
        sends: CustomerSends,
        out: CandidateExplanation,
    ) -> None:
        self.view = view
        self.scenario = view.scenario
        self.cand = cand
        self.comm = comm
        self.out = out
        # a suppressed candidate is not in the calendar: its customer's events are the others
        self.sends = sends
        self.low = max(int(cand["earliest_day"]), 0)
        self.high = min(int(cand["latest_day"]), self.scenario.days - 1)
        customers = self.scenario.customers
        self.person = customers[customers["customer_id"] == out.customer_id]
        self.options = self._options()
        usable = self.options["consent"] & self.options["open"]
        self.usable = self.options[usable].reset_index(drop=True)
        self.option_rows = _records(self.options)
        self.usable_rows = _records(self.usable)
        # the most this candidate could add to the objective, on its best usable option
        self.worth = max((o.coef for o in self.usable_rows), default=float(cand["value"]))

    # ----------------------------------------------------------------- options

    def _options(self) -> pd.DataFrame:
        scenario, cand = self.scenario, self.cand
        person = self.person
        rows = []
        for channel in dict.fromkeys(self.out.channels):
            if channel not in scenario.channels:
                continue
            consent = bool(person[f"consent_{channel}"].iloc[0])
            closed = scenario.closed_days(channel)
            cost = scenario.channels[channel].cost + float(self.comm["cost"])
            for day in range(self.low, self.high + 1):
                rows.append((channel, day, consent, day not in closed, cost))
        frame = pd.DataFrame(rows, columns=["channel", "day", "consent", "open", "cost"])
        frame = frame.astype({"channel": object, "day": np.int64, "consent": bool,
                              "open": bool, "cost": float})
        frame.insert(0, "candidate_id", self.out.candidate_id)
        frame.insert(1, "customer_id", self.out.customer_id)
        frame.insert(2, "comm_id", self.out.comm_id)
        frame["date"] = [scenario.date_of(d).isoformat() for d in frame["day"]]
        weight = channel_weights(replace(scenario, customers=person), frame)
        frame["coef"] = (
            float(cand["value"]) * weight - frame["cost"] * scenario.objective.cost_weight
        )
        frame["weight"] = weight
        return frame

    @staticmethod
    def _label(option: Any) -> str:
        return f"{option.date} {option.channel}"

    # ----------------------------------------------------------------- driver

    def run(self) -> None:
        out, scenario = self.out, self.scenario
        findings: list[Finding] = []
        data = self._data_finding()
        if data is not None:
            findings.append(data)
        if not self.usable.empty:
            for rule in scenario.customer_rules:
                found = None
                if isinstance(rule, (FrequencyCap, NeverTogether)):
                    found = self._frequency(rule)
                elif isinstance(rule, MinGap):
                    found = self._min_gap(rule)
                elif isinstance(rule, StateExclusion):
                    found = self._state(rule)
                elif isinstance(rule, CustomerExclusion):
                    found = self._flag(rule)
                elif isinstance(rule, AroundExclusion):
                    found = self._around(rule)
                if found is not None:
                    findings.append(found)
            dedup = self._dedup()
            if dedup is not None:
                findings.append(dedup)
            for rule in scenario.global_rules:
                assert isinstance(rule, (Capacity, Budget, Volume))
                found = self._global(rule)
                if found is not None:
                    findings.append(found)
        if out.reason == "no_value" and not any(f.reason == "no_value" for f in findings):
            findings.append(self._no_value())
        for finding in findings:
            finding.binding = self._is_binding(finding)
        findings.sort(key=lambda f: not f.binding)
        out.findings = findings
        out.options = self._option_rows(findings)
        if not any(f.binding for f in findings):
            named = f"rule {out.rule!r}" if out.rule else f"reason {out.reason!r}"
            out.notes.append(
                f"the plan names {named}, though with the other sends where the plan put "
                "them it stops none of this candidate's options now"
                + (" (an invalid row is reported by the loader)" if out.reason == "invalid"
                   else "")
            )
        free = [o["option"] for o in out.options
                if o["usable"] and not o["hard_blocked_by"] and not o["penalised_by"]]
        if free and out.reason not in DATA_REASONS:
            out.notes.append(
                "nothing in the plan's files stops " + ", ".join(free) + ": the optimiser "
                "left it out in favour of what it names (e.g. a tie, or a choice between "
                "conflicting candidates)"
            )

    def _is_binding(self, finding: Finding) -> bool:
        out = self.out
        if out.reason == "duplicate":
            return finding.reason == "duplicate"
        if out.rule:
            return finding.rule == out.rule
        return finding.reason == out.reason

    def _option_rows(self, findings: list[Finding]) -> list[dict[str, Any]]:
        rows = []
        for option in self.option_rows:
            label = self._label(option)
            data = []
            if not option.consent:
                data.append(f"no consent_{option.channel}")
            if not option.open:
                data.append(f"{option.channel} closed")
            hard = [f.rule or f.reason for f in findings
                    if not f.soft and f.reason not in DATA_REASONS and label in f.blocks]
            soft = [f.rule for f in findings if f.soft and label in f.blocks]
            rows.append({"option": label, "date": option.date, "channel": option.channel,
                         "usable": not data, "data": data, "hard_blocked_by": hard,
                         "penalised_by": soft})
        return rows

    # ----------------------------------------------------------------- data facts

    def _data_finding(self) -> Finding | None:
        out, scenario = self.out, self.scenario
        if self.low > self.high:
            return Finding(
                "outside_horizon", "", False, [],
                [f"its window {out.earliest}..{out.latest} does not meet the horizon "
                 f"{scenario.start}..{scenario.end}"],
                [f"its window would need to overlap {scenario.start}..{scenario.end}"],
                data={"window": [out.earliest, out.latest],
                      "horizon": [scenario.start.isoformat(), scenario.end.isoformat()]},
            )
        if not self.usable.empty:
            return None
        person = scenario.customers[scenario.customers["customer_id"] == out.customer_id]
        consented = sorted(set(self.options.loc[self.options["consent"], "channel"]))
        if not consented:
            cells = []
            for channel in out.channels:
                column = f"consent_{channel}"
                if channel not in scenario.channels:
                    cells.append(f"{channel} is not a channel of the scenario")
                else:
                    cells.append(f"{column} = {bool(person[column].iloc[0])}".lower())
            return Finding(
                "no_consent", "", False, [],
                [f"its channels {'|'.join(out.channels)}: " + ", ".join(cells)],
                [f"the customer would need consent on one of {', '.join(out.channels)}"
                 " (a consent_<channel> column set to true)"],
                data={"channels": out.channels},
            )
        facts = []
        closed_by_channel: dict[str, list[str]] = {}
        for channel in consented:
            days = self.options[self.options["channel"] == channel]
            closed_by_channel[channel] = list(days.loc[~days["open"], "date"])
            facts.append(f"{channel} is closed on every day of its window: "
                         + ", ".join(closed_by_channel[channel]))
        change = [self._next_open(consented)]
        return Finding("channel_closed", "", False, [], facts, change,
                       data={"closed": closed_by_channel})

    def _next_open(self, channels: list[str]) -> str:
        scenario = self.scenario
        for day in range(self.high + 1, self.high + 15):
            date = scenario.date_of(day)
            for channel in channels:
                spec = scenario.channels[channel]
                if date.weekday() not in spec.closed_weekdays and date not in spec.closed_dates:
                    after = (f", after the horizon (ends {scenario.end})"
                             if day >= scenario.days else "")
                    return (f"its window would need to reach an open day: {channel} is next "
                            f"open on {date}{after}")
        return "a consented channel would need to open on a day of its window"

    def _no_value(self) -> Finding:
        usable = self.usable if not self.usable.empty else self.options
        best = usable.iloc[int(np.argmax(usable["coef"].to_numpy(float)))] if len(usable) else None
        facts, change = [f"its value is {self.out.value:g}"], []
        if best is not None:
            facts.append(
                f"net of cost at best ({best['date']} {best['channel']}): "
                f"{self.out.value:g} x channel weight {best['weight']:g} - cost "
                f"{best['cost']:g} x cost_weight {self.scenario.objective.cost_weight:g} "
                f"= {best['coef']:g}, not above 0"
            )
            needed = best["cost"] * self.scenario.objective.cost_weight / best["weight"]
            change.append(f"its value would need to be above {needed:g} "
                          f"(currently {self.out.value:g})")
        return Finding("no_value", "", False, [], facts, change,
                       data={"value": self.out.value,
                             "best_net": None if best is None else float(best["coef"])})

    # ----------------------------------------------------------------- comparisons

    def _beats(self, send: Send) -> bool:
        """Would the objective prefer this candidate to a planned send? Tiers first, then
        worth (value x channel weight - cost x cost_weight)."""
        tier = int(self.out.tier)
        return tier < send.priority or (tier == send.priority and self.worth > send.worth)

    def _mine(self) -> str:
        return _value_text(self.out.value, self.worth, self.out.tier)

    def _describe(self, send: Send) -> str:
        date = self.scenario.date_of(int(send.day)).isoformat()
        if send.source == "history":
            return f"{date} {send.comm_id} by {send.channel} (history)"
        extra = ", mandatory" if send.mandatory else ""
        return (f"{date} {send.candidate_id} {send.comm_id} by {send.channel} "
                f"({_value_text(send.value, send.worth, send.priority)}{extra})")

    def _event_record(self, send: Any) -> dict[str, Any]:
        return {
            "date": self.scenario.date_of(int(send.day)).isoformat(),
            "source": send.source,
            "candidate_id": send.candidate_id,
            "comm_id": send.comm_id,
            "channel": send.channel,
            "value": None if send.source == "history" else float(send.value),
            "worth": None if send.source == "history" else float(send.worth),
            "tier": int(send.priority),
        }

    def _drop_line(self, victims: list[Send], where: str) -> str:
        """Offer to drop the lowest-value planned sends in the way when this one beats them."""
        victims = sorted(victims, key=lambda s: (-s.priority, s.worth))
        listed = ", ".join(self._describe(s) for s in victims[:SHOWN])
        if self._beats(victims[0]):
            return (f"or drop one of: {listed}; this one ({self._mine()}) beats the lowest, "
                    f"and this rule then lets it go {where}")
        return (f"dropping a planned send would not pay: the lowest in the way is "
                f"{self._describe(victims[0])}, worth at least as much as this one "
                f"({self._mine()})")

    # ----------------------------------------------------------------- per-customer rules

    def _options_matching(self, selection: Selection) -> list[Option]:
        mask = selection_mask(self.scenario, selection, self.usable)
        return [o for o, keep in zip(self.usable_rows, mask, strict=True) if keep]

    def _frequency(self, rule: FrequencyCap | NeverTogether) -> Finding | None:
        scenario = self.scenario
        is_cap = isinstance(rule, FrequencyCap)
        cap = rule.max if isinstance(rule, FrequencyCap) else 1
        if isinstance(rule, FrequencyCap):
            period = rule.period
        else:
            period = "rolling" if rule.window_days is not None else "horizon"
        options = self._options_matching(rule.select)
        if not options:
            return None
        sends = self.sends.matching(rule.select)
        if period == "horizon":
            sends = [s for s in sends if s.source == "planned"]  # a horizon count: no history
        days = np.array([s.day for s in sends], dtype=np.int64)

        def windows(day: int) -> list[tuple[int, int]]:
            if period == "horizon":
                return [(0, scenario.days - 1)]
            if period == "week":
                monday = day - (day + scenario.start.weekday()) % 7
                return [(monday, monday + 6)]
            assert rule.window_days is not None
            return [(s, s + rule.window_days - 1)
                    for s in range(day - rule.window_days + 1, day + 1)]

        def count(window: tuple[int, int]) -> int:
            return int(((days >= window[0]) & (days <= window[1])).sum())

        full_by_day: dict[int, list[tuple[int, int, int]]] = {}
        for day in sorted({o.day for o in options}):
            counted = [(s, e, count((s, e))) for s, e in windows(day)]
            full = [w for w in counted if w[2] >= cap]
            if full:
                full_by_day[day] = full
        if not full_by_day:
            return None
        blocked = [o for o in options if o.day in full_by_day]

        # windows holding the same sends say the same thing: show the earliest of each
        same: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        for full in full_by_day.values():
            for start, end, _ in full:
                content = tuple(np.flatnonzero((days >= start) & (days <= end)).tolist())
                if (start, end) not in same.setdefault(content, []):
                    same[content].append((start, end))
        facts, records = [], []
        for content, spans in sorted(same.items(), key=lambda item: min(item[1])):
            start, end = min(spans)
            inside = [sends[i] for i in content]
            history = sum(s.source == "history" for s in inside)
            more = (f" (and {len(spans) - 1} more window(s) holding the same sends)"
                    if len(spans) > 1 else "")
            facts.append(
                f"{self._window_label(period, start, end, rule)}{more} holds {len(inside)} "
                f"matching send(s) ({history} history + {len(inside) - history} planned), "
                f"max {cap}: " + "; ".join(self._describe(s) for s in inside)
            )
            records.append({"start": scenario.date_of(start).isoformat(),
                            "end": scenario.date_of(end).isoformat(), "count": len(inside),
                            "history": history, "planned": len(inside) - history, "max": cap,
                            "sends": [self._event_record(s) for s in inside]})

        needed = min(max(w[2] for w in full) for full in full_by_day.values()) + 1
        change = [
            f"cap would need to be {needed} (currently {cap})" if is_cap
            else f"{rule.name} would need to allow {needed} matching sends per window "
                 f"(currently 1)"
        ]
        best: tuple[int, list[Send]] | None = None
        for day, full in sorted(full_by_day.items()):
            if max(w[2] for w in full) - cap + 1 > 1:
                continue  # more than one send would have to go
            low = max(w[0] for w in full)
            high = min(w[1] for w in full)
            victims = [s for s in sends
                       if s.source == "planned" and not s.mandatory and low <= s.day <= high]
            if victims and (best is None or min(v.value for v in victims)
                            < min(v.value for v in best[1])):
                best = (day, victims)
        if best is not None:
            change.append(self._drop_line(best[1], f"on {scenario.date_of(best[0])}"))
        elif period != "horizon":
            free = self._first_free_day(windows, count, cap)
            if free is not None:
                where = "after its window" if free > self.high else "in its window"
                change.append(f"no planned send in the way can be dropped; the cap next has "
                              f"room on {scenario.date_of(free)} ({where}, ends "
                              f"{self.out.latest})")
        return Finding(
            "frequency_cap" if is_cap else "never_together", rule.name, False,
            [self._label(o) for o in blocked], facts, change,
            data={"max": cap, "period": period,
                  "window_days": getattr(rule, "window_days", None),
                  "windows": records, "needed_max": needed},
        )

    def _window_label(self, period: str, start: int, end: int, rule: Any) -> str:
        span = f"{self.scenario.date_of(start)}..{self.scenario.date_of(end)}"
        if period == "horizon":
            return f"the horizon {span} (planned sends only)"
        if period == "week":
            return f"the week {span}"
        if rule.window_days == 1:
            return f"the day {self.scenario.date_of(start)}"
        return f"the {rule.window_days} days {span}"

    def _first_free_day(self, windows: Any, count: Any, cap: int) -> int | None:
        for day in range(self.low, self.high + 60):
            if all(count(w) < cap for w in windows(day)):
                return day
        return None

    def _min_gap(self, rule: MinGap) -> Finding | None:
        scenario = self.scenario
        as_then = selection_mask(scenario, rule.then, self.usable)
        as_first = selection_mask(scenario, rule.first, self.usable)
        firsts = self.sends.matching(rule.first)
        thens = [s for s in self.sends.matching(rule.then) if s.source == "planned"]
        conflicts: dict[int, list[tuple[Send, int]]] = {}
        for i, option in enumerate(self.usable_rows):
            found: list[tuple[Send, int]] = []
            if as_then[i]:
                found += [(s, option.day - s.day) for s in firsts
                          if 0 <= option.day - s.day < rule.days]
            if as_first[i]:
                found += [(s, s.day - option.day) for s in thens
                          if 0 <= s.day - option.day < rule.days]
            if found:
                conflicts[i] = found
        if not conflicts:
            return None
        seen: dict[tuple[str, str, int], tuple[Send, int]] = {}
        for found in conflicts.values():
            for send, gap in found:
                key = (send.source, send.candidate_id or send.comm_id, int(send.day))
                if key not in seen or gap < seen[key][1]:
                    seen[key] = (send, gap)
        ordered = sorted(seen.values(), key=lambda pair: int(pair[0].day))
        facts = [
            f"{self._describe(send)} is {gap} day(s) from its nearest option; "
            f"{rule.name} needs at least {rule.days} days between"
            for send, gap in ordered
        ]
        widest = max(min(g for _, g in found) for found in conflicts.values())
        change = [
            f"min_gap days would need to be {widest} (currently {rule.days}): the widest gap "
            f"any of its options has"
            if widest > 0
            else f"no shorter gap helps: a conflicting send is on the same day; "
                 f"{rule.name} would have to exempt it"
        ]
        droppable = [
            (i, [s for s, _ in found])
            for i, found in conflicts.items()
            if all(s.source == "planned" and not s.mandatory for s, _ in found)
            and len({s.candidate_id for s, _ in found}) == 1
        ]
        if droppable:
            i, victims = min(droppable, key=lambda pair: float(pair[1][0].value))
            change.append(self._drop_line(victims, f"on {self.usable_rows[i].date}"))
        else:
            history = [s.day for s in firsts if s.source == "history"]
            if history:
                reopen = max(history) + rule.days
                change.append(f"history keeps it out until {scenario.date_of(reopen)} "
                              f"(its window ends {self.out.latest})")
        return Finding(
            "min_gap", rule.name, False,
            [self._label(self.usable_rows[i]) for i in sorted(conflicts)], facts, change,
            data={"days": rule.days, "widest_gap": widest,
                  "conflicts": [{**self._event_record(s), "gap": g} for s, g in ordered]},
        )

    def _state(self, rule: StateExclusion) -> Finding | None:
        scenario = self.scenario
        options = self._options_matching(rule.select)
        table = scenario.states
        table = table[(table["customer_id"] == self.out.customer_id)
                      & table["state"].isin(rule.states)]
        if not options or table.empty:
            return None
        spans = list(zip(table["state"].astype(str), table["start_day"].astype(int),
                         table["end_day"].astype(int), strict=True))
        blocked, hit = [], set()
        for option in options:
            covering = [span for span in spans if span[1] <= option.day <= span[2]]
            if covering:
                blocked.append(self._label(option))
                hit |= set(covering)
        if not blocked:
            return None
        facts, records = [], []
        for state, start_day, end_day in sorted(hit, key=lambda span: span[1]):
            start = scenario.date_of(start_day).isoformat()
            end = _end_text(scenario, end_day)
            facts.append(f"the customer is in state {state!r} from {start} to {end}, "
                         f"which {rule.name} excludes for {self.out.comm_id}")
            records.append({"state": state, "start": start, "end": end})
        change = [f"exclusion {rule.name} would need to exempt it"]
        last_end = max(span[2] for span in hit)
        if last_end < OPEN_END:
            change.append(f"or its window would need to reach past the state's end: the day "
                          f"after is {scenario.date_of(last_end + 1)} "
                          f"(its window ends {self.out.latest})")
        return Finding("exclusion", rule.name, False, blocked, facts, change,
                       data={"states": records})

    def _flag(self, rule: CustomerExclusion) -> Finding | None:
        person = self.person
        flagged = all(
            any(cell_matches(person[column], value)[0] for value in values)
            for column, values in rule.customers
        )
        options = self._options_matching(rule.select)
        if not flagged or not options:
            return None
        cells = {column: str(person[column].iloc[0]) for column, _ in rule.customers}
        facts = [f"the customer's {column} is {cells[column]!r}, which {rule.name} excludes "
                 f"({column} in {list(values)})" for column, values in rule.customers]
        change = [f"exclusion {rule.name} would need to exempt it (or the customer's "
                  + ", ".join(cells) + " would need to change)"]
        return Finding("exclusion", rule.name, False, [self._label(o) for o in options],
                       facts, change, data={"flags": cells})

    def _around(self, rule: AroundExclusion) -> Finding | None:
        as_select = selection_mask(self.scenario, rule.select, self.usable)
        as_around = selection_mask(self.scenario, rule.around, self.usable)
        arounds = self.sends.matching(rule.around)
        selects = [s for s in self.sends.matching(rule.select) if s.source == "planned"]
        blocked: list[str] = []
        near: dict[tuple[str, str, str, int], Send] = {}
        for i, option in enumerate(self.usable_rows):
            found = []
            if as_select[i]:
                found += [s for s in arounds
                          if s.day - rule.days_before <= option.day <= s.day + rule.days_after]
            if as_around[i]:
                found += [s for s in selects
                          if option.day - rule.days_before <= s.day <= option.day
                          + rule.days_after]
            if found:
                blocked.append(self._label(option))
                for send in found:
                    near[(send.source, send.candidate_id, send.comm_id, int(send.day))] = send
        if not blocked:
            return None
        sends = sorted(near.values(), key=lambda s: int(s.day))
        facts = [f"{self._describe(s)} is within {rule.days_before} day(s) before / "
                 f"{rule.days_after} after its options, which {rule.name} forbids"
                 for s in sends]
        return Finding("exclusion", rule.name, False, blocked, facts,
                       [f"exclusion {rule.name} would need to exempt it"],
                       data={"around": [self._event_record(s) for s in sends]})

    def _dedup(self) -> Finding | None:
        scenario = self.scenario
        if not scenario.dedup.enabled:
            return None
        message = _message(self.out.comm_id, str(self.comm["dedup_key"]))
        same = [s for s in self.sends.all if _message(s.comm_id, s.dedup_key) == message]
        copies = [s for s in same if s.source == "planned"]
        history = [s for s in same if s.source == "history"]
        window = scenario.dedup.window_days
        key = str(self.comm["dedup_key"]).strip()
        label = f"dedup_key {key!r}" if key else f"comm {self.out.comm_id}"
        facts, change, blocked = [], [], set()
        if copies:
            blocked |= {self._label(o) for o in self.usable_rows}
            facts += [f"the same message ({label}) is already sent: {self._describe(s)}"
                      for s in copies]
            best = max(copies, key=lambda s: (-s.priority, s.worth))
            if self._beats(best):
                change.append(f"send it instead of {best.candidate_id}: this one "
                              f"({self._mine()}) beats it "
                              f"({_value_text(best.value, best.worth, best.priority)})")
            else:
                change.append(f"nothing to change: the copy sent, {best.candidate_id}, is "
                              f"worth at least as much "
                              f"({_value_text(best.value, best.worth, best.priority)}, against "
                              f"{self._mine()})")
        if history and window > 0:
            last = max(history, key=lambda s: int(s.day))
            recent = [o for o in self.usable_rows if o.day - last.day < window]
            if recent:
                blocked |= {self._label(o) for o in recent}
                reopen = int(last.day) + window
                facts.append(f"the same message ({label}) is in history: "
                             f"{self._describe(last)}; the dedup window of {window} days "
                             f"re-opens on {scenario.date_of(reopen)}")
                widest = max(o.day - int(last.day) for o in recent)
                where = "after its window" if reopen > self.high else "in its window"
                change.append(f"it may repeat from {scenario.date_of(reopen)} ({where}, ends "
                              f"{self.out.latest}), or dedup window_days would need to be at "
                              f"most {widest} (currently {window})")
        if not blocked:
            return None
        return Finding(
            "duplicate", "dedup", False, sorted(blocked), facts, change,
            data={"message": f"dedup_key {key}" if key else f"comm {self.out.comm_id}",
                  "copies": [self._event_record(s) for s in copies],
                  "history": [self._event_record(s) for s in history],
                  "window_days": window},
        )

    # ----------------------------------------------------------------- global rules

    def _weakest_user(self, rule: Capacity | Budget | Volume, metric: str, option: pd.Series,
                      excess: float) -> str:
        """The weakest planned send using the rule whose removal would make room."""
        calendar = self.view.calendar
        users = calendar[selection_mask(self.scenario, rule.select, calendar)]
        if isinstance(rule, Capacity) and rule.per == "day":
            users = users[users["day"] == option["day"]]
        if metric == "count":
            amounts = pd.Series(1.0, index=users.index)
        elif metric == "cost":
            amounts = users["cost"]
        else:
            values = self.scenario.candidates.set_index("candidate_id")[metric]
            amounts = users["candidate_id"].map(values).astype(float)
        comms = self.scenario.communications.set_index("comm_id")
        mandatory = users["comm_id"].map(comms["mandatory"]).fillna(False).astype(bool)
        frees = amounts >= excess - EPS * max(1.0, abs(excess))
        able = users[frees & ~mandatory]
        where = (f" on {option['date']}" if isinstance(rule, Capacity) and rule.per == "day"
                 else "")
        if able.empty:
            return f"no single non-mandatory send using {rule.name}{where} frees enough room"
        order = np.lexsort((able["worth"].to_numpy(float), -able["tier"].to_numpy()))
        weakest = _calendar_sends(self.scenario, able.iloc[order[:1]])[0]
        text = (f"the weakest non-mandatory send using it{where} that would free enough "
                f"room is {weakest.candidate_id} ({weakest.comm_id}, "
                f"{_value_text(weakest.value, weakest.worth, weakest.priority)}) of "
                f"{len(users)}")
        if self._beats(weakest):
            return text + (f": dropping it for this one ({self._mine()}) would raise the "
                           "objective")
        return text + f": this one ({self._mine()}) does not beat it, so the plan keeps it"

    def _winner_lines(self) -> list[str]:
        """Compare with the lowest-value winners the plan's detail names (tiers first)."""
        names = [name for name, _ in WINNER.findall(self.out.detail)]
        if not names:
            return []
        calendar = self.view.calendar
        won = calendar[calendar["candidate_id"].isin(names)].drop_duplicates("candidate_id")
        if won.empty:
            return []
        victims = _calendar_sends(self.scenario, won)
        lowest = sorted(victims, key=lambda s: (-s.priority, s.worth))[0]
        listed = ", ".join(f"{s.candidate_id} ({_value_text(s.value, s.worth, s.priority)})"
                           for s in victims)
        if self._beats(lowest):
            verdict = (f"it beats {lowest.candidate_id}: swapping them would raise the objective"
                       f" (the plan's gap is {float(self.view.summary.get('gap') or 0):.2%})")
        else:
            verdict = f"it does not beat {lowest.candidate_id}, so the winners stay"
        return [f"to take a place it would have to beat the lowest-value winners: {listed}; "
                f"this one has {self._mine()}: {verdict}"]

    def _global(self, rule: Capacity | Budget | Volume) -> Finding | None:
        entries = [e for e in self.view.summary.get("global_rules") or []
                   if isinstance(e, dict) and e.get("name") == rule.name]
        options = self.usable[selection_mask(self.scenario, rule.select, self.usable)]
        if options.empty:
            return None
        if not entries:
            if rule.name == self.out.rule:
                self.out.notes.append(f"summary.json has no usage for {rule.name}")
            return None
        entry = entries[0]
        limit: float | None
        if isinstance(rule, Capacity):
            kind, metric, limit = "capacity", "count", rule.max
        elif isinstance(rule, Budget):
            kind, metric, limit = "budget", "cost", rule.max
        else:
            kind, metric, limit = "volume", rule.metric, rule.max
        if limit is None:
            return None
        if metric == "count":
            amounts = np.ones(len(options))
        elif metric == "cost":
            amounts = options["cost"].to_numpy(float)
        else:
            amounts = np.full(len(options), float(self.cand[metric]))
        usage: Any = entry.get("usage")
        per_day = isinstance(usage, dict)
        used = np.array([float(usage.get(d, 0.0)) if per_day else float(usage or 0.0)
                         for d in options["date"]])
        over = used + amounts > limit + EPS * max(1.0, abs(limit))
        if not over.any():
            return None
        hit = options[over]
        facts = []
        if per_day:
            for date in sorted(set(hit["date"])):
                facts.append(f"{date}: {float(usage.get(date, 0.0)):g} of max {limit:g} "
                             f"{'sends' if metric == 'count' else metric} used")
        else:
            facts.append(f"{metric} used {float(usage or 0.0):g} of max {limit:g}; it needs "
                         f"{float(amounts[over].min()):g} more")
        if rule.soft is not None:
            facts.append(f"soft: each unit beyond max costs {rule.soft.penalty:g} "
                         f"(tier {rule.soft.tier})")
        coefs = hit["coef"].to_numpy(float)
        units = amounts[over]
        positive = units > 0
        per_unit = float(np.max(coefs[positive] / units[positive])) if positive.any() else None
        price = entry.get("shadow_price")
        change = []
        if price is not None and per_unit is not None:
            position = int(np.argmax(np.where(positive, coefs / np.where(positive, units, 1),
                                              -np.inf)))
            option = hit.iloc[position]
            value_needed = ((float(price) * units[position] + option["cost"]
                             * self.scenario.objective.cost_weight) / option["weight"])
            needs = (f"needs value per unit above the shadow price {float(price):g} (its value "
                     f"per unit is {per_unit:g})")
            if per_unit <= float(price):
                change.append(f"{needs}: a value above {value_needed:g} instead of "
                              f"{self.out.value:g}")
            else:
                change.append(f"{needs}: it is above, so at that price it would earn a place; "
                              "the plan's final repair gave the room to others")
                if rule.name == self.out.rule:
                    change += self._winner_lines()
        elif rule.name == self.out.rule:
            change += self._winner_lines()
        if rule.soft is None:
            best = hit.iloc[int(np.argmax(coefs))]
            weakest = self._weakest_user(rule, metric, best,
                                         float(used[over].min() + units.min() - limit))
            if weakest:
                change.append(weakest)
        room = float(np.max(used[over] + amounts[over])) if per_day else float(
            used[over].min() + amounts[over].min())
        change.append(f"or max would need to be {room:g} (currently {limit:g})")
        return Finding(
            kind, rule.name, False, list(hit["date"] + " " + hit["channel"]),
            facts, change, soft=rule.soft is not None,
            data={"metric": metric, "max": limit, "per": entry.get("per"),
                  "usage": usage, "shadow_price": price, "value_per_unit": per_unit},
        )


# --------------------------------------------------------------------------- rendering


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _value(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def render_customer(explained: CustomerExplanation) -> str:
    """The customer view as plain text: header, timeline table, then each dropped candidate."""
    lines = [
        f"customer {explained.customer_id} in plan {explained.plan} "
        f"({explained.scenario}, status {explained.status})",
        "consent: " + (", ".join(explained.consent) or "none")
        + (f"; none for {', '.join(explained.no_consent)}" if explained.no_consent else ""),
    ]
    attributes = [f"{k}={v}" for k, v in explained.attributes.items() if v != ""]
    if attributes:
        lines.append("attributes: " + ", ".join(attributes))
    if explained.states:
        lines.append("states: " + ", ".join(
            f"{s['state']} {s['start']}..{s['end']}" for s in explained.states))
    lines.append(
        f"history shown: days with sends in the last {explained.lookback_days} days before "
        "the horizon (the longest reach of a rule)"
        + (f"; {explained.older_history} older send(s) not shown"
           if explained.older_history else "")
    )
    lines.append("")
    rows = []
    for day in explained.timeline:
        head = [day.date, day.weekday + ("" if day.in_horizon else " (past)"),
                ",".join(day.states), ",".join(day.closed)]
        if not day.events:
            rows.append(head + [""] * 10)
        for position, event in enumerate(day.events):
            cells = head if position == 0 else [""] * 4
            rows.append(cells + [
                event.kind, event.candidate_id, event.comm_id, event.channel,
                event.product_line, str(event.tier), _value(event.value),
                event.window, f"{event.reason} {event.rule}".strip(), event.detail,
            ])
    lines += _table(["date", "day", "states", "closed", "event", "candidate", "comm",
                     "channel", "line", "tier", "value", "window", "reason rule", "detail"],
                    rows)
    dropped = [c for c in explained.candidates if c.status == "suppressed"]
    if dropped:
        lines += ["", "what would have to change for each suppressed candidate:"]
        for item in dropped:
            lines += [""] + _candidate_lines(item, brief=True)
    return "\n".join(lines) + "\n"


def render_candidate(item: CandidateExplanation) -> str:
    """One candidate as plain text: where it went, or every option's blockers and the fix."""
    return "\n".join(_candidate_lines(item, brief=False)) + "\n"


def _candidate_lines(item: CandidateExplanation, brief: bool) -> list[str]:
    head = (f"{item.candidate_id}: {item.comm_id} ({item.product_line}, {item.category}, "
            f"tier {item.tier}, value {item.value:g}) for customer {item.customer_id}, "
            f"window {item.earliest}..{item.latest}, channels {'|'.join(item.channels)}")
    if item.status == "sent":
        assert item.sent is not None
        return [head, f"  sent on {item.sent['date']} by {item.sent['channel']}"]
    lines = [head, f"  suppressed: {item.reason}" + (f", rule {item.rule}" if item.rule else "")
             + (f": {item.detail}" if item.detail else "")]
    if not brief:
        groups: dict[str, list[str]] = {}
        for option in item.options:
            why = option["data"] + option["hard_blocked_by"] + [
                f"{r} (soft, penalised)" for r in option["penalised_by"]]
            groups.setdefault(", ".join(why) or "nothing stops it", []).append(option["option"])
        if groups:
            lines.append("  options:")
            lines += [f"    {', '.join(labels)}: {why}" for why, labels in groups.items()]
    for finding in item.findings:
        if brief and not finding.binding:
            continue
        title = finding.rule or finding.reason
        tag = "binding" if finding.binding else "also"
        lines.append(f"  {tag}: {title} ({finding.reason}"
                     + (", soft" if finding.soft else "")
                     + (f", stops {len(finding.blocks)} option(s)" if finding.blocks else "")
                     + ")")
        lines += [f"    why: {fact}" for fact in finding.facts]
        lines += [f"    change: {change}" for change in finding.change]
    if brief:
        others = [f for f in item.findings if not f.binding and f.reason not in DATA_REASONS]
        if others:
            lines.append("  also in the way: " + ", ".join(
                f"{f.rule or f.reason} ({f.reason}, {len(f.blocks)} option(s))" for f in others))
    lines += [f"  note: {note}" for note in item.notes]
    return lines


def to_json(explained: CustomerExplanation | CandidateExplanation) -> str:
    """Strict JSON (a NaN becomes null) for scripts."""
    return json.dumps(_finite(explained.to_dict()), indent=2, default=_json_default,
                      allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")
