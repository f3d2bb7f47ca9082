"""The servers an imported repo names, and its reconciler.toml (pure).

The primary is named after the zones' SOA MNAME. The secondaries are the servers the
zones send NOTIFY to (`also-notify`), each named after the NS name whose address it is
when exactly one is, and the NS names of the zones (not the primary) whose address the
imported zones hold and no `also-notify` names; an NS name without a known address is a
note for the operator, not a guess. Secondaries given on the command line replace all
of that. `config_text` fills the template's reconciler.toml with them, the TSIG key's
name (never its secret) and the serial scheme. Called by importer.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.bind.namedconf import ConfZone, Notified
from reconciler.config.repo import Server
from reconciler.model.serial import Scheme
from reconciler.model.zone import parse_line


@dataclass(frozen=True)
class Topology:
    primary: Server
    secondaries: tuple[Server, ...]
    key_name: str
    notes: tuple[str, ...]


def find_topology(
    primary: Server,
    conf: Sequence[ConfZone],
    records: Mapping[str, Sequence[str]],
    given: Sequence[Server],
    key_name: str,
) -> Topology:
    """`records`: each zone's records, one absolute record per line."""
    parsed = [parse_line(line) for lines in records.values() for line in lines]
    mnames = [r.rdata.split()[0].lower() for r in parsed if r.rtype == "SOA"]
    mname = max(sorted(set(mnames)), key=mnames.count) if mnames else "primary."
    if not primary.name:
        primary = replace(primary, name=mname.rstrip("."))
    if given:
        return Topology(primary, tuple(given), key_name, ())
    addresses: dict[str, list[str]] = {}
    for record in parsed:
        if record.rtype in ("A", "AAAA"):
            addresses.setdefault(record.owner, []).append(record.rdata)
    apexes = {f"{zone}." for zone in records}
    ns_names = sorted(
        {r.rdata.lower() for r in parsed if r.rtype == "NS" and r.owner in apexes} - {mname}
    )
    notified = list(dict.fromkeys(n for zone in conf for n in zone.also_notify))
    notified = [n for n in notified if (n.address, n.port) != (primary.address, primary.port)]
    found = [_notified_server(n, notified, ns_names, addresses) for n in notified]
    notes = []
    told = {n.address for n in notified}
    for name in ns_names:
        known = addresses.get(name)
        if not known:
            notes.append(
                f"NS {name}: no address in the imported zones; add it to reconciler.toml as a "
                "[[secondary]] if the reconciler must wait for it"
            )
        elif not told & set(known) and primary.address not in known:
            found.append(Server(name.rstrip("."), known[0]))
    return Topology(primary, _unique(found), key_name, tuple(notes))


def _notified_server(
    target: Notified,
    notified: Sequence[Notified],
    ns_names: Sequence[str],
    addresses: Mapping[str, Sequence[str]],
) -> Server:
    owners = [name for name in ns_names if target.address in addresses.get(name, ())]
    alone = sum(1 for n in notified if n.address == target.address) == 1
    if len(owners) == 1 and alone:
        name = owners[0].rstrip(".")
    else:
        name = "ns-" + re.sub(r"[.:]", "-", target.address)
        name += f"-{target.port}" if target.port != 53 else ""
    return Server(name, target.address, target.port)


def _unique(servers: Sequence[Server]) -> tuple[Server, ...]:
    seen: set[str] = set()
    found = []
    for server in servers:
        name, count = server.name, 1
        while name in seen:
            count += 1
            name = f"{server.name}-{count}"
        seen.add(name)
        found.append(replace(server, name=name))
    return tuple(found)


def _server_table(table: str, server: Server) -> str:
    return (
        f"{table}\nname = {json.dumps(server.name)}\naddress = {json.dumps(server.address)}\n"
        f"port = {server.port}\n\n"
    )


def config_text(template: str, topology: Topology, algorithm: str, scheme: Scheme) -> str:
    """The template's reconciler.toml with this topology, key name and serial scheme."""
    servers = (
        "# The primary: where the reconciler reaches it. (Zone files publish their own\n"
        "# NS names and addresses; these are the addresses the reconciler talks to.)\n"
        + _server_table("[primary]", topology.primary)
        + "# Every secondary that must serve each new serial before a change counts as done\n"
        "# (found by `reconciler import` in also-notify and the NS sets).\n"
        + "".join(_server_table("[[secondary]]", s) for s in topology.secondaries)
        + "".join(f"# {note}\n" for note in topology.notes)
        + ("\n" if topology.notes else "")
    )
    start, end = template.index("# The primary:"), template.index("# Zone transfers")
    text = template[:start] + servers + template[end:]
    text = _set(text, "transfer", "tsig_key", topology.key_name)
    text = _set(text, "transfer", "algorithm", algorithm)
    text = _set(text, "serial", "scheme", scheme)
    cut = text.find("# Variables for zones/")
    if cut != -1:
        text = text[:cut] + "# Variables for zones/*.zone.j2 templates, as {{ name }}.\n[vars]\n"
    return text


def _set(text: str, table: str, key: str, value: str) -> str:
    """`key = "value"` in the template's `[table]` (another table's `key` is left alone)."""
    start = text.index(f"\n[{table}]\n")
    end = text.find("\n[", start + 1)
    end = len(text) if end == -1 else end
    body = re.sub(rf'(?m)^{key} = ".*"$', f"{key} = {json.dumps(value)}", text[start:end], count=1)
    return text[:start] + body + text[end:]
