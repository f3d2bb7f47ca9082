"""`reconciler doctor`: the operator's `dig` walk over the live servers, as one command.

For every zone of the repo (or the one named) it asks, with short bounded timeouts:

- delegation: the parent zone's servers for the zone's NS; glue for nameservers inside the
  zone must be there and match the zone's own A/AAAA records, nameservers outside it must be
  listed, and the parent's NS set must be the zone's;
- servers: every server of reconciler.toml (and `--server`), and every NS name mapped to
  one, answers SOA and MX with authority over UDP and over TCP, with the primary's serial;
- mail: the zone has an MX whose targets have an address and are not CNAMEs;
- exposure: no server hands the zone to anyone by AXFR, none offers recursion to us;
- transfers: for a lagging secondary, the usual causes (TCP to the primary, the serial, the
  catalog zone, the TSIG key when daemon.toml names it).

The network is asked in `gather` (in parallel, a dead server is a finding, not a hang);
`evaluate` turns those facts into `Finding` values without I/O; a `Report` renders as text
and JSON. NS names are mapped to the servers of reconciler.toml by name (see `target_for`),
never by the addresses a zone publishes, so doctor only talks to the servers configured,
the parent servers (`--parent`, or found through the resolver), and the resolver.
Modules: values (Finding, Report, Options, targets), inputs (what to ask, the entry points),
facts (the network), catalogue (every finding's words), findings (facts in, findings out).
Called by cli/doctor.py (`reconciler doctor`).
"""

from __future__ import annotations

from reconciler.doctor.facts import (
    Facts,
    Parents,
    ServerFacts,
    ZoneFacts,
    find_parent_servers,
    gather,
)
from reconciler.doctor.findings import evaluate
from reconciler.doctor.inputs import (
    diagnose,
    from_host,
    from_repo,
    make_resolver,
    parse_endpoint,
    parse_server,
)
from reconciler.doctor.values import (
    CHECKS,
    Endpoint,
    Finding,
    Options,
    Report,
    Target,
    target_for,
    targets_of,
)

__all__ = [
    "CHECKS",
    "Facts",
    "Parents",
    "ServerFacts",
    "ZoneFacts",
    "evaluate",
    "gather",
    "make_resolver",
    "targets_of",
    "Endpoint",
    "Finding",
    "Options",
    "Report",
    "Target",
    "diagnose",
    "find_parent_servers",
    "from_host",
    "from_repo",
    "parse_endpoint",
    "parse_server",
    "target_for",
]
