"""click's progress bar on stderr for work over many zones: `check`, `plan`, `import`.

Only on a terminal, never with `--format json` (the caller says so with `enabled`), and only
when there are at least `minimum` zones to go through. Fed from worker threads; several
feeds (plan's base and head) add up to one bar.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import click

MANY = 100  # zones: from here on, check and plan show a bar
Feed = Callable[[str, int], None]  # a zone's name once it is through, and how many there are


def wanted(fmt: str) -> bool:
    """A bar is for a person at a terminal: not for JSON, not when stderr is not a TTY."""
    return fmt != "json" and sys.stderr.isatty()


class Bar:
    def __init__(self, label: str, enabled: bool, minimum: int = 2) -> None:
        self.label = label
        self.enabled = enabled
        self.minimum = minimum
        self.length = 0
        self.done = 0
        self.bar: Any = None
        self.lock = threading.Lock()

    def feed(self) -> Feed:
        """A callback for one piece of work; its total is added to the bar's length."""
        counted = False

        def step(zone: str, total: int) -> None:
            nonlocal counted
            if not self.enabled:
                return
            with self.lock:
                if not counted:
                    counted = True
                    self.length += total
                    if self.bar is not None:
                        self.bar.length = self.length
                self.done += 1
                if self.bar is not None:
                    self.bar.update(1, zone)
                elif self.length >= self.minimum:
                    self.bar = click.progressbar(
                        length=self.length, label=self.label, file=sys.stderr, show_pos=True
                    )
                    self.bar.__enter__()
                    self.bar.update(self.done, zone)

        return step

    def close(self) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.__exit__(None, None, None)
                self.bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
