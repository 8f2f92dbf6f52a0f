"""Vectorised selection matching for the model builder.

A send is (customer, communication, channel, day). Selections test
communication attributes, the channel, the day and customer attributes; we
evaluate each part once per communication / customer / channel and broadcast
it to the sends by integer code, so matching a million options is a few numpy
gathers. History rows are matched by the same code as planned options.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models import Scenario
from models.rules import Selection

TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", ""}


def _cell_matches(cell: str, wanted: object) -> bool:
    """Customer attribute semantics: booleans and numbers compare by value, else text."""
    text = cell.strip()
    if isinstance(wanted, bool):
        lowered = text.lower()
        return (lowered in TRUE_WORDS) if wanted else (lowered in FALSE_WORDS)
    if isinstance(wanted, (int, float)):
        try:
            return float(text) == float(wanted)
        except ValueError:
            return False
    return text == str(wanted)


@dataclass
class SendCodes:
    """Integer codes of a batch of sends (planned options or history)."""

    customer: np.ndarray  # index into scenario.customers
    comm: np.ndarray  # index into scenario.communications
    channel: np.ndarray  # index into the scenario's channel list
    day: np.ndarray  # offset from the horizon start


class Matcher:
    """Evaluates selections against sends, caching per-selection lookup tables."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.channel_names = list(scenario.channels)
        comms = scenario.communications
        self.comm_tags = [
            frozenset(t.strip() for t in tags.split("|") if t.strip()) for tags in comms["tags"]
        ]
        self._comm_cache: dict[Selection, np.ndarray] = {}
        self._customer_cache: dict[tuple[tuple[str, tuple[object, ...]], ...], np.ndarray] = {}

    def comm_mask(self, selection: Selection) -> np.ndarray:
        """Which communications a selection's catalogue keys accept."""
        cached = self._comm_cache.get(selection)
        if cached is not None:
            return cached
        comms = self.scenario.communications
        mask = np.ones(len(comms), dtype=bool)
        if selection.categories is not None:
            mask &= comms["category"].isin(selection.categories).to_numpy()
        if selection.product_lines is not None:
            mask &= comms["product_line"].isin(selection.product_lines).to_numpy()
        if selection.comm_ids is not None:
            mask &= comms["comm_id"].isin(selection.comm_ids).to_numpy()
        if selection.priorities is not None:
            mask &= comms["priority"].isin(selection.priorities).to_numpy()
        if selection.tags is not None:
            wanted = set(selection.tags)
            mask &= np.fromiter((bool(t & wanted) for t in self.comm_tags), bool, len(comms))
        self._comm_cache[selection] = mask
        return mask

    def customer_mask(
        self, customers: tuple[tuple[str, tuple[object, ...]], ...] | None
    ) -> np.ndarray | None:
        """Which customers a `customers:` filter accepts (None: all)."""
        if customers is None:
            return None
        cached = self._customer_cache.get(customers)
        if cached is not None:
            return cached
        table = self.scenario.customers
        mask = np.ones(len(table), dtype=bool)
        for column, values in customers:
            cells = table[column].astype(str)
            column_mask = np.zeros(len(table), dtype=bool)
            for wanted in values:
                column_mask |= cells.map(lambda c, w=wanted: _cell_matches(c, w)).to_numpy(bool)
            mask &= column_mask
        self._customer_cache[customers] = mask
        return mask

    def channel_mask(self, selection: Selection) -> np.ndarray:
        if selection.channels is None:
            return np.ones(len(self.channel_names), dtype=bool)
        return np.array([name in selection.channels for name in self.channel_names], dtype=bool)

    def match(self, selection: Selection, sends: SendCodes) -> np.ndarray:
        """Boolean mask: which sends the selection picks."""
        mask = self.comm_mask(selection)[sends.comm]
        if selection.channels is not None:
            mask = mask & self.channel_mask(selection)[sends.channel]
        customer = self.customer_mask(selection.customers)
        if customer is not None:
            mask = mask & customer[sends.customer]
        if selection.date_from is not None:
            mask = mask & (sends.day >= selection.date_from)
        if selection.date_to is not None:
            mask = mask & (sends.day <= selection.date_to)
        return np.asarray(mask, dtype=bool)


def history_codes(scenario: Scenario) -> SendCodes:
    """History rows as integer send codes (days are negative)."""
    history = scenario.history
    customer_index = pd.Index(scenario.customers["customer_id"])
    comm_index = pd.Index(scenario.communications["comm_id"])
    channel_index = pd.Index(list(scenario.channels))
    return SendCodes(
        customer=customer_index.get_indexer(history["customer_id"]).astype(np.int64),
        comm=comm_index.get_indexer(history["comm_id"]).astype(np.int64),
        channel=channel_index.get_indexer(pd.Index(history["channel"])).astype(np.int64),
        day=history["day"].to_numpy(np.int64),
    )
