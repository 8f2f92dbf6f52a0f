"""The contact audit: how hard customers would be contacted if every team's proposals went out.

Before any strategy is applied, `audit_scenario` takes the candidates exactly as
the teams proposed them and pretends all were sent, so planners can show the
pressure they are asked to fix:

- each candidate counts once, on its earliest day inside the horizon (its
  window clipped to the horizon), on its first listed channel; a candidate
  whose window lies entirely outside the horizon is listed as such and not
  counted;
- contacts per customer are counted per week, where week k is the k-th run of
  7 days from the horizon start (a calendar week when the horizon starts on a
  Monday; the last week is shorter when the horizon is not a whole number of
  weeks). Every customer of the customers table counts, with 0 if nothing is
  proposed to them;
- quantiles are nearest-rank: "p90 = 6" means at least 90% of customers get at
  most 6 contacts that week;
- a promotion is a candidate whose communication has category `marketing`.

This is pure pandas over the scenario tables: no options, no solver.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models import Scenario

__all__ = [
    "Audit",
    "BUCKETS",
    "DEFAULT_SENSITIVE_STATES",
    "audit_scenario",
    "bucket_of",
    "format_cell",
    "render_audit",
    "text_table",
]

DEFAULT_SENSITIVE_STATES: tuple[str, ...] = ("complaint", "collections")
PROMOTION_CATEGORY = "marketing"
BILL_TAG = "bill"
WEEK_DAYS = 7

#: Histogram buckets of contacts per customer per week: (label, lowest, highest).
BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2", 2, 2),
    ("3", 3, 3),
    ("4", 4, 4),
    ("5", 5, 5),
    ("6-9", 6, 9),
    ("10+", 10, math.inf),
)
QUANTILES = (("median", 0.5), ("p90", 0.9), ("p99", 0.99))


@dataclass
class Audit:
    """The audit of one scenario. Every table is a pandas DataFrame with a fresh index.

    - `contacts`: the calendar "as if all were sent", one row per in-horizon
      candidate: candidate_id, customer_id, comm_id, product_line, category,
      source, team (source, or product_line when source is empty), channel,
      day, date, week, value.
    - `outside_horizon`: candidates whose window misses the horizon:
      candidate_id, customer_id, comm_id, product_line, earliest, latest.
    - `weeks`: week, first, last, days.
    - `per_customer_week`: customer_id, week, contacts (every customer x week).
    - `distribution`: per week: customers, mean, min, median, p90, p99, max.
    - `histogram`: week, bucket, customers (buckets of BUCKETS, in order).
    - `most_contacted`: customer_id, week, contacts, product_lines.
    - `promotions_in_states`: one row per promotion proposed on a day its
      customer is in a sensitive state: candidate_id, customer_id, comm_id,
      product_line, team, date, states.
    - `states_summary`: state, promotions, customers; a last row `any` counts
      each promotion once.
    - `promotions_on_bill_days`: one row per promotion proposed on a day with a
      `bill` send (candidate or history) for the same customer:
      candidate_id, customer_id, comm_id, product_line, team, date, bills.
    - `duplicates`: one row per (customer, message) proposed by more than one
      candidate (message: the non-empty dedup_key, else the comm_id):
      customer_id, message, candidates, candidate_ids, comm_ids, sources,
      product_lines, across_sources, across_product_lines.
    - `duplicates_by_message`: message, customers, candidates, across_sources,
      across_product_lines, sources.
    - `by_product_line`: product_line, proposed, customers, value,
      in_sensitive_state, on_bill_day, duplicated, outside_horizon.
    - `by_channel`: channel, proposed, customers, value.
    - `headline`: the totals, by name.
    """

    scenario: str
    start: dt.date
    days: int
    sensitive_states: tuple[str, ...]
    top: int
    headline: dict[str, int | float]
    contacts: pd.DataFrame
    outside_horizon: pd.DataFrame
    weeks: pd.DataFrame
    per_customer_week: pd.DataFrame
    distribution: pd.DataFrame
    histogram: pd.DataFrame
    most_contacted: pd.DataFrame
    promotions_in_states: pd.DataFrame
    states_summary: pd.DataFrame
    promotions_on_bill_days: pd.DataFrame
    duplicates: pd.DataFrame
    duplicates_by_message: pd.DataFrame
    by_product_line: pd.DataFrame
    by_channel: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """What the text report shows, as JSON-ready data (tables as lists of records)."""
        return {
            "scenario": self.scenario,
            "horizon": {
                "start": self.start.isoformat(),
                "end": (self.start + dt.timedelta(days=self.days - 1)).isoformat(),
                "days": self.days,
            },
            "counting": {
                "day": "earliest day of the window inside the horizon",
                "channel": "first listed channel",
                "week": f"{WEEK_DAYS} days from the horizon start",
                "quantiles": "nearest rank",
            },
            "sensitive_states": list(self.sensitive_states),
            "headline": dict(self.headline),
            "weeks": _records(self.weeks),
            "distribution": _records(self.distribution),
            "histogram": _records(self.histogram),
            "most_contacted": _records(self.most_contacted),
            "promotions_in_states": _records(self.states_summary),
            "promotions_on_bill_days": _records(
                self.by_product_line[["product_line", "on_bill_day"]].rename(
                    columns={"on_bill_day": "promotions"}
                )
            ),
            "duplicates_by_message": _records(self.duplicates_by_message.head(self.top)),
            "by_product_line": _records(self.by_product_line),
            "by_channel": _records(self.by_channel),
            "notes": list(self.notes),
        }


def audit_scenario(
    scenario: Scenario,
    *,
    top: int = 10,
    sensitive_states: Iterable[str] = DEFAULT_SENSITIVE_STATES,
) -> Audit:
    """Audit every team's proposals as if all were sent (see the module docstring)."""
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")
    sensitive = tuple(dict.fromkeys(s.strip() for s in sensitive_states if s.strip()))
    contacts, outside = _as_if_sent(scenario)
    weeks = _weeks(scenario)
    per_customer_week = _per_customer_week(scenario, contacts, weeks)
    distribution = _distribution(per_customer_week, weeks)
    histogram = _histogram(per_customer_week, weeks)
    most_contacted = _most_contacted(per_customer_week, contacts, top)
    in_states = _promotions_in_states(scenario, contacts, sensitive)
    states_summary = _states_summary(in_states, sensitive)
    on_bill_days = _promotions_on_bill_days(scenario, contacts)
    duplicates = _duplicates(contacts)
    by_message = _duplicates_by_message(duplicates)
    by_product_line = _by_product_line(contacts, outside, in_states, on_bill_days, duplicates)
    by_channel = _by_channel(contacts)

    known_states = set(scenario.states["state"])
    notes = [
        f"no customer is ever in state {state!r} in the states table"
        for state in sensitive
        if state not in known_states
    ]
    headline: dict[str, int | float] = {
        "candidates": int(len(scenario.candidates)),
        "in_horizon": int(len(contacts)),
        "outside_horizon": int(len(outside)),
        "value_in_horizon": float(contacts["value"].sum()),
        "customers": int(len(scenario.customers)),
        "customers_proposed": int(contacts["customer_id"].nunique()),
        "promotions": int((contacts["category"] == PROMOTION_CATEGORY).sum()),
        "promotions_in_sensitive_states": int(len(in_states)),
        "customers_promoted_in_sensitive_states": int(in_states["customer_id"].nunique()),
        "promotions_on_bill_days": int(len(on_bill_days)),
        "customers_promoted_on_bill_days": int(on_bill_days["customer_id"].nunique()),
        "duplicate_groups": int(len(duplicates)),
        "duplicate_candidates": int(duplicates["candidates"].sum()),
        "surplus_contacts": int(duplicates["candidates"].sum() - len(duplicates)),
        "duplicates_across_sources": int(duplicates["across_sources"].sum()),
        "duplicates_across_product_lines": int(duplicates["across_product_lines"].sum()),
    }
    return Audit(
        scenario=scenario.name,
        start=scenario.start,
        days=scenario.days,
        sensitive_states=sensitive,
        top=top,
        headline=headline,
        contacts=contacts,
        outside_horizon=outside,
        weeks=weeks,
        per_customer_week=per_customer_week,
        distribution=distribution,
        histogram=histogram,
        most_contacted=most_contacted,
        promotions_in_states=in_states,
        states_summary=states_summary,
        promotions_on_bill_days=on_bill_days,
        duplicates=duplicates,
        duplicates_by_message=by_message,
        by_product_line=by_product_line,
        by_channel=by_channel,
        notes=notes,
    )


# ---------------------------------------------------------------------------
# The calendar "as if all were sent"


def _as_if_sent(scenario: Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    cands = scenario.candidates
    comms = scenario.communications.set_index("comm_id")
    earliest = cands["earliest_day"].to_numpy(np.int64)
    latest = cands["latest_day"].to_numpy(np.int64)
    inside = (latest >= 0) & (earliest <= scenario.days - 1)
    product_line = cands["comm_id"].map(comms["product_line"]).astype(object)

    out = cands.loc[~inside]
    outside = pd.DataFrame(
        {
            "candidate_id": out["candidate_id"].astype(object),
            "customer_id": out["customer_id"].astype(object),
            "comm_id": out["comm_id"].astype(object),
            "product_line": product_line[~inside],
            "earliest": out["earliest"].astype(object),
            "latest": out["latest"].astype(object),
        }
    ).reset_index(drop=True)

    sent = cands.loc[inside]
    day = np.maximum(earliest[inside], 0)
    source = sent["source"].fillna("").astype(str).str.strip()
    lines = product_line[inside]
    contacts = pd.DataFrame(
        {
            "candidate_id": sent["candidate_id"].astype(object),
            "customer_id": sent["customer_id"].astype(object),
            "comm_id": sent["comm_id"].astype(object),
            "product_line": lines,
            "category": sent["comm_id"].map(comms["category"]).astype(object),
            "source": source.astype(object),
            "team": source.where(source != "", lines).astype(object),
            "channel": sent["channels"].str.split("|").str[0].str.strip().astype(object),
            "day": day,
            "date": [scenario.date_of(d).isoformat() for d in day],
            "week": day // WEEK_DAYS + 1,
            "value": sent["value"].to_numpy(float),
            "dedup_key": sent["comm_id"].map(comms["dedup_key"]).fillna("").astype(str).str.strip(),
            "tags": sent["comm_id"].map(comms["tags"]).fillna("").astype(str),
        }
    ).reset_index(drop=True)
    return contacts, outside


def _weeks(scenario: Scenario) -> pd.DataFrame:
    count = -(-scenario.days // WEEK_DAYS)
    first = [k * WEEK_DAYS for k in range(count)]
    last = [min(f + WEEK_DAYS, scenario.days) - 1 for f in first]
    return pd.DataFrame(
        {
            "week": np.arange(1, count + 1),
            "first": [scenario.date_of(d).isoformat() for d in first],
            "last": [scenario.date_of(d).isoformat() for d in last],
            "days": [b - a + 1 for a, b in zip(first, last, strict=True)],
        }
    )


# ---------------------------------------------------------------------------
# Contact pressure


def _per_customer_week(
    scenario: Scenario, contacts: pd.DataFrame, weeks: pd.DataFrame
) -> pd.DataFrame:
    index = pd.MultiIndex.from_product(
        [scenario.customers["customer_id"].astype(object), weeks["week"]],
        names=["customer_id", "week"],
    )
    counts = contacts.groupby(["customer_id", "week"]).size().reindex(index, fill_value=0)
    return counts.rename("contacts").astype(np.int64).reset_index()


def _nearest_rank(values: np.ndarray, q: float) -> int:
    if len(values) == 0:
        return 0
    return int(np.quantile(values, q, method="inverted_cdf"))


def _distribution(per_customer_week: pd.DataFrame, weeks: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for week in weeks["week"]:
        values = per_customer_week.loc[per_customer_week["week"] == week, "contacts"].to_numpy()
        row: dict[str, Any] = {
            "week": int(week),
            "customers": int(len(values)),
            "mean": float(values.mean()) if len(values) else 0.0,
            "min": int(values.min()) if len(values) else 0,
        }
        for name, q in QUANTILES:
            row[name] = _nearest_rank(values, q)
        row["max"] = int(values.max()) if len(values) else 0
        rows.append(row)
    return pd.DataFrame(
        rows, columns=["week", "customers", "mean", "min", "median", "p90", "p99", "max"]
    )


def bucket_of(counts: pd.Series | np.ndarray) -> np.ndarray:
    """The BUCKETS label of each contact count."""
    values = np.asarray(counts)
    labels = np.empty(len(values), dtype=object)
    for label, low, high in BUCKETS:
        labels[(values >= low) & (values <= high)] = label
    return labels


def _histogram(per_customer_week: pd.DataFrame, weeks: pd.DataFrame) -> pd.DataFrame:
    labels = [label for label, _, _ in BUCKETS]
    frame = per_customer_week.assign(bucket=bucket_of(per_customer_week["contacts"]))
    counts = frame.groupby(["week", "bucket"]).size()
    index = pd.MultiIndex.from_product([weeks["week"], labels], names=["week", "bucket"])
    return counts.reindex(index, fill_value=0).rename("customers").astype(np.int64).reset_index()


def _describe_lines(lines: pd.Series) -> str:
    """'loans 2, cards 1': product lines by count, then by name."""
    counts = lines.value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{line} {n}" for line, n in ordered)


def _most_contacted(
    per_customer_week: pd.DataFrame, contacts: pd.DataFrame, top: int
) -> pd.DataFrame:
    columns = ["customer_id", "week", "contacts", "product_lines"]
    chosen = (
        per_customer_week[per_customer_week["contacts"] > 0]
        .sort_values(["contacts", "customer_id", "week"], ascending=[False, True, True])
        .head(top)
        .reset_index(drop=True)
    )
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    keys = chosen[["customer_id", "week"]]
    theirs = contacts.merge(keys, on=["customer_id", "week"])
    described = theirs.groupby(["customer_id", "week"])["product_line"].agg(_describe_lines)
    chosen["product_lines"] = [
        described[(c, w)] for c, w in zip(chosen["customer_id"], chosen["week"], strict=True)
    ]
    return chosen[columns]


# ---------------------------------------------------------------------------
# Promotions at the wrong moment


def _promotions(contacts: pd.DataFrame) -> pd.DataFrame:
    return contacts[contacts["category"] == PROMOTION_CATEGORY]


def _promotions_in_states(
    scenario: Scenario, contacts: pd.DataFrame, sensitive: Sequence[str]
) -> pd.DataFrame:
    columns = ["candidate_id", "customer_id", "comm_id", "product_line", "team", "date", "states"]
    states = scenario.states
    states = states[states["state"].isin(sensitive)][
        ["customer_id", "state", "start_day", "end_day"]
    ].astype({"customer_id": object, "state": object})
    promotions = _promotions(contacts)
    hits = promotions.merge(states, on="customer_id")
    hits = hits[(hits["start_day"] <= hits["day"]) & (hits["day"] <= hits["end_day"])]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    grouped = hits.groupby("candidate_id", sort=False)["state"].agg(
        lambda s: "|".join(sorted(set(s)))
    )
    out = promotions[promotions["candidate_id"].isin(grouped.index)].copy()
    out["states"] = out["candidate_id"].map(grouped)
    return out[columns].reset_index(drop=True)


def _states_summary(in_states: pd.DataFrame, sensitive: Sequence[str]) -> pd.DataFrame:
    rows = []
    split = in_states["states"].str.split("|") if len(in_states) else pd.Series(dtype=object)
    for state in sensitive:
        mask = split.map(lambda names, state=state: state in names).astype(bool)
        rows.append(
            {
                "state": state,
                "promotions": int(mask.sum()),
                "customers": int(in_states.loc[mask, "customer_id"].nunique()),
            }
        )
    rows.append(
        {
            "state": "any",
            "promotions": int(len(in_states)),
            "customers": int(in_states["customer_id"].nunique()),
        }
    )
    return pd.DataFrame(rows, columns=["state", "promotions", "customers"])


def _has_tag(tags: pd.Series, tag: str) -> pd.Series:
    return (
        tags.fillna("")
        .astype(str)
        .str.split("|")
        .map(lambda parts: tag in {p.strip().lower() for p in parts})
        .astype(bool)
    )


def _promotions_on_bill_days(scenario: Scenario, contacts: pd.DataFrame) -> pd.DataFrame:
    columns = ["candidate_id", "customer_id", "comm_id", "product_line", "team", "date", "bills"]
    planned = contacts[_has_tag(contacts["tags"], BILL_TAG)]
    bills = pd.DataFrame(
        {
            "customer_id": planned["customer_id"],
            "day": planned["day"],
            "bill_candidate": planned["candidate_id"],
            "bill_comm": planned["comm_id"],
        }
    )
    history = scenario.history
    if len(history):
        comm_tags = scenario.communications.set_index("comm_id")["tags"]
        sent = history[_has_tag(history["comm_id"].map(comm_tags), BILL_TAG)]
        bills = pd.concat(
            [
                bills,
                pd.DataFrame(
                    {
                        "customer_id": sent["customer_id"].astype(object),
                        "day": sent["day"].to_numpy(np.int64),
                        "bill_candidate": "",
                        "bill_comm": sent["comm_id"].astype(object),
                    }
                ),
            ],
            ignore_index=True,
        )
    promotions = _promotions(contacts)
    hits = promotions.merge(bills, on=["customer_id", "day"])
    # A promotion tagged `bill` is not on a bill day because of itself.
    hits = hits[hits["bill_candidate"] != hits["candidate_id"]]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    grouped = hits.groupby("candidate_id", sort=False)["bill_comm"].agg(
        lambda s: "|".join(sorted(set(s)))
    )
    out = promotions[promotions["candidate_id"].isin(grouped.index)].copy()
    out["bills"] = out["candidate_id"].map(grouped)
    return out[columns].reset_index(drop=True)


# ---------------------------------------------------------------------------
# The same message proposed more than once


def _joined(values: pd.Series) -> str:
    return "|".join(sorted(set(values)))


def _duplicates(contacts: pd.DataFrame) -> pd.DataFrame:
    columns = [
        "customer_id",
        "message",
        "candidates",
        "candidate_ids",
        "comm_ids",
        "sources",
        "product_lines",
        "across_sources",
        "across_product_lines",
    ]
    # One message: the same non-empty dedup_key, or else the same comm_id. A dedup
    # key and a comm_id never meet in one group, even when they are spelt alike.
    keyed = contacts["dedup_key"] != ""
    frame = contacts.assign(
        message=contacts["dedup_key"].where(keyed, contacts["comm_id"]).astype(object),
        keyed=keyed,
    )
    size = frame.groupby(["customer_id", "keyed", "message"])["candidate_id"].transform("size")
    frame = frame[size > 1]
    if frame.empty:
        return pd.DataFrame(columns=columns).astype(
            {"candidates": np.int64, "across_sources": bool, "across_product_lines": bool}
        )
    out = (
        frame.groupby(["customer_id", "keyed", "message"], sort=True)
        .agg(
            candidates=("candidate_id", "size"),
            candidate_ids=("candidate_id", _joined),
            comm_ids=("comm_id", _joined),
            sources=("team", _joined),
            product_lines=("product_line", _joined),
            source_count=("team", "nunique"),
            line_count=("product_line", "nunique"),
        )
        .reset_index()
    )
    out["across_sources"] = out["source_count"] > 1
    out["across_product_lines"] = out["line_count"] > 1
    return out[columns]


def _duplicates_by_message(duplicates: pd.DataFrame) -> pd.DataFrame:
    columns = [
        "message",
        "customers",
        "candidates",
        "across_sources",
        "across_product_lines",
        "sources",
    ]
    if duplicates.empty:
        return pd.DataFrame(columns=columns)
    out = (
        duplicates.groupby("message")
        .agg(
            customers=("customer_id", "size"),
            candidates=("candidates", "sum"),
            across_sources=("across_sources", "sum"),
            across_product_lines=("across_product_lines", "sum"),
            sources=("sources", lambda s: "|".join(sorted(set("|".join(s).split("|"))))),
        )
        .reset_index()
        .sort_values(["customers", "message"], ascending=[False, True])
        .reset_index(drop=True)
    )
    return out[columns]


# ---------------------------------------------------------------------------
# Per team and per channel


def _by_product_line(
    contacts: pd.DataFrame,
    outside: pd.DataFrame,
    in_states: pd.DataFrame,
    on_bill_days: pd.DataFrame,
    duplicates: pd.DataFrame,
) -> pd.DataFrame:
    proposed = contacts.groupby("product_line").agg(
        proposed=("candidate_id", "size"),
        customers=("customer_id", "nunique"),
        value=("value", "sum"),
    )
    duplicated_ids = (
        pd.Series("|".join(duplicates["candidate_ids"]).split("|"))
        if len(duplicates)
        else pd.Series([], dtype=object)
    )
    duplicated = contacts[contacts["candidate_id"].isin(duplicated_ids)]
    lines = sorted(set(proposed.index) | set(outside["product_line"]))
    out = proposed.reindex(lines)
    out["in_sensitive_state"] = in_states["product_line"].value_counts()
    out["on_bill_day"] = on_bill_days["product_line"].value_counts()
    out["duplicated"] = duplicated["product_line"].value_counts()
    out["outside_horizon"] = outside["product_line"].value_counts()
    out = out.fillna(0)
    for column in out.columns:
        if column != "value":
            out[column] = out[column].astype(np.int64)
    out["value"] = out["value"].astype(float)
    out.index.name = "product_line"
    return (
        out.reset_index()
        .sort_values(["proposed", "product_line"], ascending=[False, True])
        .reset_index(drop=True)
    )


def _by_channel(contacts: pd.DataFrame) -> pd.DataFrame:
    out = (
        contacts.groupby("channel")
        .agg(
            proposed=("candidate_id", "size"),
            customers=("customer_id", "nunique"),
            value=("value", "sum"),
        )
        .reset_index()
    )
    return out.sort_values(["proposed", "channel"], ascending=[False, True]).reset_index(drop=True)


# ---------------------------------------------------------------------------
# Plain text and JSON


def _plain(value: object) -> object:
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def format_cell(value: object) -> str:
    """Counts with thousands separators, amounts with two decimals, text as is."""
    value = _plain(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def _is_number_column(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_numeric_dtype(series):
        return True
    values = [_plain(v) for v in series]
    return bool(values) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )


def text_table(
    frame: pd.DataFrame,
    headers: Sequence[str] | None = None,
    right: Sequence[bool] | None = None,
) -> str:
    """A plain text table: text columns left-aligned, numbers (or `right` columns) right."""
    headers = list(headers) if headers is not None else [str(c) for c in frame.columns]
    cells = [[format_cell(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = (
        list(right) if right is not None else [_is_number_column(frame[c]) for c in frame.columns]
    )
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [line(headers), line(["-" * w for w in widths])]
    lines += [line(row) for row in cells]
    if not cells:
        lines.append("(none)")
    return "\n".join(lines)


def render_audit(audit: Audit) -> str:
    """The audit as plain readable text."""
    h = audit.headline
    end = audit.start + dt.timedelta(days=audit.days - 1)
    states = "/".join(audit.sensitive_states) or "(no sensitive state)"
    overview = pd.DataFrame(
        [
            ("candidates proposed", h["candidates"]),
            ("  counted in the horizon", h["in_horizon"]),
            ("  entirely outside the horizon (not counted)", h["outside_horizon"]),
            ("value proposed in the horizon", h["value_in_horizon"]),
            ("customers", h["customers"]),
            ("  with at least one proposed contact", h["customers_proposed"]),
            ("promotions proposed", h["promotions"]),
            (f"  during {states}", h["promotions_in_sensitive_states"]),
            ("    customers", h["customers_promoted_in_sensitive_states"]),
            ("  on bill days", h["promotions_on_bill_days"]),
            ("    customers", h["customers_promoted_on_bill_days"]),
            ("messages proposed more than once to a customer", h["duplicate_groups"]),
            ("  candidates involved", h["duplicate_candidates"]),
            ("  surplus contacts (candidates - messages)", h["surplus_contacts"]),
            ("  from more than one source", h["duplicates_across_sources"]),
            ("  from more than one product line", h["duplicates_across_product_lines"]),
        ],
        columns=["", "total"],
        dtype=object,
    )
    histogram = audit.histogram.pivot(index="bucket", columns="week", values="customers")
    histogram = histogram.reindex([label for label, _, _ in BUCKETS])
    histogram.columns = [f"week {w}" for w in histogram.columns]
    histogram = histogram.reset_index().rename(columns={"bucket": "contacts"})

    in_states = audit.by_product_line[
        ["product_line", "in_sensitive_state", "on_bill_day", "duplicated"]
    ]
    in_states = in_states[(in_states.iloc[:, 1:] > 0).any(axis=1)]

    sections = [
        f"Contact audit: {audit.scenario}\n"
        f"Horizon {audit.start} .. {end} ({audit.days} days). Every team's proposals as if all "
        "were sent:\neach candidate once, on its earliest day in the horizon, on its first "
        "listed channel.",
        text_table(overview),
        f"Contacts per customer per week (week = {WEEK_DAYS} days from the horizon start; "
        "nearest-rank quantiles)\n" + text_table(audit.weeks.merge(audit.distribution, on="week")),
        "Customers by contacts per week\n" + text_table(histogram),
        f"Most contacted customers (top {audit.top})\n" + text_table(audit.most_contacted),
        f"Promotions proposed while the customer is in {states}\n"
        + text_table(audit.states_summary),
        "Promotions at the wrong moment and duplicated messages, by product line\n"
        + text_table(
            in_states,
            ["product_line", f"in {states}", "on bill days", "duplicated"],
        ),
        f"Messages most often proposed more than once to a customer (top {audit.top})\n"
        + text_table(audit.duplicates_by_message.head(audit.top)),
        "By product line\n" + text_table(audit.by_product_line),
        "By channel (first listed channel)\n" + text_table(audit.by_channel),
    ]
    if audit.notes:
        sections.append("Notes\n" + "\n".join(f"- {note}" for note in audit.notes))
    return "\n\n".join(sections) + "\n"
