"""Zone text: which files are zones, rendering templates, include rules, canonical form.

Pure: takes a `Snapshot` and returns `ZoneText` values (the text BIND will be
given) or `Problem`s; parses BIND's canonical dump into records and a content
hash. Called by `validate.py` (which runs BIND on the text) and `plan.py`.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dns.name
from jinja2 import DictLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from .errors import Problem
from .source import Snapshot

ZONE_SUFFIX = ".zone"
TEMPLATE_SUFFIX = ".zone.j2"
_DIRECTIVE = re.compile(r"^\s*\$(INCLUDE|ORIGIN)\s+(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class ZoneText:
    """A zone's master-file text as BIND will read it."""

    name: str  # without the trailing dot, lower case
    path: str  # the file in the repo (the template for rendered zones)
    text: str
    rendered: bool = False


@dataclass(frozen=True)
class Record:
    owner: str
    ttl: int
    rtype: str
    rdata: str


@dataclass(frozen=True)
class CanonicalZone:
    """A zone in BIND's canonical form: one fully-qualified record per line."""

    name: str
    lines: tuple[str, ...]

    def records(self) -> Iterator[Record]:
        for line in self.lines:
            yield parse_line(line)

    @property
    def serial(self) -> int:
        return int(self.soa.rdata.split()[2])

    @property
    def soa(self) -> Record:
        return parse_line(next(line for line in self.lines if _rtype(line) == "SOA"))

    def with_serial(self, serial: int) -> CanonicalZone:
        """The same records with the SOA serial replaced (the reconciler owns the serial)."""
        lines = []
        for line in self.lines:
            if _rtype(line) == "SOA":
                record = parse_line(line)
                fields = record.rdata.split()
                fields[2] = str(serial)
                line = f"{record.owner} {record.ttl} IN SOA {' '.join(fields)}"
            lines.append(line)
        return CanonicalZone(self.name, tuple(lines))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    @property
    def content_hash(self) -> str:
        """sha256 of the records with the SOA serial left out: equal content, equal hash."""
        digest = hashlib.sha256()
        for line in sorted(self.lines):
            if _rtype(line) == "SOA":
                record = parse_line(line)
                fields = record.rdata.split()
                fields[2] = "0"
                line = f"{record.owner} {record.ttl} IN SOA {' '.join(fields)}"
            digest.update(line.encode() + b"\n")
        return digest.hexdigest()


def _rtype(line: str) -> str:
    parts = line.split(None, 4)
    return parts[3] if len(parts) > 3 else ""


def parse_line(line: str) -> Record:
    owner, ttl, _klass, rtype, *rest = line.split(None, 4)
    return Record(owner.lower(), int(ttl), rtype, " ".join(rest[0].split()) if rest else "")


def zone_name(path: str) -> str | None:
    """The zone a file in the zones folder holds, from its name; None for other files."""
    base = posixpath.basename(path)
    for suffix in (TEMPLATE_SUFFIX, ZONE_SUFFIX):
        if base.endswith(suffix):
            return base[: -len(suffix)].lower().rstrip(".")
    return None


def zone_files(snapshot: Snapshot, zones_dir: str) -> tuple[dict[str, str], list[Problem]]:
    """Zone name -> file for every zone file directly in the zones folder; clashes refused."""
    found: dict[str, str] = {}
    problems = []
    for path in sorted(snapshot.files):
        name = zone_name(path)
        if posixpath.dirname(path) != zones_dir or not name:
            continue
        if name in found:
            problems.append(Problem(path, f"zone {name} is already defined by {found[name]}"))
            continue
        found[name] = path
    return found, problems


def _decode(path: str, data: bytes) -> tuple[str | None, Problem | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        return None, Problem(path, f"not UTF-8 (byte 0x{byte:02x})", line=line)


def load_zone(
    snapshot: Snapshot,
    zones_dir: str,
    name: str,
    path: str,
    variables: dict[str, Any],
    max_bytes: int,
) -> tuple[ZoneText | None, list[Problem]]:
    """Read, check the file-level rules for, and render one zone."""
    entry = snapshot.files[path]
    problems = file_problems(path, entry.symlink, entry.size, entry.data, max_bytes)
    if problems or entry.data is None:
        return None, problems
    try:
        dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        return None, [Problem(path, f"file name is not a valid zone name: {exc}", zone=name)]
    text, problem = _decode(path, entry.data)
    if problem or text is None:
        return None, [problem] if problem else []
    rendered = path.endswith(TEMPLATE_SUFFIX)
    if rendered:
        text, problems = render(snapshot, zones_dir, path, text, name, variables)
        if text is None:
            return None, problems
    if not text.strip():
        return None, [Problem(path, "empty zone file", zone=name)]
    problems += directive_problems(snapshot, zones_dir, path, text, name, max_bytes)
    return (None if problems else ZoneText(name, path, text, rendered)), problems


def file_problems(
    path: str, symlink: bool, size: int, data: bytes | None, max_bytes: int
) -> list[Problem]:
    if symlink:
        return [Problem(path, "is a symlink; zone files and includes must be regular files")]
    if size > max_bytes:
        return [
            Problem(
                path,
                f"file is {size} bytes, over the limit of {max_bytes} bytes "
                "([safety] max_zone_bytes in reconciler.toml)",
            )
        ]
    if size == 0 or data is None:
        return [Problem(path, "empty file")]
    return []


def render(
    snapshot: Snapshot, zones_dir: str, path: str, text: str, name: str, variables: dict[str, Any]
) -> tuple[str | None, list[Problem]]:
    """Render a .zone.j2 template in Jinja2's sandbox; includes come only from the zones folder."""
    sources = {}
    for other, entry in snapshot.files.items():
        if other.startswith(zones_dir + "/") and entry.data is not None and not entry.symlink:
            sources[other[len(zones_dir) + 1 :]] = entry.data.decode("utf-8", "replace")
    env = SandboxedEnvironment(
        loader=DictLoader(sources),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # Only the sandbox's own bounded range(); no cycler, joiner, namespace, lipsum.
    env.globals = {"range": env.globals["range"]}
    try:
        template = env.from_string(text)
        template.name = path
        output = template.render(zone=name, origin=name + ".", vars=variables, **variables)
    except TemplateSyntaxError as exc:
        return None, [Problem(path, f"template syntax: {exc.message}", line=exc.lineno, zone=name)]
    except (SecurityError, OverflowError) as exc:  # OverflowError: range() too big
        return None, [
            Problem(
                path,
                f"template refused by the sandbox: {exc}",
                line=_template_line(path),
                zone=name,
            )
        ]
    except TemplateError as exc:
        return None, [Problem(path, f"template error: {exc}", line=_template_line(path), zone=name)]
    return output, []


def _template_line(path: str) -> int | None:
    """The template line Jinja2 reports in the traceback being handled."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (path, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def directive_problems(
    snapshot: Snapshot,
    zones_dir: str,
    path: str,
    text: str,
    name: str,
    max_bytes: int,
    seen: frozenset[str] = frozenset(),
) -> list[Problem]:
    """$INCLUDE only of regular files inside the zones folder; $ORIGIN inside the zone."""
    problems: list[Problem] = []
    apex = dns.name.from_text(name)
    for number, line in enumerate(text.splitlines(), 1):
        match = _DIRECTIVE.match(line.split(";", 1)[0])
        if not match:
            continue
        kind, argument = match.group(1).upper(), match.group(2).strip('"')
        if kind == "ORIGIN":
            try:
                origin = dns.name.from_text(argument, apex)
            except dns.exception.DNSException:
                origin = None
            if origin is None or not origin.is_subdomain(apex):
                problems.append(
                    Problem(
                        path, f"$ORIGIN {argument} is outside zone {name}", line=number, zone=name
                    )
                )
            continue
        target = _include_target(zones_dir, argument)
        if target is None:
            problems.append(
                Problem(
                    path,
                    f"$INCLUDE {argument} is outside the {zones_dir}/ folder",
                    line=number,
                    zone=name,
                )
            )
            continue
        entry = snapshot.files.get(target)
        if entry is None:
            problems.append(
                Problem(
                    path,
                    f"$INCLUDE {argument}: no such file in {zones_dir}/",
                    line=number,
                    zone=name,
                )
            )
        elif target in seen:
            problems.append(
                Problem(path, f"$INCLUDE {argument} includes itself", line=number, zone=name)
            )
        else:
            found = file_problems(target, entry.symlink, entry.size, entry.data, max_bytes)
            if not found and entry.data is not None:
                inner, problem = _decode(target, entry.data)
                found = (
                    [problem]
                    if problem
                    else directive_problems(
                        snapshot, zones_dir, target, inner or "", name, max_bytes, seen | {path}
                    )
                )
            problems += [
                Problem(p.file, p.message, p.line, name, f"$INCLUDE from {path}:{number}")
                if p.file == target and p.record is None
                else p
                for p in found
            ]
    return problems


def _include_target(zones_dir: str, argument: str) -> str | None:
    """The repo path an $INCLUDE names (relative to the zones folder), or None if outside."""
    if argument.startswith("/") or "\\" in argument:
        return None
    target = posixpath.normpath(posixpath.join(zones_dir, argument))
    if target.startswith("../") or not target.startswith(zones_dir + "/"):
        return None
    return target
