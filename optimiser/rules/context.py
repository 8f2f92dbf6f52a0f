"""What every rule family needs to build rows: the scenario, a matcher, its integer codes
(history included) and the global rows, scaled once for the whole scenario."""

from __future__ import annotations

import functools
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from models import Scenario
from optimiser.block import Block
from optimiser.codes import ScenarioCodes, scenario_codes
from optimiser.select import Matcher, SendCodes

if TYPE_CHECKING:
    from optimiser.rules.global_rules import GlobalRowSpec

OBJECTIVE_SCALE = 10**6  # objective units per value unit: values are kept to 1e-6


@dataclass
class BuildContext:
    scenario: Scenario
    matcher: Matcher
    known_codes: InitVar[ScenarioCodes | None] = None  # computed from the scenario if None
    objective_scale: int = OBJECTIVE_SCALE
    codes: ScenarioCodes = field(init=False)
    history: SendCodes = field(init=False)

    def __post_init__(self, known_codes: ScenarioCodes | None) -> None:
        self.codes = known_codes if known_codes is not None else scenario_codes(self.scenario)
        self.history = self.codes.history

    @functools.cached_property
    def global_specs(self) -> list[GlobalRowSpec]:
        from optimiser.rules.global_rules import row_specs  # it builds on this context

        return row_specs(self)

    @staticmethod
    def sends(block: Block) -> SendCodes:
        o = block.options
        return SendCodes(
            o["customer"].to_numpy(np.int64),
            o["comm"].to_numpy(np.int64),
            o["channel"].to_numpy(np.int64),
            o["day"].to_numpy(np.int64),
        )

    def history_frame(self, mask: np.ndarray) -> pd.DataFrame:
        """Matching history sends as (customer, day)."""
        return pd.DataFrame(
            {"customer": self.history.customer[mask], "day": self.history.day[mask]}
        )
