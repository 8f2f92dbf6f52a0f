"""Array helpers shared across the optimiser: runs of equal keys, concatenated ranges,
distinct values.

They let a family build the rows of every customer in a few numpy passes;
one Python step per customer or per row would dominate the build at scale.

`unique` sorts: numpy 2.3+ answers `np.unique` on integer arrays with a hash table
that is about a hundred times slower than a sort on the tens of millions of
high-cardinality codes we dedupe (26 s against 0.26 s for 20M int64 here). Codes
that span few more values than there are of them (a block's customers) are counted
instead, which needs no sort at all.
"""

from __future__ import annotations

import numpy as np


def runs(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): positions sorted by `keys` (first key most significant, ties by
    position) and where each run of equal keys begins in that order (plus the end)."""
    count = len(keys[0])
    order = np.lexsort((np.arange(count), *reversed(keys)))
    change = np.zeros(count, dtype=bool)
    if count:
        change[0] = True
        for key in keys:
            ordered = key[order]
            change[1:] |= ordered[1:] != ordered[:-1]
    return order, np.append(np.flatnonzero(change), count)


def ptr_of(counts: np.ndarray) -> np.ndarray:
    """CSR offsets of consecutive groups of these sizes: [0, c0, c0 + c1, ...]."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def ranges(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start[i], stop[i]) for every i, without a Python loop."""
    lengths = np.asarray(stop, dtype=np.int64) - np.asarray(start, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(start - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _dense_span(values: np.ndarray) -> int | None:
    """The lowest value, when these are integers spanning few more values than there are
    of them (customer or candidate codes of a block): distinct values are then found by
    counting, one pass without a sort."""
    if values.dtype.kind not in "iu" or len(values) == 0:
        return None
    low, high = int(values.min()), int(values.max())
    return low if high - low <= 2 * len(values) + 1024 else None


def unique(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an array, by counting or sorting (see the module
    docstring)."""
    values = np.asarray(values).ravel()
    low = _dense_span(values)
    if low is not None:
        present = np.flatnonzero(np.bincount((values - low).astype(np.intp)))
        return (present + low).astype(values.dtype)
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value among them): np.unique's
    return_inverse, by a stable sort."""
    values = np.asarray(values).ravel()
    low = _dense_span(values)
    if low is not None:
        offset = (values - low).astype(np.intp)
        present = np.bincount(offset) > 0
        rank = np.cumsum(present) - 1
        return (np.flatnonzero(present) + low).astype(values.dtype), rank[offset].astype(np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.empty(len(ordered), dtype=bool)
    if len(ordered):
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


def distinct_per_group(group: np.ndarray, value: np.ndarray, n_groups: int) -> np.ndarray:
    """How many distinct values each group 0..n_groups-1 holds (groups and values >= 0)."""
    if len(group) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    width = int(value.max()) + 1
    pairs = unique(group.astype(np.int64) * width + value)
    return np.bincount(pairs // width, minlength=n_groups)
