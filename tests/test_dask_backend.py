"""The Dask backend gives byte-for-byte the plan of the local backend.

Two seeded random scenarios of 600 customers (one with only per-customer rules,
one with a global capacity that couples some customers), planned locally and on
a two-process `LocalCluster`; blocks are made small so several tasks run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from models import load_scenario
from optimiser import blocks as blocks_module
from optimiser.backends import ChunkBackend, LocalBackend
from optimiser.cli import main
from optimiser.cpsat import SolverOptions
from optimiser.plan import build_plan, write_plan
from optimiser.solve import solve
from optimiser.verify import verify_plan
from tests.kit import START, cand, comm, customer, write_scenario

distributed = pytest.importorskip("distributed")

CUSTOMERS = 600
MARKETING = {"categories": ["marketing"]}
PER_CUSTOMER_RULES: list[dict[str, Any]] = [
    {"frequency_cap": {"name": "cap2", "select": MARKETING, "max": 2, "window_days": 7}},
    {"min_gap": {"name": "gap2", "first": MARKETING, "then": MARKETING, "days": 2}},
]
CAPACITY = {"capacity": {"name": "sms-gateway", "select": {"channels": ["sms"]},
                         "max": 40, "per": "day"}}


def random_scenario(folder: Path, rules: list[dict[str, Any]], seed: int) -> Path:
    rng = random.Random(seed)
    comms = [comm(f"M{i}", priority=1 + i % 2) for i in range(6)]
    comms.append(comm("S1", category="service"))
    customers, candidates = [], []
    for c in range(CUSTOMERS):
        cid = f"C{c:04d}"
        customers.append(customer(cid, consent_sms=rng.choice(["true", "true", "false"])))
        for k in range(rng.randint(1, 6)):
            first = rng.randint(0, 5)
            candidates.append(cand(
                f"{cid}-{k}", cid, rng.choice(comms)["comm_id"], round(rng.uniform(1, 20), 2),
                channels=rng.choice(["email", "sms", "email|sms"]),
                earliest=f"2026-11-{23 + first}", latest=f"2026-11-{23 + rng.randint(first, 6)}",
            ))
    return write_scenario(folder, customers=customers, communications=comms,
                          candidates=candidates, rules=rules, start=START)


def plan_with(folder: Path, backend: ChunkBackend, out: Path) -> Path:
    scenario = load_scenario(folder)
    options = SolverOptions(time_limit_s=20.0, seed=3, workers=1)
    outcome = solve(scenario, options, backend=backend)
    write_plan(build_plan(scenario, outcome, {"seed": 3}), out)
    violations = verify_plan(scenario, out)
    assert violations == [], "\n".join(violations)
    return out


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # 600 customers in blocks of 50: a dozen tasks, so both workers get several
    monkeypatch.setattr(blocks_module, "BLOCK_CUSTOMERS", 50)


def same_plan(a: Path, b: Path) -> None:
    for name in ("calendar.csv", "suppressed.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("rules", [PER_CUSTOMER_RULES, [*PER_CUSTOMER_RULES, CAPACITY]],
                         ids=["independent", "global-capacity"])
def test_dask_plan_equals_local_plan(tmp_path: Path, scheduler: str,
                                     rules: list[dict[str, Any]]) -> None:
    from optimiser.backends import DaskBackend

    folder = random_scenario(tmp_path / "scenario", rules, seed=11)
    local = plan_with(folder, LocalBackend(1), tmp_path / "local")
    with DaskBackend(scheduler) as dask_backend:
        remote = plan_with(folder, dask_backend, tmp_path / "dask")
    same_plan(local, remote)
    # the fork pool is a third route to the same plan
    same_plan(local, plan_with(folder, LocalBackend(2), tmp_path / "fork"))


def test_cli_dask_backend(tmp_path: Path, scheduler: str) -> None:
    folder = random_scenario(tmp_path / "scenario", PER_CUSTOMER_RULES, seed=5)
    runner = CliRunner()
    args = ["plan", str(folder), "--seed", "3", "--time-limit", "20", "-q"]
    local = runner.invoke(main, [*args, "-o", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    remote = runner.invoke(main, [*args, "-o", str(tmp_path / "dask"), "--backend", "dask",
                                  "--scheduler", scheduler])
    assert remote.exit_code == 0, remote.output
    same_plan(tmp_path / "local", tmp_path / "dask")
    check = runner.invoke(main, ["verify", str(folder), str(tmp_path / "dask")])
    assert check.exit_code == 0, check.output


def test_cli_dask_backend_needs_a_scheduler(tmp_path: Path) -> None:
    folder = random_scenario(tmp_path / "scenario", [], seed=1)
    result = CliRunner().invoke(main, ["plan", str(folder), "-o", str(tmp_path / "out"),
                                       "--backend", "dask"])
    assert result.exit_code == 2
    assert "--scheduler" in result.output
