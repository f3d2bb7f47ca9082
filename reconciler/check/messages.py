"""named-checkzone's messages as `Problem`s: `file:line: zone: record: what is wrong`.

BIND prints most messages with the file and line it was reading; those keep
them (an `$INCLUDE`d file is named as the repo file). The rest name a record
or only the zone ("has 0 SOA records", "bad ttl", "MX 'x' is a CNAME"): the
line comes from `locate.Locator`. A message BIND prints twice, or once per name
a `$GENERATE` line makes, is one problem. A run that failed always yields at
least one error. Pure; called by `checkzone.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.check.locate import Locator, canonical
from reconciler.errors import Problem
from reconciler.model.zone import ZoneText

_SOURCE = re.compile(r"^(?P<source>dns_\w+|\$GENERATE): (?P<rest>.*)$")
_FILE_LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+): (?P<msg>.*)$")
_NO_NEWLINE = re.compile(r"^(?P<file>[^:\s]+): file does not end with newline$")
_BUFFER = re.compile(r"^buffer-0x[0-9a-f]+:\d+: (?P<msg>.*)$")
_ZONE_MSG = re.compile(r"^zone (?P<zone>[^/\s]+)/IN(?: \(\w+\))?: (?P<msg>.*)$")
_OUT_OF_ZONE = re.compile(r"^ignoring out-of-zone data \((?P<name>.*)\)$")
_RECORD_TARGET = re.compile(
    r"^(?P<owner>\S+)/(?P<type>[A-Z0-9]+) '(?P<target>[^']+)' (?P<what>.*)$"
)
_NS_TARGET = re.compile(r"^NS '(?P<target>[^']+)' (?P<what>.*)$")
_QUOTED = re.compile(r"'(?P<name>[^']+)'")
_WARNINGS = ("no TTL specified", "> MAXTTL", "contains an non-terminal wildcard")
_SKIP = ("not loaded due to errors", "loaded serial")
_FAILED = "loading from master file"


@dataclass(frozen=True)
class _Finding:
    file: str
    line: int
    message: str
    record: str | None = None
    warning: bool = False  # BIND calls it a warning even in a failed run
    error: bool = False  # an error even when BIND only warns (out-of-zone data)


def parse_messages(
    output: list[str], zone: ZoneText, zones_dir: str, work: str, failed: bool, where: Locator
) -> list[Problem]:
    """Turn named-checkzone's messages (`work`: the file name it was given) into Problems."""
    origin = canonical(zone.name + ".")
    findings: list[_Finding] = []
    detail: str | None = None  # what a $GENERATE line's generated record got wrong
    reason: str | None = None  # "loading from master file ... failed: REASON"

    def repo_file(file: str) -> str:
        return where.label if file == work else f"{zones_dir}/{file}"

    for raw in output:
        text = raw.strip()
        if not text or text == "OK":
            continue
        source = _SOURCE.match(text)
        prefix = source["source"] if source else ""
        body = source["rest"] if source else text
        buffer = _BUFFER.match(body)
        if buffer:  # a $GENERATE line's record, parsed from a buffer: the next line says which
            detail = buffer["msg"]
            continue
        located = _FILE_LINE.match(body)
        if located:
            message = located["msg"]
            if prefix == "$GENERATE":
                message = f"$GENERATE: {detail or message}"
                detail = None
            findings.append(
                _located(repo_file(located["file"]), int(located["line"]), message, origin)
            )
            continue
        unended = _NO_NEWLINE.match(body)
        if unended:
            file = repo_file(unended["file"])
            text_of = zone.text if file == where.label else where.files_text(file)
            if text_of is not None and not text_of.endswith("\n"):
                lines = max(1, text_of.count("\n") + 1)
                findings.append(
                    _Finding(file, lines, "file does not end with a newline", warning=True)
                )
            continue
        message_match = _ZONE_MSG.match(body)
        body = message_match["msg"] if message_match else body
        if body.startswith(_FAILED):
            reason = body.split("failed: ", 1)[-1]
            continue
        if any(s in body for s in _SKIP):
            continue
        findings.append(_zone_message(body, origin, where))

    if failed and not any(not f.warning for f in findings):
        file, line = where.first_record()
        if reason == "bad ttl":
            file, line = where.bad_ttl() or (file, line)
            reason = "bad $TTL: a number of seconds, or units like 1h30m or 1W2D"
        findings.append(_Finding(file, line, reason or "named-checkzone refused the zone"))
    return _merge(findings, zone.name, failed)


def _located(file: str, line: int, message: str, origin: str) -> _Finding:
    """A message BIND gave with file and line; split off the record it names, if any."""
    out = _OUT_OF_ZONE.match(message)
    if out:
        name = canonical(out["name"])
        return _Finding(
            file,
            line,
            f"out-of-zone data: not in zone {origin.rstrip('.')} (a missing trailing dot, "
            "an $ORIGIN outside the zone, or a record for another zone's file)",
            record=name,
            error=True,
        )
    warning = message.startswith("warning: ") or any(w in message for w in _WARNINGS)
    message = message.removeprefix("warning: ")
    first, _, rest = message.partition(": ")
    if rest and " " not in first and "'" not in first and not first.startswith("$"):
        owner = canonical(first)
        if owner == origin or owner.endswith("." + origin):
            return _Finding(file, line, rest, record=owner, warning=warning)
    return _Finding(file, line, message, warning=warning)


def _zone_message(body: str, origin: str, where: Locator) -> _Finding:
    """A message about the zone as a whole or a record, without a line: find the line."""
    if body.startswith("has 0 SOA records") or body.startswith("has no SOA"):
        file, line = where.first_record()
        return _Finding(file, line, "no SOA record at the zone apex", f"{origin} SOA")
    if body.startswith("has no NS records"):
        file, line = where.apex()
        return _Finding(file, line, "no NS records at the zone apex", f"{origin} NS")
    match = _RECORD_TARGET.match(body)
    if match:
        owner, rtype, target = canonical(match["owner"]), match["type"], canonical(match["target"])
        file, line = where.find(owner, rtype, target) or where.apex()
        what = f"{rtype} target {target} {match['what']}{_hint(target, origin)}"
        return _Finding(file, line, what, f"{owner} {rtype}")
    match = _NS_TARGET.match(body)
    if match:
        target = canonical(match["target"])
        file, line = where.find(origin, "NS", target) or where.apex()
        what = f"NS target {target} {match['what']}{_hint(target, origin)}"
        return _Finding(file, line, what, f"{origin} NS")
    named = _QUOTED.search(body)
    if named:
        owner = canonical(named["name"])
        rtype = "SPF" if "found type SPF" in body else None
        found = where.find(owner, rtype) or where.find(owner)
        if found:
            return _Finding(*found, body, f"{owner} {rtype}" if rtype else owner)
    file, line = where.first_record()
    return _Finding(file, line, body)


def _hint(target: str, origin: str) -> str:
    """BIND refused a target that repeats the zone name: most likely a missing final dot."""
    return " (missing trailing dot?)" if target.endswith(f".{origin}{origin}") else ""


def _merge(findings: list[_Finding], zone: str, failed: bool) -> list[Problem]:
    """One problem per file, line and severity: BIND's repeats, the names one `$GENERATE`
    line makes, and the follow-on complaints about a line BIND stopped at, folded; in the
    order of the file."""
    groups: dict[tuple[str, int, bool], list[_Finding]] = {}
    for finding in findings:
        error = finding.error or (failed and not finding.warning)
        groups.setdefault((finding.file, finding.line, error), []).append(finding)
    problems = []
    for (file, line, error), group in groups.items():
        first = group[0]
        names = list(dict.fromkeys(f.record for f in group if f.message == first.message))
        message = first.message
        if len(names) > 1:
            message += f" (and {len(names) - 1} more name(s) from this line)"
        problems.append(
            Problem(file, message, line, zone, names[0], "error" if error else "warning")
        )
    files = list(dict.fromkeys(p.file for p in problems))
    return sorted(problems, key=lambda p: (files.index(p.file), p.line or 0))
