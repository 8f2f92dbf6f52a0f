"""Generate the two bundled example scenarios (scenario format version 1).

Run from the repository root::

    python scenarios/make_scenarios.py

It rewrites ``scenarios/retail_bank_week/`` and ``scenarios/b2b_product_silos/``
from scratch. Every random draw comes from a ``numpy.random.default_rng`` with a
fixed seed, so the folders are byte-identical on every run (Parquet files carry
the pyarrow version in their footer, so they are identical for one installation).

The data is synthetic but shaped like a real bank's: product teams (silos) each
propose contacts without seeing the others', so the same customer is offered
too much, the same offer arrives from two teams, and mandatory bills and letters
compete with promotions. The levels of the global rules (call seats, mail
budget, campaign minimum) are derived from the generated data so that they
bind; the numbers behind them are written as comments in each scenario.yaml.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import string
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
MAX_CSV_BYTES = 1_500_000  # larger tables are written as Parquet to keep the repo light
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PREFERENCE_WEIGHTS = (1.0, 0.9, 0.8)  # the objective's channel_preference, used in estimates
OTHER_CHANNEL_WEIGHT = 0.7

Row = dict[str, Any]


# --------------------------------------------------------------------------- building blocks


@dataclass(frozen=True)
class Horizon:
    """The planned calendar; internally days are offsets from `start` (day 0)."""

    start: dt.date
    days: int

    def iso(self, day: int) -> str:
        return (self.start + dt.timedelta(days=day)).isoformat()

    def weekday(self, day: int) -> str:
        return WEEKDAYS[(self.start + dt.timedelta(days=day)).weekday()]

    def clip(self, earliest: int, latest: int) -> range:
        """The horizon days of an inclusive window (empty if it lies outside)."""
        return range(max(earliest, 0), min(latest, self.days - 1) + 1)


@dataclass(frozen=True)
class Channel:
    """A channel as scenario.yaml declares it."""

    name: str
    cost: float
    closed: tuple[str, ...] = ()  # weekday names

    def open_on(self, horizon: Horizon, day: int) -> bool:
        return horizon.weekday(day) not in self.closed

    def yaml(self) -> str:
        closed = f", closed: [{', '.join(self.closed)}]" if self.closed else ""
        return f"{{cost: {self.cost}{closed}}}"


@dataclass(frozen=True)
class Comm:
    """One catalogue row plus what the generator needs to propose it.

    `channels` are the channels a team may propose it on (candidates pick 1-3 of
    them); `margin` is the value of a response, so a candidate's value is
    margin x response probability; `weight` is how often teams propose it.
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

    @property
    def message_key(self) -> str:
        """What dedup treats as "the same message"."""
        return self.dedup_key or self.comm_id


def catalogue_table(catalogue: Sequence[Comm]) -> pd.DataFrame:
    """The communications table of the spec (section 1.2)."""
    return pd.DataFrame(
        {
            "comm_id": [c.comm_id for c in catalogue],
            "product_line": [c.product_line for c in catalogue],
            "category": [c.category for c in catalogue],
            "priority": [c.priority for c in catalogue],
            "mandatory": [c.mandatory for c in catalogue],
            "dedup_key": [c.dedup_key for c in catalogue],
            "tags": ["|".join(c.tags) for c in catalogue],
            "cost": [c.cost for c in catalogue],
        }
    )


def draw_consent(rng: np.random.Generator, p_true: np.ndarray, p_missing: float) -> pd.Series:
    """Consent flags with realistic gaps: True, False, or an empty cell (= no consent)."""
    u = rng.random(len(p_true))
    cells: list[bool | None] = [
        None if x >= 1.0 - p_missing else bool(x < t) for x, t in zip(u, p_true, strict=True)
    ]
    return pd.Series(pd.array(cells, dtype="boolean"))


def consented_channels(customers: pd.DataFrame, channels: Iterable[str]) -> dict[str, set[str]]:
    """customer_id -> channels with consent (an empty cell is no consent)."""
    result: dict[str, set[str]] = {cid: set() for cid in customers["customer_id"]}
    for name in channels:
        flags = customers[f"consent_{name}"].fillna(False).astype(bool)
        for cid in customers.loc[flags, "customer_id"]:
            result[cid].add(name)
    return result


def preferred_channels(customers: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    return {
        cid: tuple(text.split("|")) if text else ()
        for cid, text in zip(customers["customer_id"], customers["preferred_channels"], strict=True)
    }


def draw_preferences(
    rng: np.random.Generator,
    consented: Sequence[str],
    affinity: dict[str, float],
    share: float,
) -> str:
    """A ranked `|`-list of 1-3 consented channels for `share` of customers, else empty."""
    if not consented or rng.random() >= share:
        return ""
    weights = np.array([affinity[c] for c in consented])
    size = int(rng.integers(1, min(3, len(consented)) + 1))
    order = rng.choice(len(consented), size=size, replace=False, p=weights / weights.sum())
    return "|".join(consented[i] for i in order)


def pick_channels(
    rng: np.random.Generator, comm: Comm, value: float, call_lead: float
) -> tuple[str, ...]:
    """The channels a team allows for one proposal.

    High-value leads are routed to the call centre (call only); some marketing
    goes out as direct-mail packs (mail only); otherwise each of the comm's
    channels is kept with probability 3/4. Without these routings calls and
    letters would never beat cheaper email, and the call and mail rules
    would have nothing to ration.
    """
    if "call" in comm.channels and value >= call_lead and rng.random() < 0.5:
        return ("call",)
    if "mail" in comm.channels and comm.category == "marketing" and rng.random() < 0.2:
        return ("mail",)
    kept = tuple(c for c in comm.channels if rng.random() < 0.75)
    return kept or (comm.channels[int(rng.integers(len(comm.channels)))],)


def draw_window(
    rng: np.random.Generator, horizon: Horizon, first: int, lengths: tuple[int, int]
) -> tuple[int, int]:
    """An inclusive window starting in [first, last day], often spilling past the horizon.

    One in a hundred lies entirely outside it, to exercise that suppression.
    """
    if rng.random() < 0.01:
        if rng.random() < 0.5:
            end = int(rng.integers(-6, 0))
            return end - int(rng.integers(0, 3)), end
        begin = horizon.days + int(rng.integers(0, 4))
        return begin, begin + int(rng.integers(0, 3))
    earliest = int(rng.integers(first, horizon.days))
    return earliest, earliest + int(rng.integers(lengths[0], lengths[1] + 1)) - 1


def channel_weight(preferred: Sequence[str], channel: str) -> float:
    """The objective's channel weight (spec section 4)."""
    if not preferred:
        return 1.0
    if channel not in preferred:
        return OTHER_CHANNEL_WEIGHT
    rank = preferred.index(channel)
    return PREFERENCE_WEIGHTS[rank] if rank < len(PREFERENCE_WEIGHTS) else OTHER_CHANNEL_WEIGHT


def best_channel(
    candidate: Row,
    comm: Comm,
    consent: set[str],
    preferred: Sequence[str],
    days: Iterable[int],
    channels: dict[str, Channel],
    horizon: Horizon,
) -> tuple[float, str] | None:
    """The channel the objective would pick for a candidate, ignoring other sends.

    Used only to estimate demand for the global rules' levels.
    """
    open_days = list(days)
    best: tuple[float, str] | None = None
    for name in candidate["channels"].split("|"):
        if name not in consent or not any(channels[name].open_on(horizon, d) for d in open_days):
            continue
        score = candidate["value"] * channel_weight(preferred, name)
        score -= channels[name].cost + comm.cost
        if best is None or score > best[0]:
            best = (score, name)
    return best


def number_candidates(rows: list[Row]) -> list[Row]:
    """Sort proposals per customer and give them ids `<customer_id>-NN`."""
    rows = sorted(rows, key=lambda r: (r["customer_id"], r["earliest"], r["comm_id"], r["source"]))
    counter: dict[str, int] = defaultdict(int)
    for row in rows:
        counter[row["customer_id"]] += 1
        row["candidate_id"] = f"{row['customer_id']}-{counter[row['customer_id']]:02d}"
    assert max(counter.values()) < 100, "candidate numbers must keep two digits"
    return rows


def candidates_table(rows: list[Row], horizon: Horizon) -> pd.DataFrame:
    """The candidates table of the spec (section 1.3), dates as ISO text."""
    return pd.DataFrame(
        {
            "candidate_id": [r["candidate_id"] for r in rows],
            "customer_id": [r["customer_id"] for r in rows],
            "comm_id": [r["comm_id"] for r in rows],
            "channels": [r["channels"] for r in rows],
            "earliest": [horizon.iso(r["earliest"]) for r in rows],
            "latest": [horizon.iso(r["latest"]) for r in rows],
            "value": [r["value"] for r in rows],
            "source": [r["source"] for r in rows],
            "response_probability": [r["response_probability"] for r in rows],
        }
    )


def history_table(rows: list[Row], horizon: Horizon) -> pd.DataFrame:
    """The history table (section 1.4): one row per past send, sorted by date."""
    unique = {(r["day"], r["customer_id"], r["comm_id"], r["channel"]) for r in rows}
    ordered = sorted(unique)
    return pd.DataFrame(
        {
            "customer_id": [u[1] for u in ordered],
            "comm_id": [u[2] for u in ordered],
            "channel": [u[3] for u in ordered],
            "date": [horizon.iso(u[0]) for u in ordered],
        }
    )


def states_table(rows: list[Row], horizon: Horizon) -> pd.DataFrame:
    """The states table (section 1.5); an open-ended state has an empty `end`."""
    rows = sorted(rows, key=lambda r: (r["customer_id"], r["state"], r["start"]))
    return pd.DataFrame(
        {
            "customer_id": [r["customer_id"] for r in rows],
            "state": [r["state"] for r in rows],
            "start": [horizon.iso(r["start"]) for r in rows],
            "end": ["" if r["end"] is None else horizon.iso(r["end"]) for r in rows],
        }
    )


def state_days(states: list[Row], names: set[str], horizon: Horizon) -> dict[str, set[int]]:
    """customer_id -> horizon days on which the customer is in one of `names`."""
    days: dict[str, set[int]] = defaultdict(set)
    for s in states:
        if s["state"] in names:
            end = horizon.days - 1 if s["end"] is None else s["end"]
            days[s["customer_id"]].update(horizon.clip(s["start"], end))
    return days


def write_table(frame: pd.DataFrame, folder: Path, stem: str) -> str:
    """Write CSV, or Parquet when the CSV would exceed MAX_CSV_BYTES; return the file name."""
    text = frame.to_csv(index=False, lineterminator="\n")
    if len(text.encode()) <= MAX_CSV_BYTES:
        (folder / f"{stem}.csv").write_text(text, encoding="utf-8")
        return f"{stem}.csv"
    frame.to_parquet(folder / f"{stem}.parquet", index=False, engine="pyarrow", compression="zstd")
    return f"{stem}.parquet"


def fresh_folder(name: str) -> Path:
    """The scenario folder, emptied: it holds generated files only."""
    folder = HERE / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def check_tables(
    customers: pd.DataFrame,
    catalogue: Sequence[Comm],
    candidates: pd.DataFrame,
    history: pd.DataFrame,
    channels: dict[str, Channel],
    horizon: Horizon,
) -> None:
    """Fail loudly if the generator produced data that breaks the contract.

    In particular every mandatory candidate must be sendable (consent, an open
    channel, a day in the horizon), because the optimiser treats a mandatory
    send that cannot be made as a failed run, not a suppression.
    """
    comms = {c.comm_id: c for c in catalogue}
    assert customers["customer_id"].is_unique
    assert candidates["candidate_id"].is_unique
    assert candidates["customer_id"].isin(customers["customer_id"]).all()
    assert candidates["comm_id"].isin(list(comms)).all()
    assert history["comm_id"].isin(list(comms)).all()
    assert history["customer_id"].isin(customers["customer_id"]).all()
    assert (history["date"] < horizon.iso(0)).all()
    assert (candidates["earliest"] <= candidates["latest"]).all()
    for text in candidates["channels"]:
        assert set(text.split("|")) <= set(channels), text
    consent = consented_channels(customers, channels)
    mandatory = candidates[candidates["comm_id"].map(lambda c: comms[c].mandatory)]
    keys = mandatory["customer_id"] + "/" + mandatory["comm_id"]
    assert keys.is_unique, "two mandatory candidates of one message: dedup would drop one"
    for row in mandatory.to_dict("records"):
        first = (dt.date.fromisoformat(row["earliest"]) - horizon.start).days
        last = (dt.date.fromisoformat(row["latest"]) - horizon.start).days
        assert any(
            name in consent[row["customer_id"]] and channels[name].open_on(horizon, day)
            for name in row["channels"].split("|")
            for day in horizon.clip(first, last)
        ), f"mandatory candidate {row['candidate_id']} cannot be sent"


def nice_floor(x: float, step: int) -> int:
    return int(math.floor(x / step) * step)


def nice_ceil(x: float, step: int) -> int:
    return int(math.ceil(x / step) * step)


# --------------------------------------------------------------------------- retail bank week

RETAIL_SEED = 20261123
RETAIL_HORIZON = Horizon(dt.date(2026, 11, 23), 7)
RETAIL_CUSTOMERS = 5000
RETAIL_CHANNELS = {
    "email": Channel("email", 0.001),
    "sms": Channel("sms", 0.03),
    "push": Channel("push", 0.0),
    "call": Channel("call", 4.5, ("sat", "sun")),
    "mail": Channel("mail", 0.6),
}
SAVER_CAMPAIGN = "SAV-REGULAR-SAVER"  # the campaign with a minimum volume

# Comm(comm_id, product_line, category, priority, channels, margin, weight, ...)
RETAIL_CATALOGUE = (
    # cards team
    Comm("CRD-CASHBACK", "cards", "marketing", 3, ("email", "mail", "push"), 220, 1.2,
         dedup_key="offer-cashback-card", tags=("card", "cashback")),
    Comm("CRD-BALANCE-TRANSFER", "cards", "marketing", 3, ("email", "mail", "sms"), 260,
         tags=("card", "balance_transfer")),
    Comm("CRD-LIMIT-INCREASE", "cards", "marketing", 4, ("email", "sms", "push"), 90,
         tags=("card", "credit_limit")),
    Comm("CRD-TRAVEL", "cards", "marketing", 4, ("email", "push"), 120, 0.8,
         tags=("card", "travel")),
    # loans team: two loan offers in one week look desperate (never_together)
    Comm("LNS-PERSONAL-LOAN", "loans", "marketing", 3, ("email", "call", "mail"), 420,
         tags=("loan", "personal_loan")),
    Comm("LNS-CAR-FINANCE", "loans", "marketing", 3, ("email", "mail", "call"), 380, 0.8,
         tags=("loan", "car")),
    Comm("LNS-HOME-IMPROVEMENT", "loans", "marketing", 4, ("email", "mail"), 300, 0.7,
         tags=("loan", "home")),
    Comm("LNS-REMORTGAGE", "loans", "marketing", 3, ("call", "mail", "email"), 700, 0.5,
         tags=("loan", "mortgage")),
    # savings team; the regular saver is cheap to sell and low in value, hence its minimum
    Comm("SAV-FIXED-BOND", "savings", "marketing", 3, ("email", "mail", "call"), 260,
         tags=("savings", "fixed_bond")),
    Comm(SAVER_CAMPAIGN, "savings", "marketing", 4, ("email", "push", "sms"), 40, 1.0,
         tags=("savings", "regular_saver")),
    Comm("SAV-ISA", "savings", "marketing", 3, ("email", "mail"), 200,
         dedup_key="offer-isa", tags=("savings", "isa")),
    # insurance team
    Comm("INS-HOME", "insurance", "marketing", 3, ("email", "mail", "call"), 240,
         tags=("insurance", "home")),
    Comm("INS-TRAVEL", "insurance", "marketing", 4, ("email", "sms"), 90,
         dedup_key="offer-travel-insurance", tags=("insurance", "travel")),
    Comm("INS-LIFE", "insurance", "marketing", 3, ("call", "mail"), 500, 0.6,
         tags=("insurance", "life")),
    # customer service
    Comm("SVC-CARD-EXPIRY", "customer_service", "service", 2, ("sms", "email"), 30, 0.8,
         tags=("card", "expiry")),
    Comm("SVC-APP-SECURITY", "customer_service", "service", 2, ("push", "email"), 15, 0.8,
         tags=("app", "security")),
    Comm("SVC-ACCOUNT-REVIEW", "customer_service", "service", 2, ("call",), 150, 0.6,
         tags=("review",)),
    # billing: bills on their due day, statements within a few days; both mandatory
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
    # digital team: its own versions of other teams' offers, same dedup keys
    Comm("DIG-CASHBACK-CARD", "digital", "marketing", 4, ("email", "push"), 200, 0.6,
         dedup_key="offer-cashback-card", tags=("card", "cashback")),
    Comm("DIG-ISA-PUSH", "digital", "marketing", 4, ("push", "email"), 180, 0.5,
         dedup_key="offer-isa", tags=("savings", "isa")),
    Comm("DIG-TRAVEL-INSURANCE", "digital", "marketing", 4, ("email", "push"), 80, 0.5,
         dedup_key="offer-travel-insurance", tags=("insurance", "travel")),
    Comm("DIG-BUDGETING-TOOL", "digital", "marketing", 4, ("push", "email"), 25, 0.8,
         tags=("app", "budgeting")),
)  # fmt: skip

# Cross-team duplicates: when the first team proposes its offer, the second often does too.
RETAIL_TWINS = (
    ("CRD-CASHBACK", "DIG-CASHBACK-CARD"),
    ("SAV-ISA", "DIG-ISA-PUSH"),
    ("INS-TRAVEL", "DIG-TRAVEL-INSURANCE"),
)

RETAIL_REGIONS = {  # region -> share of customers
    "london": 0.16,
    "south_east": 0.15,
    "south_west": 0.09,
    "midlands": 0.16,
    "north_west": 0.12,
    "north_east": 0.09,
    "scotland": 0.10,
    "wales": 0.07,
    "northern_ireland": 0.06,
}
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
# channel affinity by age band: drives push consent and stated preferences
AGE_AFFINITY = {
    "18-24": {"email": 3.0, "sms": 2.0, "push": 4.0, "call": 0.3, "mail": 0.2},
    "25-34": {"email": 3.0, "sms": 2.0, "push": 3.5, "call": 0.4, "mail": 0.3},
    "35-44": {"email": 3.0, "sms": 2.0, "push": 2.5, "call": 0.6, "mail": 0.6},
    "45-54": {"email": 3.0, "sms": 1.5, "push": 1.5, "call": 1.0, "mail": 1.2},
    "55-64": {"email": 2.5, "sms": 1.2, "push": 0.8, "call": 1.5, "mail": 2.0},
    "65+": {"email": 1.5, "sms": 1.0, "push": 0.3, "call": 2.0, "mail": 3.0},
}
PUSH_CONSENT = {"18-24": 0.65, "25-34": 0.6, "35-44": 0.5, "45-54": 0.4, "55-64": 0.25, "65+": 0.12}
SEGMENT_VALUE = {"mass": 1.0, "affluent": 1.6, "private": 2.5}
SEGMENT_OFFERS = {"mass": 1.0, "affluent": 1.3, "private": 1.6}  # proposals per customer


def retail_customers(rng: np.random.Generator) -> pd.DataFrame:
    """5,000 retail customers with consent gaps, preferences and a do-not-market flag."""
    n = RETAIL_CUSTOMERS
    age_band = rng.choice(AGE_BANDS, n, p=[0.1, 0.18, 0.19, 0.18, 0.16, 0.19])
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(1, n + 1)],
            "segment": rng.choice(["mass", "affluent", "private"], n, p=[0.8, 0.17, 0.03]),
            "region": rng.choice(list(RETAIL_REGIONS), n, p=list(RETAIL_REGIONS.values())),
            "age_band": age_band,
            "do_not_market": rng.random(n) < 0.03,
        }
    )
    frame["consent_email"] = draw_consent(rng, np.full(n, 0.82), 0.08)
    frame["consent_sms"] = draw_consent(rng, np.full(n, 0.68), 0.10)
    frame["consent_push"] = draw_consent(rng, np.array([PUSH_CONSENT[a] for a in age_band]), 0.1)
    frame["consent_call"] = draw_consent(rng, np.full(n, 0.55), 0.10)
    frame["consent_mail"] = draw_consent(rng, np.full(n, 0.86), 0.05)
    consent = consented_channels(frame, RETAIL_CHANNELS)
    frame["preferred_channels"] = [
        draw_preferences(
            rng, [c for c in RETAIL_CHANNELS if c in consent[cid]], AGE_AFFINITY[age], 0.6
        )
        for cid, age in zip(frame["customer_id"], age_band, strict=True)
    ]
    return frame


def retail_states(rng: np.random.Generator, customers: pd.DataFrame) -> list[Row]:
    """Complaints (~4%) and collections (~3%), some opening or closing mid-week.

    Every collections case overlaps the horizon: those customers are owed an
    arrears letter this week.
    """
    ids = customers["customer_id"].to_numpy()
    rows: list[Row] = []
    for cid in rng.choice(ids, size=int(0.04 * len(ids)), replace=False):
        start = int(rng.integers(-25, 6))
        end = None if rng.random() < 0.3 else start + int(rng.integers(3, 25))
        rows.append({"customer_id": str(cid), "state": "complaint", "start": start, "end": end})
    for cid in rng.choice(ids, size=int(0.03 * len(ids)), replace=False):
        start = int(rng.integers(-90, 5))
        end = None if rng.random() < 0.6 else int(rng.integers(max(start, 0), 10))
        rows.append({"customer_id": str(cid), "state": "collections", "start": start, "end": end})
    return rows


def grant_mail_for_collections(customers: pd.DataFrame, states: list[Row]) -> pd.DataFrame:
    """Arrears letters go by post under a legal duty: record mail consent for those customers."""
    in_collections = {s["customer_id"] for s in states if s["state"] == "collections"}
    customers = customers.copy()
    customers.loc[customers["customer_id"].isin(in_collections), "consent_mail"] = True
    return customers


def retail_offers(rng: np.random.Generator, customers: pd.DataFrame) -> list[Row]:
    """Marketing and service proposals: a long-tailed number per customer.

    Most customers get 3-8, some none, a few 20+ (the silos all target the
    same attractive customers). Each comm at most once here; the deliberate
    duplicates come from `retail_duplicates`.
    """
    proposable = [c for c in RETAIL_CATALOGUE if c.weight > 0]
    rows: list[Row] = []
    for cid, segment in zip(customers["customer_id"], customers["segment"], strict=True):
        weights = np.array([c.weight * _segment_tilt(c, segment) for c in proposable])
        drawn = rng.lognormal(math.log(6.5), 0.6) * SEGMENT_OFFERS[segment]
        count = min(len(proposable), math.floor(drawn))
        picks = rng.choice(len(proposable), size=count, replace=False, p=weights / weights.sum())
        for index in picks:
            comm = proposable[int(index)]
            rows.append(retail_proposal(rng, cid, comm, segment, comm.product_line))
    return rows


def _segment_tilt(comm: Comm, segment: str) -> float:
    """Affluent customers are offered more savings and insurance, mass more cards and loans."""
    if segment == "mass":
        return 1.2 if comm.product_line in ("cards", "loans") else 1.0
    return 1.5 if comm.product_line in ("savings", "insurance") else 1.0


def retail_proposal(
    rng: np.random.Generator, cid: str, comm: Comm, segment: str, source: str
) -> Row:
    """One marketing or service proposal: window, value, response probability, channels."""
    probability = float(rng.beta(2.0, 38.0))
    if comm.category == "marketing":
        value = float(np.clip(comm.margin * probability * SEGMENT_VALUE[segment], 0.5, 40.0))
        earliest, latest = draw_window(rng, RETAIL_HORIZON, -2, (2, 7))
    else:  # service: small values, short windows
        value = float(np.clip(comm.margin * probability * SEGMENT_VALUE[segment], 0.05, 15.0))
        earliest, latest = draw_window(rng, RETAIL_HORIZON, 0, (1, 4))
    return {
        "customer_id": cid,
        "comm_id": comm.comm_id,
        "channels": "|".join(pick_channels(rng, comm, value, call_lead=10.0)),
        "earliest": earliest,
        "latest": latest,
        "value": round(value, 2),
        "source": source,
        "response_probability": round(probability, 4),
    }


def retail_duplicates(
    rng: np.random.Generator, offers: list[Row], customers: pd.DataFrame
) -> list[Row]:
    """Deliberate cross-team duplicates.

    The digital team re-proposes cards', savings' and insurance's offers under
    its own comm with the same dedup_key (40% of them), and the next-best-action
    engine re-proposes 3% of marketing proposals under the same comm_id.
    """
    comms = {c.comm_id: c for c in RETAIL_CATALOGUE}
    twins = dict(RETAIL_TWINS)
    segment = dict(zip(customers["customer_id"], customers["segment"], strict=True))
    rows: list[Row] = []
    for offer in offers:
        comm = comms[offer["comm_id"]]
        if comm.comm_id in twins and rng.random() < 0.4:
            twin = comms[twins[comm.comm_id]]
            rows.append(
                retail_proposal(
                    rng, offer["customer_id"], twin, segment[offer["customer_id"]], "digital"
                )
            )
        elif comm.category == "marketing" and rng.random() < 0.03:
            again = dict(offer, source="nba_engine")
            value = offer["value"] * rng.lognormal(0.0, 0.2)
            again["value"] = round(float(np.clip(value, 0.5, 40.0)), 2)
            shift = int(rng.integers(-1, 2))
            again["earliest"], again["latest"] = offer["earliest"] + shift, offer["latest"] + shift
            rows.append(again)
    return rows


def consented_comm_channels(consent: set[str], comm: Comm) -> str:
    """Every channel of the comm the customer consents to, `|`-separated."""
    return "|".join(c for c in comm.channels if c in consent)


def retail_bills(
    rng: np.random.Generator, customers: pd.DataFrame, consent: dict[str, set[str]]
) -> list[Row]:
    """Bills (1 customer in 7) on their due day, statements (1 in 10) within 3-4 days.

    Only customers reachable by email or mail get them, so no mandatory send is
    impossible for lack of consent.
    """
    comms = {c.comm_id: c for c in RETAIL_CATALOGUE}
    reachable = [cid for cid in customers["customer_id"] if consent[cid] & {"email", "mail"}]
    rows: list[Row] = []
    for cid in rng.choice(reachable, size=len(customers) // 7, replace=False):
        comm = comms["BIL-CARD-BILL" if rng.random() < 0.7 else "BIL-LOAN-INSTALMENT"]
        day = int(rng.integers(0, RETAIL_HORIZON.days))
        rows.append(duty_row(str(cid), comm, consent, day, day, 0.0))
    for cid in rng.choice(reachable, size=len(customers) // 10, replace=False):
        earliest = int(rng.integers(0, 4))
        latest = earliest + int(rng.integers(2, 4))
        rows.append(duty_row(str(cid), comms["BIL-STATEMENT"], consent, earliest, latest, 0.0))
    return rows


def duty_row(
    cid: str, comm: Comm, consent: dict[str, set[str]], earliest: int, latest: int, p: float
) -> Row:
    """A send the bank owes the customer (bill, statement, letter, disclosure).

    Value 1.0 and every consented channel of the comm: the owning team does not
    pick a channel, it just needs the message delivered.
    """
    return {
        "customer_id": cid,
        "comm_id": comm.comm_id,
        "channels": consented_comm_channels(consent[cid], comm),
        "earliest": earliest,
        "latest": latest,
        "value": 1.0,
        "source": comm.product_line,
        "response_probability": round(p, 4),
    }


def retail_collections(
    rng: np.random.Generator, states: list[Row], consent: dict[str, set[str]]
) -> list[Row]:
    """An arrears letter (mandatory, mail) for every customer in collections this week.

    Its window runs over the collections days of the horizon, up to 5 days, so
    the letter is never squeezed onto one day. Most also get an optional
    payment reminder by sms or email.
    """
    comms = {c.comm_id: c for c in RETAIL_CATALOGUE}
    rows: list[Row] = []
    for state in sorted(states, key=lambda s: s["customer_id"]):
        if state["state"] != "collections":
            continue
        cid = state["customer_id"]
        end = RETAIL_HORIZON.days - 1 if state["end"] is None else state["end"]
        days = RETAIL_HORIZON.clip(state["start"], end)
        earliest, latest = days[0], min(days[-1], days[0] + 4)
        paying = float(rng.beta(6.0, 12.0))  # the chance the letter gets the arrears paid
        rows.append(duty_row(cid, comms["COL-ARREARS-LETTER"], consent, earliest, latest, paying))
        reminder = comms["COL-PAYMENT-REMINDER"]
        if rng.random() < 0.7 and consent[cid] & set(reminder.channels):
            row = duty_row(cid, reminder, consent, earliest, RETAIL_HORIZON.days - 1, paying)
            row["value"] = round(reminder.margin * paying / 10, 2)
            rows.append(row)
    return rows


def retail_candidates(
    rng: np.random.Generator, customers: pd.DataFrame, states: list[Row]
) -> list[Row]:
    """All proposals of the week, numbered per customer."""
    consent = consented_channels(customers, RETAIL_CHANNELS)
    offers = retail_offers(rng, customers)
    rows = offers + retail_duplicates(rng, offers, customers)
    rows += retail_bills(rng, customers, consent)
    rows += retail_collections(rng, states, consent)
    return number_candidates(rows)


def retail_history(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    states: list[Row],
    candidates: list[Row],
) -> list[Row]:
    """Sends of the 30 days before the horizon.

    Routine marketing (days -30..-8) and service; a recent burst of 2-3
    marketing sends in the last week for 15% of customers so the rolling caps
    and the gap bind early in the week; earlier sends of 2% of this week's
    marketing proposals so dedup-by-history triggers; last month's bills.
    Routine sends avoid the messages proposed this week, so that only the
    deliberate repeats (not chance) decide how often dedup-by-history fires.
    History respected the bank's rules: no marketing to do-not-market
    customers or during complaints and collections, consent always.
    """
    comms = {c.comm_id: c for c in RETAIL_CATALOGUE}
    consent = consented_channels(customers, RETAIL_CHANNELS)
    dnm = set(customers.loc[customers["do_not_market"], "customer_id"])
    quiet_past = _past_state_days(states, {"complaint", "collections"})
    marketing = [c for c in RETAIL_CATALOGUE if c.category == "marketing" and c.weight > 0]
    service = [c for c in RETAIL_CATALOGUE if c.category == "service"]
    proposed = proposed_messages(candidates, comms)
    rows: list[Row] = []

    def send(cid: str, comm: Comm | None, day: int) -> None:
        if comm is None or (
            comm.category == "marketing" and (cid in dnm or day in quiet_past[cid])
        ):
            return
        usable = [
            c
            for c in comm.channels
            if c in consent[cid] and RETAIL_CHANNELS[c].open_on(RETAIL_HORIZON, day)
        ]
        if usable:
            channel = usable[int(rng.integers(len(usable)))]
            rows.append(
                {"customer_id": cid, "comm_id": comm.comm_id, "channel": channel, "day": day}
            )

    for cid in customers["customer_id"]:
        for day in rng.choice(np.arange(-30, -7), size=int(rng.poisson(1.5)), replace=False):
            send(cid, past_contact(rng, marketing, proposed[cid]), int(day))
        for _ in range(int(rng.poisson(0.6))):
            send(cid, past_contact(rng, service, proposed[cid]), int(rng.integers(-30, 0)))
        if rng.random() < 0.15:
            first, count = int(rng.integers(-7, -4)), int(rng.integers(2, 4))
            for day in range(first, 0, 2)[:count]:
                send(cid, past_contact(rng, marketing, proposed[cid]), day)
    for row in candidates:
        comm = comms[row["comm_id"]]
        if comm.category == "marketing" and rng.random() < 0.02:
            send(row["customer_id"], comm, int(rng.integers(-25, -2)))
        if "bill" in comm.tags:
            # last month's bill, same day of the month: 31 days before this one
            # (October has 31 days), so just outside the 30-day dedup window
            bill_date = RETAIL_HORIZON.start + dt.timedelta(days=row["earliest"])
            last = (bill_date.replace(month=bill_date.month - 1) - RETAIL_HORIZON.start).days
            if last >= -30:
                send(row["customer_id"], comm, last)
    return rows


def proposed_messages(candidates: list[Row], comms: dict[str, Comm]) -> dict[str, set[str]]:
    """customer_id -> message keys (dedup_key or comm_id) proposed in this horizon."""
    keys: dict[str, set[str]] = defaultdict(set)
    for row in candidates:
        keys[row["customer_id"]].add(comms[row["comm_id"]].message_key)
    return keys


def past_contact(rng: np.random.Generator, pool: Sequence[Comm], avoid: set[str]) -> Comm | None:
    """A comm for a routine past send, avoiding messages proposed again this horizon."""
    choices = [c for c in pool if c.message_key not in avoid]
    return choices[int(rng.integers(len(choices)))] if choices else None


def _past_state_days(states: list[Row], names: set[str]) -> dict[str, set[int]]:
    """customer_id -> days before the horizon (-60..-1) spent in one of `names`."""
    days: dict[str, set[int]] = defaultdict(set)
    for s in states:
        if s["state"] in names:
            end = -1 if s["end"] is None else min(s["end"], -1)
            days[s["customer_id"]].update(range(max(s["start"], -60), end + 1))
    return days


@dataclass(frozen=True)
class RetailLevels:
    """The global rules' levels and the estimates they were derived from."""

    call_demand: int
    call_seats: int
    mandatory_mail_worst: float
    mandatory_mail_only: float
    marketing_mail_demand: float
    mail_budget: int
    saver_customers: int
    saver_natural: int
    saver_reachable: int
    saver_minimum: int


def retail_levels(
    customers: pd.DataFrame, states: list[Row], candidates: list[Row], history: list[Row]
) -> RetailLevels:
    """Set call seats, mail budget and the saver minimum from estimated demand.

    The estimate plans each customer alone: every candidate on its best channel
    (value x channel weight - cost), dedup applied, marketing limited to the 3
    best by (priority, score) and one loan offer, on days marketing may be sent.
    - call seats per day: half the estimated weekday call demand, so it binds.
    - mail budget: every mandatory send that may go by mail, at the worst case
      that all do (room for them whatever the optimiser picks), plus 30% of
      the estimated marketing mail demand.
    - saver minimum: halfway between the sends the estimate makes naturally and
      the customers who could receive it at all (one send, history included).
    """
    comms = {c.comm_id: c for c in RETAIL_CATALOGUE}
    consent = consented_channels(customers, RETAIL_CHANNELS)
    preferred = preferred_channels(customers)
    blocked = _retail_marketing_blocked(customers, states, candidates)
    calls, mail_demand = 0, 0.0
    natural: set[str] = set()
    by_customer: dict[str, list[Row]] = defaultdict(list)
    for row in candidates:
        by_customer[row["customer_id"]].append(row)
    for cid, rows in by_customer.items():
        picks = _likely_sends(rows, comms, consent[cid], preferred[cid], blocked[cid])
        calls += sum(1 for _, channel, _ in picks if channel == "call")
        mail_demand += sum(
            RETAIL_CHANNELS["mail"].cost + comm.cost
            for comm, channel, _ in picks
            if channel == "mail" and comm.category == "marketing"
        )
        natural |= {cid for comm, _, _ in picks if comm.comm_id == SAVER_CAMPAIGN}
    worst, only = _mandatory_mail(candidates, comms, consent)
    reachable = _saver_reachable(candidates, consent, blocked, history, comms)
    weekdays = sum(RETAIL_CHANNELS["call"].open_on(RETAIL_HORIZON, d) for d in range(7))
    return RetailLevels(
        call_demand=calls,
        call_seats=nice_floor(0.5 * calls / weekdays, 5),
        mandatory_mail_worst=round(worst, 2),
        mandatory_mail_only=round(only, 2),
        marketing_mail_demand=round(mail_demand, 2),
        mail_budget=nice_ceil(worst + 0.3 * mail_demand, 10),
        saver_customers=len(
            {r["customer_id"] for r in candidates if r["comm_id"] == SAVER_CAMPAIGN}
        ),
        saver_natural=len(natural),
        saver_reachable=reachable,
        saver_minimum=nice_floor(len(natural) + 0.5 * (reachable - len(natural)), 10),
    )


def _retail_marketing_blocked(
    customers: pd.DataFrame, states: list[Row], candidates: list[Row]
) -> dict[str, set[int]]:
    """customer_id -> horizon days with no marketing: states, bill days, do-not-market."""
    blocked = state_days(states, {"complaint", "collections"}, RETAIL_HORIZON)
    for cid in customers.loc[customers["do_not_market"], "customer_id"]:
        blocked[cid] = set(range(RETAIL_HORIZON.days))
    for row in candidates:
        if row["comm_id"] in ("BIL-CARD-BILL", "BIL-LOAN-INSTALMENT"):
            blocked[row["customer_id"]].add(row["earliest"])
    return blocked


def _likely_sends(
    rows: list[Row],
    comms: dict[str, Comm],
    consent: set[str],
    preferred: Sequence[str],
    blocked: set[int],
) -> list[tuple[Comm, str, float]]:
    """One customer's sends if only per-customer rules (roughly) applied."""
    best: dict[str, tuple[Comm, str, float]] = {}
    for row in rows:
        comm = comms[row["comm_id"]]
        days = list(RETAIL_HORIZON.clip(row["earliest"], row["latest"]))
        if comm.category == "marketing":
            days = [d for d in days if d not in blocked]
        pick = best_channel(row, comm, consent, preferred, days, RETAIL_CHANNELS, RETAIL_HORIZON)
        if pick is None or (pick[0] <= 0 and not comm.mandatory):
            continue
        key = comm.message_key
        if key not in best or (comm.priority, -pick[0]) < (best[key][0].priority, -best[key][2]):
            best[key] = (comm, pick[1], pick[0])
    sends = [s for s in best.values() if s[0].category != "marketing"]
    marketing = sorted(
        (s for s in best.values() if s[0].category == "marketing"),
        key=lambda s: (s[0].priority, -s[2], s[0].comm_id),
    )
    loans = 0
    for send in marketing:
        if sum(1 for s in sends if s[0].category == "marketing") == 3:
            break
        if send[0].product_line == "loans":
            if loans:
                continue
            loans += 1
        sends.append(send)
    return sends


def _mandatory_mail(
    candidates: list[Row], comms: dict[str, Comm], consent: dict[str, set[str]]
) -> tuple[float, float]:
    """Mail cost of mandatory sends: if every one that may go by mail does, and the mail-only."""
    worst = only = 0.0
    for row in candidates:
        comm = comms[row["comm_id"]]
        usable = set(row["channels"].split("|")) & consent[row["customer_id"]]
        if comm.mandatory and "mail" in usable:
            cost = RETAIL_CHANNELS["mail"].cost + comm.cost
            worst += cost
            only += cost if usable == {"mail"} else 0.0
    return worst, only


def _saver_reachable(
    candidates: list[Row],
    consent: dict[str, set[str]],
    blocked: dict[str, set[int]],
    history: list[Row],
    comms: dict[str, Comm],
) -> int:
    """Customers who could get the saver campaign as their only marketing send this week.

    A day d qualifies if marketing is allowed, a consented channel is listed,
    history leaves room in the 3-in-7 cap (at most 2 marketing sends in
    [d-6, -1]), no marketing was sent on day d-1 (2-day gap) and the saver was
    not sent in the 30 days before d (dedup).
    """
    marketing_days: dict[str, list[int]] = defaultdict(list)
    saver_days: dict[str, list[int]] = defaultdict(list)
    for h in history:
        if comms[h["comm_id"]].category == "marketing":
            marketing_days[h["customer_id"]].append(h["day"])
        if h["comm_id"] == SAVER_CAMPAIGN:
            saver_days[h["customer_id"]].append(h["day"])
    reachable: set[str] = set()
    for row in candidates:
        cid = row["customer_id"]
        if row["comm_id"] != SAVER_CAMPAIGN or not set(row["channels"].split("|")) & consent[cid]:
            continue
        for d in RETAIL_HORIZON.clip(row["earliest"], row["latest"]):
            if (
                d not in blocked[cid]
                and sum(1 for h in marketing_days[cid] if h >= d - 6) <= 2
                and d - 1 not in marketing_days[cid]
                and all(d - h >= 30 for h in saver_days[cid])
            ):
                reachable.add(cid)
                break
    return len(reachable)


RETAIL_YAML = string.Template("""\
# Generated by scenarios/make_scenarios.py: edit the script, not this file.
name: Retail bank, week 48 (product silos)
horizon: {start: $start, days: $days}
data:
  customers: customers.csv
  communications: communications.csv
  candidates: $candidates_file
  history: history.csv
  states: states.csv
channels:
$channels
rules:
  # Contact pressure: no more than 3 promotions in any 7 days, 1 a day, never on
  # consecutive days (d2 - d1 < 2 is forbidden). History counts.
  - frequency_cap:
      name: marketing-3-per-7-days
      select: {categories: [marketing]}
      max: 3
      window_days: 7
  - frequency_cap:
      name: marketing-1-per-day
      select: {categories: [marketing]}
      max: 1
      window_days: 1
  - min_gap:
      name: marketing-2-day-gap
      first: {categories: [marketing]}
      then: {categories: [marketing]}
      days: 2
  # Customers with an open complaint or in collections get no promotions.
  - exclusion:
      name: no-marketing-in-complaint-or-collections
      select: {categories: [marketing]}
      states: [complaint, collections]
  - exclusion:
      name: do-not-market
      select: {categories: [marketing]}
      customers: {do_not_market: true}
  # A bill and a sales pitch on the same day reads badly.
  - exclusion:
      name: no-marketing-on-bill-day
      select: {categories: [marketing]}
      around: {tags: [bill]}
      days_before: 0
      days_after: 0
  # Two loan offers in one week look desperate.
  - never_together:
      name: one-loan-offer-per-week
      select: {product_lines: [loans]}
      window_days: 7
  # Call-centre seats: estimated weekday call demand $call_demand calls
  # (${call_per_day} a day over $weekdays open days); seats = half of that.
  - capacity:
      name: call-centre-seats
      select: {channels: [call]}
      max: $call_seats
      per: day
  # Postage: mandatory mail $mandatory_worst if every bill, statement and arrears
  # letter that may go by post does ($mandatory_only of it has no other channel),
  # plus 30% of the estimated marketing mail demand of $marketing_mail.
  - budget:
      name: mail-budget
      select: {channels: [mail]}
      max: $mail_budget
  # Savings wants its regular-saver push to reach enough customers: $saver_customers
  # customers are proposed it, $saver_reachable can receive it at all, about
  # $saver_natural would get it on value alone; the minimum lies halfway.
  - volume:
      name: regular-saver-minimum
      select: {comm_ids: [$saver]}
      min: $saver_minimum
      metric: count
      soft: {penalty: 50}
dedup: {window_days: 30}
objective:
  cost_weight: 1.0
  channel_preference: {weights: [1.0, 0.9, 0.8], others: 0.7}
solver: {time_limit_s: 60, seed: 0}
""")


def channels_yaml(channels: dict[str, Channel]) -> str:
    return "\n".join(f"  {name}: {channel.yaml()}" for name, channel in channels.items())


def make_retail_bank_week() -> None:
    """Write scenarios/retail_bank_week/."""
    rng = np.random.default_rng(RETAIL_SEED)
    customers = retail_customers(rng)
    states = retail_states(rng, customers)
    customers = grant_mail_for_collections(customers, states)
    candidates = retail_candidates(rng, customers, states)
    history = retail_history(rng, customers, states, candidates)
    levels = retail_levels(customers, states, candidates, history)

    horizon = RETAIL_HORIZON
    tables = {
        "customers": customers,
        "communications": catalogue_table(RETAIL_CATALOGUE),
        "candidates": candidates_table(candidates, horizon),
        "history": history_table(history, horizon),
        "states": states_table(states, horizon),
    }
    check_tables(
        tables["customers"],
        RETAIL_CATALOGUE,
        tables["candidates"],
        tables["history"],
        RETAIL_CHANNELS,
        horizon,
    )
    folder = fresh_folder("retail_bank_week")
    files = {name: write_table(frame, folder, name) for name, frame in tables.items()}
    assert files["customers"].endswith(".csv") and files["history"].endswith(".csv")
    weekdays = sum(RETAIL_CHANNELS["call"].open_on(horizon, d) for d in range(horizon.days))
    text = RETAIL_YAML.substitute(
        start=horizon.start.isoformat(),
        days=horizon.days,
        candidates_file=files["candidates"],
        channels=channels_yaml(RETAIL_CHANNELS),
        call_demand=levels.call_demand,
        call_per_day=round(levels.call_demand / weekdays),
        weekdays=weekdays,
        call_seats=levels.call_seats,
        mandatory_worst=f"{levels.mandatory_mail_worst:.2f}",
        mandatory_only=f"{levels.mandatory_mail_only:.2f}",
        marketing_mail=f"{levels.marketing_mail_demand:.2f}",
        mail_budget=levels.mail_budget,
        saver=SAVER_CAMPAIGN,
        saver_customers=levels.saver_customers,
        saver_reachable=levels.saver_reachable,
        saver_natural=levels.saver_natural,
        saver_minimum=levels.saver_minimum,
    )
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- b2b product silos

B2B_SEED = 20261124
B2B_HORIZON = Horizon(dt.date(2026, 11, 23), 14)
B2B_ACCOUNTS = 300
B2B_CHANNELS = {
    "email": Channel("email", 0.01),
    "call": Channel("call", 12.0, ("sat", "sun")),  # a relationship manager's time
    "linkedin": Channel("linkedin", 0.5),
    "event": Channel("event", 60.0, ("mon", "fri", "sat", "sun")),  # client breakfasts Tue-Thu
}
B2B_PRODUCT_LINES = ("payments", "lending", "fx", "cards", "insurance", "cash_management")

# Comm(comm_id, product_line, category, priority, channels, margin, weight, ...)
B2B_CATALOGUE = (
    # payments
    Comm("PAY-ISO20022-NOTICE", "payments", "service", 1, ("email",), 300, 0.6,
         tags=("payments", "migration")),
    Comm("PAY-INSTANT-PAYMENTS", "payments", "marketing", 3, ("email", "call", "linkedin"),
         4000, tags=("payments", "instant")),
    Comm("PAY-VIRTUAL-CARDS-AP", "payments", "marketing", 3, ("email", "call"), 3500,
         dedup_key="offer-virtual-cards", tags=("payments", "cards", "virtual_cards")),
    Comm("PAY-SWEEP-DASHBOARD", "payments", "marketing", 3, ("email", "linkedin"), 2500, 0.7,
         dedup_key="offer-liquidity-sweep", tags=("payments", "liquidity")),
    Comm("PAY-API-BANKING", "payments", "marketing", 3, ("email", "linkedin", "event"), 3000,
         tags=("payments", "api")),
    # lending
    Comm("LND-FACILITY-REVIEW", "lending", "service", 2, ("call", "email"), 800, 0.8,
         tags=("lending", "review")),
    Comm("LND-GREEN-LOAN", "lending", "marketing", 3, ("email", "call", "event"), 8000,
         tags=("lending", "green")),
    Comm("LND-ASSET-FINANCE", "lending", "marketing", 3, ("email", "call"), 6000,
         tags=("lending", "asset_finance")),
    Comm("LND-TRADE-FINANCE", "lending", "marketing", 3, ("email", "call", "linkedin"), 7000,
         tags=("lending", "trade_finance")),
    # fx: the costs-and-charges disclosure is a regulatory duty
    Comm("FX-COSTS-DISCLOSURE", "fx", "regulatory", 1, ("email",), weight=0.0, mandatory=True,
         tags=("fx", "disclosure")),
    Comm("FX-HEDGING-REVIEW", "fx", "marketing", 3, ("call", "email", "event"), 6000,
         tags=("fx", "hedging")),
    Comm("FX-FORWARDS-WEBINAR", "fx", "marketing", 3, ("email", "linkedin", "event"), 2500,
         tags=("fx", "forwards")),
    # cards
    Comm("CRD-CARD-RENEWAL", "cards", "service", 2, ("email",), 200, 0.7,
         tags=("cards", "renewal")),
    Comm("CRD-VIRTUAL-CARDS", "cards", "marketing", 3, ("email", "linkedin"), 3000,
         dedup_key="offer-virtual-cards", tags=("cards", "virtual_cards")),
    Comm("CRD-TRAVEL-EXPENSE", "cards", "marketing", 3, ("email", "call"), 2000,
         tags=("cards", "travel")),
    # insurance
    Comm("INS-RENEWAL-REMINDER", "insurance", "service", 2, ("email", "call"), 500, 0.8,
         tags=("insurance", "renewal")),
    Comm("INS-CYBER-COVER", "insurance", "marketing", 3, ("email", "call", "event"), 4500,
         tags=("insurance", "cyber")),
    Comm("INS-KEY-PERSON", "insurance", "marketing", 3, ("call", "email"), 3500,
         tags=("insurance", "key_person")),
    # cash management
    Comm("CSH-ONBOARDING-CHECKIN", "cash_management", "service", 2, ("call", "email"), 600, 0.6,
         tags=("cash_management", "onboarding")),
    Comm("CSH-LIQUIDITY-SWEEP", "cash_management", "marketing", 3, ("email", "call"), 5000,
         dedup_key="offer-liquidity-sweep", tags=("cash_management", "liquidity")),
    Comm("CSH-POOLING", "cash_management", "marketing", 3, ("email", "call", "event"), 5500,
         tags=("cash_management", "pooling")),
)  # fmt: skip

B2B_TWINS = (
    ("PAY-VIRTUAL-CARDS-AP", "CRD-VIRTUAL-CARDS"),
    ("CSH-LIQUIDITY-SWEEP", "PAY-SWEEP-DASHBOARD"),
)
B2B_SECTORS = (
    "manufacturing",
    "retail",
    "logistics",
    "technology",
    "healthcare",
    "construction",
    "agriculture",
    "professional_services",
)
TIER_VALUE = {"key": 3.0, "growth": 1.5, "standard": 1.0}
TIER_PROPOSALS = {"key": 5.0, "growth": 3.5, "standard": 2.5}  # per product manager
TIER_EVENT_CONSENT = {"key": 0.85, "growth": 0.65, "standard": 0.45}
B2B_AFFINITY = {
    "key": {"email": 2.0, "call": 3.0, "linkedin": 1.0, "event": 1.5},
    "growth": {"email": 3.0, "call": 2.0, "linkedin": 1.5, "event": 0.8},
    "standard": {"email": 3.0, "call": 1.0, "linkedin": 1.5, "event": 0.5},
}


def b2b_accounts(rng: np.random.Generator) -> pd.DataFrame:
    """300 business accounts; key accounts are few, valuable and like to be called."""
    n = B2B_ACCOUNTS
    tier = rng.choice(["key", "growth", "standard"], n, p=[0.1, 0.3, 0.6])
    frame = pd.DataFrame(
        {
            "customer_id": [f"ACC{i:04d}" for i in range(1, n + 1)],
            "tier": tier,
            "sector": rng.choice(B2B_SECTORS, n),
            "region": rng.choice(["north", "south", "east", "west", "capital"], n),
            "employees_band": rng.choice(
                ["10-49", "50-249", "250-999", "1000+"], n, p=[0.35, 0.35, 0.2, 0.1]
            ),
            "relationship_manager": [f"RM{int(k):02d}" for k in rng.integers(1, 13, n)],
        }
    )
    frame["consent_email"] = draw_consent(rng, np.full(n, 0.95), 0.02)
    frame["consent_call"] = draw_consent(rng, np.full(n, 0.88), 0.04)
    frame["consent_linkedin"] = draw_consent(rng, np.full(n, 0.55), 0.15)
    frame["consent_event"] = draw_consent(rng, np.array([TIER_EVENT_CONSENT[t] for t in tier]), 0.1)
    consent = consented_channels(frame, B2B_CHANNELS)
    frame["preferred_channels"] = [
        draw_preferences(rng, [c for c in B2B_CHANNELS if c in consent[cid]], B2B_AFFINITY[t], 0.5)
        for cid, t in zip(frame["customer_id"], tier, strict=True)
    ]
    return frame


def b2b_states(rng: np.random.Generator, accounts: pd.DataFrame) -> list[Row]:
    """Escalations (~7%, some opening mid-plan, some open-ended) and credit reviews (~3%).

    No rule mentions credit_review: a states table holds more than the rules use.
    """
    ids = accounts["customer_id"].to_numpy()
    rows: list[Row] = []
    for cid in rng.choice(ids, size=int(0.07 * len(ids)), replace=False):
        start = int(rng.integers(-10, 12))
        end = None if rng.random() < 0.25 else start + int(rng.integers(2, 11))
        rows.append({"customer_id": str(cid), "state": "escalation", "start": start, "end": end})
    for cid in rng.choice(ids, size=int(0.03 * len(ids)), replace=False):
        start = int(rng.integers(-20, 6))
        end = None if rng.random() < 0.5 else start + int(rng.integers(5, 20))
        rows.append({"customer_id": str(cid), "state": "credit_review", "start": start, "end": end})
    return rows


def b2b_proposal(rng: np.random.Generator, cid: str, comm: Comm, tier: str) -> Row:
    """One product manager's proposal: window, value (expected revenue), channels."""
    probability = float(rng.beta(2.0, 30.0))
    value = comm.margin * probability * TIER_VALUE[tier]
    if comm.category == "marketing":
        earliest, latest = draw_window(rng, B2B_HORIZON, -3, (3, 10))
    else:
        earliest, latest = draw_window(rng, B2B_HORIZON, 0, (2, 5))
    return {
        "customer_id": cid,
        "comm_id": comm.comm_id,
        "channels": "|".join(pick_channels(rng, comm, value, call_lead=250.0)),
        "earliest": earliest,
        "latest": latest,
        "value": round(max(value, 1.0), 2),
        "source": comm.product_line,
        "response_probability": round(probability, 4),
    }


def b2b_candidates(rng: np.random.Generator, accounts: pd.DataFrame) -> list[Row]:
    """Each of the six product managers proposes several contacts per account.

    Key accounts get the most attention from every silo at once, which is the
    problem the account cap solves. Payments and cards both sell virtual cards,
    payments and cash management both sell liquidity sweeps (shared dedup_key).
    """
    comms = {c.comm_id: c for c in B2B_CATALOGUE}
    twins = dict(B2B_TWINS)
    consent = consented_channels(accounts, B2B_CHANNELS)
    rows: list[Row] = []
    for cid, tier in zip(accounts["customer_id"], accounts["tier"], strict=True):
        picked: list[Comm] = []
        for line in B2B_PRODUCT_LINES:
            own = [c for c in B2B_CATALOGUE if c.product_line == line and c.weight > 0]
            weights = np.array([c.weight for c in own])
            count = min(len(own), int(rng.poisson(TIER_PROPOSALS[tier])))
            for index in rng.choice(len(own), size=count, replace=False, p=weights / weights.sum()):
                picked.append(own[int(index)])
        # the twin's manager, hearing of the first offer, often proposes the same thing
        ids = {c.comm_id for c in picked}
        picked += [
            comms[twins[c.comm_id]]
            for c in list(picked)
            if c.comm_id in twins and twins[c.comm_id] not in ids and rng.random() < 0.5
        ]
        rows += [b2b_proposal(rng, cid, comm, tier) for comm in picked]
        if rng.random() < 0.35 and "email" in consent[cid]:
            earliest = int(rng.integers(0, 5))
            latest = min(earliest + int(rng.integers(5, 10)), B2B_HORIZON.days - 1)
            rows.append(duty_row(cid, comms["FX-COSTS-DISCLOSURE"], consent, earliest, latest, 0.0))
    return number_candidates(rows)


def b2b_history(
    rng: np.random.Generator, accounts: pd.DataFrame, states: list[Row], candidates: list[Row]
) -> list[Row]:
    """Contacts of the 30 days before the plan.

    Routine marketing and service (avoiding this fortnight's messages); for
    12% of accounts two marketing contacts in the last week (the account cap
    binds early); earlier sends of 3% of this fortnight's marketing proposals
    (dedup by history). No recent calls are needed: the plan starts on a
    Monday, so a Friday call is already 3 days back and the call gap binds
    only between planned calls. No marketing went to escalated accounts;
    consent was always respected.
    """
    comms = {c.comm_id: c for c in B2B_CATALOGUE}
    consent = consented_channels(accounts, B2B_CHANNELS)
    escalated = _past_state_days(states, {"escalation"})
    marketing = [c for c in B2B_CATALOGUE if c.category == "marketing"]
    service = [c for c in B2B_CATALOGUE if c.category == "service"]
    proposed = proposed_messages(candidates, comms)
    rows: list[Row] = []

    def send(cid: str, comm: Comm | None, day: int) -> None:
        if comm is None or (comm.category == "marketing" and day in escalated[cid]):
            return
        usable = [
            c
            for c in comm.channels
            if c in consent[cid] and B2B_CHANNELS[c].open_on(B2B_HORIZON, day)
        ]
        if usable:
            chosen = usable[int(rng.integers(len(usable)))]
            rows.append(
                {"customer_id": cid, "comm_id": comm.comm_id, "channel": chosen, "day": day}
            )

    for cid in accounts["customer_id"]:
        for day in rng.choice(np.arange(-30, -7), size=int(rng.poisson(2.0)), replace=False):
            send(cid, past_contact(rng, marketing, proposed[cid]), int(day))
        for _ in range(int(rng.poisson(1.0))):
            send(cid, past_contact(rng, service, proposed[cid]), int(rng.integers(-30, 0)))
        if rng.random() < 0.12:
            for day in (int(rng.integers(-7, -4)), int(rng.integers(-4, 0))):
                send(cid, past_contact(rng, marketing, proposed[cid]), day)
    for row in candidates:
        if comms[row["comm_id"]].category == "marketing" and rng.random() < 0.03:
            send(row["customer_id"], comms[row["comm_id"]], int(rng.integers(-25, -2)))
    return rows


@dataclass(frozen=True)
class B2BLevels:
    """The call capacity and the estimate it was derived from."""

    call_demand: int
    weekdays: int
    call_seats: int


def b2b_levels(accounts: pd.DataFrame, states: list[Row], candidates: list[Row]) -> B2BLevels:
    """Calls per day for the whole sales team: half the estimated weekday call demand.

    The estimate plans each account alone: service contacts on their best
    channel, the 4 best marketing contacts (2 a week over two weeks), dedup
    applied, no marketing on escalated days, at most 4 calls (3-day gap over
    ten weekdays).
    """
    comms = {c.comm_id: c for c in B2B_CATALOGUE}
    consent = consented_channels(accounts, B2B_CHANNELS)
    preferred = preferred_channels(accounts)
    escalated = state_days(states, {"escalation"}, B2B_HORIZON)
    by_account: dict[str, list[Row]] = defaultdict(list)
    for row in candidates:
        by_account[row["customer_id"]].append(row)
    demand = 0
    for cid, rows in by_account.items():
        best: dict[str, tuple[Comm, str, float]] = {}
        for row in rows:
            comm = comms[row["comm_id"]]
            days = [
                d
                for d in B2B_HORIZON.clip(row["earliest"], row["latest"])
                if comm.category != "marketing" or d not in escalated[cid]
            ]
            pick = best_channel(
                row, comm, consent[cid], preferred[cid], days, B2B_CHANNELS, B2B_HORIZON
            )
            key = comm.message_key
            if pick is not None and pick[0] > 0 and (key not in best or pick[0] > best[key][2]):
                best[key] = (comm, pick[1], pick[0])
        ranked = sorted(best.values(), key=lambda s: (s[0].priority, -s[2], s[0].comm_id))
        service = [s for s in ranked if s[0].category != "marketing"]
        marketing = [s for s in ranked if s[0].category == "marketing"][:4]
        demand += min(4, sum(1 for s in service + marketing if s[1] == "call"))
    weekdays = sum(B2B_CHANNELS["call"].open_on(B2B_HORIZON, d) for d in range(B2B_HORIZON.days))
    return B2BLevels(demand, weekdays, max(1, round(0.5 * demand / weekdays)))


B2B_YAML = string.Template("""\
# Generated by scenarios/make_scenarios.py: edit the script, not this file.
name: B2B bank, product silos, two weeks
horizon: {start: $start, days: $days}
data:
  customers: customers.csv
  communications: communications.csv
  candidates: $candidates_file
  history: history.csv
  states: states.csv
channels:
$channels
rules:
  # Six product managers each think their message is the one that matters;
  # the account sees one bank: at most 2 promotions per account in any 7 days.
  - frequency_cap:
      name: account-cap-2-per-week
      select: {categories: [marketing]}
      max: 2
      window_days: 7
  # Calls of any kind (service or sales) at least 3 days apart, history included.
  - min_gap:
      name: calls-3-day-gap
      first: {channels: [call]}
      then: {channels: [call]}
      days: 3
  # An account with an open escalation hears about its escalation, not offers.
  - exclusion:
      name: no-marketing-in-escalation
      select: {categories: [marketing]}
      states: [escalation]
  # The sales team's call slots: estimated weekday call demand $call_demand calls
  # (${call_per_day} a day over $weekdays open days); slots = half of that.
  - capacity:
      name: sales-calls-per-day
      select: {channels: [call]}
      max: $call_seats
      per: day
dedup: {window_days: 30}
objective:
  cost_weight: 1.0
  channel_preference: {weights: [1.0, 0.9, 0.8], others: 0.7}
solver: {time_limit_s: 60, seed: 0}
""")


def make_b2b_product_silos() -> None:
    """Write scenarios/b2b_product_silos/."""
    rng = np.random.default_rng(B2B_SEED)
    accounts = b2b_accounts(rng)
    states = b2b_states(rng, accounts)
    candidates = b2b_candidates(rng, accounts)
    history = b2b_history(rng, accounts, states, candidates)
    levels = b2b_levels(accounts, states, candidates)

    horizon = B2B_HORIZON
    tables = {
        "customers": accounts,
        "communications": catalogue_table(B2B_CATALOGUE),
        "candidates": candidates_table(candidates, horizon),
        "history": history_table(history, horizon),
        "states": states_table(states, horizon),
    }
    check_tables(
        tables["customers"],
        B2B_CATALOGUE,
        tables["candidates"],
        tables["history"],
        B2B_CHANNELS,
        horizon,
    )
    folder = fresh_folder("b2b_product_silos")
    files = {name: write_table(frame, folder, name) for name, frame in tables.items()}
    text = B2B_YAML.substitute(
        start=horizon.start.isoformat(),
        days=horizon.days,
        candidates_file=files["candidates"],
        channels=channels_yaml(B2B_CHANNELS),
        call_demand=levels.call_demand,
        call_per_day=round(levels.call_demand / levels.weekdays),
        weekdays=levels.weekdays,
        call_seats=levels.call_seats,
    )
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")


def main() -> None:
    make_retail_bank_week()
    make_b2b_product_silos()


if __name__ == "__main__":
    main()
