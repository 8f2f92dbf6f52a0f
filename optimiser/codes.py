"""A scenario's tables as integer codes, computed once and shared by every customer block.

Customer blocks are planned one after another (or on other machines), each from
the same scenario. What every block needs of the whole scenario (which customer
and communication a candidate names, its clipped window, its channels; consents,
closed days and channel weights per customer; history and states grouped by
customer) is turned into numpy arrays here, once: a block then gathers its rows
by position instead of re-reading string columns. Distinct channel lists
(`channels`, `preferred_channels`) are parsed once per distinct text, not per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models import Scenario
from optimiser.arrays import ranges
from optimiser.select import SendCodes, history_codes


@dataclass(frozen=True)
class ScenarioCodes:
    """Integer views of one scenario (positions index its tables)."""

    cand_customer: np.ndarray  # customer position of each candidate
    cand_comm: np.ndarray
    cand_tier: np.ndarray
    cand_mandatory: np.ndarray
    cand_message: np.ndarray  # dedup message per candidate (-1 when dedup is off)
    comm_message: np.ndarray  # dedup message per communication (dedup on or off)
    earliest: np.ndarray  # window clipped to the horizon (earliest > latest: outside)
    latest: np.ndarray
    cand_channels: np.ndarray  # code into `channel_lists`
    channel_lists: tuple[np.ndarray, ...]  # distinct channel lists, as channel codes
    by_customer: np.ndarray  # candidate positions grouped by customer, ascending within
    customer_ptr: np.ndarray  # customer k's candidates: by_customer[ptr[k]:ptr[k+1]]
    consent: np.ndarray  # bool (customer, channel)
    closed: np.ndarray  # bool (channel, day)
    channel_weight: np.ndarray  # float (customer, channel), spec section 4
    history: SendCodes  # every history row
    history_by_customer: np.ndarray  # history positions grouped by customer
    history_ptr: np.ndarray

    @property
    def n_customers(self) -> int:
        return len(self.customer_ptr) - 1

    def candidates_of(self, customers: np.ndarray | None) -> np.ndarray:
        """Positions of the candidates of `customers` (None: all), in ascending order."""
        if customers is None:
            return np.arange(len(self.cand_customer), dtype=np.int64)
        customers = np.asarray(customers, dtype=np.int64)
        found = self.by_customer[ranges(self.customer_ptr[customers],
                                        self.customer_ptr[customers + 1])]
        return np.sort(found)

    def history_of(self, customers: np.ndarray | None) -> np.ndarray:
        """Positions of the history rows of `customers` (None: all), ascending."""
        if customers is None:
            return np.arange(len(self.history.day), dtype=np.int64)
        customers = np.asarray(customers, dtype=np.int64)
        return np.sort(self.history_by_customer[ranges(self.history_ptr[customers],
                                                       self.history_ptr[customers + 1])])


def scenario_codes(scenario: Scenario) -> ScenarioCodes:
    """Compute every code of `scenario` (about a second per million candidates)."""
    cands, comms = scenario.candidates, scenario.communications
    n_customers = len(scenario.customers)
    customer_index = pd.Index(scenario.customers["customer_id"])
    cand_customer = customer_index.get_indexer(cands["customer_id"]).astype(np.int64)
    cand_comm = pd.Index(comms["comm_id"]).get_indexer(cands["comm_id"]).astype(np.int64)
    comm_message = message_ids(scenario)
    list_code, lists = _channel_lists(cands["channels"], list(scenario.channels))
    history = history_codes(scenario)
    by_customer, customer_ptr = _group(cand_customer, n_customers)
    history_by_customer, history_ptr = _group(history.customer, n_customers)
    return ScenarioCodes(
        cand_customer=cand_customer,
        cand_comm=cand_comm,
        cand_tier=comms["priority"].to_numpy(np.int64)[cand_comm],
        cand_mandatory=comms["mandatory"].to_numpy(bool)[cand_comm],
        cand_message=(comm_message[cand_comm] if scenario.dedup.enabled
                      else np.full(len(cands), -1, dtype=np.int64)),
        comm_message=comm_message,
        earliest=np.maximum(cands["earliest_day"].to_numpy(np.int64), 0),
        latest=np.minimum(cands["latest_day"].to_numpy(np.int64), scenario.days - 1),
        cand_channels=list_code,
        channel_lists=lists,
        by_customer=by_customer,
        customer_ptr=customer_ptr,
        consent=np.column_stack([scenario.customers[f"consent_{name}"].to_numpy(bool)
                                 for name in scenario.channels]),
        closed=_closed(scenario),
        channel_weight=preference_weights(scenario),
        history=history,
        history_by_customer=history_by_customer,
        history_ptr=history_ptr,
    )


def message_ids(scenario: Scenario) -> np.ndarray:
    """One id per communication: comms sharing a dedup_key (or the same comm) are one message."""
    comms = scenario.communications
    keys = np.where(
        comms["dedup_key"].str.strip() != "",
        "key:" + comms["dedup_key"].str.strip(),
        "comm:" + comms["comm_id"],
    )
    codes, _ = pd.factorize(pd.Series(keys))
    return codes.astype(np.int64)


def preference_weights(scenario: Scenario) -> np.ndarray:
    """channel_weight[customer, channel] from ranked `preferred_channels` (spec section 4),
    computed once per distinct preference text."""
    channels = list(scenario.channels)
    n = len(scenario.customers)
    objective = scenario.objective
    if objective.preference_weights is None:
        return np.ones((n, len(channels)))
    ranked = objective.preference_weights
    texts, distinct = pd.factorize(scenario.customers["preferred_channels"].astype(str))
    table = np.ones((len(distinct), len(channels)))
    for row, text in enumerate(distinct):
        preferred = [p.strip() for p in str(text).split("|") if p.strip()]
        if not preferred:
            continue
        table[row, :] = objective.preference_others
        for rank, name in reversed(list(enumerate(preferred))):
            # a channel listed twice keeps its best rank; ranks beyond the weights list
            # keep the last weight: still preferred over "others"
            table[row, channels.index(name)] = ranked[min(rank, len(ranked) - 1)]
    return table[texts] if len(distinct) else np.ones((n, len(channels)))


def _channel_lists(texts: pd.Series,
                   channels: list[str]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Per candidate, a code into the distinct channel lists (codes in written order, each
    channel once, blanks dropped)."""
    codes, distinct = pd.factorize(texts.astype(str))
    lists = []
    for text in distinct:
        seen: list[int] = []
        for part in str(text).split("|"):
            name = part.strip()
            if name and channels.index(name) not in seen:
                seen.append(channels.index(name))
        lists.append(np.array(seen, dtype=np.int64))
    return codes.astype(np.int64), tuple(lists)


def _closed(scenario: Scenario) -> np.ndarray:
    closed = np.zeros((len(scenario.channels), scenario.days), dtype=bool)
    for code, name in enumerate(scenario.channels):
        closed[code, sorted(scenario.closed_days(name))] = True
    return closed


def _group(owner: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions grouped by owner, ascending within a group; pointer per owner)."""
    order = np.argsort(owner, kind="stable")
    ptr = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_groups), out=ptr[1:])
    return order.astype(np.int64), ptr
