"""Live progress on long steps, out of the way when output is not a terminal.

Progress goes to stderr and only when stderr is a terminal and the user did
not ask for --quiet, so logs of batch jobs and pipes stay clean.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click


class Progress:
    """Step messages and a progress bar over customer blocks."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._done = 0
        self._started = time.monotonic()

    def step(self, message: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self._started
            click.echo(f"[{elapsed:6.1f}s] {message}", err=True)

    def blocks(self, done: int, total: int) -> None:
        """Callback for the solve loop: `done` of `total` blocks finished."""
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="solving customer blocks",
                                          file=sys.stderr, show_eta=True)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
