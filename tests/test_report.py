"""The HTML report: self-contained, every chart present and visible, figures = summary.json.

The scenario (horizon Mon 2026-11-23 .. Wed 2026-11-25; email free, sms 1.00,
call 3.00; call seats 1 a day; sms budget 1.00) and its plan, known by hand:

    K1 C1 BILL  (billing, tier 1) email Mon        sent
    K2 C2 BILL  (billing, tier 1) email Mon        sent
    K3 C3 PROMO (cards, tier 2)   sms, no consent  suppressed no_consent
    K4 C1 PROMO (cards, tier 2)   sms Mon..Wed, 5  sent (the sms budget buys one send)
    K5 C2 PROMO (cards, tier 2)   sms Mon..Wed, 4  suppressed budget
    K6 C4 LOAN  (loans, tier 2)   call Mon, 8      sent (one call seat on Monday)
    K7 C5 LOAN  (loans, tier 2)   call Mon, 6      suppressed capacity
    K8 C1 NEWS  (digital, tier 3) December         suppressed outside_horizon
    K9 C2 NEWS  (digital, tier 3) email Tue        sent
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from models import load_scenario
from optimiser.cli import main
from optimiser.cpsat import SolverOptions
from optimiser.plan import build_plan, write_plan
from optimiser.report import chart_ids, expected_chart_ids
from optimiser.solve import solve
from tests.kit import cand, comm, customer, plan_and_verify, write_scenario

CHARTS = [
    "value-by-tier",
    "global-rules",
    "capacity-call-seats",
    "sends-by-day-channel",
    "contacts-per-customer",
    "suppressions-by-reason",
]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(scenario folder, plan folder, report file) of the scenario in the module docstring."""
    root = tmp_path_factory.mktemp("report")
    folder = write_scenario(
        root / "tiny",
        customers=[
            customer("C1"),
            customer("C2"),
            customer("C3", consent_sms="false"),
            customer("C4", consent_call="true"),
            customer("C5", consent_call="true"),
        ],
        communications=[
            comm("BILL", priority=1, category="service", product_line="billing"),
            comm("PROMO", priority=2, product_line="cards"),
            comm("LOAN", priority=2, product_line="loans"),
            comm("NEWS", priority=3, product_line="digital"),
        ],
        candidates=[
            cand("K1", "C1", "BILL", 10),
            cand("K2", "C2", "BILL", 10),
            cand("K3", "C3", "PROMO", 5, channels="sms"),
            cand("K4", "C1", "PROMO", 5, channels="sms", latest="2026-11-25"),
            cand("K5", "C2", "PROMO", 4, channels="sms", latest="2026-11-25"),
            cand("K6", "C4", "LOAN", 8, channels="call"),
            cand("K7", "C5", "LOAN", 6, channels="call"),
            cand("K8", "C1", "NEWS", 1, earliest="2026-12-07", latest="2026-12-08"),
            cand("K9", "C2", "NEWS", 1, earliest="2026-11-24", latest="2026-11-24"),
        ],
        channels={"email": {"cost": 0.0}, "sms": {"cost": 1.0}, "call": {"cost": 3.0}},
        rules=[
            {"capacity": {"name": "call-seats", "select": {"channels": ["call"]}, "max": 1,
                          "per": "day"}},
            {"budget": {"name": "sms-budget", "select": {"channels": ["sms"]}, "max": 1.0}},
        ],
        days=3,
    )
    plan_dir = root / "tiny-plan"
    plan_and_verify(folder, plan_dir)
    out = root / "report.html"
    result = CliRunner().invoke(
        main, ["report", str(plan_dir), "--scenario", str(folder), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return folder, plan_dir, out


@pytest.fixture(scope="module")
def page(planned: tuple[Path, Path, Path]) -> str:
    return planned[2].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def summary(planned: tuple[Path, Path, Path]) -> dict[str, Any]:
    return json.loads((planned[1] / "summary.json").read_text(encoding="utf-8"))


class Elements(HTMLParser):
    """Every element of a page with its attributes and its text (descendants' included)."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"}

    def __init__(self, text: str):
        super().__init__()
        self.found: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[list[str]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        texts: list[str] = []
        self.found.append((tag, {k: v or "" for k, v in attrs}, texts))
        if tag not in self.VOID:
            self._open.append(texts)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}, []))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for texts in self._open:
            texts.append(data)

    def by_id(self, element_id: str) -> tuple[dict[str, str], str]:
        hits = [(a, "".join(t)) for _, a, t in self.found if a.get("id") == element_id]
        assert len(hits) == 1, f"{len(hits)} elements with id {element_id}"
        return hits[0]

    def where(self, **attrs: str) -> list[tuple[dict[str, str], str]]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [(a, "".join(t)) for _, a, t in self.found
                if all(a.get(k) == v for k, v in wanted.items())]


def test_report_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"<script", page, re.I)
    assert not re.search(r"<link[^>]*stylesheet", page, re.I)
    assert not re.search(r"<(img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"url\(|@import", page, re.I)


def test_report_holds_every_chart_with_title_and_numbers(page: str, summary: dict) -> None:
    assert chart_ids(page) == CHARTS == expected_chart_ids(summary)
    elements = Elements(page)
    for chart in CHARTS:
        svg, text = elements.by_id(f"chart-{chart}")
        assert svg["data-chart"] == chart and svg["role"] == "img"
        title, title_text = elements.by_id(f"{chart}-title")
        assert title_text and svg["aria-labelledby"] == f"{chart}-title {chart}-desc"
        assert re.search(r"\d", text), f"{chart} prints no number"


def test_kpis_equal_summary(page: str, summary: dict) -> None:
    elements = Elements(page)
    counts = summary["counts"]
    expected = {
        "status": (summary["status"], "OPTIMAL"),
        "objective": (summary["objective"], f"{summary['objective']:,.2f}"),
        "gap": (summary["gap"], f"{summary['gap']:.2%}"),
        "sends": (counts["sends"], "5"),
        "suppressed": (counts["suppressed"], "4"),
        "customers": (3, "3"),  # C1, C2, C4
    }
    for key, (value, shown) in expected.items():
        attrs, text = elements.by_id(f"kpi-{key}")
        assert json.loads(attrs["data-value"]) == value, key
        assert shown in text, (key, text)
    # objective of the hand plan: 10 + 10 (tier 1) + 5 + 8 (tier 2) + 1 (tier 3)
    assert summary["objective"] == pytest.approx(34.0)
    for tier, value in summary["objective_by_tier"].items():
        attrs, text = elements.by_id(f"tier-objective-{tier}")
        assert json.loads(attrs["data-value"]) == value
        assert text == f"{value:,.2f}"


def test_product_line_table_equals_hand_count(page: str, summary: dict) -> None:
    hand = {  # proposed, planned, suppressed, proposed value, planned value
        "cards": (3, 1, 2, 14.0, 5.0),
        "billing": (2, 2, 0, 20.0, 20.0),
        "loans": (2, 1, 1, 14.0, 8.0),
        "digital": (2, 1, 1, 2.0, 1.0),
        "__total__": (9, 5, 4, 50.0, 34.0),
    }
    elements = Elements(page)
    rows = [attrs["data-product-line"] for tag, attrs, _ in elements.found
            if tag == "tr" and "data-product-line" in attrs]
    assert rows == ["cards", "billing", "loans", "digital", "__total__"]  # most proposed first
    cells: dict[tuple[str, str], tuple[float | None, str]] = {}
    line = None
    for tag, attrs, texts in elements.found:
        if tag == "tr":
            line = attrs.get("data-product-line")
        elif tag == "td" and line and "data-col" in attrs:
            cells[line, attrs["data-col"]] = (json.loads(attrs["data-value"]), "".join(texts))
    for name, (proposed, planned, suppressed, value_in, value_out) in hand.items():
        assert cells[name, "proposed"] == (proposed, f"{proposed:,}")
        assert cells[name, "planned"] == (planned, f"{planned:,}")
        assert cells[name, "suppressed"] == (suppressed, f"{suppressed:,}")
        assert cells[name, "proposed_value"] == (value_in, f"{value_in:,.2f}")
        assert cells[name, "planned_value"] == (value_out, f"{value_out:,.2f}")
        assert cells[name, "kept_contacts"][1] == f"{planned / proposed:.0%}"
        assert cells[name, "kept_value"][1] == f"{value_out / value_in:.0%}"
        if name != "__total__":
            assert summary["sends_by_product_line"].get(name, 0) == planned


def test_chart_numbers_equal_summary(page: str, summary: dict) -> None:
    elements = Elements(page)
    # totals above each day's stacked bar, and every segment
    for day, channels in summary["sends_by_day_channel"].items():
        [(_, total)] = elements.where(data_total=day)
        assert total == f"{sum(channels.values()):,}"
    segments = elements.where(data_series="sms")
    assert [int(a["data-value"]) for a, _ in segments] == [
        c["sms"] for c in summary["sends_by_day_channel"].values() if "sms" in c
    ]
    # suppressions: every reason's row total
    for reason, n in summary["counts"]["suppressed_by_reason"].items():
        [(_, text)] = elements.where(data_reason=reason, data_product_line="__total__")
        assert text == f"{n:,}"
    [(_, text)] = elements.where(data_reason="__total__", data_product_line="__total__")
    assert text == f"{summary['counts']['suppressed']:,}"
    [(_, text)] = elements.where(data_reason="budget", data_product_line="cards")
    assert text == "1"
    # every global rule's use and limit
    _, rules_text = elements.by_id("chart-global-rules")
    assert "peak 1 of 1 (100%)" in rules_text
    assert "1.00 of 1.00 (100%)" in rules_text
    day_bars = [float(a["data-value"]) for a, _ in elements.where(data_day="2026-11-23")]
    assert day_bars == [summary["global_rules"][0]["usage"]["2026-11-23"]] == [1.0]


def test_contacts_per_customer_before_and_after(page: str) -> None:
    # before (in-horizon proposals): C1 2 (K8 is outside), C2 3, C3 1, C4 1, C5 1
    # after (sends): C1 2, C2 2, C3 0, C4 1, C5 0
    elements = Elements(page)
    bins = {(a["data-series"], a["data-bin"]): int(a["data-value"])
            for a, _ in elements.where() if "data-bin" in a}
    assert bins == {
        ("proposed", "0"): 0, ("proposed", "1"): 3, ("proposed", "2"): 1, ("proposed", "3"): 1,
        ("planned", "0"): 2, ("planned", "1"): 1, ("planned", "2"): 2, ("planned", "3"): 0,
    }


def test_scenario_comes_from_summary_or_the_command(
    planned: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    folder, plan_dir, _ = planned
    runner = CliRunner()
    copy = tmp_path / "plan"
    shutil.copytree(plan_dir, copy)
    data = json.loads((copy / "summary.json").read_text(encoding="utf-8"))
    assert data["scenario_path"] == str(folder.resolve())  # written by `plan`
    del data["scenario_path"]  # a plan folder from elsewhere may not name its scenario
    (copy / "summary.json").write_text(json.dumps(data))
    result = runner.invoke(main, ["report", str(copy), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "--scenario" in result.output
    (copy / "summary.json").write_text(json.dumps({**data, "scenario_path": str(folder)}))
    result = runner.invoke(main, ["report", str(copy), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert "chart-suppressions-by-reason" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_plan_from_another_scenario_is_refused(
    planned: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    folder, plan_dir, _ = planned
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    lines = (other / "candidates.csv").read_text(encoding="utf-8").splitlines()
    (other / "candidates.csv").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["report", str(plan_dir), "--scenario", str(other), "-o", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 2 and "not made from scenario" in result.output
    assert not (tmp_path / "r.html").exists()


def test_a_plan_with_no_sends_still_reports(tmp_path: Path) -> None:
    folder = write_scenario(
        tmp_path / "none",
        customers=[customer("C1", consent_sms="false")],
        communications=[comm("PROMO")],
        candidates=[cand("K1", "C1", "PROMO", 5, channels="sms")],
    )
    plan_dir = tmp_path / "none-plan"
    # planned without kit.plan_and_verify: the verifier trips over an empty calendar.csv
    scenario = load_scenario(folder)
    outcome = solve(scenario, SolverOptions(time_limit_s=10, seed=0, workers=1))
    write_plan(build_plan(scenario, outcome, {}), plan_dir)
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        main, ["report", str(plan_dir), "--scenario", str(folder), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert chart_ids(page) == [c for c in CHARTS if not c.startswith("capacity-")]
    attrs, _ = Elements(page).by_id("kpi-sends")
    assert json.loads(attrs["data-value"]) == 0


def test_an_infeasible_run_reports_its_diagnosis(tmp_path: Path) -> None:
    plan_dir = tmp_path / "failed"
    plan_dir.mkdir()
    (plan_dir / "summary.json").write_text(json.dumps(
        {"format_version": 1, "scenario": "s", "status": "INFEASIBLE",
         "diagnosis": "customer C1: candidate K1 is mandatory but <rule x> forbids it"}))
    result = CliRunner().invoke(main, ["report", str(plan_dir), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "INFEASIBLE" in page and "forbids it" in page and "&lt;rule x&gt;" in page


MEASURE = """<script>
const seen = {};
document.querySelectorAll('[data-chart]').forEach((el) => {
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const texts = [...el.querySelectorAll('text')];
  seen[el.dataset.chart] = {
    w: r.width, h: r.height, left: r.left, right: r.right,
    shown: style.display !== 'none' && style.visibility !== 'hidden' && style.opacity !== '0',
    texts: texts.length,
    visibleTexts: texts.filter((t) => {
      const b = t.getBoundingClientRect();
      return b.width > 0 && b.height > 0;
    }).length,
  };
});
document.body.setAttribute('data-visible', JSON.stringify(
  {charts: seen, pageWidth: document.documentElement.clientWidth}));
</script></body>"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_every_chart_is_visible_in_headless_chromium(page: str, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", MEASURE, 1), encoding="utf-8")
    run = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    match = re.search(r'<body[^>]*data-visible="([^"]*)"', run.stdout)
    assert match, "the measuring script did not run"
    import html

    measured = json.loads(html.unescape(match.group(1)))
    charts = measured["charts"]
    assert sorted(charts) == sorted(CHARTS)
    for chart, box in charts.items():
        assert box["shown"], chart
        assert box["w"] >= 300 and box["h"] >= 120, (chart, box)
        assert box["left"] >= 0 and box["right"] <= measured["pageWidth"], (chart, box)
        assert box["texts"] > 0 and box["visibleTexts"] == box["texts"], (chart, box)
