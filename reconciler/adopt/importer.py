"""`reconciler import`: a new zone repo, in one commit, from a primary that runs already.

The zones come from the primary by AXFR with the TSIG key (named on the command line,
or every primary zone of a named.conf), written in readable canonical form
(bind/zonetext.py); or from the zone files a named.conf names, copied byte for byte so
they keep the operator's comments and `$ORIGIN` style. `reconciler.toml` is the
template's with the topology filled in (topology.py): the primary, the secondaries from
`also-notify` and the NS sets, the TSIG key's name (never its secret) and the serial
scheme the serials follow. Then the new repo is checked as `apply` would check it.
Called by cli/main.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.adopt.topology import Topology, config_text, find_topology
from reconciler.bind import probe
from reconciler.bind.keys import Key
from reconciler.bind.namedconf import ConfZone, read_named_conf
from reconciler.bind.tools import canonical_dump
from reconciler.bind.zonetext import readable
from reconciler.check.inspect import inspect
from reconciler.config.repo import CONFIG_FILE, Server
from reconciler.errors import ConfigError, Problem, SourceError
from reconciler.model.names import DEFAULT_KEY_NAME, checked_zone_name
from reconciler.model.serial import guess_scheme
from reconciler.model.zone import parse_line
from reconciler.resources import shared
from reconciler.source.repo import commit_all, new_repo, open_repo

AXFR_TIMEOUT = 120.0
_WORKERS = 4
_KEEP = ("README.md", ".github", ".gitlab-ci.yml", ".pre-commit-config.yaml")  # of the template

Progress = Callable[[str, int], None]  # each zone's name once it is read, and how many


@dataclass(frozen=True)
class Request:
    """What to import and from where."""

    target: Path
    primary: Server  # where named answers (AXFR), and the [primary] written
    zones: tuple[str, ...] = ()  # named on the command line; () with named_conf: all of it
    named_conf: Path | None = None
    key: Key | None = None  # the TSIG key for AXFR (its name goes into reconciler.toml)
    from_files: bool = False  # the zone files named.conf names, rather than AXFR
    secondaries: tuple[Server, ...] = ()  # given: these, and nothing is looked for


@dataclass(frozen=True)
class ImportedZone:
    zone: str
    path: str  # in the repo
    text: str
    serial: int
    source: str  # "AXFR from ADDR port N" or the file it was copied from
    records: tuple[str, ...]  # one absolute record per line, as BIND reads the text


@dataclass(frozen=True)
class Imported:
    commit: str
    zones: tuple[ImportedZone, ...]
    topology: Topology
    notes: tuple[str, ...]  # what the operator should look at
    problems: tuple[Problem, ...]  # what `check` finds in the new repo

    def to_dict(self) -> dict[str, object]:
        return {
            "commit": self.commit,
            "zones": [
                {"zone": z.zone, "path": z.path, "serial": z.serial, "source": z.source}
                for z in self.zones
            ],
            "primary": self.topology.primary.__dict__,
            "secondaries": [s.__dict__ for s in self.topology.secondaries],
            "tsig_key": self.topology.key_name,
            "notes": list(self.notes),
            "problems": [str(p) for p in self.problems],
        }


def zones_to_import(request: Request) -> tuple[ConfZone, ...]:
    """The zones asked for: those named, else every primary zone of named.conf."""
    conf = read_named_conf(request.named_conf) if request.named_conf else ()
    if not request.zones:
        if not conf:
            raise ConfigError("no zones to import: name them, or give a named.conf")
        return conf
    known = {z.name: z for z in conf}
    names = [checked_zone_name(z).lower().rstrip(".") for z in request.zones]
    if request.from_files:
        missing = [n for n in names if n not in known]
        if missing:
            raise ConfigError(f"{request.named_conf}: no primary zone {missing[0]}")
    return tuple(known.get(n, ConfZone(n, None, (), ())) for n in names)


def run_import(request: Request, progress: Progress = lambda zone, total: None) -> Imported:
    """Read every zone, write the repo, commit once, check it."""
    target = request.target
    if target.exists() and any(target.iterdir()):
        raise SourceError(f"{target}: exists and is not empty")
    conf = zones_to_import(request)
    if not request.from_files and request.key is None:
        raise ConfigError("import by AXFR needs the TSIG key file (--key-file)")
    read = _from_file if request.from_files else _by_axfr
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        zones = list(pool.map(lambda z: _reported(read(request, z), progress, len(conf)), conf))
    notes = [note for zone in conf for note in _journal_note(zone, request.from_files)]
    key_name = request.key.name if request.key else _key_name(conf)
    algorithm = request.key.algorithm if request.key else "hmac-sha256"
    records = {z.zone: z.records for z in zones}
    topology = find_topology(request.primary, conf, records, request.secondaries, key_name)
    notes += topology.notes
    scheme = guess_scheme(z.serial for z in zones)
    template = shared("repo-template")
    text = config_text(
        (template / CONFIG_FILE).read_text(encoding="utf-8"), topology, algorithm, scheme
    )
    commit = _write(target, template, zones, text, request)
    problems = inspect(open_repo(target), "HEAD", canonical_forms=False).problems  # one BIND run
    return Imported(commit, tuple(zones), topology, tuple(notes), problems)


def _reported(zone: ImportedZone, progress: Progress, total: int) -> ImportedZone:
    progress(zone.zone, total)
    return zone


def _by_axfr(request: Request, zone: ConfZone) -> ImportedZone:
    primary = request.primary
    lines = probe.axfr(primary.address, primary.port, zone.name, request.key, AXFR_TIMEOUT)
    source = f"AXFR from {primary.address} port {primary.port}"
    serial = _serial(lines)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"{zone.name}: imported by {source}, serial {serial}, {when}",)
    text = readable(zone.name, lines, header)
    return ImportedZone(zone.name, _path(zone.name), text, serial, source, tuple(lines))


def _from_file(request: Request, zone: ConfZone) -> ImportedZone:
    if zone.file is None:
        raise ConfigError(f"{request.named_conf}: zone {zone.name} names no file")
    try:
        data = zone.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{zone.file}: zone {zone.name}: {exc.strerror}") from None
    text = data.decode("utf-8", errors="surrogateescape")
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().upper().startswith("$INCLUDE"):
            raise ConfigError(
                f"{zone.file}:{number}: zone {zone.name}: $INCLUDE is not followed by an "
                "import from files; import this zone by AXFR (--key-file) instead"
            )
    # as BIND reads the operator's file (bytes that are not UTF-8 kept in the repo as they are)
    records = canonical_dump(zone.name, data.decode("utf-8", errors="replace"))
    serial = _serial(records)
    return ImportedZone(zone.name, _path(zone.name), text, serial, str(zone.file), records)


def _serial(lines: Sequence[str]) -> int:
    soa = next((parse_line(line) for line in lines if parse_line(line).rtype == "SOA"), None)
    return int(soa.rdata.split()[2]) if soa else 0


def _path(zone: str) -> str:
    return f"zones/{zone}.zone"


def _journal_note(zone: ConfZone, from_files: bool) -> list[str]:
    if not from_files or zone.file is None:
        return []
    journal = zone.file.with_name(zone.file.name + ".jnl")
    if not journal.exists():
        return []
    return [
        f"{journal}: named holds changes of {zone.name} (dynamic updates) that may not be in "
        f"{zone.file}; run 'rndc sync -clean {zone.name}' and import again, or import by AXFR"
    ]


def _key_name(conf: Sequence[ConfZone]) -> str:
    """The key the zones' allow-transfer names (the most common), else the default."""
    names = [k for zone in conf for k in zone.transfer_keys]
    return max(sorted(set(names)), key=names.count) if names else DEFAULT_KEY_NAME


def _write(
    target: Path, template: Path, zones: Sequence[ImportedZone], config: str, request: Request
) -> str:
    target.mkdir(parents=True, exist_ok=True)
    for name in _KEEP:
        source = template / name
        if source.is_dir():
            shutil.copytree(source, target / name, symlinks=False)
        elif source.exists():
            shutil.copy(source, target / name)
    (target / "zones").mkdir()
    for zone in zones:
        (target / zone.path).write_bytes(zone.text.encode("utf-8", errors="surrogateescape"))
    (target / CONFIG_FILE).write_text(config, encoding="utf-8")
    repo = new_repo(target)
    how = "from the zone files of" if request.from_files else "by AXFR from"
    where = request.named_conf if request.from_files else request.primary.address
    message = f"Import {len(zones)} zone(s) {how} {where}\n\n" + "\n".join(
        f"{z.zone}: serial {z.serial}, from {z.source}" for z in zones
    )
    return commit_all(repo, message)
