"""One method on one scenario, in a process of its own (so its peak memory is its own).

    python -m bench.run_one METHOD SCENARIO OUT [--time-limit S] [--workers N]

Writes the plan folder OUT/plan (optimiser.plan.write_plan) and OUT/run.json
(status, solve seconds, peak memory of this process's own children such as
pool workers). The caller measures wall time and this process's peak memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from pathlib import Path

import click


@click.command()
@click.argument("method")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--time-limit", type=float, default=None, help="Seconds (default: scenario's).")
@click.option("--workers", type=int, default=None, help="Processes (default: scenario's).")
def main(method: str, scenario: Path, out: Path, time_limit: float | None,
         workers: int | None) -> None:
    # heavy imports here, so `--help` is quick; highspy never enters this process
    from bench.methods import METHODS
    from models import load_scenario
    from optimiser.cpsat import SolverOptions
    from optimiser.plan import build_plan, write_plan

    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {"method": method, "scenario": str(scenario)}
    started = time.monotonic()
    try:
        loaded = load_scenario(scenario)
        settings = loaded.solver
        solver = SolverOptions(
            time_limit_s=settings.time_limit_s if time_limit is None else time_limit,
            seed=settings.seed,
            workers=settings.workers if workers is None else workers,
            parameters=dict(settings.extra),
        )
        if method == "highs-mip":
            from bench.highs import highs_mip

            run = highs_mip
        else:
            run = METHODS[method]
        outcome = run(loaded, solver)
        record["solve_s"] = outcome.runtime_s
        plan = build_plan(loaded, outcome, {"method": method, "time_limit_s": solver.time_limit_s,
                                            "workers": solver.workers})
        write_plan(plan, out / "plan")
        record.update(status="done", time_limit_s=solver.time_limit_s, workers=solver.workers)
    except Exception as error:  # reported in the table, never hidden
        traceback.print_exc()
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
    record["elapsed_s"] = time.monotonic() - started
    record["children_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    sys.exit(0 if record["status"] == "done" else 1)


if __name__ == "__main__":
    main()
