"""Reading a plan folder's summary and finding the scenario it was made from.

Shared by the planner verbs (explain, report, compare), which each raise their
own error type. The verifier keeps its own reading on purpose: it is the
independent second opinion and shares no code with the rest of the optimiser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def read_summary(plan_dir: Path, error: type[Exception]) -> dict[str, Any]:
    """summary.json as a dict; `error` says what is missing or unreadable."""
    summary_path = plan_dir / "summary.json"
    if not plan_dir.is_dir():
        raise error(f"{plan_dir}: not a plan folder (no such folder)")
    if not summary_path.is_file():
        raise error(f"{summary_path}: not a plan folder (no summary.json)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{summary_path}: not valid JSON ({exc})") from exc
    if not isinstance(summary, dict):
        raise error(f"{summary_path}: expected a JSON object")
    return summary


def scenario_folder(
    plan_dir: Path,
    summary: Mapping[str, Any],
    scenario_dir: str | Path | None,
    error: type[Exception],
) -> Path:
    """The scenario a plan was made from: the one given, else summary.json's scenario_path.

    A relative recorded path is taken from the current directory, else from the plan folder.
    """
    if scenario_dir is not None:
        return Path(scenario_dir)
    recorded = summary.get("scenario_path")
    if not recorded:
        raise error(
            f"{plan_dir / 'summary.json'} does not name its scenario: pass --scenario SCENARIO"
        )
    path = Path(str(recorded))
    if not path.is_absolute() and not path.exists() and (plan_dir / path).exists():
        return plan_dir / path
    return path
