"""What every rule family needs to build rows: the scenario, a matcher, history."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models import Scenario
from optimiser.block import Block
from optimiser.select import Matcher, SendCodes, history_codes

OBJECTIVE_SCALE = 10**6  # objective units per value unit: values are kept to 1e-6


@dataclass
class BuildContext:
    scenario: Scenario
    matcher: Matcher
    history: SendCodes = field(init=False)
    objective_scale: int = OBJECTIVE_SCALE

    def __post_init__(self) -> None:
        self.history = history_codes(self.scenario)

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
