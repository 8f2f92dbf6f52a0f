"""Run every benchmark and print one table: `python -m bench` (see bench/README.md).

Each method runs on each scenario in a process of its own
(`python -m bench.run_one METHOD SCENARIO OUT`), so wall time and peak memory
(ru_maxrss of that process, or of its own children such as pool workers or the
HiGHS process when larger) are the method's alone. Every plan is then checked
here with optimiser.verify.verify_plan; a plan that fails is marked, never
dropped. Ratios are against contact-plan on the same scenario in the same run.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

REPO = Path(__file__).resolve().parent.parent
GS1_SOURCE = REPO / "bench" / "data" / "ejor2023" / "GS1"
MIP_TIME_FACTOR_GS1 = 10  # the issue: a MIP solver given 10x contact-plan's time on GS1
SIZE_METHODS = ("contact-plan", "greedy", "cpsat-monolithic", "highs-mip")
GS1_METHODS = ("contact-plan", "highs-mip")
COLUMNS = [
    "scenario", "customers", "method", "time_limit_s", "wall_s", "peak_mb", "objective",
    "bound", "gap", "verified", "value_ratio", "time_ratio", "status", "problems", "command",
]


@dataclass
class Bench:
    """One scenario and the methods to run on it, with each method's time limit."""

    name: str
    folder: Path
    customers: int
    time_limits: dict[str, float]


def scenario_for_size(customers: int, seed: int, out: Path) -> Path:
    """The generated scenario of this size, made once and kept under OUT/scenarios."""
    folder = out / "scenarios" / f"{customers}-{seed}"
    if not (folder / "scenario.yaml").exists():
        from models.generate import generate_scenario

        click.echo(f"generating {customers:,} customers (seed {seed}) into {folder}", err=True)
        generate_scenario(customers, seed, folder)
    return folder


def gs1_scenario(out: Path) -> Path:
    folder = out / "scenarios" / "GS1"
    if not (folder / "scenario.yaml").exists():
        from models.ejor import import_ejor

        import_ejor(GS1_SOURCE, folder)
    return folder


def run_method(method: str, bench: Bench, out: Path, workers: int = 1) -> dict[str, Any]:
    """Run one method in its own process with `workers` processes (CP-SAT: threads);
    measure it; verify its plan."""
    from models import load_scenario
    from optimiser.verify import verify_plan

    run_dir = out / "runs" / bench.name / method
    limit = bench.time_limits[method]
    command = [sys.executable, "-m", "bench.run_one", method, str(bench.folder.resolve()),
               str(run_dir.resolve()), "--time-limit", f"{limit:g}", "--workers", str(workers)]
    # the repository on the path: `bench` is not an installed package
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    click.echo(f"{bench.name}: {method} (time limit {limit:g} s) ...", err=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=REPO, env=env)
    _, wait_status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    record: dict[str, Any] = {}
    run_file = run_dir / "run.json"
    if run_file.exists():
        record = json.loads(run_file.read_text(encoding="utf-8"))
    peak_kb = max(usage.ru_maxrss, int(record.get("children_maxrss_kb", 0)))
    row: dict[str, Any] = {
        "scenario": bench.name,
        "customers": bench.customers,
        "method": method,
        "time_limit_s": limit,
        "wall_s": round(wall, 2),
        "peak_mb": round(peak_kb / 1024, 1),
        "objective": None,
        "bound": None,
        "gap": None,
        "verified": None,  # None: no plan to verify (the method failed)
        "value_ratio": None,
        "time_ratio": None,
        "status": record.get("status", f"exit {process.returncode}"),
        "problems": record.get("error", ""),
        "command": shlex.join(["python", *command[1:]]),
    }
    summary_file = run_dir / "plan" / "summary.json"
    if process.returncode != 0 or not summary_file.exists():
        return row
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    row["status"] = summary["status"]
    row["objective"] = summary["objective"]
    if method != "greedy":  # priority arbitration proves nothing: no bound
        row["bound"] = summary["bound"]
        row["gap"] = summary["gap"]
    problems = verify_plan(load_scenario(bench.folder), run_dir / "plan")
    row["verified"] = not problems
    row["problems"] = "; ".join(problems[:3]) + (f" (+{len(problems) - 3})"
                                                  if len(problems) > 3 else "")
    return row


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Value and time of each method over contact-plan's on the same scenario."""
    base = {r["scenario"]: r for r in rows if r["method"] == "contact-plan"}
    for row in rows:
        ref = base.get(row["scenario"])
        if ref is None or not ref["objective"] or row["objective"] is None:
            continue  # a ratio needs two plans
        row["value_ratio"] = round(row["objective"] / ref["objective"], 4)
        row["time_ratio"] = round(row["wall_s"] / ref["wall_s"], 2)


def run_benches(benches: list[Bench], out: Path, workers: int = 1) -> list[dict[str, Any]]:
    rows = [run_method(method, bench, out, workers) for bench in benches
            for method in bench.time_limits]
    add_ratios(rows)
    return rows


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "no plan" if column == "verified" else "-"
    if column == "gap":
        return f"{100 * value:.3f}%"
    if column in ("objective", "bound"):
        return f"{value:,.2f}"
    if column == "customers":
        return f"{value:,}"
    if column == "verified":
        return "yes" if value else "NO"
    if column == "status" and len(str(value)) > 10:
        return str(value)[:10]
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> str:
    shown = ["scenario", "method", "time_limit_s", "wall_s", "peak_mb", "status", "objective",
             "bound", "gap", "verified", "value_ratio", "time_ratio"]
    cells = [[_cell(row[c], c) for c in shown] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(shown)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(shown, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) if i > 1 else v.ljust(w)
                        for i, (v, w) in enumerate(zip(line, widths, strict=True)))
              for line in cells]
    return "\n".join(lines)


def write_results(rows: list[dict[str, Any]], out: Path, argv: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    meta = {
        "command": shlex.join(["python", "-m", "bench", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "rows": rows,
    }
    (out / "results.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def plan_benches(sizes: list[int], seed: int, time_limit: float, skip_mip: bool,
                 mip_max_customers: int, gs1: bool, out: Path,
                 monolithic_max_customers: int = 10_000) -> list[Bench]:
    benches = []
    for size in sizes:
        methods = [m for m in SIZE_METHODS
                   if (m != "highs-mip" or (not skip_mip and size <= mip_max_customers))
                   and (m != "cpsat-monolithic" or size <= monolithic_max_customers)]
        benches.append(Bench(f"gen-{size}-s{seed}", scenario_for_size(size, seed, out), size,
                             dict.fromkeys(methods, time_limit)))
    if gs1:
        limits = {"contact-plan": time_limit}
        if not skip_mip:
            limits["highs-mip"] = MIP_TIME_FACTOR_GS1 * time_limit
        benches.append(Bench("GS1", gs1_scenario(out), 0, limits))
    return benches


@click.command()
@click.option("--sizes", default="10000", show_default=True,
              help="Comma-separated numbers of customers to generate, e.g. 10000,100000,1000000 "
                   "(100k and 1M take long: hours for every method together).")
@click.option("--seed", type=int, default=0, show_default=True, help="Generator seed.")
@click.option("--time-limit", type=float, default=60.0, show_default=True,
              help="Seconds per method and scenario (the MIP gets 10x this on GS1).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench/results"),
              show_default=True, help="Results, plans and cached scenarios (gitignored).")
@click.option("--skip-mip", is_flag=True, help="Do not run HiGHS (no `bench` extra needed).")
@click.option("--mip-max-customers", type=int, default=10_000, show_default=True,
              help="Run HiGHS only on generated scenarios up to this size.")
@click.option("--monolithic-max-customers", type=int, default=10_000, show_default=True,
              help="Run the one-model CP-SAT method only up to this size (it holds every "
                   "customer in one model; the issue compares it at 10k).")
@click.option("--gs1/--no-gs1", default=True, show_default=True,
              help="Also run the published instance GS1 (bench/data/ejor2023/GS1).")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Processes per method (contact-plan's block pool; the one-model CP-SAT "
                   "method gets as many search threads).")
def main(sizes: str, seed: int, time_limit: float, out: Path, skip_mip: bool,
         mip_max_customers: int, monolithic_max_customers: int, gs1: bool,
         workers: int) -> None:
    """Benchmark contact-plan against greedy arbitration, one CP-SAT model and HiGHS.

    \b
    Example (10k customers + GS1, 60 s per method, HiGHS 600 s on GS1):
      python -m pip install -e ".[bench]" && python -m bench
    """
    size_list = [int(s) for s in sizes.split(",") if s.strip()]
    if not skip_mip:
        probe = subprocess.run([sys.executable, "-c", "import highspy"], capture_output=True)
        if probe.returncode != 0:
            click.echo("highspy is not installed (pip install -e '.[bench]'): skipping the MIP",
                       err=True)
            skip_mip = True
    benches = plan_benches(size_list, seed, time_limit, skip_mip, mip_max_customers, gs1, out,
                           monolithic_max_customers)
    rows = run_benches(benches, out, workers)
    write_results(rows, out, sys.argv[1:])
    click.echo(format_table(rows))
    for row in rows:
        if row["verified"] is not True:
            click.echo(f"NOT VERIFIED: {row['scenario']} {row['method']}: {row['status']} "
                       f"{row['problems']}", err=True)
    click.echo(f"written {out / 'results.csv'} and {out / 'results.json'}")


if __name__ == "__main__":
    main()
