"""Generate a synthetic retail-bank scenario of any size (scenario format version 1).

`generate_scenario(customers, seed, out)` writes a scenario folder shaped like
the bundled `retail_bank_week` (scenarios/make_scenarios.py) but for any number
of customers: product teams (silos) each propose contacts without seeing the
others', so some customers are offered far too much, the same offer arrives
from two teams, and mandatory bills and letters compete with promotions.

Everything is drawn with whole-array numpy operations (no loop over customers
or candidates), so a million customers (about 15 million candidates) take
seconds, not hours. All draws come from one `numpy.random.default_rng(seed)`
in a fixed order and every sort is stable, so the same `customers` and `seed`
give byte-identical files (Parquet footers name the pyarrow version, so
"identical" holds for one installation).

The levels of the global rules (call seats per day, the mail budget, the
regular-saver minimum) are derived from the generated candidates, so they bind
at any size; the arithmetic is written as comments in scenario.yaml. Every
mandatory candidate is sendable (consent on one of its channels, an open day
in its window), so plans are feasible. No solver is imported here.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

START = dt.date(2026, 11, 23)  # a Monday: calendar weeks (`period: week`) start on day 0
MAX_DAYS = 62  # day sets are int64 bit masks
HISTORY_DAYS = 30  # history covers the 30 days before the horizon
DEDUP_WINDOW = 30

CHANNELS = ("email", "sms", "push", "call", "mail")
EMAIL, SMS, PUSH, CALL, MAIL = range(len(CHANNELS))
CHANNEL_COST = (0.001, 0.03, 0.0, 4.5, 0.6)
CLOSED_WEEKDAYS = {CALL: (5, 6)}  # the call centre is shut at weekends
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# The objective written to scenario.yaml; the demand estimate scores channels the same way.
COST_WEIGHT = 1.0
PREFERENCE_WEIGHTS = (1.0, 0.9, 0.8)
OTHER_CHANNEL_WEIGHT = 0.7

# How many proposals the product teams make per customer: a mixture.
LIGHT_SHARE = 0.35  # barely engaged customers: 0-3 proposals
HEAVY_SHARE = (0.06, 0.10, 0.18)  # by segment: every silo targets the same attractive customers
BODY_MEDIAN, BODY_SIGMA = 16.5, 0.45  # the lognormal body (at least 4)
HEAVY_SCALE = 10.0  # heavy tail: 30 + exponential(10) proposals
MAX_PROPOSALS = 150
SPILL_SHARE = 0.25  # windows that may start before or end after the horizon
CALL_LEAD = 10.0  # a proposal worth this much is often routed to the call centre

# Global rule levels: fractions of the estimated unconstrained demand (see `RuleLevels`).
CALL_SEAT_SHARE = 0.4
MAIL_MARKETING_SHARE = 0.5
SAVER_REACH_SHARE = 0.6
SAVER_PENALTY = 50

SEGMENTS = ("mass", "affluent", "private")
SEGMENT_SHARE = (0.8, 0.17, 0.03)
SEGMENT_VALUE = np.array([1.0, 1.6, 2.5])
REGIONS = (
    "london", "south_east", "south_west", "midlands", "north_west",
    "north_east", "scotland", "wales", "northern_ireland",
)  # fmt: skip
REGION_SHARE = (0.16, 0.15, 0.09, 0.16, 0.12, 0.09, 0.10, 0.07, 0.06)
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_SHARE = (0.1, 0.18, 0.19, 0.18, 0.16, 0.19)
# channel affinity by age band (email, sms, push, call, mail): drives stated preferences
AGE_AFFINITY = np.array(
    [
        [3.0, 2.0, 4.0, 0.3, 0.2],
        [3.0, 2.0, 3.5, 0.4, 0.3],
        [3.0, 2.0, 2.5, 0.6, 0.6],
        [3.0, 1.5, 1.5, 1.0, 1.2],
        [2.5, 1.2, 0.8, 1.5, 2.0],
        [1.5, 1.0, 0.3, 2.0, 3.0],
    ]
)
PUSH_CONSENT = np.array([0.65, 0.6, 0.5, 0.4, 0.25, 0.12])  # falls with age
# consent rates: (share true, share of empty cells); an empty cell means no consent
CONSENT = {EMAIL: (0.82, 0.08), SMS: (0.68, 0.10), CALL: (0.55, 0.10), MAIL: (0.86, 0.05)}
PUSH_MISSING = 0.10
PREFERENCE_SHARE = 0.6

# States: (state, share of customers). Marketing is excluded during all of them.
STATES = ("complaint", "collections", "bereavement")
COMPLAINT, COLLECTIONS, BEREAVEMENT = range(len(STATES))
STATE_SHARE = (0.04, 0.03, 0.003)


@dataclass(frozen=True)
class Comm:
    """One catalogue row plus what the generator needs to propose it.

    `channels` are those a team may propose it on; `margin` is the value of a
    response (value = margin x response probability x segment value);
    `weight` is how often teams propose it (0: only the duty generators do).
    """

    comm_id: str
    product_line: str
    category: str
    priority: int
    channels: tuple[str, ...]
    margin: float = 0.0
    weight: float = 1.0
    mandatory: bool = False
    dedup_key: str = ""
    tags: tuple[str, ...] = ()
    cost: float = 0.0


SAVER_CAMPAIGN = "SAV-REGULAR-SAVER"
CATALOGUE = (
    # cards
    Comm("CRD-CASHBACK", "cards", "marketing", 3, ("email", "mail", "push"), 220, 1.2,
         dedup_key="offer-cashback-card", tags=("card", "cashback")),
    Comm("CRD-BALANCE-TRANSFER", "cards", "marketing", 3, ("email", "mail", "sms"), 260,
         tags=("card", "balance_transfer")),
    Comm("CRD-LIMIT-INCREASE", "cards", "marketing", 4, ("email", "sms", "push"), 90,
         tags=("card", "credit_limit")),
    Comm("CRD-TRAVEL", "cards", "marketing", 4, ("email", "push"), 120, 0.8,
         tags=("card", "travel")),
    # loans: one lending offer a week (never_together with mortgages)
    Comm("LNS-PERSONAL-LOAN", "loans", "marketing", 3, ("email", "call", "mail"), 420,
         tags=("loan", "personal_loan")),
    Comm("LNS-CAR-FINANCE", "loans", "marketing", 3, ("email", "mail", "call"), 380, 0.8,
         tags=("loan", "car")),
    Comm("LNS-HOME-IMPROVEMENT", "loans", "marketing", 4, ("email", "mail"), 300, 0.7,
         tags=("loan", "home")),
    # savings; the regular saver is cheap to sell and low in value, hence its minimum
    Comm("SAV-FIXED-BOND", "savings", "marketing", 3, ("email", "mail", "call"), 260,
         tags=("savings", "fixed_bond")),
    Comm(SAVER_CAMPAIGN, "savings", "marketing", 4, ("email", "push", "sms"), 40, 1.0,
         tags=("savings", "regular_saver")),
    Comm("SAV-ISA", "savings", "marketing", 3, ("email", "mail"), 200,
         dedup_key="offer-isa", tags=("savings", "isa")),
    # insurance
    Comm("INS-HOME", "insurance", "marketing", 3, ("email", "mail", "call"), 240,
         tags=("insurance", "home")),
    Comm("INS-TRAVEL", "insurance", "marketing", 4, ("email", "sms"), 90,
         dedup_key="offer-travel-insurance", tags=("insurance", "travel")),
    Comm("INS-LIFE", "insurance", "marketing", 3, ("call", "mail"), 500, 0.6,
         tags=("insurance", "life")),
    # mortgages
    Comm("MTG-REMORTGAGE", "mortgages", "marketing", 3, ("call", "mail", "email"), 700, 0.5,
         tags=("mortgage", "remortgage")),
    Comm("MTG-RATE-SWITCH", "mortgages", "marketing", 3, ("email", "mail", "call"), 450, 0.6,
         tags=("mortgage", "rate_switch")),
    Comm("MTG-FIRST-HOME", "mortgages", "marketing", 4, ("email", "mail"), 350, 0.4,
         tags=("mortgage", "first_home")),
    # digital: its own versions of other teams' offers, same dedup keys
    Comm("DIG-CASHBACK-CARD", "digital", "marketing", 4, ("email", "push"), 200, 0.6,
         dedup_key="offer-cashback-card", tags=("card", "cashback")),
    Comm("DIG-ISA-PUSH", "digital", "marketing", 4, ("push", "email"), 180, 0.5,
         dedup_key="offer-isa", tags=("savings", "isa")),
    Comm("DIG-TRAVEL-INSURANCE", "digital", "marketing", 4, ("email", "push"), 80, 0.5,
         dedup_key="offer-travel-insurance", tags=("insurance", "travel")),
    Comm("DIG-BUDGETING-TOOL", "digital", "marketing", 4, ("push", "email"), 25, 0.8,
         tags=("app", "budgeting")),
    # customer service
    Comm("SVC-CARD-EXPIRY", "customer_service", "service", 2, ("sms", "email"), 30, 0.8,
         tags=("card", "expiry")),
    Comm("SVC-APP-SECURITY", "customer_service", "service", 2, ("push", "email"), 15, 0.8,
         tags=("app", "security")),
    Comm("SVC-ACCOUNT-REVIEW", "customer_service", "service", 2, ("call",), 150, 0.6,
         tags=("review",)),
    # billing: bills on their due day, statements within a few days; all mandatory
    Comm("BIL-CARD-BILL", "billing", "functional", 1, ("email", "mail"), weight=0.0,
         mandatory=True, tags=("bill", "card")),
    Comm("BIL-LOAN-INSTALMENT", "billing", "functional", 1, ("email", "mail"), weight=0.0,
         mandatory=True, tags=("bill", "loan")),
    Comm("BIL-STATEMENT", "billing", "functional", 1, ("email", "mail"), weight=0.0,
         mandatory=True, tags=("statement",)),
    # collections: the arrears letter is a regulatory duty (tracked post costs extra)
    Comm("COL-ARREARS-LETTER", "collections", "regulatory", 1, ("mail",), weight=0.0,
         mandatory=True, tags=("collections", "arrears"), cost=0.85),
    Comm("COL-PAYMENT-REMINDER", "collections", "collections", 1, ("sms", "email"), 40,
         weight=0.0, tags=("collections", "reminder")),
)  # fmt: skip

# Cross-team duplicates: when the first team proposes its offer, digital often does too.
TWINS = (
    ("CRD-CASHBACK", "DIG-CASHBACK-CARD"),
    ("SAV-ISA", "DIG-ISA-PUSH"),
    ("INS-TRAVEL", "DIG-TRAVEL-INSURANCE"),
)
LENDING = ("loans", "mortgages")
NBA_SOURCE = "nba_engine"  # the next-best-action engine re-proposes other teams' offers


# --------------------------------------------------------------------------- catalogue arrays


class Catalogue:
    """The catalogue as arrays indexed by comm number (its position in CATALOGUE)."""

    def __init__(self, comms: Sequence[Comm]) -> None:
        self.comms = tuple(comms)
        self.ids = [c.comm_id for c in comms]
        self.index = {c.comm_id: i for i, c in enumerate(comms)}
        self.channel_bits = np.array(
            [sum(1 << CHANNELS.index(ch) for ch in c.channels) for c in comms], dtype=np.int64
        )
        # up to three channels per comm in its own order, padded with -1
        self.channel_list = np.array(
            [[CHANNELS.index(ch) for ch in c.channels] + [-1] * (3 - len(c.channels))
             for c in comms],
            dtype=np.int64,
        )  # fmt: skip
        self.n_channels = np.array([len(c.channels) for c in comms], dtype=np.int64)
        self.margin = np.array([c.margin for c in comms])
        self.weight = np.array([c.weight for c in comms])
        self.priority = np.array([c.priority for c in comms], dtype=np.int64)
        self.mandatory = np.array([c.mandatory for c in comms])
        self.marketing = np.array([c.category == "marketing" for c in comms])
        self.service = np.array([c.category == "service" for c in comms])
        self.lending = np.array([c.product_line in LENDING for c in comms])
        self.bill = np.array(["bill" in c.tags for c in comms])
        self.cost = np.array([c.cost for c in comms])
        keys = sorted({c.dedup_key or c.comm_id for c in comms})
        self.message = np.array([keys.index(c.dedup_key or c.comm_id) for c in comms])
        self.n_messages = len(keys)
        # sorting by this rank sorts by comm_id text
        self.id_rank = np.argsort(np.argsort(np.array(self.ids), kind="stable"), kind="stable")
        self.lines = sorted({c.product_line for c in comms}) + [NBA_SOURCE]
        self.line = np.array([self.lines.index(c.product_line) for c in comms], dtype=np.int64)
        self.proposable = np.flatnonzero(self.weight > 0)

    def table(self) -> pd.DataFrame:
        """The communications table of the spec (section 1.2)."""
        return pd.DataFrame(
            {
                "comm_id": self.ids,
                "product_line": [c.product_line for c in self.comms],
                "category": [c.category for c in self.comms],
                "priority": [c.priority for c in self.comms],
                "mandatory": [c.mandatory for c in self.comms],
                "dedup_key": [c.dedup_key for c in self.comms],
                "tags": ["|".join(c.tags) for c in self.comms],
                "cost": [c.cost for c in self.comms],
            }
        )


CAT = Catalogue(CATALOGUE)


@dataclass(frozen=True)
class Horizon:
    """The planned calendar; days are offsets from `start` (day 0); day sets are bit masks."""

    start: dt.date
    days: int

    @property
    def every_day(self) -> int:
        return (1 << self.days) - 1

    def open_days(self, channel: int) -> int:
        """Bit mask of the horizon days a channel is open."""
        closed = CLOSED_WEEKDAYS.get(channel, ())
        return sum(1 << d for d in range(self.days) if (self.start.weekday() + d) % 7 not in closed)

    def open_on(self, channel: int, days: np.ndarray) -> np.ndarray:
        """Whether a channel is open on each of `days` (any offsets, history included)."""
        weekday = (self.start.weekday() + days) % 7
        return ~np.isin(weekday, CLOSED_WEEKDAYS.get(channel, ()))

    def window_bits(self, earliest: np.ndarray, latest: np.ndarray) -> np.ndarray:
        """Bit masks of the horizon days of inclusive windows (0 if a window lies outside)."""
        low = np.clip(earliest, 0, self.days)
        high = np.clip(latest, -1, self.days - 1)
        one = np.int64(1)
        bits = np.left_shift(one, high + 1) - np.left_shift(one, low)
        return np.where(low <= high, bits, 0).astype(np.int64)

    def iso(self, offset: int) -> str:
        return (self.start + dt.timedelta(days=offset)).isoformat()


# --------------------------------------------------------------------------- customers


@dataclass
class Customers:
    """Customer attributes as arrays; `consent` is effective consent (an empty cell is no)."""

    segment: np.ndarray  # index into SEGMENTS
    region: np.ndarray
    age: np.ndarray
    do_not_market: np.ndarray
    consent_value: np.ndarray  # (n, channels) the cell's value
    consent_empty: np.ndarray  # (n, channels) the cell is empty
    preferred: np.ndarray  # (n, 3) ranked channel numbers, -1 = none

    @property
    def n(self) -> int:
        return len(self.segment)

    @property
    def consent(self) -> np.ndarray:
        return self.consent_value & ~self.consent_empty

    def consent_bits(self) -> np.ndarray:
        consent = self.consent.astype(np.int64)
        return (consent << np.arange(len(CHANNELS), dtype=np.int64)).sum(axis=1)


def draw_customers(rng: np.random.Generator, n: int) -> Customers:
    """Segments, regions, age bands, a do-not-market flag (3%), consent gaps, preferences."""
    segment = rng.choice(len(SEGMENTS), n, p=SEGMENT_SHARE).astype(np.int8)
    region = rng.choice(len(REGIONS), n, p=REGION_SHARE).astype(np.int8)
    age = rng.choice(len(AGE_BANDS), n, p=AGE_SHARE).astype(np.int8)
    do_not_market = rng.random(n) < 0.03
    value = np.zeros((n, len(CHANNELS)), dtype=bool)
    empty = np.zeros((n, len(CHANNELS)), dtype=bool)
    for channel in range(len(CHANNELS)):
        if channel == PUSH:
            p_true, p_empty = PUSH_CONSENT[age], PUSH_MISSING
        else:
            p_true, p_empty = np.full(n, CONSENT[channel][0]), CONSENT[channel][1]
        u = rng.random(n)
        empty[:, channel] = u >= 1.0 - p_empty
        value[:, channel] = u < p_true
    consent = value & ~empty
    # 1-3 consented channels ranked by age affinity (Gumbel top-k = weighted, no repeats)
    keys = np.log(AGE_AFFINITY[age]) + rng.gumbel(size=(n, len(CHANNELS)))
    keys[~consent] = -np.inf
    order = np.argsort(-keys, axis=1, kind="stable")[:, :3]
    available = np.minimum(consent.sum(axis=1), 3)
    size = 1 + np.floor(rng.random(n) * available).astype(np.int64)
    wants = (rng.random(n) < PREFERENCE_SHARE) & (available > 0)
    size = np.where(wants, size, 0)
    preferred = np.where(np.arange(3) < size[:, None], order, -1).astype(np.int8)
    return Customers(segment, region, age, do_not_market, value, empty, preferred)


# --------------------------------------------------------------------------- states


@dataclass
class States:
    """One row per customer state (day offsets); an open-ended state has `end` = OPEN."""

    customer: np.ndarray
    state: np.ndarray
    start: np.ndarray
    end: np.ndarray

    OPEN = 10**6

    def of_kind(self, n: int, kind: int) -> tuple[np.ndarray, np.ndarray]:
        """Per customer: start and end of its `kind` state (empty: start > end)."""
        start = np.full(n, 1, dtype=np.int64)
        end = np.full(n, 0, dtype=np.int64)
        rows = self.state == kind
        start[self.customer[rows]] = self.start[rows]
        end[self.customer[rows]] = self.end[rows]
        return start, end


def draw_states(rng: np.random.Generator, n: int, horizon: Horizon) -> States:
    """Complaints (4%), collections (3%), bereavement (0.3%); at most one of each per customer.

    Every collections case overlaps the horizon: those customers are owed an
    arrears letter this week.
    """
    days = horizon.days
    parts: list[tuple[np.ndarray, ...]] = []
    for kind, share in enumerate(STATE_SHARE):
        who = np.flatnonzero(rng.random(n) < share)
        m = len(who)
        if kind == COMPLAINT:
            start = rng.integers(-25, days - 1, m)
            end = np.where(rng.random(m) < 0.3, States.OPEN, start + rng.integers(3, 25, m))
        elif kind == COLLECTIONS:
            start = rng.integers(-90, days - 1, m)
            closes = rng.integers(np.maximum(start, 0), days + 3)
            end = np.where(rng.random(m) < 0.6, States.OPEN, closes)
        else:
            start = rng.integers(-60, days, m)
            end = np.full(m, States.OPEN)
        parts.append((who, np.full(m, kind), start, end))
    customer, state, start, end = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.lexsort((start, state, customer))
    return States(
        customer[order].astype(np.int64),
        state[order].astype(np.int8),
        start[order].astype(np.int64),
        end[order].astype(np.int64),
    )


# --------------------------------------------------------------------------- candidates


@dataclass
class Candidates:
    """Candidate rows as arrays; `channels` is a bit mask over CHANNELS.

    Index columns (customer, comm) stay int64 because they index other arrays
    constantly; the rest are as narrow as their range allows, which halves the
    memory traffic of the 15-million-row gathers.
    """

    customer: np.ndarray
    comm: np.ndarray
    channels: np.ndarray
    earliest: np.ndarray  # day offset
    latest: np.ndarray
    value: np.ndarray
    probability: np.ndarray
    source: np.ndarray  # index into CAT.lines

    DTYPES = {
        "customer": np.int64,
        "comm": np.int64,
        "channels": np.int8,
        "earliest": np.int16,
        "latest": np.int16,
        "value": np.float64,
        "probability": np.float64,
        "source": np.int8,
    }

    def __post_init__(self) -> None:
        for name, dtype in self.DTYPES.items():
            setattr(self, name, np.asarray(getattr(self, name)).astype(dtype, copy=False))

    def take(self, index: np.ndarray) -> Candidates:
        return Candidates(*(getattr(self, f)[index] for f in self.DTYPES))

    @staticmethod
    def concat(parts: Sequence[Candidates]) -> Candidates:
        return Candidates(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                            Candidates.DTYPES))  # fmt: skip


def proposal_counts(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    """Proposals per customer: 35% get 0-3, a lognormal body, a heavy tail of 30+.

    The heavy share grows with the segment: every silo targets the same
    attractive customers. With twins, re-proposals and duties the mean is ~15.
    """
    n = len(segment)
    u = rng.random(n)
    light = rng.integers(0, 4, n)
    body = np.maximum(4, np.floor(rng.lognormal(math.log(BODY_MEDIAN), BODY_SIGMA, n)))
    heavy = 30 + np.floor(rng.exponential(HEAVY_SCALE, n))
    heavy_share = np.asarray(HEAVY_SHARE)[segment]
    counts = np.where(u < LIGHT_SHARE, light, np.where(u < LIGHT_SHARE + heavy_share, heavy, body))
    return np.minimum(counts, MAX_PROPOSALS).astype(np.int64)


def segment_weights() -> np.ndarray:
    """(segments, proposable comms): affluent customers see more savings and insurance."""
    comms = [CAT.comms[i] for i in CAT.proposable]
    rows = []
    for segment in SEGMENTS:
        if segment == "mass":
            tilt = [1.2 if c.product_line in ("cards", "loans") else 1.0 for c in comms]
        else:
            tilt = [1.5 if c.product_line in ("savings", "insurance", "mortgages") else 1.0
                    for c in comms]  # fmt: skip
        rows.append(CAT.weight[CAT.proposable] * np.array(tilt))
    return np.array(rows)


def uniform_ints(rng: np.random.Generator, low: np.ndarray | int, span: np.ndarray | int,
                 size: int) -> np.ndarray:  # fmt: skip
    """Integers uniform in [low, low + span): one float32 draw each, cheap at 15M rows."""
    offset = (rng.random(size, dtype=np.float32) * span).astype(np.int64)
    return low + np.minimum(offset, np.asarray(span) - 1)


def draw_proposals(
    rng: np.random.Generator,
    horizon: Horizon,
    customer: np.ndarray,
    comm: np.ndarray,
    segment: np.ndarray,
    source: np.ndarray,
) -> Candidates:
    """Window, value, response probability and channels of marketing and service proposals.

    The response probability is Gamma(2, 1/40) (mean 5%, like a Beta(2, 38)),
    drawn as two float32 exponentials because that is several times cheaper.
    Marketing windows last 2-7 days, service windows 1-4. Most lie inside the
    horizon; SPILL_SHARE start anywhere from two days before it (marketing) or
    its first day (service) and may run past its end; 1% lie wholly outside
    it, to exercise that suppression.
    """
    m = len(customer)
    days = horizon.days
    marketing = CAT.marketing[comm]
    pair = rng.standard_exponential(m, dtype=np.float32)
    pair += rng.standard_exponential(m, dtype=np.float32)
    probability = np.round(np.minimum(pair.astype(np.float64) / 40.0, 0.95), 4)
    raw = CAT.margin[comm] * probability * SEGMENT_VALUE[segment[customer]]
    value = np.where(marketing, np.clip(raw, 0.5, 40.0), np.clip(raw, 0.05, 15.0))
    length = uniform_ints(rng, np.where(marketing, 2, 1), np.where(marketing, 6, 4), m)
    fits = np.maximum(days - length, 0) + 1  # start days that keep the window inside
    earliest = uniform_ints(rng, 0, fits, m)
    spill = np.flatnonzero(rng.random(m, dtype=np.float32) < SPILL_SHARE)
    first = np.where(marketing[spill], -2, 0)
    earliest[spill] = uniform_ints(rng, first, days - first, len(spill))
    latest = np.minimum(earliest + length - 1, np.maximum(earliest, days - 1))
    latest[spill] = earliest[spill] + length[spill] - 1
    outside = np.flatnonzero(rng.random(m, dtype=np.float32) < 0.01)
    k = len(outside)
    before = rng.random(k) < 0.5
    end_before = rng.integers(-6, 0, k)
    start_after = days + rng.integers(0, 4, k)
    spread = rng.integers(0, 3, k)
    earliest[outside] = np.where(before, end_before - spread, start_after)
    latest[outside] = np.where(before, end_before, start_after + spread)
    return Candidates(
        customer,
        comm,
        pick_channels(rng, comm, value),
        earliest,
        latest,
        np.round(value, 2),
        probability,
        source,
    )


def pick_channels(rng: np.random.Generator, comm: np.ndarray, value: np.ndarray) -> np.ndarray:
    """The channels a team allows for each proposal, as bit masks.

    High-value leads are routed to the call centre (call only, half the time);
    a fifth of marketing with a mail option goes out as a direct-mail pack
    (mail only); otherwise each of the comm's channels is kept with chance 3/4
    (a bit set in either of two uniform 5-bit masks), and one at random if
    none was kept. Without these routings calls and letters would never beat
    cheap email and the call and mail rules would have nothing to ration.
    """
    m = len(comm)
    allowed = CAT.channel_bits[comm].astype(np.int8)
    top = 1 << len(CHANNELS)
    kept = rng.integers(0, top, m, dtype=np.int8) | rng.integers(0, top, m, dtype=np.int8)
    kept &= allowed
    none = np.flatnonzero(kept == 0)
    slot = uniform_ints(rng, 0, CAT.n_channels[comm[none]], len(none))
    kept[none] = np.left_shift(1, CAT.channel_list[comm[none], slot]).astype(np.int8)
    call_lead = ((allowed & (1 << CALL)) != 0) & (value >= CALL_LEAD)
    call_lead &= rng.random(m, dtype=np.float32) < 0.5
    mail_pack = ((allowed & (1 << MAIL)) != 0) & CAT.marketing[comm]
    mail_pack &= rng.random(m, dtype=np.float32) < 0.2
    kept[mail_pack] = 1 << MAIL
    kept[call_lead] = 1 << CALL
    return kept


def draw_offers(
    rng: np.random.Generator, people: Customers, horizon: Horizon
) -> tuple[Candidates, np.ndarray]:
    """Marketing and service proposals, and the count per customer (before duplicates).

    Each customer's comms are a weighted draw without repetition (Gumbel
    top-k); beyond the catalogue's size the list starts again and the extra
    rows are the next-best-action engine re-proposing offers.
    """
    n = people.n
    counts = proposal_counts(rng, people.segment)
    weights = segment_weights()
    k = len(CAT.proposable)
    order = np.empty((n, k), dtype=np.int8)
    block = 200_000  # bounds the (customers x comms) float matrix
    for low in range(0, n, block):
        seg = people.segment[low : low + block]
        keys = np.log(weights[seg]) + rng.gumbel(size=(len(seg), k))
        order[low : low + block] = np.argsort(-keys, axis=1, kind="stable")
    customer = np.repeat(np.arange(n, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(customer), dtype=np.int64) - np.repeat(starts, counts)
    comm = CAT.proposable[order[customer, rank % k]].astype(np.int64)
    source = np.where(rank < k, CAT.line[comm], CAT.lines.index(NBA_SOURCE))
    offers = draw_proposals(rng, horizon, customer, comm, people.segment, source)
    return offers, counts


def draw_duplicates(
    rng: np.random.Generator, offers: Candidates, people: Customers, horizon: Horizon
) -> Candidates:
    """Deliberate cross-team duplicates.

    Digital re-proposes 40% of the cards', savings' and insurance's twin offers
    under its own comm with the same dedup_key; the next-best-action engine
    re-proposes 3% of the other marketing proposals under the same comm_id,
    with a jittered value and a window shifted by up to a day.
    """
    twin_of = np.full(len(CATALOGUE), -1, dtype=np.int64)
    for first, second in TWINS:
        twin_of[CAT.index[first]] = CAT.index[second]
    m = len(offers.comm)
    is_twin = (twin_of[offers.comm] >= 0) & (rng.random(m) < 0.4)
    again = ~is_twin & CAT.marketing[offers.comm] & (rng.random(m) < 0.03)
    rows = np.flatnonzero(is_twin)
    digital = np.full(len(rows), CAT.lines.index("digital"), dtype=np.int64)
    twins = draw_proposals(
        rng, horizon, offers.customer[rows], twin_of[offers.comm[rows]], people.segment, digital
    )
    repeats = offers.take(np.flatnonzero(again))
    jitter = rng.lognormal(0.0, 0.2, len(repeats.value))
    repeats.value = np.round(np.clip(repeats.value * jitter, 0.5, 40.0), 2)
    shift = rng.integers(-1, 2, len(repeats.value))
    repeats.earliest = (repeats.earliest + shift).astype(np.int16)
    repeats.latest = (repeats.latest + shift).astype(np.int16)
    repeats.source = np.full(len(repeats.value), CAT.lines.index(NBA_SOURCE), dtype=np.int8)
    return Candidates.concat([twins, repeats])


def duty_rows(
    customer: np.ndarray,
    comm: np.ndarray,
    channels: np.ndarray,
    earliest: np.ndarray,
    latest: np.ndarray,
    probability: np.ndarray | None = None,
) -> Candidates:
    """Sends the bank owes customers: value 1.0, every consented channel of the comm."""
    m = len(customer)
    return Candidates(
        customer,
        comm,
        channels,
        earliest,
        latest,
        np.ones(m),
        np.zeros(m) if probability is None else np.round(probability, 4),
        CAT.line[comm],
    )


def draw_duties(
    rng: np.random.Generator, people: Customers, states: States, horizon: Horizon
) -> Candidates:
    """Bills, statements, arrears letters and payment reminders.

    Bills (1 customer in 7, card bill 70% else loan instalment) fall on their
    due day; statements (1 in 10) have a 2-3 day window starting in the first
    four days. Only customers reachable by email or mail get them, on every
    such consented channel, so none is impossible for lack of consent. Every
    customer in collections this horizon gets the arrears letter (by post,
    consent granted under the legal duty) over up to 5 of their collections
    days, and 70% of those reachable by sms or email a payment reminder.
    """
    n, days = people.n, horizon.days
    consent_bits = people.consent_bits()
    paper = consent_bits & ((1 << EMAIL) | (1 << MAIL))
    reachable = paper != 0
    billed = np.flatnonzero((rng.random(n) < 1 / 7) & reachable)
    card = rng.random(len(billed)) < 0.7
    bill_comm = np.where(card, CAT.index["BIL-CARD-BILL"], CAT.index["BIL-LOAN-INSTALMENT"])
    due = rng.integers(0, days, len(billed))
    bills = duty_rows(billed, bill_comm, paper[billed], due, due)
    stated = np.flatnonzero((rng.random(n) < 0.1) & reachable)
    first = rng.integers(0, min(4, days), len(stated))
    statements = duty_rows(
        stated,
        np.full(len(stated), CAT.index["BIL-STATEMENT"]),
        paper[stated],
        first,
        first + rng.integers(2, 4, len(stated)),
    )
    in_collections = states.state == COLLECTIONS
    debtor = states.customer[in_collections]
    low = np.maximum(states.start[in_collections], 0)
    high = np.minimum(np.minimum(states.end[in_collections], days - 1), low + 4)
    paying = rng.beta(6.0, 12.0, len(debtor))  # the chance the letter gets the arrears paid
    letters = duty_rows(
        debtor,
        np.full(len(debtor), CAT.index["COL-ARREARS-LETTER"]),
        np.full(len(debtor), 1 << MAIL),
        low,
        high,
        paying,
    )
    texts = consent_bits[debtor] & ((1 << SMS) | (1 << EMAIL))
    reminded = (rng.random(len(debtor)) < 0.7) & (texts != 0)
    reminders = duty_rows(
        debtor[reminded],
        np.full(int(reminded.sum()), CAT.index["COL-PAYMENT-REMINDER"]),
        texts[reminded],
        low[reminded],
        np.full(int(reminded.sum()), days - 1),
        paying[reminded],
    )
    reminders.value = np.round(CAT.margin[reminders.comm] * reminders.probability / 10, 2)
    return Candidates.concat([bills, statements, letters, reminders])


def number_candidates(rows: Candidates) -> tuple[Candidates, np.ndarray]:
    """Sort by (customer, earliest, comm_id, source) and number each customer's rows from 1."""
    if len(rows.customer) == 0:
        return rows, np.zeros(0, dtype=np.int64)
    offset = rows.earliest.astype(np.int64) - int(rows.earliest.min())
    span_day = int(offset.max()) + 1
    key = rows.customer * span_day + offset
    key = key * len(CATALOGUE) + CAT.id_rank[rows.comm]
    key = key * len(CAT.lines) + rows.source
    ordered = rows.take(np.argsort(key, kind="stable"))
    counts = np.bincount(ordered.customer, minlength=int(ordered.customer.max()) + 1)
    starts = np.cumsum(counts) - counts
    sequence = np.arange(len(ordered.customer), dtype=np.int64) - starts[ordered.customer] + 1
    return ordered, sequence


def draw_candidates(
    rng: np.random.Generator, people: Customers, states: States, horizon: Horizon
) -> tuple[Candidates, np.ndarray]:
    """All proposals of the horizon, sorted and numbered per customer."""
    offers, _ = draw_offers(rng, people, horizon)
    duplicates = draw_duplicates(rng, offers, people, horizon)
    duties = draw_duties(rng, people, states, horizon)
    return number_candidates(Candidates.concat([offers, duplicates, duties]))


# --------------------------------------------------------------------------- history


@dataclass
class History:
    customer: np.ndarray
    comm: np.ndarray
    channel: np.ndarray
    day: np.ndarray


def in_state(states: States, n: int, kinds: Sequence[int], customer: np.ndarray,
             day: np.ndarray) -> np.ndarray:  # fmt: skip
    """Whether each (customer, day) falls in one of the customer's `kinds` states."""
    inside = np.zeros(len(customer), dtype=bool)
    for kind in kinds:
        start, end = states.of_kind(n, kind)
        inside |= (day >= start[customer]) & (day <= end[customer])
    return inside


def draw_history(
    rng: np.random.Generator,
    people: Customers,
    states: States,
    cands: Candidates,
    horizon: Horizon,
) -> History:
    """Sends of the 30 days before the horizon.

    Routine marketing (1.5 a customer, days -30..-8) and service (0.6, any
    day); a recent burst of 2-3 marketing sends in the last week for 15% of
    customers so the rolling cap and the gap bind early; earlier sends of 2%
    of this horizon's marketing proposals so dedup-by-history fires; last
    month's bills (31 days before this one, just outside the dedup window).
    Routine sends avoid messages proposed this horizon, so that only the
    deliberate repeats decide how often dedup-by-history fires. History kept
    the bank's rules: consent and open channels always, no marketing to
    do-not-market customers or during a complaint, collections or bereavement.
    """
    n = people.n
    marketing = np.flatnonzero(CAT.marketing & (CAT.weight > 0))
    service = np.flatnonzero(CAT.service)

    def routine(counts: np.ndarray, pool: np.ndarray, low: int, high: int) -> History:
        customer = np.repeat(np.arange(n, dtype=np.int64), counts)
        m = len(customer)
        day = rng.integers(low, high, m)
        comm = pool[rng.integers(0, len(pool), m)]
        return History(customer, comm, np.zeros(m, dtype=np.int64), day)

    routine_marketing = routine(rng.poisson(1.5, n), marketing, -HISTORY_DAYS, -7)
    routine_service = routine(rng.poisson(0.6, n), service, -HISTORY_DAYS, 0)
    burst = rng.random(n) < 0.15
    burst_first = rng.integers(-7, -4, n)
    burst_count = rng.integers(2, 4, n)
    burst_parts = []
    for j in range(3):
        who = np.flatnonzero(burst & (burst_count > j) & (burst_first + 2 * j < 0))
        comm = marketing[rng.integers(0, len(marketing), len(who))]
        burst_parts.append(
            History(who, comm, np.zeros(len(who), np.int64), burst_first[who] + 2 * j)
        )
    routine_rows = concat_history([routine_marketing, routine_service, *burst_parts])
    proposed = np.zeros((n, CAT.n_messages), dtype=bool)
    proposed[cands.customer, CAT.message[cands.comm]] = True
    fresh = ~proposed[routine_rows.customer, CAT.message[routine_rows.comm]]
    routine_rows = take_history(routine_rows, np.flatnonzero(fresh))

    repeated = np.flatnonzero(CAT.marketing[cands.comm] & (rng.random(len(cands.comm)) < 0.02))
    repeats = History(
        cands.customer[repeated],
        cands.comm[repeated],
        np.zeros(len(repeated), np.int64),
        rng.integers(-25, -2, len(repeated)),
    )
    billed = np.flatnonzero(CAT.bill[cands.comm])
    last_bill = cands.earliest[billed].astype(np.int64) - 31
    past = (last_bill >= -HISTORY_DAYS) & (last_bill < 0)
    billed, last_bill = billed[past], last_bill[past]
    bills = History(cands.customer[billed], cands.comm[billed], np.zeros(len(billed), np.int64),
                    last_bill)  # fmt: skip
    rows = concat_history([routine_rows, repeats, bills])

    blocked = CAT.marketing[rows.comm] & (
        people.do_not_market[rows.customer]
        | in_state(states, n, (COMPLAINT, COLLECTIONS, BEREAVEMENT), rows.customer, rows.day)
    )
    rows = take_history(rows, np.flatnonzero(~blocked))
    # a channel of the comm the customer consents to, open that day, at random
    usable = np.zeros((len(rows.comm), len(CHANNELS)), dtype=bool)
    consent = people.consent
    for channel in range(len(CHANNELS)):
        usable[:, channel] = (
            ((CAT.channel_bits[rows.comm] >> channel) & 1).astype(bool)
            & consent[rows.customer, channel]
            & horizon.open_on(channel, rows.day)
        )
    count = usable.sum(axis=1)
    pick = np.floor(rng.random(len(count)) * count).astype(np.int64)
    rows.channel = np.argmax(np.cumsum(usable, axis=1) > pick[:, None], axis=1).astype(np.int64)
    rows = take_history(rows, np.flatnonzero(count > 0))
    # one row per (customer, day, comm, channel), sorted so customer blocks are contiguous
    key = ((rows.customer * (HISTORY_DAYS + 1) + (rows.day + HISTORY_DAYS)) * len(CATALOGUE)
           + rows.comm) * len(CHANNELS) + rows.channel  # fmt: skip
    _, first = np.unique(key, return_index=True)
    return take_history(rows, first)


def concat_history(parts: Sequence[History]) -> History:
    return History(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("customer", "comm", "channel", "day")))  # fmt: skip


def take_history(rows: History, index: np.ndarray) -> History:
    return History(rows.customer[index], rows.comm[index], rows.channel[index], rows.day[index])


# --------------------------------------------------------------------------- global rule levels


@dataclass(frozen=True)
class RuleLevels:
    """The global rules' levels and the estimates they come from.

    The estimate plans each customer alone with the per-customer rules
    roughly applied: every candidate on its best usable channel (value x
    channel weight - cost, on a day its channel is open and, for marketing,
    not blocked by do-not-market, a state, a bill day, history in the 3-in-7
    cap or the 2-day gap), dedup by message, at most one lending offer, the 3
    best marketing sends by (priority, score), and at most one call.
    """

    call_demand: int
    weekdays: int
    call_seats: int
    marketing_mail: float
    mandatory_mail_only: float
    mandatory_mail_worst: float
    mail_budget: float
    saver_customers: int
    saver_reachable: int
    saver_natural: int
    saver_minimum: int


def marketing_days(
    people: Customers, states: States, cands: Candidates, history: History, horizon: Horizon
) -> np.ndarray:
    """Per customer, the bit mask of horizon days on which marketing may be sent at all."""
    n, days = people.n, horizon.days
    allowed = np.where(people.do_not_market, 0, horizon.every_day).astype(np.int64)
    for kind in (COMPLAINT, COLLECTIONS, BEREAVEMENT):
        start, end = states.of_kind(n, kind)
        allowed &= ~horizon.window_bits(start, end)
    bills = CAT.bill[cands.comm]
    np.bitwise_and.at(
        allowed,
        cands.customer[bills],
        ~horizon.window_bits(cands.earliest[bills], cands.latest[bills]),
    )
    past = CAT.marketing[history.comm]
    for day in range(min(days, 7)):
        recent = past & (history.day >= day - 6)
        full = np.bincount(history.customer[recent], minlength=n) >= 3  # 3-in-7 cap
        yesterday = np.zeros(n, dtype=bool)
        yesterday[history.customer[past & (history.day == day - 1)]] = True  # 2-day gap
        allowed &= ~np.where(full | yesterday, np.int64(1 << day), np.int64(0))
    return allowed


def usable_channels(
    people: Customers, cands: Candidates, allowed_days: np.ndarray, horizon: Horizon
) -> np.ndarray:
    """Bit mask per candidate: listed, consented, and open on a usable day of its window."""
    window = horizon.window_bits(cands.earliest, cands.latest)
    window = np.where(CAT.marketing[cands.comm], window & allowed_days[cands.customer], window)
    consent = people.consent_bits()[cands.customer]
    usable = np.zeros(len(window), dtype=np.int64)
    for channel in range(len(CHANNELS)):
        open_days = window & horizon.open_days(channel)
        usable |= np.where(open_days != 0, cands.channels & consent & (1 << channel), 0)
    return usable


def best_channel(
    people: Customers, cands: Candidates, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The channel the objective prefers for each candidate alone, and its score (-inf: none)."""
    weights = np.where((people.preferred[:, :1] >= 0), OTHER_CHANNEL_WEIGHT, 1.0)
    weights = np.repeat(weights, len(CHANNELS), axis=1)  # (customers, channels)
    for rank, rank_weight in enumerate(PREFERENCE_WEIGHTS):
        ranked = np.flatnonzero(people.preferred[:, rank] >= 0)
        weights[ranked, people.preferred[ranked, rank]] = rank_weight
    columns = np.ascontiguousarray(weights.T)
    best_score = np.full(len(usable), -np.inf)
    best = np.full(len(usable), -1, dtype=np.int8)
    comm_cost = CAT.cost[cands.comm]
    for channel in range(len(CHANNELS)):
        cost = CHANNEL_COST[channel] + comm_cost
        score = cands.value * columns[channel][cands.customer] - COST_WEIGHT * cost
        better = ((usable & (1 << channel)) != 0) & (score > best_score)
        best_score[better] = score[better]
        best[better] = channel
    return best, best_score


def ranking_key(group: np.ndarray, priority: np.ndarray | int, score: np.ndarray) -> np.ndarray:
    """One int64 per row that sorts by group, then priority, then score (best first).

    Scores are compared to 1/1000; closer ties keep row order (the sorts are stable).
    """
    quantum = np.clip(np.round(-score * 1000), -(2**20), 2**20 - 1).astype(np.int64) + 2**20
    return ((group * 16 + priority) << 21) | quantum


def first_of_groups(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Indices of the first row of each group in `key` order (key sorts by group first)."""
    order = np.argsort(key, kind="stable")
    sorted_group = group[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_group[1:] != sorted_group[:-1]
    return order[first]


def rank_in_groups(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Each row's 0-based rank within its group in `key` order (key sorts by group first)."""
    order = np.argsort(key, kind="stable")
    sorted_group = group[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = sorted_group[1:] != sorted_group[:-1]
    starts = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - starts
    return rank


def rule_levels(
    people: Customers, states: States, cands: Candidates, history: History, horizon: Horizon
) -> RuleLevels:
    """Call seats, mail budget and the saver minimum, from the estimated demand.

    - call seats per day: CALL_SEAT_SHARE of the estimated weekday call demand.
    - mail budget: the mandatory sends that can only go by post, plus
      MAIL_MARKETING_SHARE of the estimated marketing mail spend. A mandatory
      send that may also go by email never needs the budget (email is never
      closed and cheaper, and no per-customer rule selects mandatory comms).
    - saver minimum: SAVER_REACH_SHARE of the customers who could receive the
      regular saver at all, and at least halfway between the sends the
      estimate makes on value alone and that reach, so it binds.
    """
    n = people.n
    allowed_days = marketing_days(people, states, cands, history, horizon)
    usable = usable_channels(people, cands, allowed_days, horizon)
    channel, score = best_channel(people, cands, usable)
    mandatory = CAT.mandatory[cands.comm]
    live = np.flatnonzero((channel >= 0) & ((score > 0) | mandatory))
    # dedup by message: the best (priority, score) candidate of each customer's message
    group = cands.customer[live] * CAT.n_messages + CAT.message[cands.comm[live]]
    priority = CAT.priority[cands.comm[live]]
    live = live[first_of_groups(group, ranking_key(group, priority, score[live]))]
    # one lending offer, then the 3 best marketing sends
    lending = live[CAT.lending[cands.comm[live]]]
    owner = cands.customer[lending]
    best_lending = lending[first_of_groups(owner, ranking_key(owner, 0, score[lending]))]
    live = np.sort(np.concatenate([live[~CAT.lending[cands.comm[live]]], best_lending]))
    market = live[CAT.marketing[cands.comm[live]]]
    owner = cands.customer[market]
    key = ranking_key(owner, CAT.priority[cands.comm[market]], score[market])
    top = market[rank_in_groups(owner, key) < 3]
    sends = np.sort(np.concatenate([live[~CAT.marketing[cands.comm[live]]], top]))
    send_channel = channel[sends]
    calls = np.unique(cands.customer[sends][send_channel == CALL])  # at most one call each
    mail = sends[(send_channel == MAIL) & CAT.marketing[cands.comm[sends]]]
    marketing_mail = float((CHANNEL_COST[MAIL] + CAT.cost[cands.comm[mail]]).sum())
    duty = np.flatnonzero(mandatory & ((usable & (1 << MAIL)) != 0))
    duty_cost = CHANNEL_COST[MAIL] + CAT.cost[cands.comm[duty]]
    mail_only = usable[duty] == (1 << MAIL)
    only = float(duty_cost[mail_only].sum())
    worst = float(duty_cost.sum())
    weekdays = bin(horizon.open_days(CALL)).count("1")
    # the saver: who is proposed it, who could get it (not repeated from history), who would
    saver = CAT.index[SAVER_CAMPAIGN]
    proposed = cands.comm == saver
    sent_before = np.zeros(n, dtype=bool)
    sent_before[history.customer[(history.comm == saver) & (history.day > -DEDUP_WINDOW)]] = True
    reach = np.unique(cands.customer[proposed & (usable != 0)])
    reach = reach[~sent_before[reach]]
    natural = np.unique(cands.customer[sends][cands.comm[sends] == saver])
    natural = natural[~sent_before[natural]]
    minimum = max(
        math.ceil(SAVER_REACH_SHARE * len(reach)),
        math.ceil((len(natural) + len(reach)) / 2),
    )
    return RuleLevels(
        call_demand=len(calls),
        weekdays=weekdays,
        call_seats=max(1, math.floor(CALL_SEAT_SHARE * len(calls) / weekdays)),
        marketing_mail=round(marketing_mail, 2),
        mandatory_mail_only=round(only, 2),
        mandatory_mail_worst=round(worst, 2),
        mail_budget=math.ceil((only + MAIL_MARKETING_SHARE * marketing_mail) * 100) / 100,
        saver_customers=len(np.unique(cands.customer[proposed])),
        saver_reachable=len(reach),
        saver_natural=len(natural),
        saver_minimum=minimum,
    )


# --------------------------------------------------------------------------- checks


def check_generated(
    people: Customers, states: States, cands: Candidates, history: History, horizon: Horizon
) -> None:
    """Fail loudly if the generator broke the contract it promises.

    Every mandatory candidate must be sendable (consent, an open channel, a day
    in the horizon) and not blocked by dedup with history, and no customer may
    hold the same mandatory message twice: a mandatory send that cannot be
    made fails the whole run, it is not a suppression.
    """
    n = people.n
    assert (cands.earliest <= cands.latest).all()
    assert (cands.channels > 0).all() and (cands.channels < (1 << len(CHANNELS))).all()
    assert (history.day < 0).all() and (history.day >= -HISTORY_DAYS).all()
    duty = np.flatnonzero(CAT.mandatory[cands.comm])
    usable = usable_channels(people, cands.take(duty), np.zeros(n, np.int64), horizon)
    assert (usable != 0).all(), "a mandatory candidate cannot be sent"
    key = cands.customer[duty] * len(CATALOGUE) + cands.comm[duty]
    assert len(np.unique(key)) == len(key), "two mandatory candidates of one message"
    # history of a mandatory message lies at least DEDUP_WINDOW days before its window
    last = np.full(n * len(CATALOGUE), -(10**6), dtype=np.int64)
    past = CAT.mandatory[history.comm]
    np.maximum.at(last, history.customer[past] * len(CATALOGUE) + history.comm[past],
                  history.day[past])  # fmt: skip
    first_day = np.maximum(cands.earliest[duty], 0)
    assert (first_day - last[key] >= DEDUP_WINDOW).all(), "history blocks a mandatory send"


# --------------------------------------------------------------------------- writing


def id_bytes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """(rows, len(prefix) + width) uint8 matrix of `prefix` + zero-padded numbers."""
    out = np.empty((len(numbers), len(prefix) + width), dtype=np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    rest = numbers.astype(np.int64)
    for column in range(len(prefix) + width - 1, len(prefix) - 1, -1):
        out[:, column] = rest % 10 + ord("0")
        rest = rest // 10
    assert (rest == 0).all(), "number too wide for its id"
    return out


def text_column(matrix: np.ndarray) -> pa.Array:
    """An Arrow string column from a (rows, width) uint8 matrix of fixed-width text."""
    rows, width = matrix.shape
    data = np.ascontiguousarray(matrix).reshape(-1)
    if rows * width < 2**31 - 1:
        offsets = np.arange(rows + 1, dtype=np.int32) * np.int32(width)
        kind = pa.string()
    else:
        offsets = np.arange(rows + 1, dtype=np.int64) * width
        kind = pa.large_string()
    return pa.Array.from_buffers(kind, rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def labels(words: Sequence[str], codes: np.ndarray) -> pa.Array:
    """Column of `words[code]`, dictionary-encoded as Parquet stores it anyway.

    Files are written without the Arrow schema, so readers get plain strings.
    """
    dictionary = pa.array(list(words), type=pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), dictionary)


def channel_words() -> list[str]:
    return ["|".join(c for i, c in enumerate(CHANNELS) if mask >> i & 1)
            for mask in range(1 << len(CHANNELS))]  # fmt: skip


def date_column(offsets: np.ndarray, horizon: Horizon, empty: np.ndarray | None = None) -> pa.Array:
    """ISO dates of day offsets, dictionary-encoded; rows flagged `empty` are null."""
    shown = offsets if empty is None else offsets[~empty]
    low = int(shown.min()) if len(shown) else 0
    high = int(shown.max()) if len(shown) else 0
    dictionary = pa.array([horizon.iso(d) for d in range(low, high + 1)], type=pa.string())
    codes = np.clip(offsets - low, 0, high - low).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=empty), dictionary)


def customers_table(people: Customers, ids: pa.Array) -> pa.Table:
    """The customers table (section 1.1)."""
    codes = np.where(people.preferred >= 0, people.preferred.astype(np.int64) + 1, 0)
    code = (codes[:, 0] * 6 + codes[:, 1]) * 6 + codes[:, 2]
    unique, inverse = np.unique(code, return_inverse=True)
    words = []
    for value in unique:
        digits = (int(value) // 36, int(value) // 6 % 6, int(value) % 6)
        words.append("|".join(CHANNELS[d - 1] for d in digits if d))
    columns: dict[str, pa.Array] = {
        "customer_id": ids,
        "segment": labels(SEGMENTS, people.segment),
        "region": labels(REGIONS, people.region),
        "age_band": labels(AGE_BANDS, people.age),
        "do_not_market": pa.array(people.do_not_market, type=pa.bool_()),
    }
    for channel, name in enumerate(CHANNELS):
        columns[f"consent_{name}"] = pa.array(
            people.consent_value[:, channel], mask=people.consent_empty[:, channel],
            type=pa.bool_(),
        )  # fmt: skip
    columns["preferred_channels"] = labels(words, inverse.reshape(-1))
    return pa.table(columns)


def candidates_table(
    cands: Candidates, sequence: np.ndarray, id_matrix: np.ndarray, horizon: Horizon
) -> pa.Table:
    """The candidates table (section 1.3): ids `<customer_id>-NNN`, dates as ISO text."""
    width = max(3, len(str(int(sequence.max())))) if len(sequence) else 3
    customer_text = id_matrix[cands.customer]
    matrix = np.concatenate([customer_text, id_bytes("-", sequence, width)], axis=1)
    return pa.table(
        {
            "candidate_id": text_column(matrix),
            "customer_id": text_column(customer_text),
            "comm_id": labels(CAT.ids, cands.comm),
            "channels": labels(channel_words(), cands.channels),
            "earliest": date_column(cands.earliest, horizon),
            "latest": date_column(cands.latest, horizon),
            "value": pa.array(cands.value, type=pa.float64()),
            "source": labels(CAT.lines, cands.source),
            "response_probability": pa.array(cands.probability, type=pa.float64()),
        }
    )


def history_table(history: History, id_matrix: np.ndarray, horizon: Horizon) -> pa.Table:
    """The history table (section 1.4)."""
    return pa.table(
        {
            "customer_id": text_column(id_matrix[history.customer]),
            "comm_id": labels(CAT.ids, history.comm),
            "channel": labels(CHANNELS, history.channel),
            "date": date_column(history.day, horizon),
        }
    )


def states_table(states: States, id_matrix: np.ndarray, horizon: Horizon) -> pa.Table:
    """The states table (section 1.5); an open-ended state has an empty (null) `end`."""
    open_ended = states.end == States.OPEN
    return pa.table(
        {
            "customer_id": text_column(id_matrix[states.customer]),
            "state": labels(STATES, states.state),
            "start": date_column(states.start, horizon),
            "end": date_column(states.end, horizon, empty=open_ended),
        }
    )


def write_parquet(table: pa.Table, path: Path) -> None:
    """Fixed writer settings: the same table always gives the same bytes.

    No Arrow schema is stored, so dictionary-encoded label columns read back as
    plain strings; unique ids are not dictionary-encoded (it would not pay).
    """
    pq.write_table(
        table,
        path,
        row_group_size=1 << 20,
        compression="zstd",
        compression_level=3,
        use_dictionary=[name for name in table.column_names if name != "candidate_id"],
        write_statistics=True,
        version="2.6",
        data_page_version="1.0",
        store_schema=False,
    )


# --------------------------------------------------------------------------- scenario.yaml

YAML = """\
# Generated by `contact-plan generate --customers {customers} --seed {seed}{days_flag}{parts_flag}`
# (models/generate.py): synthetic data; regenerate it rather than edit it.
name: Synthetic retail bank, {customers:,} customers (seed {seed})
horizon: {{start: {start}, days: {days}}}
data:{partition_note}
  customers: customers.parquet
  communications: communications.csv
  candidates: candidates.parquet
  history: history.parquet
  states: states.parquet
channels:
{channels}
rules:
  # Contact pressure: no more than 3 promotions in any 7 days, never on
  # consecutive days (d2 - d1 < 2 is forbidden). History counts.
  - frequency_cap:
      name: marketing-3-per-7-days
      select: {{categories: [marketing]}}
      max: 3
      window_days: 7
  - min_gap:
      name: marketing-2-day-gap
      first: {{categories: [marketing]}}
      then: {{categories: [marketing]}}
      days: 2
  # Optional contacts (promotions and service) per calendar week, Monday to Sunday.
  - frequency_cap:
      name: optional-contacts-4-per-week
      select: {{categories: [marketing, service]}}
      max: 4
      period: week
  # One phone call per customer in the whole plan, sales or service.
  - frequency_cap:
      name: one-call-per-plan
      select: {{channels: [call]}}
      max: 1
      period: horizon
  # No promotions during a complaint, collections or bereavement.
  - exclusion:
      name: no-marketing-in-sensitive-states
      select: {{categories: [marketing]}}
      states: [complaint, collections, bereavement]
  - exclusion:
      name: do-not-market
      select: {{categories: [marketing]}}
      customers: {{do_not_market: true}}
  # A bill and a sales pitch on the same day reads badly.
  - exclusion:
      name: no-marketing-on-bill-day
      select: {{categories: [marketing]}}
      around: {{tags: [bill]}}
      days_before: 0
      days_after: 0
  # Two lending offers (loans or mortgages) in one week look desperate.
  - never_together:
      name: one-lending-offer-per-week
      select: {{product_lines: [loans, mortgages]}}
      window_days: 7
  # Call-centre seats. The estimate plans {call_demand:,} calls (at most one per customer),
  # {call_per_day:,.1f} a day over {weekdays} open weekdays.
  # Seats a day = floor({seat_share} x {call_demand:,} / {weekdays}) = {call_seats:,}.
  - capacity:
      name: call-centre-seats
      select: {{channels: [call]}}
      max: {call_seats}
      per: day
  # Postage. Mandatory letters that can only go by post: {mail_only:,.2f}. Every mandatory
  # send that may go by post: {mail_worst:,.2f}; the rest can go by email, which is cheaper.
  # Estimated marketing mail: {marketing_mail:,.2f}.
  # Budget = {mail_only:,.2f} + {mail_share} x {marketing_mail:,.2f}
  #        = {mail_budget:,.2f} (rounded up to the cent).
  - budget:
      name: mail-budget
      select: {{channels: [mail]}}
      max: {mail_budget}
  # Savings wants its regular saver to reach enough customers. It is proposed to
  # {saver_customers:,} customers; {saver_reachable:,} can receive it at all;
  # about {saver_natural:,} would get it on value alone.
  # Minimum = max(ceil({saver_share} x {saver_reachable:,}),
  #               ceil(({saver_natural:,} + {saver_reachable:,}) / 2)) = {saver_minimum:,}.
  # Soft: {saver_penalty} per send short of it.
  - volume:
      name: regular-saver-minimum
      select: {{comm_ids: [{saver}]}}
      min: {saver_minimum}
      metric: count
      soft: {{penalty: {saver_penalty}}}
dedup: {{window_days: {dedup_window}}}
objective:
  cost_weight: {cost_weight}
  channel_preference: {{weights: [{preference_weights}], others: {other_weight}}}
solver: {{time_limit_s: 60, seed: 0}}
"""


def scenario_yaml(
    customers: int, seed: int, horizon: Horizon, levels: RuleLevels, partitions: int | None
) -> str:
    channels = []
    for channel, name in enumerate(CHANNELS):
        closed = CLOSED_WEEKDAYS.get(channel, ())
        shut = f", closed: [{', '.join(WEEKDAY_NAMES[d] for d in closed)}]" if closed else ""
        channels.append(f"  {name}: {{cost: {CHANNEL_COST[channel]}{shut}}}")
    note = ""
    if partitions is not None:
        note = (
            f"\n  # Also written as {partitions} part files per table, one block of customers"
            "\n  # each (customers/part-00000.parquet, ...; manifest.json): a planned extension,"
            "\n  # see docs/scenario-extensions.md. The loader reads the single files below."
        )
    return YAML.format(
        customers=customers,
        seed=seed,
        days_flag="" if horizon.days == 7 else f" --days {horizon.days}",
        parts_flag="" if partitions is None else f" --partitions {partitions}",
        partition_note=note,
        start=horizon.start.isoformat(),
        days=horizon.days,
        channels="\n".join(channels),
        call_demand=levels.call_demand,
        call_per_day=levels.call_demand / levels.weekdays,
        weekdays=levels.weekdays,
        seat_share=CALL_SEAT_SHARE,
        call_seats=levels.call_seats,
        mail_only=levels.mandatory_mail_only,
        mail_worst=levels.mandatory_mail_worst,
        marketing_mail=levels.marketing_mail,
        mail_share=MAIL_MARKETING_SHARE,
        mail_budget=levels.mail_budget,
        saver_customers=levels.saver_customers,
        saver_reachable=levels.saver_reachable,
        saver_natural=levels.saver_natural,
        saver_share=SAVER_REACH_SHARE,
        saver_minimum=levels.saver_minimum,
        saver=SAVER_CAMPAIGN,
        saver_penalty=SAVER_PENALTY,
        dedup_window=DEDUP_WINDOW,
        cost_weight=COST_WEIGHT,
        preference_weights=", ".join(str(w) for w in PREFERENCE_WEIGHTS),
        other_weight=OTHER_CHANNEL_WEIGHT,
    )


# --------------------------------------------------------------------------- entry point


def generate_scenario(
    customers: int, seed: int, out: Path, *, days: int = 7, partitions: int | None = None
) -> Path:
    """Write a synthetic scenario of `customers` customers to the folder `out`; return it.

    The same `customers`, `seed`, `days` and `partitions` give byte-identical
    files. Tables are Parquet (the catalogue is CSV). With `partitions` P the
    customers, candidates, history and states are also written as P part files
    each (`<table>/part-00000.parquet`, ...), customer block b holding
    customers [b*N//P, (b+1)*N//P); `manifest.json` lists the blocks. `out`
    must not exist or be empty; it is written whole or not at all.
    """
    if isinstance(customers, bool) or not isinstance(customers, int) or customers < 1:
        raise ValueError(f"customers must be a positive integer, got {customers!r}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, got {days}")
    if partitions is not None and not 1 <= partitions <= customers:
        raise ValueError(f"partitions must be between 1 and {customers}, got {partitions}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder; refusing to overwrite")

    rng = np.random.default_rng(seed)
    horizon = Horizon(START, days)
    people = draw_customers(rng, customers)
    states = draw_states(rng, customers, horizon)
    collections = states.customer[states.state == COLLECTIONS]
    # arrears letters go by post under a legal duty: record mail consent for those customers
    people.consent_value[collections, MAIL] = True
    people.consent_empty[collections, MAIL] = False
    cands, sequence = draw_candidates(rng, people, states, horizon)
    history = draw_history(rng, people, states, cands, horizon)
    check_generated(people, states, cands, history, horizon)
    levels = rule_levels(people, states, cands, history, horizon)

    width = max(6, len(str(customers)))
    id_matrix = id_bytes("C", np.arange(1, customers + 1), width)
    tables = {
        "customers": customers_table(people, text_column(id_matrix)),
        "candidates": candidates_table(cands, sequence, id_matrix, horizon),
        "history": history_table(history, id_matrix, horizon),
        "states": states_table(states, id_matrix, horizon),
    }
    row_customers = {
        "customers": np.arange(customers),
        "candidates": cands.customer,
        "history": history.customer,
        "states": states.customer,
    }
    text = scenario_yaml(customers, seed, horizon, levels, partitions)

    def write(folder: Path) -> None:
        for name, table in tables.items():
            write_parquet(table, folder / f"{name}.parquet")
        CAT.table().to_csv(folder / "communications.csv", index=False, lineterminator="\n")
        (folder / "scenario.yaml").write_text(text, encoding="utf-8")
        manifest = {
            "generator": "models.generate",
            "customers": customers,
            "seed": seed,
            "days": days,
            "rows": {name: table.num_rows for name, table in tables.items()},
            "levels": asdict(levels),
            "partitions": None,
        }
        if partitions is not None:
            manifest["partitions"] = write_parts(
                folder, tables, row_customers, customers, partitions
            )
        (folder / "manifest.json").write_text(
            json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
        )

    write_atomically(out, write)
    return out


def write_parts(
    folder: Path,
    tables: dict[str, pa.Table],
    row_customers: dict[str, np.ndarray],
    customers: int,
    partitions: int,
) -> list[dict[str, object]]:
    """Write each table as `partitions` part files by customer block; return the block list.

    Rows of every table are sorted by customer, so a block is a contiguous slice.
    """
    bounds = (np.arange(partitions + 1, dtype=np.int64) * customers) // partitions
    blocks: list[dict[str, object]] = []
    for name, table in tables.items():
        (folder / name).mkdir()
        cuts = np.searchsorted(row_customers[name], bounds, side="left")
        for part in range(partitions):
            low, high = int(cuts[part]), int(cuts[part + 1])
            write_parquet(table.slice(low, high - low), folder / name / f"part-{part:05d}.parquet")
    ids = tables["customers"].column("customer_id")
    for part in range(partitions):
        low, high = int(bounds[part]), int(bounds[part + 1])
        blocks.append(
            {
                "part": f"part-{part:05d}.parquet",
                "first_customer": ids[low].as_py(),
                "last_customer": ids[high - 1].as_py(),
                "customers": high - low,
            }
        )
    return blocks


def write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Build the folder next to `out` and rename it into place when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write(building)
        building.chmod(0o755)  # mkdtemp makes it private; a scenario is an ordinary folder
        os.replace(building, out)  # also takes the place of an existing empty folder
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
