"""Candidates -> (candidate, day, channel) options, and the pre-filter with reasons.

Every candidate is expanded into one option per allowed channel and horizon
day in its window. Stages then remove what can never be sent, each stage
recording its reason, so a candidate that loses its last option is suppressed
with the reason of the stage that took it. Data stages (horizon, consent,
closed channel) come first: a mandatory candidate stopped by data is
suppressed; one stopped by a rule is an infeasibility to diagnose.

Everything here is vectorised numpy/pandas: this runs over every candidate of
the batch before any model is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
from optimiser.select import Matcher, SendCodes, history_codes

DATA_REASONS = ("outside_horizon", "no_consent", "channel_closed", "duplicate", "no_value")


@dataclass
class Suppression:
    """Why a candidate is not in the calendar."""

    reason: str
    rule: str = ""
    detail: str = ""


@dataclass
class Options:
    """The sendable options of a batch and what the pre-filter removed.

    `frame` has one row per surviving option: cand, customer, comm, channel, day
    (int codes), coef (objective contribution), cost, tier, mandatory.
    `candidate_*` arrays are indexed by candidate position in scenario.candidates.
    """

    frame: pd.DataFrame
    candidate_customer: np.ndarray
    candidate_comm: np.ndarray
    candidate_tier: np.ndarray
    candidate_mandatory: np.ndarray
    candidate_message: np.ndarray  # dedup message id per candidate (-1 when dedup is off)
    suppressed: dict[int, Suppression] = field(default_factory=dict)


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
    """channel_weight[customer, channel] from ranked `preferred_channels` (spec section 4)."""
    channels = list(scenario.channels)
    n = len(scenario.customers)
    weights = np.ones((n, len(channels)))
    objective = scenario.objective
    if objective.preference_weights is None:
        return weights
    ranked = objective.preference_weights
    for row, text in enumerate(scenario.customers["preferred_channels"]):
        preferred = [p.strip() for p in text.split("|") if p.strip()]
        if not preferred:
            continue
        weights[row, :] = objective.preference_others
        for rank, name in reversed(list(enumerate(preferred))):
            # a channel listed twice keeps its best rank; ranks beyond the weights list
            # keep the last weight: still preferred over "others"
            weights[row, channels.index(name)] = ranked[min(rank, len(ranked) - 1)]
    return weights


def build_options(scenario: Scenario, matcher: Matcher | None = None) -> Options:
    """Expand candidates into options and run the pre-filter stages."""
    matcher = matcher or Matcher(scenario)
    cands = scenario.candidates
    channels = list(scenario.channels)
    customer_index = pd.Index(scenario.customers["customer_id"])
    comm_index = pd.Index(scenario.communications["comm_id"])
    cand_customer = customer_index.get_indexer(cands["customer_id"]).astype(np.int64)
    cand_comm = comm_index.get_indexer(cands["comm_id"]).astype(np.int64)
    comms = scenario.communications
    cand_tier = comms["priority"].to_numpy(np.int64)[cand_comm]
    cand_mandatory = comms["mandatory"].to_numpy(bool)[cand_comm]
    messages = (
        message_ids(scenario)[cand_comm]
        if scenario.dedup.enabled
        else np.full(len(cands), -1, dtype=np.int64)
    )
    suppressed: dict[int, Suppression] = {}
    earliest = np.maximum(cands["earliest_day"].to_numpy(np.int64), 0)
    latest = np.minimum(cands["latest_day"].to_numpy(np.int64), scenario.days - 1)
    outside = earliest > latest
    for position in np.flatnonzero(outside):
        suppressed[int(position)] = Suppression(
            "outside_horizon",
            "",
            f"window {cands['earliest'].iloc[position]}..{cands['latest'].iloc[position]} "
            f"is outside the horizon {scenario.start}..{scenario.end}",
        )

    # one row per (candidate, channel), then one per day of the clipped window
    per_channel = pd.DataFrame(
        {
            "cand": np.arange(len(cands)),
            "channel_name": cands["channels"].str.split("|"),
        }
    )
    per_channel = per_channel[~outside].explode("channel_name")
    per_channel["channel_name"] = per_channel["channel_name"].str.strip()
    per_channel = per_channel[per_channel["channel_name"] != ""].drop_duplicates()
    cand = per_channel["cand"].to_numpy(np.int64)
    channel = pd.Index(channels).get_indexer(per_channel["channel_name"]).astype(np.int64)
    span = latest[cand] - earliest[cand] + 1
    cand = np.repeat(cand, span)
    channel = np.repeat(channel, span)
    starts = np.repeat(np.cumsum(span) - span, span)
    day = earliest[cand] + (np.arange(len(cand)) - starts)
    sends = SendCodes(cand_customer[cand], cand_comm[cand], channel, day)

    alive = np.ones(len(cand), dtype=bool)
    last_reason = np.full(len(cands), -1, dtype=np.int64)  # index into `stage_log`
    stage_log: list[tuple[str, str]] = []
    stage_hits: list[np.ndarray] = []  # candidates each stage took options from

    def remove(mask: np.ndarray, reason: str, rule: str = "") -> None:
        hit = mask & alive
        if not hit.any():
            return
        stage_log.append((reason, rule))
        stage_hits.append(np.unique(cand[hit]))
        last_reason[cand[hit]] = len(stage_log) - 1
        alive[hit] = False

    consent = _consent_matrix(scenario)
    remove(~consent[sends.customer, sends.channel], "no_consent")
    closed = np.zeros((len(channels), scenario.days), dtype=bool)
    for code, name in enumerate(channels):
        closed[code, sorted(scenario.closed_days(name))] = True
    remove(closed[sends.channel, sends.day], "channel_closed")
    _dedup_history_stage(scenario, sends, cand_comm, remove)
    data_stages = len(stage_log)
    # A message is mandatory when a copy of it (same customer, same dedup message) is
    # mandatory and the data lets that copy be sent: every copy may then carry it,
    # whatever that copy is worth on its own. A mandatory copy the data rules out
    # obliges nothing (spec section 4: it is simply suppressed with its data reason).
    sendable = np.zeros(len(cands), dtype=bool)
    sendable[cand[alive]] = True
    message_mandatory = cand_mandatory & sendable
    if scenario.dedup.enabled and message_mandatory.any():
        groups = pd.Series(message_mandatory).groupby([cand_customer, messages]).transform("any")
        message_mandatory = groups.to_numpy(bool)
    for rule in scenario.customer_rules:
        blocked = _rule_stage(scenario, matcher, rule, sends)
        if blocked is not None:
            remove(blocked, _reason_of(rule), rule.name)

    weights = preference_weights(scenario)
    comm_cost = comms["cost"].to_numpy(float)[sends.comm]
    channel_cost = np.array([scenario.channels[c].cost for c in channels])[sends.channel]
    cost = comm_cost + channel_cost
    value = cands["value"].to_numpy(float)[cand]
    coef = value * weights[sends.customer, sends.channel] - cost * scenario.objective.cost_weight
    wanted_by_volume = np.zeros(len(cand), dtype=bool)
    for rule in scenario.global_rules:
        if isinstance(rule, Volume) and rule.min is not None:
            wanted_by_volume |= matcher.match(rule.select, sends)
    remove((coef <= 0) & ~message_mandatory[cand] & ~wanted_by_volume, "no_value")

    has_option = np.zeros(len(cands), dtype=bool)
    has_option[cand[alive]] = True
    for position in np.flatnonzero(~has_option & ~outside):
        stage = int(last_reason[position])
        reason, rule_name = stage_log[stage]
        if (
            cand_mandatory[position]
            and data_stages <= stage
            and reason != "no_value"
            and _another_copy_can_carry(int(position), cand_customer, messages, has_option)
        ):
            suppressed[int(position)] = Suppression(
                "duplicate", "dedup",
                f"its own options are blocked by rule {rule_name!r} ({reason}); another copy "
                "of this mandatory message carries it",
            )
            continue
        if cand_mandatory[position] and data_stages <= stage and reason != "no_value":
            rules = [
                f"{name!r} ({why})"
                for (why, name), hits in zip(stage_log, stage_hits, strict=True)
                if name and why != "no_value" and np.isin(position, hits)
            ]
            raise InfeasibleError(
                f"mandatory candidate {cands['candidate_id'].iloc[position]!r} of customer "
                f"{cands['customer_id'].iloc[position]!r} cannot be sent: its options are "
                f"blocked by rules " + ", ".join(rules)
            )
        suppressed[int(position)] = Suppression(reason, rule_name, _stage_detail(reason))

    frame = pd.DataFrame(
        {
            "cand": cand[alive],
            "customer": sends.customer[alive],
            "comm": sends.comm[alive],
            "channel": channel[alive],
            "day": day[alive],
            "coef": coef[alive],
            "cost": cost[alive],
            "tier": cand_tier[cand[alive]],
            "mandatory": cand_mandatory[cand[alive]],
            "message_mandatory": message_mandatory[cand[alive]],
            "message": messages[cand[alive]],
        }
    )
    return Options(frame, cand_customer, cand_comm, cand_tier, cand_mandatory, messages, suppressed)


def _another_copy_can_carry(
    position: int, customers: np.ndarray, messages: np.ndarray, has_option: np.ndarray
) -> bool:
    """Whether another candidate of the same customer and dedup message can still be sent."""
    if messages[position] < 0:
        return False
    same = (customers == customers[position]) & (messages == messages[position])
    same[position] = False
    return bool(has_option[same].any())


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


def _consent_matrix(scenario: Scenario) -> np.ndarray:
    return np.column_stack(
        [scenario.customers[f"consent_{name}"].to_numpy(bool) for name in scenario.channels]
    )


def _dedup_history_stage(
    scenario: Scenario,
    sends: SendCodes,
    cand_comm: np.ndarray,
    remove: Callable[[np.ndarray, str, str], None],
) -> None:
    """No option repeating a message the customer got less than `window_days` ago."""
    if not scenario.dedup.enabled or scenario.history.empty:
        return
    history = history_codes(scenario)
    messages = message_ids(scenario)
    last = pd.Series(history.day).groupby([history.customer, messages[history.comm]]).max()
    key = pd.MultiIndex.from_arrays([sends.customer, messages[sends.comm]])
    last_day = last.reindex(key).to_numpy(float)
    blocked = ~np.isnan(last_day) & (sends.day - last_day < scenario.dedup.window_days)
    remove(blocked, "duplicate", "dedup")


def _history_last(history: SendCodes, mask: np.ndarray, customers: np.ndarray) -> np.ndarray:
    """Latest matching history day per option's customer (-inf when none)."""
    latest = pd.Series(history.day[mask]).groupby(history.customer[mask]).max()
    return latest.reindex(customers).to_numpy(float, na_value=-np.inf)


def _history_count_since(
    history: SendCodes, mask: np.ndarray, customers: np.ndarray, since: np.ndarray
) -> np.ndarray:
    """Matching history sends of each option's customer on days >= since."""
    counts = np.zeros(len(customers), dtype=np.int64)
    if not mask.any():
        return counts
    frame = pd.DataFrame({"customer": history.customer[mask], "day": history.day[mask]})
    # group history by customer once, then count per distinct `since`
    for value in np.unique(since):
        recent = frame[frame["day"] >= value].groupby("customer").size()
        pick = since == value
        counts[pick] = recent.reindex(customers[pick]).fillna(0).to_numpy(np.int64)
    return counts


def _rule_stage(
    scenario: Scenario, matcher: Matcher, rule: object, sends: SendCodes
) -> np.ndarray | None:
    """Options a per-customer rule forbids whatever else is planned (flags, states, history)."""
    if isinstance(rule, CustomerExclusion):
        flagged = matcher.customer_mask(rule.customers)
        assert flagged is not None
        return matcher.match(rule.select, sends) & flagged[sends.customer]
    if isinstance(rule, StateExclusion):
        return matcher.match(rule.select, sends) & _in_state(scenario, rule.states, sends)
    history = history_codes(scenario)
    if len(history.day) == 0:
        return None
    if isinstance(rule, MinGap):
        last = _history_last(history, matcher.match(rule.first, history), sends.customer)
        return matcher.match(rule.then, sends) & (sends.day < last + rule.days)
    if isinstance(rule, AroundExclusion):
        last = _history_last(history, matcher.match(rule.around, history), sends.customer)
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
    options = pd.DataFrame(
        {"option": np.arange(len(sends.day)), "customer": sends.customer, "day": sends.day}
    )
    joined = options.merge(spans, on="customer")
    inside = joined[(joined["day"] >= joined["start"]) & (joined["day"] <= joined["end"])]
    result[inside["option"].to_numpy(np.int64)] = True
    return result
