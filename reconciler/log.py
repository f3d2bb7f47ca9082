"""structlog set-up: readable console lines for the CLI, JSON for the daemon.

Called once by `cli/main.py` at start-up; everything else calls `structlog.get_logger()` and
binds its context (zone, commit, stage).
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure(json: bool = False, verbose: bool = False, level: str | None = None) -> None:
    """`verbose`: info and up (debug with level="debug"); otherwise warnings only."""
    if level is not None:
        chosen = getattr(logging, level.upper())
    else:
        chosen = logging.DEBUG if verbose else logging.WARNING
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(chosen),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
