"""The plan report: one self-contained HTML page a steering meeting can read at a glance.

`write_report(plan_dir, out, scenario_dir)` reads a plan folder (summary.json,
calendar.csv, suppressed.csv) and the scenario it was made from, and writes a
single HTML file with no external resource at all: styles inline, every chart
hand-written inline SVG with its numbers printed on it, no script. It opens
offline, prints, and survives being mailed around.

Every figure the summary already holds (objective, gap, counts, sends by day
and channel, sends by product line, rule usage, objective by tier) is shown
exactly as summary.json has it, formatted; the files are cross-checked first
and a plan folder whose files disagree is refused rather than half-reported.
The scenario adds what the plan cannot know: what was proposed ("before"),
customers, candidate values and the horizon's days.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models import Scenario, load_scenario
from optimiser.plan_folder import read_summary, scenario_folder

# Restrained palette: one accent (blue) in a few shades, greys for context,
# and one alert colour used only for a rule that is violated.
INK = "#1d2733"
MUTED = "#5b6673"
GRID = "#e3e7ec"
ACCENT = "#1f5fa8"
ACCENT_DARK = "#0b3d73"
CONTEXT = "#c3cbd4"
ALERT = "#b3261e"
WIDE, HALF = 1100.0, 520.0  # viewBox widths close to the rendered size, so text stays 1:1
SERIES = ["#0b3d73", "#1f5fa8", "#4f8fd1", "#93bbe6", "#cfe0f4", "#6b7785", "#a3adb8", "#d5dbe1"]
DARK_SERIES = {"#0b3d73", "#1f5fa8", "#4f8fd1", "#6b7785"}

REASON_LABELS = {
    "invalid": "Invalid data",
    "outside_horizon": "Outside horizon",
    "no_consent": "No consent",
    "channel_closed": "Channel closed",
    "exclusion": "Exclusion rule",
    "duplicate": "Duplicate message",
    "frequency_cap": "Frequency cap",
    "min_gap": "Minimum gap",
    "never_together": "Never together",
    "capacity": "Capacity",
    "budget": "Budget",
    "volume": "Volume",
    "no_value": "No value",
}


class ReportError(Exception):
    """The plan folder cannot be reported (missing file, no scenario, files disagree)."""


@dataclass(frozen=True)
class ReportData:
    """A plan and the scenario it was made from, in the shapes the report needs."""

    plan_dir: Path
    summary: dict[str, Any]
    calendar: pd.DataFrame  # the plan's calendar.csv (value, cost, priority numeric)
    suppressed: pd.DataFrame  # the plan's suppressed.csv
    candidates: pd.DataFrame  # candidate_id, customer_id, product_line, priority, value, in_horizon
    customer_ids: pd.Series
    dates: list[date]
    channels: list[str]
    scenario_name: str


# --------------------------------------------------------------------------- loading


def load_report_data(plan_dir: str | Path, scenario_dir: str | Path | None = None) -> ReportData:
    """Read a plan folder and its scenario; raise ReportError when they cannot be reported."""
    plan_dir = Path(plan_dir)
    summary = read_summary(plan_dir, ReportError)
    if "counts" not in summary:
        # an infeasible run leaves only a status and a diagnosis
        return ReportData(plan_dir, summary, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
                          pd.Series(dtype=str), [], [], str(summary.get("scenario", "")))
    scenario = load_scenario(scenario_folder(plan_dir, summary, scenario_dir, ReportError))
    calendar = _read_table(plan_dir / "calendar.csv")
    for column in ("value", "cost"):
        calendar[column] = pd.to_numeric(calendar[column]).astype(float)
    calendar["priority"] = pd.to_numeric(calendar["priority"]).astype(np.int64)
    suppressed = _read_table(plan_dir / "suppressed.csv")
    candidates = _candidates(scenario)
    _check_consistent(summary, calendar, suppressed, candidates, plan_dir, scenario.folder)
    return ReportData(
        plan_dir=plan_dir,
        summary=summary,
        calendar=calendar,
        suppressed=suppressed,
        candidates=candidates,
        customer_ids=scenario.customers["customer_id"],
        dates=[scenario.date_of(d) for d in range(scenario.days)],
        channels=list(scenario.channels),
        scenario_name=str(summary.get("scenario") or scenario.name),
    )


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ReportError(f"{path}: not found")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _candidates(scenario: Scenario) -> pd.DataFrame:
    cands = scenario.candidates
    comms = scenario.communications.set_index("comm_id")
    return pd.DataFrame(
        {
            "candidate_id": cands["candidate_id"].to_numpy(),
            "customer_id": cands["customer_id"].to_numpy(),
            "product_line": comms["product_line"].reindex(cands["comm_id"]).to_numpy(),
            "priority": comms["priority"].reindex(cands["comm_id"]).to_numpy(np.int64),
            "value": cands["value"].to_numpy(float),
            # a window that misses the horizon was never a real proposal for this plan
            "in_horizon": (
                (cands["latest_day"].to_numpy() >= 0)
                & (cands["earliest_day"].to_numpy() <= scenario.days - 1)
            ),
        }
    )


def _check_consistent(
    summary: Mapping[str, Any],
    calendar: pd.DataFrame,
    suppressed: pd.DataFrame,
    candidates: pd.DataFrame,
    plan_dir: Path,
    scenario_dir: Path,
) -> None:
    """Refuse to report a plan whose files disagree, or a scenario it was not made from."""
    counts = summary["counts"]
    planned = set(calendar["candidate_id"]) | set(suppressed["candidate_id"])
    if planned != set(candidates["candidate_id"]) or counts["candidates"] != len(candidates):
        raise ReportError(
            f"plan {plan_dir} was not made from scenario {scenario_dir}: their candidates differ"
        )
    by_day: dict[str, dict[str, int]] = {}
    for day, channel in zip(calendar["date"], calendar["channel"], strict=True):
        counted = by_day.setdefault(str(day), {})
        counted[str(channel)] = counted.get(str(channel), 0) + 1
    checks: dict[str, tuple[Any, Any]] = {
        "counts.sends": (counts["sends"], len(calendar)),
        "counts.suppressed": (counts["suppressed"], len(suppressed)),
        "counts.suppressed_by_reason": (
            counts["suppressed_by_reason"],
            {str(k): int(v) for k, v in suppressed["reason"].value_counts().items()},
        ),
        "sends_by_product_line": (
            summary["sends_by_product_line"],
            {str(k): int(v) for k, v in calendar["product_line"].value_counts().items()},
        ),
        "sends_by_day_channel": (summary["sends_by_day_channel"], by_day),
    }
    for key, (recorded, counted) in checks.items():
        if recorded != counted:
            raise ReportError(f"{plan_dir}: summary.json {key} disagrees with the plan's CSV files")


# --------------------------------------------------------------------------- figures


def product_line_table(data: ReportData) -> pd.DataFrame:
    """Per product line: proposed, planned, suppressed contacts and their value.

    Proposed counts every candidate the team put forward; planned and suppressed
    split them (every candidate is in exactly one). Values are the candidates'
    own expected values, before channel weighting and cost.
    """
    cands = data.candidates
    proposed = cands.groupby("product_line").agg(proposed=("candidate_id", "size"),
                                                 proposed_value=("value", "sum"))
    planned = data.calendar.groupby("product_line").agg(planned=("candidate_id", "size"),
                                                        planned_value=("value", "sum"))
    suppressed = data.suppressed.groupby("product_line").size().rename("suppressed")
    table = proposed.join(planned, how="left").join(suppressed, how="left")
    table = table.fillna({"planned": 0, "planned_value": 0.0, "suppressed": 0})
    for column in ("proposed", "planned", "suppressed"):
        table[column] = table[column].astype(np.int64)
    table["kept_contacts"] = table["planned"] / table["proposed"]
    table["kept_value"] = np.where(
        table["proposed_value"] != 0,
        table["planned_value"] / table["proposed_value"].where(table["proposed_value"] != 0, 1.0),
        np.nan,
    )
    top = (
        data.suppressed.groupby(["product_line", "reason"]).size().rename("n").reset_index()
        .sort_values(["product_line", "n", "reason"], ascending=[True, False, True])
        .drop_duplicates("product_line").set_index("product_line")
    )
    table["main_reason"] = top["reason"].reindex(table.index).fillna("")
    table["main_reason_n"] = top["n"].reindex(table.index).fillna(0).astype(np.int64)
    table.index.name = "product_line"
    return table.sort_values(["proposed", "proposed_value"], ascending=False, kind="stable")


def contacts_per_customer(data: ReportData) -> tuple[pd.Series, pd.Series]:
    """Contacts per customer, every customer of the scenario: proposed (in-horizon) and planned."""
    customers = pd.Index(data.customer_ids)
    live = data.candidates[data.candidates["in_horizon"]]
    before = live.groupby("customer_id").size().reindex(customers, fill_value=0)
    after = data.calendar.groupby("customer_id").size().reindex(customers, fill_value=0)
    return before.astype(np.int64), after.astype(np.int64)


def _histogram(before: pd.Series, after: pd.Series) -> tuple[list[str], list[int], list[int]]:
    top = int(max(before.max(), after.max(), 1))
    cap = top if top <= 14 else 12  # a long tail folds into one last "12+" bin
    labels = [str(k) for k in range(cap)] + [f"{cap}+" if top > cap else str(cap)]

    def bins(series: pd.Series) -> list[int]:
        clipped = np.minimum(series.to_numpy(np.int64), cap)
        return [int(n) for n in np.bincount(clipped, minlength=cap + 1)]

    return labels, bins(before), bins(after)


def tier_table(data: ReportData) -> pd.DataFrame:
    cands = data.candidates
    proposed = cands.groupby("priority").agg(candidates=("candidate_id", "size"),
                                             proposed_value=("value", "sum"))
    planned = data.calendar.groupby("priority").agg(sends=("candidate_id", "size"),
                                                    planned_value=("value", "sum"))
    by_tier = data.summary.get("objective_by_tier", {})
    tiers = sorted(set(proposed.index) | {int(t) for t in by_tier})
    table = proposed.reindex(tiers).join(planned, how="left")
    table = table.fillna({"candidates": 0, "proposed_value": 0.0, "sends": 0,
                          "planned_value": 0.0})
    table["objective"] = [by_tier.get(str(t)) for t in tiers]
    table.index.name = "tier"
    return table


# --------------------------------------------------------------------------- formatting


def fmt_int(n: float) -> str:
    return f"{int(round(n)):,}"


def fmt_num(x: float, decimals: int = 2) -> str:
    return f"{x:,.{decimals}f}"


def fmt_pct(fraction: float | None, decimals: int = 0) -> str:
    if fraction is None or not math.isfinite(fraction):
        return "–"
    return f"{fraction * 100:.{decimals}f}%"


def fmt_gap(gap: float | None) -> str:
    return "–" if gap is None else f"{gap:.2%}"


def fmt_metric(x: float, metric: str) -> str:
    """A rule's usage or bound: counts as integers, cost and other metrics to 2 decimals."""
    if metric == "count" and float(x).is_integer():
        return fmt_int(x)
    return fmt_num(x)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _day_label(day: date) -> str:
    return f"{day.strftime('%a')} {day.day} {day.strftime('%b')}"


def _nice_ticks(top: float, count: int = 5, integer: bool = True) -> list[float]:
    """0 to a round number at or above `top`, in round steps."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if step >= raw and (not integer or float(step).is_integer()):
            break
    if integer:
        step = max(1.0, math.ceil(step))
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def _tick_label(x: float) -> str:
    return fmt_int(x) if float(x).is_integer() else f"{x:,.1f}"


# --------------------------------------------------------------------------- SVG


class Svg:
    """A chart: an inline <svg> with an accessible title and description, sized by viewBox."""

    def __init__(self, chart_id: str, width: float, height: float, title: str, desc: str):
        self.chart_id, self.width, self.height = chart_id, width, height
        self.title, self.desc = title, desc
        self.parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str, **attrs: Any) -> None:
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
            f'fill="{fill}"{_attrs(attrs)}/>'
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = GRID,
             width: float = 1, **attrs: Any) -> None:
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
            f'stroke-width="{width}"{_attrs(attrs)}/>'
        )

    def text(self, x: float, y: float, content: object, *, anchor: str = "start",
             size: float = 12, fill: str = INK, weight: int | None = None, **attrs: Any) -> None:
        extra = f' font-weight="{weight}"' if weight else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}"{extra}{_attrs(attrs)}>{_esc(content)}</text>'
        )

    def begin_group(self, **attrs: Any) -> None:
        self.parts.append(f"<g{_attrs(attrs)}>")

    def end_group(self) -> None:
        self.parts.append("</g>")

    def render(self) -> str:
        title_id, desc_id = f"{self.chart_id}-title", f"{self.chart_id}-desc"
        return (
            f'<svg id="chart-{self.chart_id}" data-chart="{self.chart_id}" role="img" '
            f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {self.width:.0f} '
            f'{self.height:.0f}">'
            f'<title id="{title_id}">{_esc(self.title)}</title>'
            f'<desc id="{desc_id}">{_esc(self.desc)}</desc>' + "".join(self.parts) + "</svg>"
        )


def _attrs(attrs: Mapping[str, Any]) -> str:
    return "".join(f' {k.rstrip("_").replace("_", "-")}="{_esc(v)}"' for k, v in attrs.items())


def _fit(text: str, room: float, size: float) -> float:
    """The largest font size up to `size` at which a label fits in `room` (down to 8)."""
    while size > 8 and _text_width(text, size) > room - 2:
        size -= 0.5
    return size


def _day_tick(day: date, slot: float) -> str:
    """"Mon 23 Nov" where there is room, else the day of the month alone."""
    return _day_label(day) if slot >= 64 else str(day.day)


def _day_axis_title(dates: Sequence[date], slot: float) -> str:
    if _day_tick(dates[0], slot) == _day_label(dates[0]):
        return "Day"
    months = dict.fromkeys(d.strftime("%b %Y") for d in dates)
    return f"Day ({' – '.join(months)})"


def _text_width(text: str, size: float) -> float:
    """Rough rendered width of a label, enough to decide whether it fits inside a bar."""
    return len(text) * size * 0.58


def _y_axis(svg: Svg, ticks: Sequence[float], left: float, right: float, top: float,
            bottom: float, label: str) -> None:
    scale = (bottom - top) / ticks[-1]
    for tick in ticks:
        y = bottom - tick * scale
        svg.line(left, y, right, y, GRID if tick else MUTED)
        svg.text(left - 6, y + 4, _tick_label(tick), anchor="end", size=11, fill=MUTED)
    mid = (top + bottom) / 2
    svg.text(14, mid, label, anchor="middle", size=12, fill=MUTED,
             transform=f"rotate(-90 14 {mid:.1f})")


def _legend(svg: Svg, items: Sequence[tuple[str, str]], x: float, y: float) -> None:
    for label, colour in items:
        svg.rect(x, y - 10, 12, 12, colour, rx=2)
        svg.text(x + 17, y, label, size=12)
        x += 17 + _text_width(label, 12) + 18


def chart_sends_by_day_channel(data: ReportData) -> str:
    """Stacked bars: sends per day, one segment per channel, totals on top."""
    by_day = data.summary["sends_by_day_channel"]
    used = {c for day in by_day.values() for c in day}
    channels = [c for c in data.channels if c in used] or data.channels[:1]
    colours = {c: SERIES[i % len(SERIES)] for i, c in enumerate(channels)}
    totals = [sum(by_day.get(d.isoformat(), {}).values()) for d in data.dates]
    channel_totals = {c: sum(day.get(c, 0) for day in by_day.values()) for c in channels}
    width = WIDE
    left, right, top, bottom = 64.0, width - 16, 56.0, 340.0
    svg = Svg("sends-by-day-channel", width, bottom + 50, "Sends per day and channel",
              "Stacked bars: planned sends on each day of the horizon, split by channel; "
              "the total is printed above each bar.")
    _legend(svg, [(f"{c} {fmt_int(channel_totals[c])}", colours[c]) for c in channels], left, 22)
    ticks = _nice_ticks(max(totals + [1]) * 1.08)
    _y_axis(svg, ticks, left, right, top, bottom, "Sends")
    scale = (bottom - top) / ticks[-1]
    slot = (right - left) / len(data.dates)
    bar = min(72.0, slot * 0.62)
    for i, day in enumerate(data.dates):
        x = left + slot * i + (slot - bar) / 2
        y = bottom
        counts = by_day.get(day.isoformat(), {})
        for channel in channels:
            n = counts.get(channel, 0)
            if not n:
                continue
            h = n * scale
            y -= h
            svg.rect(x, y, bar, h, colours[channel], data_value=n, data_series=channel)
            label = fmt_int(n)
            if h >= 14 and _text_width(label, 11) <= bar - 4:
                colour = "#ffffff" if colours[channel] in DARK_SERIES else INK
                svg.text(x + bar / 2, y + h / 2 + 4, label, anchor="middle", size=11,
                         fill=colour)
        svg.text(x + bar / 2, y - 6, fmt_int(totals[i]), anchor="middle",
                 size=_fit(fmt_int(totals[i]), slot, 12), weight=600, data_total=day.isoformat())
        svg.text(x + bar / 2, bottom + 18, _day_tick(day, slot), anchor="middle", size=12)
    svg.text((left + right) / 2, bottom + 42, _day_axis_title(data.dates, slot),
             anchor="middle", size=12, fill=MUTED)
    return svg.render()


def chart_value_by_tier(data: ReportData, tiers: pd.DataFrame) -> str:
    """Paired horizontal bars per tier: value proposed (grey) and value planned (accent)."""
    width, left, right = HALF, 84.0, HALF - 96
    row = 64.0
    top = 44.0
    height = top + row * len(tiers) + 34
    svg = Svg("value-by-tier", width, height, "Value by priority tier",
              "Per priority tier, the expected value of every proposed contact and of the "
              "contacts planned; the share kept is printed on the right.")
    _legend(svg, [("Proposed", CONTEXT), ("Planned", ACCENT)], left, 18)
    peak = float(max(tiers["proposed_value"].max(), tiers["planned_value"].max(), 1e-9))
    scale = (right - left) / peak
    svg.text(width - 6, 18, "kept", anchor="end", size=11, fill=MUTED)
    for i, (tier, rec) in enumerate(tiers.iterrows()):
        y = top + row * i
        svg.text(left - 10, y + 22, f"Tier {tier}", anchor="end", size=13, weight=600)
        if i == 0:
            svg.text(left - 10, y + 38, "highest", anchor="end", size=11, fill=MUTED)
        for j, (value, colour) in enumerate(
            ((rec["proposed_value"], CONTEXT), (rec["planned_value"], ACCENT))
        ):
            yy = y + 6 + j * 24
            w = max(value, 0) * scale
            svg.rect(left, yy, w, 20, colour, data_value=f"{value:.2f}")
            svg.text(left + w + 6, yy + 15, fmt_num(value), size=12,
                     fill=INK if j else MUTED, weight=600 if j else None)
        kept = rec["planned_value"] / rec["proposed_value"] if rec["proposed_value"] else None
        svg.text(width - 6, y + 40, fmt_pct(kept), anchor="end", size=13, weight=600)
    axis_y = top + row * len(tiers) + 4
    svg.line(left, top - 2, left, axis_y, MUTED)
    svg.text((left + right) / 2, axis_y + 22, "Expected value (before channel weight and cost)",
             anchor="middle", size=12, fill=MUTED)
    return svg.render()


def chart_global_rules(data: ReportData) -> str:
    """Bullet bars: every capacity, budget and volume rule's use against its limits."""
    rules = data.summary.get("global_rules", [])
    width, left, right = HALF, 8.0, HALF - 8
    row = 70.0
    height = 20 + row * max(len(rules), 1) + 26
    svg = Svg("global-rules", width, height, "Capacity, budget and volume use against limits",
              "One bar per global rule: its use by the plan, with its limit marked; per-day "
              "capacity rules show their busiest day.")
    if not rules:
        svg.text(width / 2, 50, "The scenario has no capacity, budget or volume rule.",
                 anchor="middle", size=13, fill=MUTED)
    for i, rule in enumerate(rules):
        y = 16 + row * i
        used, per_day = _rule_use(rule)
        bounds = [b for b in (rule.get("min"), rule.get("max")) if b is not None]
        span = max([used, *bounds, 1e-9]) * 1.12
        scale = (right - left) / span
        kind = f"{rule['type']}, {'soft' if rule['soft'] else 'hard'}" + (
            ", busiest day" if per_day else "")
        svg.text(left, y + 14, rule["name"], size=13, weight=600)
        svg.text(right, y + 14, kind, anchor="end", size=11, fill=MUTED)
        svg.rect(left, y + 22, right - left, 18, "#eef1f4", rx=2)
        violated = rule.get("violation", 0) > 0
        svg.rect(left, y + 22, used * scale, 18, ALERT if violated else ACCENT, rx=2,
                 data_value=f"{used}")
        for bound in (rule.get("min"), rule.get("max")):
            if bound is None:
                continue
            x = left + bound * scale
            svg.line(x, y + 17, x, y + 45, INK, 2)
        metric = rule["metric"]
        status = _rule_status(rule, used, per_day)
        svg.text(left, y + 58, status, size=12, fill=ALERT if violated else INK)
        limits = " · ".join(
            f"{label} {fmt_metric(rule[label], metric)}{' per day' if per_day else ''}"
            for label in ("min", "max") if rule.get(label) is not None)
        svg.text(right, y + 58, limits, anchor="end", size=12, fill=MUTED)
    return svg.render()


def _rule_use(rule: Mapping[str, Any]) -> tuple[float, bool]:
    usage = rule["usage"]
    if isinstance(usage, Mapping):
        return float(max(usage.values(), default=0.0)), True
    return float(usage), False


def _rule_status(rule: Mapping[str, Any], used: float, per_day: bool) -> str:
    metric = rule["metric"]
    text = f"{'peak ' if per_day else ''}{fmt_metric(used, metric)}"
    if rule.get("max") is not None:
        share = used / rule["max"] if rule["max"] > 0 else None
        text += f" of {fmt_metric(rule['max'], metric)}"
        text += f" ({fmt_pct(share)})" if share is not None else ""
    elif rule.get("min") is not None:
        text += f" (minimum {fmt_metric(rule['min'], metric)})"
    if rule.get("violation", 0) > 0:
        text += (f" · violated by {fmt_metric(rule['violation'], metric)}, "
                 f"penalty {fmt_num(rule['penalty'])}")
    return text


def chart_capacity_per_day(
    data: ReportData, rule: Mapping[str, Any], chart_id: str, width: float = HALF
) -> str:
    """Bars per day against the limit line for one capacity rule counted per day."""
    usage = rule["usage"]
    values = [float(usage.get(d.isoformat(), 0.0)) for d in data.dates]
    limit = float(rule["max"])
    left, right, top, bottom = 60.0, width - 16, 44.0, 230.0
    svg = Svg(chart_id, width, bottom + 50, f"{rule['name']}: use per day",
              f"Bars: sends matching {rule['name']} on each day; the line is the daily limit of "
              f"{fmt_metric(limit, rule['metric'])}.")
    ticks = _nice_ticks(max(values + [limit]) * 1.15, integer=rule["metric"] == "count")
    _y_axis(svg, ticks, left, right, top, bottom, "Sends" if rule["metric"] == "count"
            else rule["metric"])
    scale = (bottom - top) / ticks[-1]
    slot = (right - left) / len(data.dates)
    bar = min(48.0, slot * 0.6)
    for i, (day, value) in enumerate(zip(data.dates, values, strict=True)):
        x = left + slot * i + (slot - bar) / 2
        h = value * scale
        full = value >= limit
        svg.rect(x, bottom - h, bar, h, ALERT if value > limit else ACCENT if full else "#93bbe6",
                 data_value=f"{value}", data_day=day.isoformat())
        svg.text(x + bar / 2, bottom - h - 6, fmt_metric(value, rule["metric"]), anchor="middle",
                 size=_fit(fmt_metric(value, rule["metric"]), slot, 12),
                 weight=600 if full else None)
        svg.text(x + bar / 2, bottom + 18, _day_tick(day, slot), anchor="middle", size=11)
    y = bottom - limit * scale
    svg.line(left, y, right, y, INK, 1.5, stroke_dasharray="6 4")
    # the key sits above the plot, so no bar label can ever collide with it
    svg.line(left, 14, left + 26, 14, INK, 1.5, stroke_dasharray="6 4")
    svg.text(left + 32, 18, f"limit {fmt_metric(limit, rule['metric'])} per day", size=12,
             weight=600)
    svg.rect(left + 190, 8, 12, 12, ACCENT, rx=2)
    svg.text(left + 207, 18, "at the limit", size=12)
    svg.rect(left + 290, 8, 12, 12, "#93bbe6", rx=2)
    svg.text(left + 307, 18, "below", size=12)
    svg.text((left + right) / 2, bottom + 42, _day_axis_title(data.dates, slot),
             anchor="middle", size=12, fill=MUTED)
    return svg.render()


def chart_contacts_per_customer(data: ReportData) -> str:
    """Paired histogram: customers by number of contacts, proposed versus planned."""
    before, after = contacts_per_customer(data)
    labels, proposed, planned = _histogram(before, after)
    width = WIDE
    left, right, top, bottom = 72.0, width - 16, 56.0, 300.0
    svg = Svg("contacts-per-customer", width, bottom + 50,
              "Contacts per customer: proposed versus planned",
              "Paired bars: how many customers would receive each number of contacts if every "
              "proposal went out (grey) and under the plan (blue).")
    _legend(svg, [(f"Proposed (every candidate in the horizon), mean {before.mean():.2f}",
                   CONTEXT),
                  (f"Planned, mean {after.mean():.2f}", ACCENT)], left, 22)
    ticks = _nice_ticks(max(proposed + planned + [1]) * 1.1)
    _y_axis(svg, ticks, left, right, top, bottom, "Customers")
    scale = (bottom - top) / ticks[-1]
    slot = (right - left) / len(labels)
    bar = min(34.0, slot * 0.4)
    for i, label in enumerate(labels):
        centre = left + slot * (i + 0.5)
        for j, (n, colour) in enumerate(((proposed[i], CONTEXT), (planned[i], ACCENT))):
            x = centre - bar - 1 + j * (bar + 2)
            h = n * scale
            svg.rect(x, bottom - h, bar, h, colour, data_value=n,
                     data_series="proposed" if j == 0 else "planned", data_bin=label)
            svg.text(x + bar / 2, bottom - h - 5, fmt_int(n), anchor="middle",
                     size=_fit(fmt_int(n), bar + 4, 11),
                     fill=INK if j else MUTED, weight=600 if j else None)
        svg.text(centre, bottom + 18, label, anchor="middle", size=12)
    svg.text((left + right) / 2, bottom + 42, "Contacts in the horizon", anchor="middle",
             size=12, fill=MUTED)
    return svg.render()


def chart_suppressions(data: ReportData, lines: Sequence[str]) -> str:
    """Heatmap: suppressed candidates by reason (rows) and product line (columns)."""
    by_reason = data.summary["counts"]["suppressed_by_reason"]
    reasons = sorted(by_reason, key=lambda r: (-by_reason[r], r))
    grid = data.suppressed.groupby(["reason", "product_line"]).size()
    columns = [*lines, "Total"]
    label_w, top = 170.0, 64.0
    cell_w = max(78.0, min(110.0, (1100 - label_w - 16) / len(columns)))
    cell_h = 30.0
    width = max(1100.0, label_w + cell_w * len(columns) + 16)
    height = top + cell_h * (len(reasons) + 1) + 40
    svg = Svg("suppressions-by-reason", width, height,
              "Suppressed contacts by reason and product line",
              "Heatmap: the number of candidates not sent, by the reason and the team that "
              "proposed them; darker is more.")
    svg.text(label_w + cell_w * len(lines) / 2, 16, "Product line", anchor="middle", size=12,
             fill=MUTED)
    peak = max([int(v) for v in grid.to_numpy()] + [1])
    for j, column in enumerate(columns):
        x = label_w + cell_w * j + cell_w / 2
        label = _two_lines(column, cell_w)
        for k, part in enumerate(label):
            svg.text(x, top - 12 - 14 * (len(label) - 1 - k), part, anchor="middle", size=12,
                     weight=600 if column == "Total" else None)
    svg.text(8, top - 12, "Reason", size=12, fill=MUTED)
    col_totals = [int(data.suppressed["product_line"].eq(line).sum()) for line in lines]
    rows = [*reasons, "Total"]
    for i, reason in enumerate(rows):
        y = top + cell_h * i
        total_row = reason == "Total"
        svg.text(label_w - 10, y + cell_h / 2 + 4,
                 "Total" if total_row else REASON_LABELS.get(reason, reason), anchor="end",
                 size=12, weight=600 if total_row else None)
        for j, column in enumerate(columns):
            x = label_w + cell_w * j
            if total_row:
                n = col_totals[j] if column != "Total" else int(data.summary["counts"]
                                                                ["suppressed"])
            elif column == "Total":
                n = int(by_reason[reason])
            else:
                n = int(grid.get((reason, column), 0))
            is_total = total_row or column == "Total"
            fill = "#f3f5f8" if is_total else _heat(n / peak) if n else "#ffffff"
            # one group per cell, so a cell's number travels with its data attributes
            svg.begin_group(data_value=n, data_reason="__total__" if total_row else reason,
                            data_product_line="__total__" if column == "Total" else column)
            svg.rect(x + 1, y + 1, cell_w - 2, cell_h - 2, fill, rx=2)
            dark = not is_total and n and math.sqrt(n / peak) > 0.6  # as _heat shades it
            svg.text(x + cell_w / 2, y + cell_h / 2 + 4, fmt_int(n) if n else "–",
                     anchor="middle", size=12, fill="#ffffff" if dark else INK if n else MUTED,
                     weight=600 if is_total else None)
            svg.end_group()
    return svg.render()


def _heat(fraction: float) -> str:
    """White-to-accent scale; square root so that small but real counts still show."""
    t = math.sqrt(max(0.0, min(1.0, fraction)))
    low, high = (0xE8, 0xF0, 0xF9), _rgb(ACCENT_DARK)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(low, high, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _short(text: str, width: float, size: float = 12) -> str:
    limit = max(4, int(width / (size * 0.58)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _two_lines(text: str, width: float, size: float = 12) -> list[str]:
    """A column label on one line, or split at a space or underscore onto two."""
    if _text_width(text, size) <= width - 6:
        return [text]
    cuts = [i for i, ch in enumerate(text) if ch in " _-"]
    if not cuts:
        return [_short(text, width - 6, size)]
    cut = min(cuts, key=lambda i: abs(i - len(text) / 2))
    first, second = text[: cut + (text[cut] != " " and text[cut] != "_")], text[cut + 1:]
    return [_short(first, width - 6, size), _short(second, width - 6, size)]


# --------------------------------------------------------------------------- page


def render_report(data: ReportData) -> str:
    """The whole report as one HTML string."""
    summary = data.summary
    if "counts" not in summary:
        return _page(data.scenario_name, "", _failure_body(summary))
    lines_table = product_line_table(data)
    tiers = tier_table(data)
    customers_contacted = int(data.calendar["customer_id"].nunique())
    header = _header_note(data)
    body = [
        _kpis(summary, customers_contacted, len(data.customer_ids)),
        _headline(summary, customers_contacted, lines_table),
        '<div class="grid">',
        _card("Value by priority tier",
              "What each tier was proposed and what the plan keeps. Tier 1 strictly comes "
              "first: no gain lower down ever pays for a loss above.",
              chart_value_by_tier(data, tiers) + _tier_table_html(tiers)),
        _card("Capacity, budget and volume against limits",
              "Use of every global rule by the plan; the dark tick is the limit.",
              _limits_content(data)),
        _card("Impact per product line",
              "Each team's proposed contacts and value against what the plan sends.",
              _product_line_html(lines_table), wide=True),
        _card("Sends per day and channel",
              "Planned sends on each day of the horizon, by channel.",
              chart_sends_by_day_channel(data), wide=True),
    ]
    if not _per_day_beside_limits(len(data.dates)):
        for rule, chart_id in per_day_rules(summary):
            body.append(_card(f"{rule['name']}: use per day",
                              f"Limit {fmt_metric(rule['max'], rule['metric'])} per day.",
                              chart_capacity_per_day(data, rule, chart_id, WIDE), wide=True))
    body += [
        _card("Contact pressure per customer",
              "How many contacts each customer would get if every proposal went out, against "
              "the plan.", chart_contacts_per_customer(data), wide=True),
        _card("Why contacts were suppressed",
              "Candidates not sent, by reason and by the product line that proposed them.",
              chart_suppressions(data, list(lines_table.index)), wide=True),
        "</div>",
        _notes(summary),
    ]
    return _page(data.scenario_name, header, "\n".join(body))


def _per_day_beside_limits(days: int) -> bool:
    """Up to two weeks, a per-day capacity chart fits the half-width limits card."""
    return days <= 14


def _limits_content(data: ReportData) -> str:
    """The rules' bullet chart, then (short horizons) one bar chart per per-day capacity rule."""
    parts = [chart_global_rules(data)]
    if _per_day_beside_limits(len(data.dates)):
        for rule, chart_id in per_day_rules(data.summary):
            parts.append(
                f'<h3>{_esc(rule["name"])}: use per day</h3>'
                f'<p class="sub">Limit {fmt_metric(rule["max"], rule["metric"])} per day.</p>'
                + chart_capacity_per_day(data, rule, chart_id, HALF)
            )
    return "".join(parts)


def per_day_rules(summary: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Capacity rules counted per day, each with the data-chart id of its bar chart."""
    found, seen = [], set()
    for rule in summary.get("global_rules", []):
        if isinstance(rule["usage"], Mapping):
            chart_id = base = f"capacity-{_slug(rule['name'])}"
            n = 2
            while chart_id in seen:
                chart_id, n = f"{base}-{n}", n + 1
            seen.add(chart_id)
            found.append((rule, chart_id))
    return found


def expected_chart_ids(summary: Mapping[str, Any]) -> list[str]:
    """Every data-chart id a complete report for this summary holds, in page order."""
    found = per_day_rules(summary)
    per_day = [chart_id for _, chart_id in found]
    # a per-day rule's usage holds every day of the horizon
    if not found or _per_day_beside_limits(len(found[0][0]["usage"])):
        return ["value-by-tier", "global-rules", *per_day, "sends-by-day-channel",
                "contacts-per-customer", "suppressions-by-reason"]
    return ["value-by-tier", "global-rules", "sends-by-day-channel", *per_day,
            "contacts-per-customer", "suppressions-by-reason"]


def _slug(text: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return "-".join(part for part in slug.split("-") if part) or "rule"


def _header_note(data: ReportData) -> str:
    first, last = data.dates[0], data.dates[-1]
    return (f"{_day_label(first)} {first.year} – {_day_label(last)} {last.year} "
            f"({len(data.dates)} days) · plan {_esc(data.plan_dir)}")


def _kpi(key: str, label: str, value: object, shown: str, note: str = "") -> str:
    return (
        f'<div class="kpi" id="kpi-{key}" data-value="{_esc(json.dumps(value))}">'
        f'<div class="kpi-label">{_esc(label)}</div>'
        f'<div class="kpi-value{" long" if len(shown) > 11 else ""}">{_esc(shown)}</div>'
        f'<div class="kpi-note">{_esc(note)}</div></div>'
    )


def _kpis(summary: Mapping[str, Any], contacted: int, customers: int) -> str:
    counts = summary["counts"]
    status = summary["status"]
    status_note = {"OPTIMAL": "proven best plan", "FEASIBLE": "best found in the time limit"}
    candidates = counts["candidates"]
    return (
        '<section class="kpis" aria-label="Key figures">'
        + _kpi("status", "Status", status, status, status_note.get(status, ""))
        + _kpi("objective", "Objective", summary["objective"], fmt_num(summary["objective"]),
               f"bound {fmt_num(summary['bound'])}")
        + _kpi("gap", "Optimality gap", summary["gap"], fmt_gap(summary["gap"]),
               f"solved in {summary['runtime_s']:.1f} s")
        + _kpi("sends", "Sends", counts["sends"], fmt_int(counts["sends"]),
               f"{fmt_pct(counts['sends'] / candidates if candidates else None)} of "
               f"{fmt_int(candidates)} proposed")
        + _kpi("suppressed", "Suppressed", counts["suppressed"], fmt_int(counts["suppressed"]),
               f"{fmt_pct(counts['suppressed'] / candidates if candidates else None)} "
               f"of proposed")
        + _kpi("customers", "Customers contacted", contacted, fmt_int(contacted),
               f"of {fmt_int(customers)} customers")
        + "</section>"
    )


def _headline(summary: Mapping[str, Any], contacted: int, lines: pd.DataFrame) -> str:
    counts = summary["counts"]
    reasons = sorted(counts["suppressed_by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))
    held = ", ".join(f"{REASON_LABELS.get(r, r).lower()} ({fmt_int(n)})" for r, n in reasons[:3])
    kept = lines["planned_value"].sum() / lines["proposed_value"].sum() if len(lines) and \
        lines["proposed_value"].sum() else None
    text = (f"The plan sends <b>{fmt_int(counts['sends'])}</b> of "
            f"{fmt_int(counts['candidates'])} proposed contacts to "
            f"<b>{fmt_int(contacted)}</b> customers, keeping <b>{fmt_pct(kept)}</b> of the "
            f"proposed value.")
    if held:
        text += f" Most of the {fmt_int(counts['suppressed'])} held back are for {_esc(held)}."
    return f'<p class="headline">{text}</p>'


def _card(title: str, subtitle: str, content: str, wide: bool = False) -> str:
    return (f'<section class="card{" wide" if wide else ""}"><h2>{_esc(title)}</h2>'
            f'<p class="sub">{_esc(subtitle)}</p>{content}</section>')


def _tier_table_html(tiers: pd.DataFrame) -> str:
    rows = []
    for tier, rec in tiers.iterrows():
        objective = None if pd.isna(rec["objective"]) else float(rec["objective"])
        rows.append(
            f'<tr data-tier="{tier}"><td>Tier {tier}</td><td>{fmt_int(rec["candidates"])}</td>'
            f'<td>{fmt_int(rec["sends"])}</td>'
            f'<td id="tier-objective-{tier}" data-value="{_esc(json.dumps(objective))}">'
            f'{fmt_num(objective) if objective is not None else "–"}</td></tr>'
        )
    return ('<table class="compact" id="tier-table"><thead><tr><th>Tier</th><th>Proposed</th>'
            '<th>Sends</th><th>Objective</th></tr></thead><tbody>' + "".join(rows)
            + "</tbody></table>")


PRODUCT_LINE_COLUMNS = (  # (key, heading under its group, format)
    ("proposed", "Proposed", fmt_int),
    ("planned", "Planned", fmt_int),
    ("suppressed", "Suppressed", fmt_int),
    ("kept_contacts", "Kept", fmt_pct),
    ("proposed_value", "Proposed", fmt_num),
    ("planned_value", "Planned", fmt_num),
    ("kept_value", "Kept", fmt_pct),
)


def _product_line_html(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{_esc(title)}</th>" for _, title, _ in PRODUCT_LINE_COLUMNS)
    rows = []
    for line, rec in table.iterrows():
        cells = "".join(_pl_cell(key, rec[key], fmt) for key, _, fmt in PRODUCT_LINE_COLUMNS)
        reason = (f"{REASON_LABELS.get(rec['main_reason'], rec['main_reason'])} "
                  f"({fmt_int(rec['main_reason_n'])})" if rec["main_reason"] else "–")
        breakable = _esc(line).replace("_", "_<wbr>")  # long team names wrap at underscores
        rows.append(f'<tr data-product-line="{_esc(line)}"><td>{breakable}</td>{cells}'
                    f'<td class="reason">{_esc(reason)}</td></tr>')
    totals = table[["proposed", "planned", "suppressed", "proposed_value", "planned_value"]].sum()
    total = {
        **totals.to_dict(),
        "kept_contacts": totals["planned"] / totals["proposed"] if totals["proposed"] else None,
        "kept_value": (totals["planned_value"] / totals["proposed_value"]
                       if totals["proposed_value"] else None),
    }
    cells = "".join(_pl_cell(key, total[key], fmt) for key, _, fmt in PRODUCT_LINE_COLUMNS)
    rows.append(f'<tr class="total" data-product-line="__total__"><td>Total</td>{cells}'
                "<td></td></tr>")
    return ('<div class="table-wrap"><table id="product-lines"><thead>'
            '<tr class="group"><th></th><th colspan="4">Contacts</th>'
            '<th colspan="3">Expected value</th><th></th></tr>'
            f'<tr><th>Product line</th>{head}<th class="reason">Main reason suppressed</th>'
            '</tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")


def _pl_cell(key: str, value: Any, fmt: Any) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    raw = "null" if missing else json.dumps(float(value) if "value" in key or "kept" in key
                                            else int(value))
    shown = "–" if missing else fmt(value)
    if key == "kept_value" and not missing:
        # a small meter: the share of its proposed value each team keeps
        shown = (f'<span class="meter" aria-hidden="true"><span style="width:'
                 f'{max(0.0, min(1.0, float(value))) * 100:.0f}%"></span></span>'
                 f'<span class="pct">{shown}</span>')
    return f'<td data-col="{key}" data-value="{_esc(raw)}">{shown}</td>'


def _notes(summary: Mapping[str, Any]) -> str:
    solver = summary.get("solver", {})
    limit = solver.get("time_limit_s")
    return (
        '<footer class="notes"><h2>How to read this</h2><ul>'
        "<li><b>Proposed</b>: every candidate contact a team put forward; "
        "<b>planned</b>: the ones in the plan's calendar. Every candidate is either planned or "
        "suppressed, with one reason.</li>"
        "<li><b>Value</b> is the candidates' own expected value. The <b>objective</b> weighs it "
        "by channel preference, subtracts cost where the scenario says so and soft-rule "
        "penalties; it is maximised tier by tier.</li>"
        "<li><b>Gap</b>: how far the objective could at most still improve, relative to the "
        "solver's bound; 0% means the plan is proven optimal.</li>"
        "<li>Contacts per customer count proposals whose send window meets the horizon; "
        "history before the horizon is not counted.</li>"
        f"<li>Run: status {_esc(summary['status'])}, {summary['runtime_s']:.1f} s"
        + (f", time limit {limit:g} s" if isinstance(limit, (int, float)) else "")
        + (f", seed {solver['seed']}" if "seed" in solver else "")
        + "."
        "</li></ul></footer>"
    )


def _failure_body(summary: Mapping[str, Any]) -> str:
    status = str(summary.get("status", "UNKNOWN"))
    return (
        '<section class="kpis single" aria-label="Key figures">'
        + _kpi("status", "Status", status, status, "no plan was produced")
        + "</section>"
        + '<section class="card wide"><h2>Diagnosis</h2>'
        + f'<p class="diagnosis">{_esc(summary.get("diagnosis", "no diagnosis recorded"))}</p>'
        + "</section>"
    )


STYLE = """
:root { --ink:#1d2733; --muted:#5b6673; --line:#e3e7ec; --accent:#1f5fa8; --bg:#f4f6f9; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "Liberation Sans", sans-serif; -webkit-font-smoothing: antialiased; }
header { background:#fff; border-bottom:3px solid var(--accent); }
header div, main { max-width:1180px; margin:0 auto; padding:0 28px; }
header div { padding-top:18px; padding-bottom:14px; }
header .eyebrow { font-size:12px; letter-spacing:.08em; text-transform:uppercase;
  color:var(--accent); font-weight:600; margin:0; }
h1 { font-size:24px; margin:2px 0 2px; font-weight:650; }
header .meta { color:var(--muted); margin:0; font-size:13px; }
main { padding-top:20px; padding-bottom:40px; }
.kpis { display:grid; grid-template-columns:repeat(6, minmax(0, 1fr)); gap:12px; }
.kpis.single { grid-template-columns:minmax(0, 300px); }
.kpis + .card { margin-top:16px; }
.kpi { background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 14px;
  border-top:3px solid var(--accent); }
.kpi-label { font-size:11px; text-transform:uppercase; letter-spacing:.04em;
  color:var(--muted); white-space:nowrap; }
.kpi-value { font-size:25px; font-weight:650; margin-top:2px; white-space:nowrap;
  font-variant-numeric:tabular-nums; }
.kpi-value.long { font-size:19px; padding-top:5px; }
.kpi-note { font-size:12px; color:var(--muted); }
.headline { font-size:16px; margin:16px 2px 0; }
.grid { display:grid; grid-template-columns:repeat(2, minmax(0, 1fr)); gap:16px;
  margin-top:16px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px; }
.card.wide { grid-column:1 / -1; }
.card h2, .notes h2 { font-size:16px; margin:0; font-weight:650; }
.card p.sub { color:var(--muted); margin:2px 0 10px; font-size:13px; }
svg { display:block; width:100%; height:auto; font-variant-numeric:tabular-nums; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:7px 10px; border-bottom:1px solid var(--line); text-align:right;
  white-space:nowrap; }
th { font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted);
  font-weight:600; border-bottom:2px solid var(--line); }
th:first-child, td:first-child, td.reason, th.reason { text-align:left; }
#product-lines td:first-child, td.reason, th.reason { white-space:normal; }
#product-lines td:first-child { max-width:190px; }
tr.total td { font-weight:650; border-top:2px solid var(--line); border-bottom:none; }
table.compact { margin-top:8px; font-size:13px; }
table.compact td, table.compact th { padding:4px 8px; }
.meter { display:inline-block; width:70px; height:8px; background:#e8edf3; border-radius:4px;
  vertical-align:middle; overflow:hidden; margin-right:8px; }
.pct { display:inline-block; min-width:3.2em; }
tr.group th { border-bottom:1px solid var(--line); text-align:center; padding-bottom:2px;
  color:var(--ink); }
tr.group th[colspan] { border-bottom:2px solid var(--accent); }
#product-lines td:nth-child(5), #product-lines th:nth-child(5) { padding-right:22px; }
.card h3 { font-size:14px; margin:18px 0 0; font-weight:650; }
.meter span { display:block; height:100%; background:var(--accent); }
td.reason { color:var(--muted); }
.notes { margin-top:20px; color:var(--muted); font-size:13px; }
.notes ul { margin:6px 0 0; padding-left:18px; }
.diagnosis { white-space:pre-wrap; }
@media (max-width: 960px) { .kpis { grid-template-columns:repeat(3, minmax(0, 1fr)); }
  .grid { grid-template-columns:1fr; } }
@media print { body { background:#fff; } .card, .kpi { break-inside:avoid; } }
"""


def _page(name: str, header_note: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Contact plan report: {_esc(name)}</title><style>{STYLE}</style></head>\n"
        '<body><header><div><p class="eyebrow">Contact plan report</p>'
        f'<h1>{_esc(name)}</h1><p class="meta">{header_note}</p></div></header>\n'
        f"<main>\n{body}\n</main></body></html>\n"
    )


def write_report(
    plan_dir: str | Path, out: str | Path, scenario_dir: str | Path | None = None
) -> Path:
    """Render the report for a plan folder and write it (whole or not at all) to `out`."""
    page = render_report(load_report_data(plan_dir, scenario_dir))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(page)
        os.chmod(staging, 0o644)
        os.replace(staging, out)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return out


def chart_ids(html_text: str) -> list[str]:
    """The data-chart ids of a rendered report, in page order."""
    return _DATA_CHART.findall(html_text)


_DATA_CHART = re.compile(r'data-chart="([^"]+)"')
