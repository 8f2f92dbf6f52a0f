"""The benchmark harness end to end on a tiny generated scenario (no timing checks)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bench.__main__ import Bench, format_table, run_benches, scenario_for_size, write_results

HAVE_HIGHS = importlib.util.find_spec("highspy") is not None


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("bench")
    folder = scenario_for_size(100, 0, out)
    methods = ["contact-plan", "greedy", "cpsat-monolithic"] + (["highs-mip"] if HAVE_HIGHS else [])
    table = run_benches([Bench("tiny", folder, 100, dict.fromkeys(methods, 2.0))], out)
    write_results(table, out, ["--sizes", "100"])
    return table


def test_every_method_has_a_verified_row(rows: list[dict]) -> None:
    methods = {row["method"]: row for row in rows}
    assert {"contact-plan", "greedy", "cpsat-monolithic"} <= set(methods)
    for row in rows:
        assert row["verified"], (row["method"], row["status"], row["problems"])
        assert row["objective"] is not None
        assert row["wall_s"] > 0 and row["peak_mb"] > 0
    assert methods["contact-plan"]["value_ratio"] == 1.0
    assert methods["greedy"]["bound"] is None  # priority arbitration proves no bound


def test_greedy_never_beats_contact_plan(rows: list[dict]) -> None:
    by_method = {row["method"]: row["objective"] for row in rows}
    assert by_method["greedy"] <= by_method["contact-plan"] + 1e-6


@pytest.mark.skipif(not HAVE_HIGHS, reason="highspy not installed (extra `bench`)")
def test_mip_row_has_a_bound(rows: list[dict]) -> None:
    mip = next(row for row in rows if row["method"] == "highs-mip")
    assert mip["bound"] is not None and mip["bound"] >= mip["objective"] - 1e-6


def test_table_lists_every_row(rows: list[dict]) -> None:
    table = format_table(rows)
    assert len(table.splitlines()) == len(rows) + 1
    assert all(row["method"] in table for row in rows)


def test_results_files_written(rows: list[dict], tmp_path: Path) -> None:
    write_results(rows, tmp_path, [])
    assert (tmp_path / "results.csv").read_text().count("\n") == len(rows) + 1
    assert '"rows"' in (tmp_path / "results.json").read_text()
