"""The verifier's working form of a scenario and a plan: integer codes in numpy arrays.

At a million customers a plan has some fifteen million candidate rows, so the verifier
never loops over rows in Python, never joins frames on text keys and never groups by
text. Every id is turned once into an integer code: a candidate's, customer's or
communication's code is its row in the scenario's table, a channel's its position in
`scenario.channels`. Text work (hash look-ups, dictionary encoding, sorting) is done by
pyarrow in C++; everything after that is whole-array numpy. Text is looked at again only
to write the few report lines a check prints.

Text columns may arrive as object, pandas `str` or Arrow dtype: `text_of` turns any of
them into Arrow, so nothing here relies on how the loader stores strings.

Like `verify`, this module shares no code with the optimiser's model builder.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from models import Scenario

Text: TypeAlias = "pa.Array | pa.ChunkedArray"  # pyarrow ships no type hints: Any to mypy
# Every plain text column is large_string: what pandas' Arrow-backed `str` dtype holds,
# so the scenario's ids are used without a copy, and look-ups never mix string widths.
TEXT = pa.large_string()


# --------------------------------------------------------------------------- text


def text_of(values: pd.Series | Text) -> pa.ChunkedArray:
    """Any text column (object, pandas str or Arrow dtype) as an Arrow string column.

    Dictionary-encoded Arrow columns stay dictionary-encoded (their codes are cheap to
    map); plain ones are cast to TEXT.
    """
    if isinstance(values, pd.Series):
        values = (
            pa.array(values.to_numpy(object), from_pandas=True)
            if values.dtype == object
            else pa.array(values)
        )
    if isinstance(values, pa.Array):
        values = pa.chunked_array([values], type=values.type)
    if pa.types.is_dictionary(values.type):
        return values
    if values.type != TEXT:
        values = values.cast(TEXT)
    return values


def plain_text(values: pd.Series | Text) -> pa.Array:
    """A text column as one plain (not dictionary-encoded) Arrow string array."""
    column = text_of(values)
    if pa.types.is_dictionary(column.type):
        column = column.cast(TEXT)
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def vocabulary(texts: Sequence[str]) -> pa.Array:
    """Distinct texts as an array to look values up in (see positions_in)."""
    return pa.array(list(texts), type=TEXT)


def positions_in(values: pd.Series | Text, within: pa.Array) -> np.ndarray:
    """Where each value sits in `within` (an array of distinct TEXT); -1 if absent or null.

    Codes are int32, which halves the memory of fifteen million of them; arithmetic that
    combines codes into keys widens them first. A dictionary-encoded column is looked up
    one distinct value at a time.
    """
    column = text_of(values)
    if len(column) == 0:
        return np.zeros(0, dtype=np.int32)
    if not pa.types.is_dictionary(column.type):
        return _look_up(column, within)
    parts = []
    for chunk in column.chunks:
        lookup = np.append(_look_up(chunk.dictionary.cast(TEXT), within), np.int32(-1))
        indices = pc.fill_null(chunk.indices, len(chunk.dictionary))  # null -> the -1
        parts.append(lookup[np.asarray(indices)])
    return np.concatenate(parts)


def _look_up(values: Text, within: pa.Array) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, dtype=np.int32)
    found = pc.index_in(values, value_set=within)
    return np.asarray(pc.fill_null(found, -1), dtype=np.int32)


def distinct_codes(values: pd.Series | Text) -> tuple[np.ndarray, list[str]]:
    """Codes 0..k-1 for a text column and the k distinct texts they stand for (a null
    cell counts as ""). For columns with few distinct values (channel lists, dates,
    numbers in a plan): the caller works a fact out once per distinct text and spreads it
    with `facts[codes]`."""
    column = text_of(values)
    if column.null_count:
        column = text_of(pc.fill_null(plain_text(column), ""))
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    dictionaries = pa.chunked_array([chunk.dictionary.cast(TEXT) for chunk in column.chunks], TEXT)
    distinct = pc.unique(dictionaries)
    codes = positions_in(column, distinct)
    return codes, [str(text) for text in distinct.to_pylist()]


def text_at(values: Text, rows: np.ndarray) -> list[str]:
    """The texts at some rows (for report lines)."""
    if len(rows) == 0:
        return []
    return [str(text) for text in pc.take(values, pa.array(rows, type=pa.int64())).to_pylist()]


def text_order(values: Text) -> np.ndarray:
    """Ranks of texts in Python's string order (UTF-8 byte order is code-point order)."""
    order = np.asarray(pc.sort_indices(values), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def numbers_of(values: Text) -> np.ndarray:
    """Text cells as floats with pandas' to_numeric semantics (NaN where not a number).

    Parsed once per distinct text: plan columns repeat few values.
    """
    codes, distinct = distinct_codes(values)
    parsed = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce")
    return np.asarray(parsed, dtype=float)[codes] if distinct else np.zeros(len(codes))


def day_offsets(values: Text, start: dt.date) -> np.ndarray:
    """ISO dates (YYYY-MM-DD) as day offsets from `start`; NaN where unreadable."""
    codes, distinct = distinct_codes(values)
    if not distinct:
        return np.zeros(len(codes))
    stamps = pd.to_datetime(pd.Series(distinct, dtype=object), format="%Y-%m-%d", errors="coerce")
    offsets = (stamps - pd.Timestamp(start)).dt.days
    return np.asarray(offsets, dtype=float)[codes]


# --------------------------------------------------------------------------- plan files


def release_arrow_memory() -> None:
    """Hand Arrow's freed buffers back to the system.

    Arrow's allocator keeps freed memory for reuse; after the look-ups over fifteen
    million ids that is gigabytes the numpy passes that follow cannot use.
    """
    pa.default_memory_pool().release_unused()


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV file (raises ValueError on an empty file)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        raise ValueError("the file is empty")
    return header


# Blocks of 16 MB: a million-customer suppressed.csv comes in ~70 chunks rather than
# ~1100, and look-ups over chunked columns pay per chunk.
CSV_BLOCK_BYTES = 16 << 20


def read_text_csv(path: Path, columns: list[str], repeated: frozenset[str]) -> pa.Table:
    """Read only `columns` of a CSV, every cell as text exactly as written.

    `repeated` columns hold few distinct values (dates, channels, reasons) and are read
    dictionary-encoded, which keeps a twelve-million-row suppressed.csv small in memory.
    Raises pa.ArrowInvalid when the file cannot be parsed.
    """
    types = {
        name: pa.dictionary(pa.int32(), pa.string()) if name in repeated else TEXT
        for name in columns
    }
    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=types,
            include_columns=columns,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    release_arrow_memory()  # the parser's buffers
    return table


# --------------------------------------------------------------------------- the scenario


@dataclass
class ScenarioCodes:
    """The scenario's tables as integer codes and numpy arrays, built once per verify.

    Codes: a candidate, customer or communication is its row in the scenario's table; a
    channel is its position in `channels`, -1 for a name the scenario does not declare.
    """

    scenario: Scenario
    channels: tuple[str, ...]
    channel_cost: np.ndarray  # per channel
    closed: np.ndarray  # [channel, horizon day] -> the channel is shut
    comm_ids: pa.Array
    customer_ids: pa.Array
    consent: np.ndarray  # [channel, customer]
    candidate_ids: pa.Array
    cand_customer: np.ndarray
    cand_comm: np.ndarray
    cand_channel_list: np.ndarray  # code of the candidate's `channels` text
    channel_lists: np.ndarray  # [channel list, channel] -> the list allows the channel
    cand_earliest: np.ndarray
    cand_latest: np.ndarray
    cand_value: np.ndarray

    @classmethod
    def build(cls, scenario: Scenario) -> ScenarioCodes:
        cands = scenario.candidates
        channels = tuple(scenario.channels)
        customer_ids = plain_text(scenario.customers["customer_id"])
        comm_ids = plain_text(scenario.communications["comm_id"])
        list_codes, lists = distinct_codes(cands["channels"])
        return cls(
            scenario=scenario,
            channels=channels,
            channel_cost=np.array([scenario.channels[c].cost for c in channels], dtype=float),
            closed=_closed_days(scenario, channels),
            comm_ids=comm_ids,
            customer_ids=customer_ids,
            consent=_consent(scenario, channels),
            candidate_ids=plain_text(cands["candidate_id"]),
            cand_customer=positions_in(cands["customer_id"], customer_ids),
            cand_comm=positions_in(cands["comm_id"], comm_ids),
            cand_channel_list=list_codes,
            channel_lists=_channel_lists(lists, channels),
            cand_earliest=cands["earliest_day"].to_numpy(np.int64),
            cand_latest=cands["latest_day"].to_numpy(np.int64),
            cand_value=cands["value"].to_numpy(float),
        )

    def channel_codes(self, names: pd.Series | Text) -> np.ndarray:
        """Channel names as codes, -1 for undeclared ones."""
        return positions_in(names, vocabulary(self.channels))

    def customer_codes(self, ids: pd.Series | Text) -> np.ndarray:
        return positions_in(ids, self.customer_ids)

    def comm_codes(self, ids: pd.Series | Text) -> np.ndarray:
        return positions_in(ids, self.comm_ids)

    @cached_property
    def comm_priority(self) -> np.ndarray:
        return self.scenario.communications["priority"].to_numpy(np.int64)

    @cached_property
    def comm_cost(self) -> np.ndarray:
        return self.scenario.communications["cost"].to_numpy(float)

    @cached_property
    def comm_mandatory(self) -> np.ndarray:
        return self.scenario.communications["mandatory"].to_numpy(bool)

    @cached_property
    def comm_message(self) -> np.ndarray:
        """Code of each comm's dedup message: its dedup_key when it has one, else itself.

        Codes follow the order of the message texts ('comm:<id>' or 'key:<dedup_key>'),
        so sorting by code sorts by message text.
        """
        texts = message_texts(self.scenario)
        code_of = {text: code for code, text in enumerate(sorted(set(texts)))}
        return np.array([code_of[text] for text in texts], dtype=np.int64)

    @cached_property
    def customer_rank(self) -> np.ndarray:
        """Each customer's place in customer_id order, for listing violations by id."""
        return text_order(self.customer_ids)

    def cost_of_channel(self, channel: np.ndarray) -> np.ndarray:
        """Cost of each channel code (0 for -1, an undeclared channel)."""
        if len(self.channels) == 0:
            return np.zeros(len(channel))
        return np.where(channel >= 0, self.channel_cost[np.maximum(channel, 0)], 0.0)

    def allowed(self, candidate: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """Whether each (candidate, channel code) pair is in the candidate's channels."""
        if len(self.channels) == 0:
            return np.zeros(len(candidate), dtype=bool)
        lists = self.cand_channel_list[candidate]
        return (channel >= 0) & self.channel_lists[lists, np.maximum(channel, 0)]

    def is_closed(self, channel: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Whether each (declared channel, day) is shut; days outside the horizon are not."""
        inside = (day >= 0) & (day < self.scenario.days)
        return inside & self.closed[channel, np.clip(day, 0, self.scenario.days - 1)]


def message_texts(scenario: Scenario) -> list[str]:
    """comm row -> 'key:<dedup_key>' when it has one, else 'comm:<comm_id>'."""
    comms = scenario.communications
    keys = comms["dedup_key"].fillna("").astype(str).str.strip()
    ids = comms["comm_id"].astype(str)
    return [
        f"key:{key}" if key != "" else f"comm:{comm}" for key, comm in zip(keys, ids, strict=True)
    ]


def _closed_days(scenario: Scenario, channels: tuple[str, ...]) -> np.ndarray:
    closed = np.zeros((len(channels), scenario.days), dtype=bool)
    for code, name in enumerate(channels):
        days = sorted(scenario.closed_days(name))
        closed[code, days] = True
    return closed


def _consent(scenario: Scenario, channels: tuple[str, ...]) -> np.ndarray:
    """[channel, customer] consent; a missing consent column means no consent."""
    customers = scenario.customers
    consent = np.zeros((len(channels), len(customers)), dtype=bool)
    for code, name in enumerate(channels):
        column = f"consent_{name}"
        if column in customers.columns:
            consent[code] = customers[column].astype(bool).to_numpy(bool)
    return consent


def _channel_lists(lists: list[str], channels: tuple[str, ...]) -> np.ndarray:
    """[list, channel]: which declared channels each distinct 'a|b' text names."""
    table = np.zeros((len(lists), len(channels)), dtype=bool)
    for row, text in enumerate(lists):
        names = {part.strip() for part in text.split("|")}
        table[row] = [name in names for name in channels]
    return table


# --------------------------------------------------------------------------- window counts


def count_within(
    ref_group: np.ndarray,
    ref_day: np.ndarray,
    query_group: np.ndarray,
    query_low: np.ndarray,
    query_high: np.ndarray,
) -> np.ndarray:
    """For each query, how many reference events share its group and have low <= day <= high.

    The references must be sorted by (group, day): the events are sorted once and every
    rule takes a masked subset, which stays sorted. (group, day) is encoded as one integer
    whose span covers every day involved, so each query is two binary searches.
    """
    if len(query_group) == 0 or len(ref_group) == 0:
        return np.zeros(len(query_group), dtype=np.int64)
    base = min(int(ref_day.min()), int(query_low.min()))
    top = max(int(ref_day.max()), int(query_high.max()))
    span = top - base + 1
    ref_key = ref_group.astype(np.int64) * span + (ref_day - base)
    low_key = query_group.astype(np.int64) * span + (query_low - base)
    high_key = query_group.astype(np.int64) * span + (query_high - base)
    counts = np.searchsorted(ref_key, high_key, "right") - np.searchsorted(ref_key, low_key, "left")
    return np.maximum(counts, 0).astype(np.int64)


# --------------------------------------------------------------------------- the plan


@dataclass
class PlanRows:
    """The plan's rows as codes: the candidate each row names (-1 for an unknown id), and
    each calendar row's day offset (NaN when unreadable) and channel code."""

    calendar: pa.Table
    suppressed: pa.Table
    cal_candidate: np.ndarray
    sup_candidate: np.ndarray
    cal_day: np.ndarray
    cal_channel: np.ndarray

    @classmethod
    def build(cls, codes: ScenarioCodes, calendar: pa.Table, suppressed: pa.Table) -> PlanRows:
        ids = pa.chunked_array(
            calendar.column("candidate_id").chunks + suppressed.column("candidate_id").chunks,
            type=TEXT,
        )
        candidate = positions_in(ids, codes.candidate_ids)  # one hash table for both files
        release_arrow_memory()
        return cls(
            calendar=calendar,
            suppressed=suppressed,
            cal_candidate=candidate[: len(calendar)],
            sup_candidate=candidate[len(calendar) :],
            cal_day=day_offsets(calendar.column("date"), codes.scenario.start),
            cal_channel=codes.channel_codes(calendar.column("channel")),
        )

    def column(self, table: str, name: str) -> pa.ChunkedArray:
        return (self.calendar if table == "calendar" else self.suppressed).column(name)


@dataclass
class Sends:
    """The calendar's sends of known candidates on a readable date, in calendar order.

    customer, comm, value come from the candidate (the plan decides day and channel only);
    cost is recomputed as channel cost (0 for an undeclared channel) + comm cost.
    """

    row: np.ndarray  # calendar row
    candidate: np.ndarray
    customer: np.ndarray
    comm: np.ndarray
    channel: np.ndarray
    day: np.ndarray
    value: np.ndarray
    cost: np.ndarray
    priority: np.ndarray

    @classmethod
    def build(cls, codes: ScenarioCodes, rows: PlanRows) -> Sends:
        row = np.flatnonzero((rows.cal_candidate >= 0) & ~np.isnan(rows.cal_day))
        candidate = rows.cal_candidate[row]
        comm = codes.cand_comm[candidate]
        channel = rows.cal_channel[row]
        return cls(
            row=row,
            candidate=candidate,
            customer=codes.cand_customer[candidate],
            comm=comm,
            channel=channel,
            day=rows.cal_day[row].astype(np.int64),
            value=codes.cand_value[candidate],
            cost=codes.cost_of_channel(channel) + codes.comm_cost[comm],
            priority=codes.comm_priority[comm],
        )

    def __len__(self) -> int:
        return len(self.row)

    def metric(self, codes: ScenarioCodes, name: str) -> np.ndarray:
        """A numeric candidates column, per send."""
        return codes.scenario.candidates[name].to_numpy(float)[self.candidate]


@dataclass
class Events:
    """Planned sends and history rows together: what per-customer rules count.

    Sorted once by (customer, day, sends before history, then file order), so any masked
    subset is still sorted for `count_within`. `origin` is the position before sorting
    (sends 0..S-1 in calendar order, then history rows in file order): reports list
    violations in that order. `candidate` is the candidate code of a send and a code of
    its own (n_candidates + history row) for each history row, so a history row is always
    "another send" than any planned one.
    """

    customer: np.ndarray
    comm: np.ndarray
    channel: np.ndarray
    day: np.ndarray
    planned: np.ndarray
    candidate: np.ndarray
    origin: np.ndarray

    @classmethod
    def build(cls, codes: ScenarioCodes, sends: Sends) -> Events:
        history = codes.scenario.history
        n_history = len(history)
        customer = np.concatenate([sends.customer, codes.customer_codes(history["customer_id"])])
        day = np.concatenate([sends.day, history["day"].to_numpy(np.int64)])
        order = _stable_order(customer, day)
        n_candidates = len(codes.candidate_ids)
        columns = {
            "customer": customer,
            "comm": np.concatenate([sends.comm, codes.comm_codes(history["comm_id"])]),
            "channel": np.concatenate([sends.channel, codes.channel_codes(history["channel"])]),
            "day": day,
            "planned": np.concatenate([np.ones(len(sends), bool), np.zeros(n_history, bool)]),
            "candidate": np.concatenate(
                [sends.candidate, n_candidates + np.arange(n_history, dtype=np.int64)]
            ),
            "origin": np.arange(len(day), dtype=np.int64),
        }
        return cls(**{name: values[order] for name, values in columns.items()})

    def __len__(self) -> int:
        return len(self.day)

    @cached_property
    def by_candidate(self) -> np.ndarray:
        """Event indices sorted by (candidate, day): for "the same candidate" counts."""
        return _stable_order(self.candidate, self.day)

    def customer_slice(self, customer: int) -> slice:
        """The events of one customer (they are contiguous)."""
        low = int(np.searchsorted(self.customer, customer, "left"))
        return slice(low, int(np.searchsorted(self.customer, customer, "right")))


def _stable_order(group: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Indices sorting by (group, day), ties kept in their order: one integer key, one sort."""
    if len(day) == 0:
        return np.zeros(0, dtype=np.int64)
    base = int(day.min())
    span = int(day.max()) - base + 1
    return np.argsort(group.astype(np.int64) * span + (day - base), kind="stable")
