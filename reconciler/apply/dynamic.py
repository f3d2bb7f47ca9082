"""Keeping a zone's dynamic records (reconciler.toml's [dynamic]) across writes from git.

named owns a dynamic zone's file: RFC 2136 updates go to its journal and its serial moves
on by itself. So a deploy freezes the zone (`rndc freeze`: named writes every record it
holds, the dynamic ones among them, into the file and takes no update), reads the dynamic
records back from that file, writes git's content with them, and thaws the zone (`rndc
thaw`: named loads the file and, with `ixfr-from-differences`, journals the difference for
the secondaries' IXFR). The journal stays consistent, and no record a client added is lost.
Called by apply/deploy.py and, to leave the dynamic names out of a copy fetched from the
primary, by the reconcile step.
"""

from __future__ import annotations

from pathlib import Path

import dns.exception
import dns.rdataclass
import dns.rdatatype
import dns.zone

from reconciler.errors import BindError
from reconciler.model.dynamic import Dynamic, DynamicZone
from reconciler.model.zone import CanonicalZone


def held_records(path: Path, dynamic: DynamicZone) -> tuple[tuple[str, ...], int]:
    """The dynamic records in a zone file named wrote (a frozen zone's), and its serial."""
    try:
        zone = dns.zone.from_file(
            str(path), origin=f"{dynamic.zone}.", relativize=False, check_origin=False
        )
    except (OSError, dns.exception.DNSException) as exc:
        raise BindError(f"{path}: cannot read the frozen zone {dynamic.zone}: {exc}") from None
    lines = []
    for name, node in sorted(zone.nodes.items()):
        for rdataset in node.rdatasets:
            kind = dns.rdatatype.to_text(rdataset.rdtype)
            if name.to_text().lower() not in dynamic.names or kind not in dynamic.types:
                continue
            for rdata in rdataset:
                klass = dns.rdataclass.to_text(rdataset.rdclass)
                lines.append(f"{name.to_text().lower()} {rdataset.ttl} {klass} {kind} {rdata}")
    soa = zone.get_soa()
    return tuple(lines), int(soa.serial)


def with_records(zone: CanonicalZone, lines: tuple[str, ...]) -> CanonicalZone:
    """Git's content of `zone` and the dynamic records named held."""
    return CanonicalZone.from_dump(zone.name, zone.dump + "".join(f"{line}\n" for line in lines))


def without_dynamic(zone: CanonicalZone, dynamic: Dynamic) -> CanonicalZone:
    """`zone` without the records of its dynamic names: what git has of it."""
    if dynamic.of(zone.name) is None:
        return zone
    kept = (
        line
        for line, record in zip(zone.lines(), zone.records(), strict=True)
        if not dynamic.is_dynamic(zone.name, record.owner, record.rtype)
    )
    return CanonicalZone.from_lines(zone.name, kept)
