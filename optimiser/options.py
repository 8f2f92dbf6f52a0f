"""Candidates -> (candidate, day, channel) options, and the pre-filter with reasons.

Every candidate is expanded into one option per allowed channel and horizon
day in its window. Stages then remove what can never be sent, each stage
recording its reason, so a candidate that loses its last option is suppressed
with the reason of the stage that took it. Data stages (horizon, consent,
closed channel) come first: a mandatory candidate stopped by data is
suppressed; one stopped by a rule is an infeasibility to diagnose.

Everything here is vectorised numpy/pandas: this runs over every candidate of
a customer block before any model is built, from the scenario's integer codes
(`optimiser.codes`), which every block shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models import InfeasibleError, Scenario
from models.rules import (
    AroundExclusion,
    CustomerExclusion,
    FrequencyCap,
    MinGap,
    NeverTogether,
    StateExclusion,
    Volume,
)
from optimiser.arrays import unique
from optimiser.codes import ScenarioCodes, scenario_codes
from optimiser.select import Matcher, SendCodes
from optimiser.suppressions import Suppressions


@dataclass
class Options:
    """The sendable options of some customers and what the pre-filter removed.

    `frame` has one row per surviving option: cand, customer, comm, channel, day
    (int codes), coef (objective contribution), cost, tier, mandatory, message_mandatory,
    message. `suppressed` holds every candidate of those customers that has no option left.
    """

    frame: pd.DataFrame
    suppressed: Suppressions


def build_options(scenario: Scenario, matcher: Matcher | None = None,
                  codes: ScenarioCodes | None = None,
                  customers: np.ndarray | None = None) -> Options:
    """Expand the candidates of `customers` (positions; None: every customer) into options
    and run the pre-filter stages. Options come in candidate order, then channel (as
    listed), then day."""
    matcher = matcher or Matcher(scenario)
    codes = codes or scenario_codes(scenario)
    positions = codes.candidates_of(customers)
    earliest, latest = codes.earliest[positions], codes.latest[positions]
    outside = earliest > latest
    suppressed = [_outside_horizon(scenario, positions[outside])]

    # one row per (candidate, channel), then one per day of the clipped window
    inside = np.flatnonzero(~outside)
    lists = codes.channel_lists
    list_length = np.array([len(c) for c in lists], dtype=np.int64)
    per_list = list_length[codes.cand_channels[positions[inside]]]
    local = np.repeat(inside, per_list)  # index into `positions`
    flat_lists = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    list_start = np.concatenate([[0], np.cumsum(list_length)[:-1]])
    step = np.arange(len(local)) - np.repeat(np.cumsum(per_list) - per_list, per_list)
    channel = flat_lists[list_start[codes.cand_channels[positions[local]]] + step]
    span = latest[local] - earliest[local] + 1
    local = np.repeat(local, span)
    channel = np.repeat(channel, span)
    day = earliest[local] + (np.arange(len(local)) - np.repeat(np.cumsum(span) - span, span))
    cand = positions[local]
    cand_customer, cand_comm = codes.cand_customer, codes.cand_comm
    sends = SendCodes(cand_customer[cand], cand_comm[cand], channel, day)

    stages = _Stages(len(cand), len(positions), local)
    stages.remove(~codes.consent[sends.customer, sends.channel], "no_consent")
    stages.remove(codes.closed[sends.channel, sends.day], "channel_closed")
    _dedup_history_stage(scenario, codes, sends, stages)
    data_stages = len(stages.log)
    # A message is mandatory when a copy of it (same customer, same dedup message) is
    # mandatory and the data lets that copy be sent: every copy may then carry it,
    # whatever that copy is worth on its own. A mandatory copy the data rules out
    # obliges nothing (spec section 4: it is simply suppressed with its data reason).
    mandatory = codes.cand_mandatory[positions]
    messages = codes.cand_message[positions]
    customer_of = cand_customer[positions]
    sendable = np.zeros(len(positions), dtype=bool)
    sendable[local[stages.alive]] = True
    message_mandatory = mandatory & sendable
    if scenario.dedup.enabled and message_mandatory.any():
        groups = pd.Series(message_mandatory).groupby([customer_of, messages]).transform("any")
        message_mandatory = groups.to_numpy(bool)
    for rule in scenario.customer_rules:
        blocked = _rule_stage(scenario, matcher, codes, rule, sends)
        if blocked is not None:
            stages.remove(blocked, _reason_of(rule), rule.name)

    comms = scenario.communications
    comm_cost = comms["cost"].to_numpy(float)[sends.comm]
    channel_cost = np.array([scenario.channels[c].cost for c in scenario.channels])[sends.channel]
    cost = comm_cost + channel_cost
    value = scenario.candidates["value"].to_numpy(float)[cand]
    coef = (value * codes.channel_weight[sends.customer, sends.channel]
            - cost * scenario.objective.cost_weight)
    wanted_by_volume = np.zeros(len(cand), dtype=bool)
    for rule in scenario.global_rules:
        if isinstance(rule, Volume) and rule.min is not None:
            wanted_by_volume |= matcher.match(rule.select, sends)
    stages.remove((coef <= 0) & ~message_mandatory[local] & ~wanted_by_volume, "no_value")

    has_option = np.zeros(len(positions), dtype=bool)
    has_option[local[stages.alive]] = True
    lost = np.flatnonzero(~has_option & ~outside)
    stage = stages.last[lost]
    reason = np.array([r for r, _ in stages.log] or [""], dtype=object)[stage]
    by_rule = mandatory[lost] & (stage >= data_stages) & (reason != "no_value")
    if by_rule.any():
        carried = _another_copy_can_carry(customer_of, messages, has_option)[lost[by_rule]]
        if not carried.all():
            first = int(lost[by_rule][~carried][0])
            _raise_blocked_mandatory(scenario, stages, positions, first)
        suppressed.append(Suppressions.of(
            positions[lost[by_rule]], "duplicate", "dedup",
            np.array([f"its own options are blocked by rule {stages.log[s][1]!r} "
                      f"({stages.log[s][0]}); another copy of this mandatory message "
                      "carries it" for s in stage[by_rule]], dtype=object)))
    plain = lost[~by_rule]
    plain_stage = stage[~by_rule]
    suppressed.append(Suppressions.of(
        positions[plain],
        np.array([stages.log[s][0] for s in plain_stage], dtype=object),
        np.array([stages.log[s][1] for s in plain_stage], dtype=object),
        np.array([_stage_detail(stages.log[s][0]) for s in plain_stage], dtype=object)))

    alive = stages.alive
    frame = pd.DataFrame(
        {
            "cand": cand[alive],
            "customer": sends.customer[alive],
            "comm": sends.comm[alive],
            "channel": channel[alive],
            "day": day[alive],
            "coef": coef[alive],
            "cost": cost[alive],
            "tier": codes.cand_tier[cand[alive]],
            "mandatory": mandatory[local[alive]],
            "message_mandatory": message_mandatory[local[alive]],
            "message": messages[local[alive]],
        }
    )
    return Options(frame, Suppressions.concat(suppressed))


class _Stages:
    """Which options are still alive, and the last stage that took options of each
    candidate (its reason, and the rule for rule stages)."""

    def __init__(self, n_options: int, n_candidates: int, local: np.ndarray) -> None:
        self.alive = np.ones(n_options, dtype=bool)
        self.last = np.full(n_candidates, -1, dtype=np.int64)  # index into `log`
        self.log: list[tuple[str, str]] = []
        self.hits: list[np.ndarray] = []  # candidates (local) each stage took options from
        self.local = local

    def remove(self, mask: np.ndarray, reason: str, rule: str = "") -> None:
        hit = mask & self.alive
        if not hit.any():
            return
        self.log.append((reason, rule))
        self.hits.append(unique(self.local[hit]))
        self.last[self.local[hit]] = len(self.log) - 1
        self.alive[hit] = False


def _outside_horizon(scenario: Scenario, positions: np.ndarray) -> Suppressions:
    if len(positions) == 0:
        return Suppressions.empty()
    cands = scenario.candidates
    details = np.array(
        [f"window {cands['earliest'].iloc[p]}..{cands['latest'].iloc[p]} is outside the "
         f"horizon {scenario.start}..{scenario.end}" for p in positions], dtype=object)
    return Suppressions.of(positions, "outside_horizon", "", details)


def _raise_blocked_mandatory(scenario: Scenario, stages: _Stages, positions: np.ndarray,
                             local: int) -> None:
    cands = scenario.candidates
    position = int(positions[local])
    rules = [
        f"{name!r} ({why})"
        for (why, name), hits in zip(stages.log, stages.hits, strict=True)
        if name and why != "no_value" and np.isin(local, hits)
    ]
    raise InfeasibleError(
        f"mandatory candidate {cands['candidate_id'].iloc[position]!r} of customer "
        f"{cands['customer_id'].iloc[position]!r} cannot be sent: its options are "
        f"blocked by rules " + ", ".join(rules)
    )


def _another_copy_can_carry(customers: np.ndarray, messages: np.ndarray,
                            has_option: np.ndarray) -> np.ndarray:
    """Per candidate: whether another candidate of the same customer and dedup message can
    still be sent."""
    if len(messages) == 0:
        return np.zeros(0, dtype=bool)
    keyed = messages >= 0
    count = pd.Series(has_option.astype(np.int64)).groupby([customers, messages]).transform("sum")
    others = count.to_numpy(np.int64) - has_option.astype(np.int64)
    return keyed & (others > 0)


def _stage_detail(reason: str) -> str:
    return {
        "no_consent": "no consent on any of its channels",
        "channel_closed": "every consented channel is closed on every day of its window",
        "duplicate": "the same message was sent recently (history)",
        "no_value": "its value net of cost is not positive",
        "exclusion": "excluded on every day and channel of its window",
        "frequency_cap": "history already fills the cap on every day of its window",
        "never_together": "history already holds a send of this group",
        "min_gap": "too soon after a history send",
    }.get(reason, "")


def _reason_of(rule: object) -> str:
    if isinstance(rule, (StateExclusion, CustomerExclusion, AroundExclusion)):
        return "exclusion"
    if isinstance(rule, FrequencyCap):
        return "frequency_cap"
    if isinstance(rule, NeverTogether):
        return "never_together"
    return "min_gap"


def _block_history(codes: ScenarioCodes, sends: SendCodes) -> SendCodes:
    """The history rows of the customers these options belong to."""
    customers = unique(sends.customer)
    rows = codes.history_of(customers)
    history = codes.history
    return SendCodes(history.customer[rows], history.comm[rows], history.channel[rows],
                     history.day[rows])


def _dedup_history_stage(scenario: Scenario, codes: ScenarioCodes, sends: SendCodes,
                         stages: _Stages) -> None:
    """No option repeating a message the customer got less than `window_days` ago."""
    if not scenario.dedup.enabled or len(codes.history.day) == 0:
        return
    history = _block_history(codes, sends)
    if len(history.day) == 0:
        return
    messages = codes.comm_message
    width = int(messages.max()) + 1
    past_key = history.customer * width + messages[history.comm]
    order = np.lexsort((history.day, past_key))
    past_key, past_day = past_key[order], history.day[order]
    last = np.r_[past_key[1:] != past_key[:-1], True]  # latest day of each key
    keys, last_day = past_key[last], past_day[last]
    key = sends.customer * width + messages[sends.comm]
    at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
    blocked = (keys[at] == key) & (sends.day - last_day[at] < scenario.dedup.window_days)
    stages.remove(blocked, "duplicate", "dedup")


def _history_last(history: SendCodes, mask: np.ndarray, n_customers: int,
                  customers: np.ndarray) -> np.ndarray:
    """Latest matching history day per option's customer (-inf when none)."""
    latest = np.full(n_customers, -np.inf)
    np.maximum.at(latest, history.customer[mask], history.day[mask].astype(float))
    return latest[customers]


def _history_count_since(history: SendCodes, mask: np.ndarray, customers: np.ndarray,
                         since: np.ndarray) -> np.ndarray:
    """Matching history sends of each option's customer on days >= since."""
    if not mask.any():
        return np.zeros(len(customers), dtype=np.int64)
    # history days are negative and `since` lies within a few windows of the horizon: a
    # width well beyond both keeps (customer, day) keys apart
    days = history.day[mask]
    low = min(int(days.min()), int(since.min()))
    width = max(int(days.max()), int(since.max())) - low + 2
    keys = np.sort(history.customer[mask] * width + (days - low))
    first = np.searchsorted(keys, customers * width + (since - low), side="left")
    end = np.searchsorted(keys, customers * width + (width - 1), side="left")
    return (end - first).astype(np.int64)


def _rule_stage(scenario: Scenario, matcher: Matcher, codes: ScenarioCodes, rule: object,
                sends: SendCodes) -> np.ndarray | None:
    """Options a per-customer rule forbids whatever else is planned (flags, states, history)."""
    if isinstance(rule, CustomerExclusion):
        flagged = matcher.customer_mask(rule.customers)
        assert flagged is not None
        return matcher.match(rule.select, sends) & flagged[sends.customer]
    if isinstance(rule, StateExclusion):
        return matcher.match(rule.select, sends) & _in_state(scenario, rule.states, sends)
    if len(codes.history.day) == 0:
        return None
    history = _block_history(codes, sends)
    n_customers = codes.n_customers
    if isinstance(rule, MinGap):
        last = _history_last(history, matcher.match(rule.first, history), n_customers,
                             sends.customer)
        return matcher.match(rule.then, sends) & (sends.day < last + rule.days)
    if isinstance(rule, AroundExclusion):
        last = _history_last(history, matcher.match(rule.around, history), n_customers,
                             sends.customer)
        return matcher.match(rule.select, sends) & (sends.day <= last + rule.days_after)
    if isinstance(rule, (FrequencyCap, NeverTogether)):
        cap = rule.max if isinstance(rule, FrequencyCap) else 1
        period = (
            rule.period
            if isinstance(rule, FrequencyCap)
            else ("rolling" if rule.window_days is not None else "horizon")
        )
        selected = matcher.match(rule.select, sends)
        if period == "horizon":
            return selected if cap == 0 else None
        if period == "week":
            weekday0 = scenario.start.weekday()
            since = sends.day - (sends.day + weekday0) % 7  # Monday of the send's week
        else:
            assert rule.window_days is not None
            since = sends.day - rule.window_days + 1
        count = _history_count_since(
            history, matcher.match(rule.select, history), sends.customer, since
        )
        return selected & (count >= cap)
    return None


def _in_state(scenario: Scenario, states: tuple[str, ...], sends: SendCodes) -> np.ndarray:
    table = scenario.states
    table = table[table["state"].isin(states)]
    result = np.zeros(len(sends.day), dtype=bool)
    if table.empty:
        return result
    customer_index = pd.Index(scenario.customers["customer_id"])
    spans = pd.DataFrame(
        {
            "customer": customer_index.get_indexer(table["customer_id"]),
            "start": table["start_day"].to_numpy(np.int64),
            "end": table["end_day"].to_numpy(np.int64),
        }
    )
    in_some_state = np.zeros(len(scenario.customers), dtype=bool)
    in_some_state[spans["customer"].to_numpy(np.int64)] = True
    candidates = np.flatnonzero(in_some_state[sends.customer])
    options = pd.DataFrame(
        {"option": candidates, "customer": sends.customer[candidates],
         "day": sends.day[candidates]}
    )
    joined = options.merge(spans, on="customer")
    inside = joined[(joined["day"] >= joined["start"]) & (joined["day"] <= joined["end"])]
    result[inside["option"].to_numpy(np.int64)] = True
    return result
