"""models/generate.py: synthetic scenarios of any size that load, bind and plan.

Small sizes only (the 1,000,000-customer timing lives in the report, not here):
500 customers for shape and determinism, 10,000 for the candidate distribution,
300 for a full plan whose global rules must bind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from models import Scenario, load_scenario
from models.generate import generate_scenario
from models.rules import (
    AroundExclusion,
    Budget,
    Capacity,
    CustomerExclusion,
    FrequencyCap,
    MinGap,
    NeverTogether,
    StateExclusion,
    Volume,
)
from optimiser.cli import main
from tests.kit import plan_and_verify

TABLES = ("customers", "candidates", "history", "states")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_scenario(500, 1, tmp_path_factory.mktemp("gen") / "small", partitions=3)


@pytest.fixture(scope="module")
def small_scenario(small: Path) -> Scenario:
    return load_scenario(small)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return load_scenario(generate_scenario(10_000, 11, tmp_path_factory.mktemp("gen") / "large"))


def all_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_small_scenario_loads_with_every_table(small_scenario: Scenario) -> None:
    s = small_scenario
    assert len(s.customers) == 500
    assert len(s.candidates) > 0 and len(s.history) > 0 and len(s.states) > 0
    assert s.days == 7 and s.start.weekday() == 0  # a Monday
    assert set(s.channels) == {"email", "sms", "push", "call", "mail"}
    assert s.channels["call"].closed_weekdays == frozenset({5, 6})
    assert set(s.communications["product_line"]) == {
        "cards", "loans", "savings", "insurance", "mortgages", "digital",
        "customer_service", "billing", "collections",
    }  # fmt: skip
    assert set(s.candidates["source"]) >= {"nba_engine", "digital", "billing"}
    owner = s.candidates["candidate_id"].str.rsplit("-", n=1).str[0]
    assert (owner == s.candidates["customer_id"]).all()


def test_same_seed_same_bytes_other_seed_differs(small: Path, tmp_path: Path) -> None:
    again = generate_scenario(500, 1, tmp_path / "again", partitions=3)
    assert all_files(again) == all_files(small)
    other = generate_scenario(500, 2, tmp_path / "other", partitions=3)
    candidates = "candidates.parquet"
    assert (other / candidates).read_bytes() != (small / candidates).read_bytes()


def test_candidates_are_long_tailed_with_mean_about_15(large: Scenario) -> None:
    per_customer = (
        large.candidates.groupby("customer_id").size()
        .reindex(large.customers["customer_id"], fill_value=0)
    )  # fmt: skip
    assert 13 <= per_customer.mean() <= 17
    assert (per_customer <= 3).mean() >= 0.25  # many customers with 0-3
    assert (per_customer == 0).any()
    assert (per_customer >= 30).mean() >= 0.05  # a heavy tail
    assert per_customer.max() > 60


def test_every_rule_type_and_the_global_rules(small_scenario: Scenario) -> None:
    rules = small_scenario.rules
    caps = [r for r in rules if isinstance(r, FrequencyCap)]
    assert {c.period for c in caps} == {"rolling", "week", "horizon"}
    assert any(c.period == "rolling" and c.max == 3 and c.window_days == 7 for c in caps)
    for kind in (MinGap, StateExclusion, CustomerExclusion, AroundExclusion, NeverTogether):
        assert any(isinstance(r, kind) for r in rules), kind.__name__
    assert small_scenario.dedup.enabled
    (capacity,) = [r for r in rules if isinstance(r, Capacity)]
    (budget,) = [r for r in rules if isinstance(r, Budget)]
    (volume,) = [r for r in rules if isinstance(r, Volume)]
    assert capacity.per == "day" and capacity.select.channels == ("call",) and capacity.max >= 1
    assert budget.select.channels == ("mail",) and budget.max > 0
    assert volume.min is not None and volume.min > 0 and volume.soft is not None
    text = (small_scenario.folder / "scenario.yaml").read_text(encoding="utf-8")
    assert "Seats a day =" in text and "Budget =" in text and "Minimum =" in text


def test_every_mandatory_candidate_is_sendable(large: Scenario) -> None:
    """Consent on one of its channels, on a day of its window in the horizon it is open."""
    s = large
    mandatory = set(s.communications.loc[s.communications["mandatory"], "comm_id"])
    duties = s.candidates[s.candidates["comm_id"].isin(mandatory)]
    assert len(duties) > 0
    ids = s.customers["customer_id"].tolist()
    consent = {
        channel: dict(zip(ids, s.customers[f"consent_{channel}"].tolist(), strict=True))
        for channel in s.channels
    }
    rows = zip(
        duties["candidate_id"].tolist(),
        duties["customer_id"].tolist(),
        duties["channels"].tolist(),
        duties["earliest_day"].tolist(),
        duties["latest_day"].tolist(),
        strict=True,
    )
    for candidate_id, customer_id, channels, earliest, latest in rows:
        days = range(max(earliest, 0), min(latest, s.days - 1) + 1)
        assert any(
            consent[channel][customer_id] and any(d not in s.closed_days(channel) for d in days)
            for channel in channels.split("|")
        ), candidate_id
    assert not duties.duplicated(["customer_id", "comm_id"]).any()
    bills = s.communications.loc[s.communications["tags"].str.contains("bill"), "comm_id"]
    assert bills.isin(list(mandatory)).all() and len(bills) >= 2
    assert "COL-ARREARS-LETTER" in mandatory


def test_windows_history_states_and_consents_look_real(large: Scenario) -> None:
    s = large
    c = s.candidates
    inside = (c["earliest_day"] >= 0) & (c["latest_day"] <= s.days - 1)
    outside = (c["latest_day"] < 0) | (c["earliest_day"] > s.days - 1)
    assert inside.mean() > 0.5 and 0 < outside.mean() < 0.03
    assert ((~inside) & (~outside)).mean() > 0.05  # partly outside the horizon
    assert s.history["day"].between(-30, -1).all()
    states = s.states.groupby("state")["customer_id"].nunique() / len(s.customers)
    assert 0.02 < states["complaint"] < 0.06 and 0.01 < states["collections"] < 0.05
    for channel, low, high in (("email", 0.7, 0.9), ("sms", 0.55, 0.8), ("call", 0.4, 0.7)):
        assert low < s.customers[f"consent_{channel}"].mean() < high, channel
    assert 0.4 < (s.customers["preferred_channels"] != "").mean() < 0.8
    assert 0.01 < (s.customers["do_not_market"] == "true").mean() < 0.06


def test_partitions_are_customer_blocks_of_the_single_files(small: Path) -> None:
    manifest = json.loads((small / "manifest.json").read_text(encoding="utf-8"))
    assert [b["customers"] for b in manifest["partitions"]] == [166, 167, 167]
    for table in TABLES:
        whole = pq.read_table(small / f"{table}.parquet")
        parts = [pq.read_table(p) for p in sorted((small / table).glob("part-*.parquet"))]
        assert len(parts) == 3
        assert pd.concat([p.to_pandas() for p in parts], ignore_index=True).equals(
            whole.to_pandas()
        )
        owners = [set(p.column("customer_id").to_pylist()) for p in parts]
        assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1 :])
        for block, ids in zip(manifest["partitions"], owners, strict=True):
            assert all(block["first_customer"] <= cid <= block["last_customer"] for cid in ids)


def test_global_rules_bind_in_a_plan(tmp_path: Path) -> None:
    folder = generate_scenario(300, 0, tmp_path / "s300")
    plan = plan_and_verify(folder, tmp_path / "plan", time_limit=30)
    rules = {g["type"]: g for g in plan.summary["global_rules"]}
    reasons = plan.summary["counts"]["suppressed_by_reason"]
    capacity = rules["capacity"]
    assert max(capacity["usage"].values()) == capacity["max"]
    assert reasons.get("capacity", 0) > 0
    budget = rules["budget"]
    assert budget["usage"] > budget["max"] - 1.45  # less than one more letter fits
    assert reasons.get("budget", 0) > 0
    volume = rules["volume"]
    assert volume["usage"] == volume["min"] or volume["violation"] > 0
    calendar = plan.calendar
    # the minimum is not met by value alone: the campaign was pushed to it
    assert np.count_nonzero(calendar["comm_id"] == "SAV-REGULAR-SAVER") == volume["usage"]


def test_cli_generate(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(main, ["generate", "--customers", "50", "--seed", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "50 customers" in result.output
    assert load_scenario(out).name.startswith("Synthetic retail bank")
    again = runner.invoke(main, ["generate", "--customers", "50", "-o", str(out)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output


@pytest.mark.parametrize(
    "arguments", [{"customers": 0}, {"customers": 5, "days": 0}, {"customers": 5, "partitions": 6}]
)
def test_bad_arguments_are_refused(tmp_path: Path, arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        generate_scenario(seed=0, out=tmp_path / "x", **arguments)
    assert not (tmp_path / "x").exists()
