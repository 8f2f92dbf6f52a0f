"""The array helpers give numpy's answers, by counting or by sorting (optimiser/arrays.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optimiser.arrays import distinct_per_group, unique, unique_inverse

DTYPES = st.sampled_from([np.int64, np.int32, np.uint8, np.uint64])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 250), max_size=60), DTYPES,
       st.sampled_from([0, 7, 10**9]))  # 10**9 apart: the sorting path; else counting
def test_unique_and_inverse_match_numpy(values, dtype, spread) -> None:
    arr = (np.array(values, dtype=np.int64) * (1 + spread * (np.arange(len(values)) % 2))
           ).astype(dtype) if dtype != np.uint8 else np.array(values, dtype=dtype)
    expected, inverse = np.unique(arr, return_inverse=True)
    got = unique(arr)
    assert got.dtype == expected.dtype and got.tolist() == expected.tolist()
    distinct, index = unique_inverse(arr)
    assert distinct.tolist() == expected.tolist()
    assert index.dtype == np.int64 and index.tolist() == inverse.ravel().tolist()


def test_negative_codes_are_counted_too() -> None:
    arr = np.array([-3, 5, -3, 0, 5, 2], dtype=np.int64)
    assert unique(arr).tolist() == [-3, 0, 2, 5]
    assert unique_inverse(arr)[1].tolist() == [0, 3, 0, 1, 3, 2]


def test_distinct_per_group() -> None:
    group = np.array([0, 0, 0, 2, 2, 1])
    value = np.array([4, 4, 9, 1, 2, 7])
    assert distinct_per_group(group, value, 4).tolist() == [2, 1, 2, 0]
