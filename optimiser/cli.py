"""The `contact-plan` command line.

Exit codes: 0 plan written (or check passed), 1 infeasible / plan rejected,
2 invalid input. Errors are one line a planner can act on: file, row, column,
what was expected.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from models import InfeasibleError, ScenarioError, load_scenario

EXIT_OK, EXIT_INFEASIBLE, EXIT_INVALID = 0, 1, 2


def _invalid(error: Exception) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_INVALID)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="contact-plan")
def main() -> None:
    """Turn a contact strategy and every team's candidate contacts into one send calendar.

    \b
    Example:
      contact-plan validate scenarios/retail_bank_week
      contact-plan plan scenarios/retail_bank_week -o out
      contact-plan verify scenarios/retail_bank_week out
    """


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
def validate(scenario: Path) -> None:
    """Check a scenario folder without solving it.

    \b
    Example:
      contact-plan validate scenarios/retail_bank_week
    """
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as error:
        _invalid(error)
        return
    click.echo(
        f"ok: {loaded.name}: {len(loaded.customers)} customers, "
        f"{len(loaded.candidates)} candidates, {len(loaded.rules)} rules, "
        f"{loaded.days} days from {loaded.start}"
    )


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Plan folder to write (replaced whole if it exists).",
)
@click.option("--time-limit", type=float, default=None, help="Seconds (default: scenario's).")
@click.option("--workers", type=int, default=None, help="Processes (default: scenario's or 1).")
@click.option("--seed", type=int, default=None, help="Solver seed (default: scenario's or 0).")
@click.option("--strategy", type=click.Choice(["auto", "joint", "decompose"]), default="auto",
              show_default=True,
              help="Customers linked by global rules: one joint model, or priced decomposition.")
@click.option("--backend", type=click.Choice(["local", "dask"]), default="local",
              show_default=True,
              help="Where independent customers are solved: this machine, or a Dask cluster.")
@click.option("--scheduler", default=None,
              help="Dask scheduler address (tcp://host:8786), or 'local' for an in-process "
                   "cluster; required with --backend dask.")
@click.option("--parquet", is_flag=True, help="Also write calendar.parquet.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def plan(
    scenario: Path,
    out: Path,
    time_limit: float | None,
    workers: int | None,
    seed: int | None,
    strategy: str,
    backend: str,
    scheduler: str | None,
    parquet: bool,
    quiet: bool,
) -> None:
    """Optimise a scenario and write the plan folder.

    \b
    Example:
      contact-plan plan scenarios/retail_bank_week -o out --time-limit 30 --workers 2
      contact-plan plan scenarios/retail_bank_week -o out --backend dask --scheduler tcp://host:8786
    """
    if backend == "dask" and not scheduler:
        raise click.UsageError("--backend dask needs --scheduler ADDRESS (or 'local')")
    if backend == "local" and scheduler:
        raise click.UsageError("--scheduler is only for --backend dask")
    from optimiser.coupled import NoPlanFound
    from optimiser.cpsat import SolverOptions
    from optimiser.plan import build_plan, write_json, write_plan
    from optimiser.progress import Progress
    from optimiser.solve import NoSolutionError, solve

    progress = Progress(enabled=not quiet)
    progress.step(f"loading {scenario}")
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as error:
        _invalid(error)
        return
    progress.step(f"loaded {len(loaded.customers):,} customers, "
                  f"{len(loaded.candidates):,} candidates, {len(loaded.rules)} rules")
    settings = loaded.solver
    options = SolverOptions(
        time_limit_s=settings.time_limit_s if time_limit is None else time_limit,
        seed=settings.seed if seed is None else seed,
        workers=settings.workers if workers is None else workers,
        parameters=dict(settings.extra),
        strategy=strategy,
    )
    run = {
        "time_limit_s": options.time_limit_s,
        "seed": options.seed,
        "workers": options.workers,
        "strategy": strategy,
        "backend": backend,
    }
    try:
        if backend == "dask":
            from optimiser.backends import DaskBackend

            progress.step(f"connecting to the Dask scheduler {scheduler}")
            try:
                cluster = DaskBackend(str(scheduler))
            except (OSError, RuntimeError) as error:
                _invalid(error)
                return
            with cluster:
                outcome = solve(loaded, options, progress.blocks, cluster)
        else:
            outcome = solve(loaded, options, progress.blocks)
    except (InfeasibleError, NoSolutionError, NoPlanFound) as error:
        click.echo(f"infeasible: {error}", err=True)
        _write_failure(out, loaded.name, str(error), write_json)
        sys.exit(EXIT_INFEASIBLE)
    progress.close()
    progress.step("writing the plan")
    result = build_plan(loaded, outcome, run)
    write_plan(result, out, parquet=parquet)
    if not quiet:
        _print_summary(result.summary, out)


def _write_failure(
    out: Path, name: str, diagnosis: str, write_json: Callable[[Path, dict[str, Any]], None]
) -> None:
    """An infeasible run still leaves a summary.json saying why (and no calendar)."""
    import tempfile

    from optimiser.plan import replace_dir

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    write_json(
        staging / "summary.json",
        {"format_version": 1, "scenario": name, "status": "INFEASIBLE", "diagnosis": diagnosis},
    )
    replace_dir(staging, out)


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    counts = summary["counts"]
    reasons = sorted(counts["suppressed_by_reason"].items(), key=lambda kv: -kv[1])[:4]
    click.echo(
        f"{summary['status']}: objective {summary['objective']:,.2f}, bound "
        f"{summary['bound']:,.2f}, gap {summary['gap']:.4%}\n"
        f"{counts['sends']:,} sends, {counts['suppressed']:,} suppressed ("
        + ", ".join(f"{reason} {n:,}" for reason, n in reasons)
        + f") in {summary['runtime_s']:.1f} s\nplan written to {out}"
    )


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("plan_dir", metavar="PLAN", type=click.Path(path_type=Path))
def verify(scenario: Path, plan_dir: Path) -> None:
    """Re-check a plan against its scenario, independently of the optimiser.

    Exit 0 when every rule, every candidate's accounting and the objective hold;
    otherwise one line per violation and exit 1.

    \b
    Example:
      contact-plan verify scenarios/retail_bank_week out
    """
    from optimiser.verify import verify_plan

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as error:
        _invalid(error)
        return
    violations = verify_plan(loaded, plan_dir)
    if violations:
        for line in violations:
            click.echo(line)
        click.echo(f"{len(violations)} violation(s)", err=True)
        sys.exit(EXIT_INFEASIBLE)
    click.echo("ok: plan verified")


@main.group(name="import")
def import_group() -> None:
    """Convert published benchmark instances into scenarios.

    \b
    Example:
      contact-plan import ejor path/to/GS1 -o gs1
    """


@import_group.command(name="ejor")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-01-01",
    help="Date of day 1 (default 2026-01-01).",
)
def import_ejor_command(source: Path, out: Path, start: dt.datetime) -> None:
    """Import an EJOR 2023 customer-assignment instance (table1..table4.csv).

    \b
    Example:
      contact-plan import ejor path/to/GS1 -o gs1 && contact-plan plan gs1 -o gs1-plan
    """
    from models.ejor import import_ejor

    try:
        import_ejor(source, out, start.date())
    except (ScenarioError, FileExistsError) as error:
        _invalid(error)
        return
    click.echo(f"scenario written to {out}")


@main.command(name="audit")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many most-contacted customers and most duplicated messages to list.",
)
@click.option(
    "--sensitive-states",
    default="complaint,collections",
    show_default=True,
    help="Comma-separated customer states in which a promotion should not be proposed.",
)
def audit_command(scenario: Path, as_json: bool, top: int, sensitive_states: str) -> None:
    """Audit contact pressure before any strategy: every proposal as if all were sent.

    Each candidate counts once, on its earliest day in the horizon, on its first
    listed channel. Reports contacts per customer per week, promotions during
    sensitive states and on bill days, messages proposed twice, and totals per
    product line and channel. No solver is run.

    \b
    Example:
      contact-plan audit scenarios/retail_bank_week --top 5
      contact-plan audit scenarios/retail_bank_week --json > audit.json
    """
    import json

    from optimiser.audit import audit_scenario, render_audit

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as error:
        _invalid(error)
        return
    states = [s.strip() for s in sensitive_states.split(",") if s.strip()]
    report = audit_scenario(loaded, top=top, sensitive_states=states)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(render_audit(report), nl=False)


@main.command(name="compare")
@click.argument("plan_a", metavar="PLAN_A", type=click.Path(path_type=Path))
@click.argument("plan_b", metavar="PLAN_B", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def compare_command(plan_a: Path, plan_b: Path, as_json: bool) -> None:
    """Compare two plan folders: value, sends, suppressions, pressure, per team (B - A).

    Works from the plan folders alone. Every row shows A, B and B - A; the rows
    of a breakdown add up to its total.

    \b
    Example:
      contact-plan plan scenarios/retail_bank_week -o cap3
      contact-plan plan my-copy-with-cap-2 -o cap2
      contact-plan compare cap3 cap2
    """
    from optimiser.compare import NotAPlanError, compare_plans, render_comparison

    try:
        comparison = compare_plans(plan_a, plan_b)
    except NotAPlanError as error:
        _invalid(error)
        return
    if as_json:
        click.echo(comparison.to_json())
    else:
        click.echo(render_comparison(comparison), nl=False)


@main.command()
@click.argument("plan_dir", metavar="PLAN", type=click.Path(path_type=Path))
@click.option(
    "--scenario",
    "scenario",
    type=click.Path(path_type=Path),
    default=None,
    help="Scenario folder the plan was made from (default: summary.json's scenario_path).",
)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="HTML file to write.",
)
def report(plan_dir: Path, scenario: Path | None, out: Path) -> None:
    """Write a one-file HTML report of a plan for people: KPIs, charts, impact per team.

    The file is self-contained (no script, no external resource): it opens
    offline and can be mailed as is.

    \b
    Example:
      contact-plan plan scenarios/retail_bank_week -o out
      contact-plan report out --scenario scenarios/retail_bank_week -o report.html
    """
    from optimiser.report import ReportError, write_report

    try:
        written = write_report(plan_dir, out, scenario)
    except (ReportError, ScenarioError) as error:
        _invalid(error)
        return
    click.echo(f"report written to {written}")


@main.command(name="explain")
@click.argument("plan_dir", metavar="PLAN", type=click.Path(path_type=Path))
@click.option("--customer", "customer_id", default=None, help="Show this customer's week.")
@click.option("--candidate", "candidate_id", default=None, help="Explain this one candidate.")
@click.option(
    "--scenario",
    "scenario",
    type=click.Path(path_type=Path),
    default=None,
    help="Scenario folder the plan was made from (default: summary.json's scenario_path).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def explain_command(
    plan_dir: Path,
    customer_id: str | None,
    candidate_id: str | None,
    scenario: Path | None,
    as_json: bool,
) -> None:
    """Explain a plan: a customer's week, or why a candidate was not sent and what would change.

    --customer lists, day by day, the history within reach of the rules, the planned
    sends, the suppressed candidates (reason, rule, what won), states and closed
    channels, then for each suppressed candidate the binding rule and what would have
    to change. --candidate shows what stops each of its options. No solver is run.

    \b
    Example:
      contact-plan explain out --customer C000828 --scenario scenarios/retail_bank_week
      contact-plan explain out --candidate C000828-03 --json
    """
    from optimiser.explain import (
        ExplainError,
        explain_candidate,
        explain_customer,
        load_plan_view,
        render_candidate,
        render_customer,
        to_json,
    )

    if (customer_id is None) == (candidate_id is None):
        raise click.UsageError("give exactly one of --customer ID or --candidate ID")
    try:
        view = load_plan_view(plan_dir, scenario)
        explained = (
            explain_customer(view, customer_id)
            if customer_id is not None
            else explain_candidate(view, str(candidate_id))
        )
    except (ExplainError, ScenarioError) as error:
        _invalid(error)
        return
    if as_json:
        click.echo(to_json(explained))
    elif customer_id is not None:
        click.echo(render_customer(explained), nl=False)  # type: ignore[arg-type]
    else:
        click.echo(render_candidate(explained), nl=False)  # type: ignore[arg-type]


@main.command()
@click.option("--customers", type=click.IntRange(min=1), required=True,
              help="Number of customers (about 15 candidates each).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: the same customers and seed give byte-identical files.")
@click.option("--days", type=click.IntRange(1, 62), default=7, show_default=True,
              help="Horizon length in days (from Monday 2026-11-23).")
@click.option("--partitions", type=click.IntRange(min=1), default=None,
              help="Also write each customer table as this many part files, one block of "
                   "customers each (a planned extension; the loader reads the single files).")
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
              help="Scenario folder to write (must not exist or be empty).")
def generate(customers: int, seed: int, days: int, partitions: int | None, out: Path) -> None:
    """Write a synthetic retail-bank scenario of any size, ready to plan.

    Long-tailed candidates per customer (mean about 15), nine product lines,
    five channels, consent gaps, preferences, 30 days of history, service
    states, every per-customer rule type, and a call capacity, a mail budget
    and a campaign minimum set from the generated demand so that they bind.

    \b
    Example:
      contact-plan generate --customers 10000 --seed 1 -o synthetic-10k
      contact-plan plan synthetic-10k -o synthetic-10k-plan
      contact-plan generate --customers 1000000 --partitions 16 -o /tmp/synthetic-1m
    """
    import json

    from models.generate import generate_scenario

    try:
        generate_scenario(customers, seed, out, days=days, partitions=partitions)
    except (ValueError, FileExistsError) as error:
        _invalid(error)
        return
    rows = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["rows"]
    click.echo(
        f"scenario written to {out}: {rows['customers']:,} customers, "
        f"{rows['candidates']:,} candidates, {rows['history']:,} history rows, "
        f"{rows['states']:,} states"
    )


if __name__ == "__main__":
    main()
