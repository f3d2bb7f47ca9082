"""A zone's records as a readable master file: what `import` writes for a zone from AXFR.

`$ORIGIN` first, then the records sorted by name (the apex first: its SOA, its NS
set), names relative to the origin where they are inside it, owners in one column.
BIND reads it back to the records it came from (`plan --served` shows no change in
the tests). Records dnspython cannot read are written as they came, absolute.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.zone

from reconciler.model.names import checked_zone_name

_WIDTH = 24  # owners longer than this push their line's other columns out
_APEX_ORDER = {"SOA": 0, "NS": 1}  # the apex's SOA first, then its NS set, then the rest


def readable(zone: str, lines: Sequence[str], header: Sequence[str] = ()) -> str:
    """`lines` (one absolute record each, as probe.axfr gives them) as a master file.

    `header` lines are written first, each as a comment.
    """
    origin = checked_zone_name(zone).rstrip(".") + "."
    comments = "".join(f"; {line}\n" for line in header)
    try:
        parsed = dns.zone.from_text("\n".join(lines) + "\n", origin=origin, relativize=True)
        text = parsed.to_text(sorted=True, relativize=True, want_origin=False)
    except dns.exception.DNSException:
        return comments + f"$ORIGIN {origin}\n" + "".join(f"{line}\n" for line in lines)
    rows = [line.partition(" ")[::2] for line in text.splitlines()]
    rows.sort(key=lambda row: (row[0] != "@", _APEX_ORDER.get(row[1].split()[2], 2)))
    width = min(max((len(owner) for owner, _ in rows), default=0), _WIDTH)
    body = "".join(f"{owner:<{width}} {rest}\n" for owner, rest in rows)
    return comments + f"$ORIGIN {origin}\n" + body
