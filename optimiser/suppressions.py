"""Why candidates are not in the calendar, as columns.

A plan of a million customers suppresses about twelve million candidates: one
Python object each would cost gigabytes and minutes. `Suppressions` keeps one
row per candidate in numpy arrays (candidate position, reason code, rule and
detail as codes into one string table), so the pre-filter, the explanations
of every customer block and the plan writer pass whole arrays around.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# the spec's suppression reasons (section 5), in a fixed order: codes index this tuple
REASONS = ("invalid", "outside_horizon", "no_consent", "channel_closed", "exclusion",
           "duplicate", "frequency_cap", "min_gap", "never_together", "capacity", "budget",
           "volume", "no_value")
REASON_CODE = {name: code for code, name in enumerate(REASONS)}


@dataclass(frozen=True)
class Suppressions:
    """One row per suppressed candidate: cand (position in scenario.candidates), reason
    (code into REASONS), rule and detail (codes into `texts`)."""

    cand: np.ndarray
    reason: np.ndarray
    rule: np.ndarray
    detail: np.ndarray
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.cand)

    @staticmethod
    def empty() -> Suppressions:
        none = np.zeros(0, dtype=np.int64)
        return Suppressions(none, none.astype(np.int8), none, none, ())

    @staticmethod
    def of(cand: np.ndarray, reason: str | np.ndarray, rule: str | np.ndarray,
           detail: str | np.ndarray) -> Suppressions:
        """Rows for `cand`; each of reason, rule, detail is one string for all rows or an
        array of strings (one per row)."""
        cand = np.asarray(cand, dtype=np.int64)
        texts: list[str] = []

        def codes(value: str | np.ndarray) -> np.ndarray:
            if isinstance(value, str):
                texts.append(value)
                return np.full(len(cand), len(texts) - 1, dtype=np.int64)
            distinct, inverse = np.unique(np.asarray(value, dtype=object).astype(str),
                                          return_inverse=True)
            offset = len(texts)
            texts.extend(str(t) for t in distinct)
            return inverse.astype(np.int64) + offset

        if isinstance(reason, str):
            reason_codes = np.full(len(cand), REASON_CODE[reason], dtype=np.int8)
        else:
            reason_codes = np.array([REASON_CODE[r] for r in reason], dtype=np.int8)
        return Suppressions(cand, reason_codes, codes(rule), codes(detail), tuple(texts))

    @staticmethod
    def concat(parts: Sequence[Suppressions]) -> Suppressions:
        """All rows of `parts`, in order, over one string table."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Suppressions.empty()
        offsets = np.cumsum([0] + [len(p.texts) for p in parts[:-1]])
        return Suppressions(
            np.concatenate([p.cand for p in parts]),
            np.concatenate([p.reason for p in parts]),
            np.concatenate([p.rule + o for p, o in zip(parts, offsets, strict=True)]),
            np.concatenate([p.detail + o for p, o in zip(parts, offsets, strict=True)]),
            tuple(t for p in parts for t in p.texts))

    def sorted(self) -> Suppressions:
        """Rows by candidate position: the plan's order, whatever block found them."""
        order = np.argsort(self.cand, kind="stable")
        return Suppressions(self.cand[order], self.reason[order], self.rule[order],
                            self.detail[order], self.texts)

    def take(self, mask: np.ndarray) -> Suppressions:
        return Suppressions(self.cand[mask], self.reason[mask], self.rule[mask],
                            self.detail[mask], self.texts)

    def reason_names(self) -> np.ndarray:
        return np.array(REASONS, dtype=object)[self.reason]

    def text_column(self, codes: np.ndarray) -> np.ndarray:
        return np.array(self.texts, dtype=object)[codes] if len(codes) else np.zeros(
            0, dtype=object)
