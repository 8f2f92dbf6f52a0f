"""The `contact-plan` command line: exit codes, files written, messages a planner reads.

Exit codes (optimiser/cli.py): 0 plan written or check passed, 1 infeasible or
plan rejected, 2 invalid input. Most tests drive click's CliRunner; one runs
the installed console script in a real subprocess.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from models import load_scenario
from optimiser.cli import main
from optimiser.verify import verify_plan
from tests.kit import cand, comm, customer, write_scenario

EJOR_TINY = Path(__file__).parent / "data" / "ejor_tiny"
CAP = {
    "frequency_cap": {
        "name": "cap",
        "select": {"categories": ["marketing"]},
        "max": 1,
        "period": "horizon",
    }
}


def good_scenario(folder: Path) -> Path:
    """Two customers; one marketing send per customer in the horizon.

    Optimum: C1 gets A (5) and service D (2), not B (4, cap); C2 gets C (3): objective 10.
    """
    return write_scenario(
        folder,
        customers=[customer("C1"), customer("C2")],
        communications=[comm("M1"), comm("M2"), comm("S1", category="service")],
        candidates=[
            cand("A", "C1", "M1", 5),
            cand("B", "C1", "M2", 4),
            cand("C", "C2", "M1", 3, channels="sms"),
            cand("D", "C1", "S1", 2),
        ],
        rules=[CAP],
    )


def infeasible_scenario(folder: Path) -> Path:
    """C1's mandatory bill K1 falls entirely inside a fraud review that blocks every send."""
    return write_scenario(
        folder,
        customers=[customer("C1")],
        communications=[comm("BILL", category="regulatory", mandatory="true")],
        candidates=[cand("K1", "C1", "BILL", 1, earliest="2026-11-23", latest="2026-11-25")],
        states=[{"customer_id": "C1", "state": "fraud_review", "start": "2026-11-20", "end": ""}],
        rules=[{"exclusion": {"name": "freeze", "select": {}, "states": ["fraud_review"]}}],
    )


def invalid_scenario(folder: Path) -> Path:
    """Candidate B's `earliest` is not a date."""
    good_scenario(folder)
    path = folder / "candidates.csv"
    path.write_text(path.read_text().replace("B,C1,M2,email,2026-11-23", "B,C1,M2,email,23/11/26"))
    return folder


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def check_good_plan(out: Path) -> None:
    """The plan of good_scenario: objective 10, A C D sent, B dropped by the cap."""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "OPTIMAL"
    assert summary["objective"] == pytest.approx(10, abs=1e-6)
    calendar = pd.read_csv(out / "calendar.csv", dtype=str)
    assert set(calendar["candidate_id"]) == {"A", "C", "D"}
    suppressed = pd.read_csv(out / "suppressed.csv", dtype=str, keep_default_na=False)
    assert suppressed[["candidate_id", "reason", "rule"]].values.tolist() == [
        ["B", "frequency_cap", "cap"]
    ]


# --------------------------------------------------------------------------- validate


def test_validate_ok(tmp_path: Path) -> None:
    result = invoke("validate", good_scenario(tmp_path / "s"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: ")
    assert "2 customers, 4 candidates, 1 rules" in result.stdout


def test_validate_invalid_names_file_and_column(tmp_path: Path) -> None:
    result = invoke("validate", invalid_scenario(tmp_path / "s"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "candidates.csv" in result.stderr
    assert "earliest" in result.stderr
    assert "23/11/26" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- plan


def test_plan_writes_the_folder_and_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("plan", good_scenario(tmp_path / "s"), "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "calendar.csv",
        "summary.json",
        "suppressed.csv",
    ]
    check_good_plan(out)
    assert "OPTIMAL" in result.stdout
    assert "objective 10.00" in result.stdout
    assert "gap " in result.stdout
    assert verify_plan(load_scenario(tmp_path / "s"), out) == []


def test_plan_quiet_prints_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("plan", good_scenario(tmp_path / "s"), "-o", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    check_good_plan(out)


def test_plan_infeasible_exits_1_with_diagnosis(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("plan", infeasible_scenario(tmp_path / "s"), "-o", out)
    assert result.exit_code == 1
    assert "C1" in result.stderr and "K1" in result.stderr and "freeze" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "INFEASIBLE"
    assert "K1" in summary["diagnosis"]
    assert not (out / "calendar.csv").exists()


def test_plan_invalid_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("plan", invalid_scenario(tmp_path / "s"), "-o", out)
    assert result.exit_code == 2
    assert "candidates.csv" in result.stderr and "earliest" in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no staging folder left over


def test_plan_replaces_an_existing_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    (out / "calendar.csv").write_text("date,customer_id\n2020-01-01,OLD\n")
    result = invoke("plan", good_scenario(tmp_path / "s"), "-o", out, "-q")
    assert result.exit_code == 0, result.output
    assert not (out / "stale.txt").exists()
    check_good_plan(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s"]


# --------------------------------------------------------------------------- verify


def test_verify_accepts_a_good_plan(tmp_path: Path) -> None:
    scenario = good_scenario(tmp_path / "s")
    assert invoke("plan", scenario, "-o", tmp_path / "out", "-q").exit_code == 0
    result = invoke("verify", scenario, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ok: plan verified"


def test_verify_rejects_a_tampered_plan(tmp_path: Path) -> None:
    scenario = good_scenario(tmp_path / "s")
    out = tmp_path / "out"
    assert invoke("plan", scenario, "-o", out, "-q").exit_code == 0
    calendar = pd.read_csv(out / "calendar.csv", dtype=str)
    calendar[calendar["candidate_id"] != "A"].to_csv(out / "calendar.csv", index=False)
    result = invoke("verify", scenario, out)
    assert result.exit_code == 1
    expected = verify_plan(load_scenario(scenario), out)
    lines = result.stdout.splitlines()
    assert lines == expected
    assert any("'A'" in line and "missing" in line for line in lines)
    assert f"{len(expected)} violation(s)" in result.stderr


# --------------------------------------------------------------------------- import


def test_import_ejor_then_plan_and_verify(tmp_path: Path) -> None:
    scenario = tmp_path / "gs"
    result = invoke("import", "ejor", EJOR_TINY, "-o", scenario)
    assert result.exit_code == 0, result.output
    assert (scenario / "scenario.yaml").is_file()
    out = tmp_path / "gs-plan"
    result = invoke("plan", scenario, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    result = invoke("verify", scenario, out)
    assert result.exit_code == 0, result.output
    # by hand: 2-2 (424.48) and both day-1 emails meet the minimum assignment; 3-4 + 3-3 cost
    # exactly the budget (9.1 + 1.4); 1-2 (-2.5) is 2 days after 1-1's email (gap 4 days);
    # 2-3 would break the budget. No soft rule is violated.
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "OPTIMAL"
    assert summary["objective"] == pytest.approx(
        7.512908805402001 + 424.475232328 + 1.5 + 12.25 + 0.016512134478, abs=1e-6
    )
    calendar = pd.read_csv(out / "calendar.csv", dtype=str)
    assert set(calendar["candidate_id"]) == {"1-1", "4-1", "2-2", "3-3", "3-4"}
    suppressed = pd.read_csv(out / "suppressed.csv", dtype=str, keep_default_na=False)
    assert sorted(suppressed[["candidate_id", "reason", "rule"]].values.tolist()) == [
        ["1-2", "min_gap", "t4-1"],
        ["2-3", "budget", "t3-3-budget"],
    ]


# --------------------------------------------------------------------------- help


def _verbs(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    verbs = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            verbs += _verbs(command, (*prefix, name))
        else:
            verbs.append((*prefix, name))
    return verbs


@pytest.mark.parametrize("verb", _verbs(main), ids=lambda v: " ".join(v) or "contact-plan")
def test_help_of_every_verb_has_an_example(verb: tuple[str, ...]) -> None:
    result = invoke(*verb, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout


# --------------------------------------------------------------------------- console script


def test_console_script_in_a_subprocess(tmp_path: Path) -> None:
    script = shutil.which("contact-plan") or str(Path(sys.executable).parent / "contact-plan")
    scenario = good_scenario(tmp_path / "s")
    out = tmp_path / "out"
    done = subprocess.run(
        [script, "plan", str(scenario), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "OPTIMAL" in done.stdout
    check_good_plan(out)
    done = subprocess.run(
        [script, "plan", str(invalid_scenario(tmp_path / "bad")), "-o", str(tmp_path / "bad-out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "candidates.csv" in done.stderr and "earliest" in done.stderr
    assert not (tmp_path / "bad-out").exists()
