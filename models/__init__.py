"""The scenario as validated data: tables, rules and selections. No solver here."""

from models.errors import InfeasibleError, ScenarioError
from models.scenario import Scenario, load_scenario

__all__ = ["InfeasibleError", "Scenario", "ScenarioError", "load_scenario"]
