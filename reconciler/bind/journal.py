"""The journal named keeps beside a primary zone's file, and when it no longer fits the file.

With `ixfr-from-differences`, named records each reload's difference in `FILE.jnl` and, when
it starts, rolls the zone file forward through that journal. A zone file rewritten while
named did not read it (named down, rndc failing, a `kill -9` between write and reload) is
newer than its journal, and named then refuses the zone ("journal rollforward failed:
journal out of sync with zone"). `journal_end` reads the journal's last serial with BIND's
`named-journalprint`; `discard_journal` removes what named keeps for a zone file, for a
removed zone or when named does not hold the zone (down, or the zone unloaded).
"""

from __future__ import annotations

from pathlib import Path

from reconciler import bounded
from reconciler.bind.tools import run_tool
from reconciler.errors import BindError

# named's journal, and the temp and backup files of its compaction (journal.c)
JOURNAL_SUFFIXES = (".jnl", ".jnw", ".jbk")
# The header is a few lines: the rest (every transaction) is cut off at 1 MiB.
_HEADER_ONLY = bounded.Limits(
    cpu_seconds=10, memory_bytes=512 * bounded.MIB, output_bytes=bounded.MIB, wall_seconds=30.0
)


def journal_files(zone_file: Path) -> tuple[Path, ...]:
    """The files named may keep beside `zone_file`: its journal and compaction leftovers."""
    zone_file = Path(zone_file)
    return tuple(zone_file.with_name(zone_file.name + suffix) for suffix in JOURNAL_SUFFIXES)


def has_journal(zone_file: Path) -> bool:
    return any(path.exists() for path in journal_files(zone_file))


def journal_end(zone_file: Path) -> int | None:
    """The last serial in `zone_file`'s journal; None when there is none.

    Reads the header that `named-journalprint -x` prints first; the transactions after it
    are cut off by a small output limit. Raises BindError when the journal exists but
    named-journalprint cannot read it.
    """
    journal = journal_files(zone_file)[0]
    if not journal.exists():
        return None
    run = run_tool("named-journalprint", ["-x"], [str(journal)], limits=_HEADER_ONLY)
    for line in run.stdout.decode("utf-8", "replace").splitlines()[:16]:
        key, _, value = line.partition("=")
        if key.strip() == "End serial" and value.strip().isdigit():
            return int(value)
    message = " ".join(run.stderr.decode("utf-8", "replace").split()) or "no header"
    raise BindError(f"{journal}: named-journalprint cannot read it: {message}")


def journal_fits(zone_file: Path, serial: int | None) -> bool:
    """Whether named could start from `zone_file` (whose SOA serial is `serial`) and its
    journal: no journal, or one that ends at that serial. An unreadable journal never fits.
    """
    try:
        end = journal_end(zone_file)
    except BindError:
        return False
    return end is None or end == serial


def discard_journal(zone_file: Path) -> list[str]:
    """Remove what named keeps beside `zone_file`; the names of the files removed.

    Only when named does not hold the zone: it is removed, not loaded, or named is down.
    """
    removed = []
    for path in journal_files(zone_file):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise BindError(f"{path}: cannot remove it: {exc.strerror}") from None
        removed.append(path.name)
    return removed
