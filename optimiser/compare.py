"""The what-if table between two plan folders: what a change of rule gains or costs.

`compare_plans(a, b)` reads two plan folders (calendar.csv, suppressed.csv,
summary.json; no scenario needed) and lines up, section by section, the
figure of plan A, of plan B, and the difference B - A:

- value: the summary objective, the objective of each priority tier (they sum
  to the objective), the value and the cost of the sends in the calendar;
- volume: candidates, sends, suppressed, customers contacted;
- suppressed by reason (the reasons sum to suppressed);
- contacts per customer over the plan, and customers by contacts (buckets
  0, 1, ..., 5, 6-9, 10+). The customers are those with at least one
  candidate in either plan (every candidate is in the calendar or in
  suppressed.csv); customers with no candidate at all are not in a plan folder;
- sends and value by product line, sends by channel (each sums to its total).

Within a section whose items add up to a total, the differences add up to the
total's difference, because every difference is taken item by item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.audit import BUCKETS, bucket_of, text_table
from optimiser.plan_folder import read_summary

__all__ = [
    "Comparison",
    "NotAPlanError",
    "PlanFolder",
    "compare_plans",
    "load_plan_folder",
    "render_comparison",
]

#: The columns of the plan folder a comparison needs (section 5 of the format).
CALENDAR_NEEDS = ("customer_id", "channel", "candidate_id", "product_line", "value", "cost")
SUPPRESSED_NEEDS = ("candidate_id", "customer_id", "reason")

#: Sections in print order, with a title.
SECTIONS: dict[str, str] = {
    "value": "Value",
    "objective_by_tier": "Objective by priority tier (sums to the objective)",
    "volume": "Volume",
    "suppressed_by_reason": "Suppressed by reason (sums to suppressed)",
    "contacts_per_customer": "Contacts per customer over the plan",
    "customers_by_contacts": "Customers by contacts over the plan (sums to customers)",
    "sends_by_product_line": "Sends by product line (sums to sends)",
    "value_by_product_line": "Value of sends by product line (sums to the value of sends)",
    "sends_by_channel": "Sends by channel (sums to sends)",
}


class NotAPlanError(Exception):
    """A folder that is not a readable plan folder."""


@dataclass
class PlanFolder:
    """A plan folder as read: its summary, calendar and suppressed list."""

    path: Path
    summary: dict[str, Any]
    calendar: pd.DataFrame
    suppressed: pd.DataFrame

    @property
    def name(self) -> str:
        return str(self.summary.get("scenario") or self.path.name)


@dataclass
class Comparison:
    """Plan A against plan B.

    `rows` has one row per figure: section, item, a, b, diff (= b - a). Counts are
    Python ints, amounts floats. `notes` says what a reader should know before
    trusting the differences (e.g. the plans cover different candidates).
    """

    plan_a: str
    plan_b: str
    name_a: str
    name_b: str
    rows: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def section(self, name: str) -> pd.DataFrame:
        """The rows of one section: item, a, b, diff."""
        if name not in SECTIONS:
            raise KeyError(f"unknown section {name!r} (expected one of {list(SECTIONS)})")
        part = self.rows[self.rows["section"] == name]
        return part[["item", "a", "b", "diff"]].reset_index(drop=True)

    def value(self, section: str, item: str, column: str = "diff") -> int | float:
        """One figure, e.g. `value("volume", "sends")`."""
        part = self.section(section)
        match = part[part["item"] == item]
        if len(match) != 1:
            raise KeyError(f"no item {item!r} in section {section!r}")
        return match[column].iloc[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_a": {"path": self.plan_a, "scenario": self.name_a},
            "plan_b": {"path": self.plan_b, "scenario": self.name_b},
            "sections": {
                name: [
                    {"item": r.item, "a": _tidy(r.a), "b": _tidy(r.b), "diff": _tidy(r.diff)}
                    for r in self.section(name).itertuples(index=False)
                ]
                for name in SECTIONS
            },
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def load_plan_folder(path: str | Path) -> PlanFolder:
    """Read a plan folder; raise NotAPlanError saying what is missing or unreadable."""
    path = Path(path)
    summary = read_summary(path, NotAPlanError)
    summary_path = path / "summary.json"
    calendar_path = path / "calendar.csv"
    if not calendar_path.is_file():
        status, diagnosis = summary.get("status"), summary.get("diagnosis")
        why = f"; the run ended {status}" if status else ""
        why += f": {diagnosis}" if status and diagnosis else ""
        raise NotAPlanError(f"{calendar_path}: not a plan folder (no calendar.csv{why})")
    if not isinstance(summary.get("objective"), (int, float)):
        raise NotAPlanError(f"{summary_path}: no numeric 'objective'")
    calendar = _read_table(calendar_path, CALENDAR_NEEDS)
    suppressed = _read_table(path / "suppressed.csv", SUPPRESSED_NEEDS)
    for column in ("value", "cost"):
        numbers = pd.to_numeric(calendar[column], errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy())
        if len(bad):
            raise NotAPlanError(
                f"{calendar_path}:{int(bad[0]) + 2}: column '{column}': not a number: "
                f"{calendar[column].iloc[int(bad[0])]!r}"
            )
        calendar[column] = numbers.astype(float)
    return PlanFolder(path, summary, calendar, suppressed)


def _read_table(path: Path, needs: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise NotAPlanError(f"{path}: not a plan folder (no {path.name})")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise NotAPlanError(f"{path}: not a readable CSV table: {error}") from error
    for column in needs:
        if column not in frame.columns:
            raise NotAPlanError(f"{path}:1: missing column '{column}'")
    return frame.astype(object)


def compare_plans(a: PlanFolder | str | Path, b: PlanFolder | str | Path) -> Comparison:
    """The what-if table of plan B against plan A (differences are B - A)."""
    plan_a = a if isinstance(a, PlanFolder) else load_plan_folder(a)
    plan_b = b if isinstance(b, PlanFolder) else load_plan_folder(b)
    customers = sorted(_customers(plan_a) | _customers(plan_b))
    rows: list[dict[str, Any]] = []
    for section, figures_a, figures_b in (
        ("value", _value(plan_a), _value(plan_b)),
        ("objective_by_tier", _tiers(plan_a), _tiers(plan_b)),
        ("volume", _volume(plan_a), _volume(plan_b)),
        (
            "suppressed_by_reason",
            _counts(plan_a.suppressed, "reason"),
            _counts(plan_b.suppressed, "reason"),
        ),
        (
            "contacts_per_customer",
            _per_customer(plan_a, customers),
            _per_customer(plan_b, customers),
        ),
        ("customers_by_contacts", _buckets(plan_a, customers), _buckets(plan_b, customers)),
        (
            "sends_by_product_line",
            _counts(plan_a.calendar, "product_line"),
            _counts(plan_b.calendar, "product_line"),
        ),
        (
            "value_by_product_line",
            _sums(plan_a.calendar, "product_line"),
            _sums(plan_b.calendar, "product_line"),
        ),
        (
            "sends_by_channel",
            _counts(plan_a.calendar, "channel"),
            _counts(plan_b.calendar, "channel"),
        ),
    ):
        rows.extend(_lined_up(section, figures_a, figures_b))
    frame = pd.DataFrame(rows, columns=["section", "item", "a", "b", "diff"], dtype=object)
    return Comparison(
        plan_a=str(plan_a.path),
        plan_b=str(plan_b.path),
        name_a=plan_a.name,
        name_b=plan_b.name,
        rows=frame,
        notes=_notes(plan_a, plan_b),
    )


def _lined_up(
    section: str, a: dict[str, int | float], b: dict[str, int | float]
) -> list[dict[str, Any]]:
    """Rows for the union of items (in A's order, then B's new ones); a missing item is 0."""
    items = list(a) + [item for item in b if item not in a]
    rows = []
    for item in items:
        zero: int | float = 0.0 if isinstance(a.get(item, b.get(item)), float) else 0
        left, right = a.get(item, zero), b.get(item, zero)
        rows.append({"section": section, "item": item, "a": left, "b": right, "diff": right - left})
    return rows


def _customers(plan: PlanFolder) -> set[str]:
    return set(plan.calendar["customer_id"]) | set(plan.suppressed["customer_id"])


def _value(plan: PlanFolder) -> dict[str, int | float]:
    return {
        "objective": float(plan.summary["objective"]),
        "value of sends": float(plan.calendar["value"].sum()),
        "cost of sends": float(plan.calendar["cost"].sum()),
    }


def _tiers(plan: PlanFolder) -> dict[str, int | float]:
    tiers = plan.summary.get("objective_by_tier") or {}
    ordered = sorted(tiers.items(), key=lambda kv: (len(str(kv[0])), str(kv[0])))
    return {f"tier {tier}": float(amount) for tier, amount in ordered}


def _volume(plan: PlanFolder) -> dict[str, int | float]:
    return {
        "candidates": len(plan.calendar) + len(plan.suppressed),
        "sends": len(plan.calendar),
        "suppressed": len(plan.suppressed),
        "customers contacted": int(plan.calendar["customer_id"].nunique()),
    }


def _counts(frame: pd.DataFrame, column: str) -> dict[str, int | float]:
    counts = frame[column].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def _sums(frame: pd.DataFrame, column: str) -> dict[str, int | float]:
    sums = frame.groupby(column)["value"].sum()
    return {str(k): float(v) for k, v in sorted(sums.items())}


def _contacts(plan: PlanFolder, customers: list[str]) -> np.ndarray:
    counts = plan.calendar["customer_id"].value_counts()
    return counts.reindex(customers, fill_value=0).to_numpy(np.int64)


def _per_customer(plan: PlanFolder, customers: list[str]) -> dict[str, int | float]:
    contacts = _contacts(plan, customers)
    return {
        "customers": len(customers),
        "mean": float(contacts.mean()) if len(contacts) else 0.0,
        "max": int(contacts.max()) if len(contacts) else 0,
    }


def _buckets(plan: PlanFolder, customers: list[str]) -> dict[str, int | float]:
    labels = pd.Series(bucket_of(_contacts(plan, customers)), dtype=object)
    counts = labels.value_counts()
    return {label: int(counts.get(label, 0)) for label, _, _ in BUCKETS}


def _notes(a: PlanFolder, b: PlanFolder) -> list[str]:
    notes = []
    ids_a = set(a.calendar["candidate_id"]) | set(a.suppressed["candidate_id"])
    ids_b = set(b.calendar["candidate_id"]) | set(b.suppressed["candidate_id"])
    if ids_a != ids_b:
        notes.append(
            f"the plans cover different candidates: {len(ids_a - ids_b):,} only in A, "
            f"{len(ids_b - ids_a):,} only in B"
        )
    for label, plan in (("A", a), ("B", b)):
        status = plan.summary.get("status")
        if status not in (None, "OPTIMAL"):
            gap = plan.summary.get("gap")
            gap_text = f", gap {gap:.4%}" if isinstance(gap, (int, float)) else ""
            notes.append(
                f"plan {label} is {status}{gap_text}: part of a difference may be "
                "the solver's, not the rule's"
            )
    return notes


def render_comparison(comparison: Comparison) -> str:
    """The comparison as plain readable text, one table per section."""
    parts = [
        f"A: {comparison.plan_a} ({comparison.name_a})\n"
        f"B: {comparison.plan_b} ({comparison.name_b})"
    ]
    for name, title in SECTIONS.items():
        part = comparison.section(name)
        if part.empty:
            continue
        part = part.assign(diff=[_signed(v) for v in part["diff"]])
        table = text_table(part, ["", "A", "B", "B - A"], right=[False, True, True, True])
        parts.append(f"{title}\n{table}")
    if comparison.notes:
        parts.append("Notes\n" + "\n".join(f"- {note}" for note in comparison.notes))
    return "\n\n".join(parts) + "\n"


def _tidy(value: object) -> object:
    """JSON figures without float noise (-23502.633000000016 -> -23502.633)."""
    return round(value, 6) if isinstance(value, float) else value


def _signed(value: int | float) -> str:
    if isinstance(value, float):
        text = f"{value:+,.2f}"
        return "0.00" if text in ("+0.00", "-0.00") else text
    return f"{value:+,}" if value else "0"
