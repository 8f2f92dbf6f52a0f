"""Array helpers the rule families share: runs of equal keys and concatenated ranges.

They let a family build the rows of every customer in a few numpy passes;
one Python step per customer or per row would dominate the build at scale.
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


def ranges(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start[i], stop[i]) for every i, without a Python loop."""
    lengths = np.asarray(stop, dtype=np.int64) - np.asarray(start, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(start - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def distinct_per_group(group: np.ndarray, value: np.ndarray, n_groups: int) -> np.ndarray:
    """How many distinct values each group 0..n_groups-1 holds (groups and values >= 0)."""
    if len(group) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    width = int(value.max()) + 1
    pairs = np.unique(group.astype(np.int64) * width + value)
    return np.bincount(pairs // width, minlength=n_groups)
