"""Where the chunks of independent customers are solved: here, or on a Dask cluster.

A backend has one job: `map(func, chunks, inputs)` calls `func(chunk, inputs)` for
every chunk and yields the results in chunk order. `func` is a pure function
(`optimiser.blocks.build_block`), so the plan never depends on which process
or machine ran which chunk.

- `LocalBackend(workers)`: inline with one worker, else a fork pool; the inputs
  reach the pool's processes by inheritance (`_SHARED`), never pickled per task.
- `DaskBackend(address)`: an existing Dask cluster (`tcp://host:8786`), or an
  in-process `LocalCluster` with `"local"`. The inputs are pickled once and
  broadcast to every worker (`Client.scatter`); each task then ships only its
  chunk's customer codes.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Protocol, TypeVar

import numpy as np

Inputs = TypeVar("Inputs")
Result = TypeVar("Result")


class ChunkBackend(Protocol):
    def map(
        self, func: Callable[[np.ndarray, Inputs], Result], chunks: Sequence[np.ndarray],
        inputs: Inputs
    ) -> Iterator[Result]:
        """Yield `func(chunk, inputs)` for every chunk, in chunk order."""
        ...


# The inputs of the running solve, inherited by fork-pool processes (never pickled per task).
_SHARED: dict[str, Any] = {}


def _call_with_shared(func: Callable[[np.ndarray, Any], Result], customers: np.ndarray) -> Result:
    return func(customers, _SHARED["inputs"])


def _forked_worker() -> None:
    """A fork-pool worker may not enter the parent's OpenMP threads (optimiser.exact)."""
    from optimiser import exact

    exact.PARALLEL = False


class LocalBackend:
    """This machine: inline for one worker or one chunk, else a fork pool of `workers`."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def map(
        self, func: Callable[[np.ndarray, Inputs], Result], chunks: Sequence[np.ndarray],
        inputs: Inputs
    ) -> Iterator[Result]:
        if self.workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                yield func(chunk, inputs)
            return
        _SHARED["inputs"] = inputs
        try:
            context = multiprocessing.get_context("fork")
            with context.Pool(self.workers, initializer=_forked_worker) as pool:
                yield from pool.imap(partial(_call_with_shared, func), chunks)
        finally:
            _SHARED.clear()


class DaskBackend:
    """A Dask cluster: one task per chunk, the shared inputs scattered once to every worker.

    `address` is a scheduler address (`tcp://10.0.0.5:8786`) or `"local"` for an
    in-process `LocalCluster`. Use it as a context manager, or call `close()`.
    Needs the `dask` extra (`pip install "contact-plan[dask]"`) here and on every worker.
    """

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:  # the optional extra is missing
            raise RuntimeError(
                "the dask backend needs Dask: pip install 'contact-plan[dask]'"
            ) from error
        self.address = address
        self._cluster: Any = None
        if address == "local":
            self._cluster = LocalCluster(processes=True, threads_per_worker=1)
            self.client: Any = Client(self._cluster)
        else:
            self.client = Client(address)

    def map(
        self, func: Callable[[np.ndarray, Inputs], Result], chunks: Sequence[np.ndarray],
        inputs: Inputs
    ) -> Iterator[Result]:
        if not chunks:
            return
        # one pickle of scenario + options + context (they share the scenario), sent to all
        [shared] = self.client.scatter([inputs], broadcast=True, hash=False)
        futures = [self.client.submit(func, chunk, shared, pure=False) for chunk in chunks]
        try:
            for future in futures:  # submission order = chunk order, whoever finished first
                yield future.result()
        finally:
            self.client.cancel(futures)
            self.client.cancel([shared])

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskBackend:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
