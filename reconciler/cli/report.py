"""Text, markdown and JSON renderings of check results and plans.

Pure: values in, strings out. Called by cli/main.py (the only place that prints);
the markdown plan is what CI posts as a pull-request comment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from reconciler.model.plan import ALLOW_TRAILER, Change, Plan, ZonePlan
from reconciler.version import VERSION

if TYPE_CHECKING:  # types only: `check` in the pre-receive hook must not import the daemon's
    from reconciler.apply.drift import DriftReport
    from reconciler.apply.keys import ZoneSigning
    from reconciler.apply.status import Overview
    from reconciler.check.inspect import Inspection
    from reconciler.devtools.demo import Demo
    from reconciler.model.outcome import Outcome


def json_text(data: Mapping[str, object]) -> str:
    """Every `--format json` output: the result, with the version of the reconciler that made it."""
    return json.dumps({"reconciler_version": VERSION, **data}, indent=2)


def check_json(result: Inspection) -> dict[str, object]:
    return {
        "ok": result.ok,
        "revision": result.snapshot.label,
        "zones": sorted(result.zones),
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "problems": [p.as_dict() for p in result.problems],
        "waived": [w.as_dict() for w in result.waived],
    }


def check_text(result: Inspection) -> list[str]:
    lines = [str(p) for p in result.errors] + [str(p) for p in result.warnings]
    lines += [str(w) for w in result.waived]
    checked = len(result.zones)
    if result.ok:
        lines.append(
            f"ok: {result.snapshot.label}: {checked} zone(s) valid"
            + (f", {len(result.warnings)} warning(s)" if result.warnings else "")
        )
    else:
        lines.append(
            f"invalid: {result.snapshot.label}: {len(result.errors)} error(s), "
            f"{len(result.warnings)} warning(s)"
        )
    return lines


def _serials(zone: ZonePlan) -> str:
    if zone.serial_after is None:
        return f"serial {zone.serial_before} (zone removed)"
    if zone.serial_before is None:
        return f"serial {zone.serial_after} (new zone)"
    return f"serial {zone.serial_before} -> {zone.serial_after}"


def _summary(zone: ZonePlan) -> str:
    counts = zone.counts()
    return (
        f"{counts['add']} added, {counts['remove']} removed, {counts['change']} changed "
        f"RRset(s); {zone.records_before} -> {zone.records_after} records"
    )


def _rows(change: Change) -> list[tuple[str, int, str]]:
    """(sign, ttl, data) rows: '-' for the records that go, '+' for those that come."""
    rows = []
    for sign, rrset in (("-", change.before), ("+", change.after)):
        if rrset is not None:
            rows += [(sign, rrset.ttl, data) for data in rrset.rdatas]
    return rows


def _mail_zones(plan: Plan) -> str:
    """ "example.com (MX, SPF), example.net (DMARC)": the zones whose mail delivery changes."""
    return ", ".join(f"{zone.zone} ({', '.join(zone.mail)})" for zone in plan.zones if zone.mail)


def plan_text(plan: Plan) -> str:
    out = [f"plan {plan.base} -> {plan.head}"]
    if plan.affects_mail:
        out.append(f"changes mail delivery: {_mail_zones(plan)}")
    for zone in plan.zones:
        out.append(f"zone {zone.zone}: {zone.action}, {_serials(zone)}")
        out.append(f"  {_summary(zone)}")
        if zone.dnssec is not None:
            out.append(f"  dnssec: {zone.dnssec.text}")
        if zone.ds is not None:
            out.append(f"  dnssec: {zone.ds}")
        for change in zone.changes:
            mark = {"add": "+", "remove": "-", "change": "~"}[change.kind]
            mail = f"  (mail: {change.mail})" if change.mail else ""
            out.append(f"  {mark} {change.owner} {change.rtype}{mail}")
            out += [
                f"      {sign} {change.owner} {ttl} {change.rtype} {data}"
                for sign, ttl, data in _rows(change)
            ]
        out.extend(f"  UNSAFE: {reason}" for reason in zone.unsafe)
    if plan.unchanged:
        out.append(f"unchanged: {len(plan.unchanged)} zone(s)")
    if not plan.zones:
        out.append("no changes")
    out.extend(str(p) for p in plan.problems)
    out.append(f"verdict: {_verdict_text(plan)}")
    return "\n".join(out)


def _verdict_text(plan: Plan) -> str:
    if plan.verdict == "invalid":
        errors = sum(1 for p in plan.problems if p.severity == "error")
        return f"invalid ({errors} error(s)); nothing can be applied"
    if plan.verdict == "unsafe":
        return (
            f"unsafe: {'; '.join(plan.unsafe_reasons)}. To allow it, add the trailer "
            f"'{ALLOW_TRAILER}' to the commit message or pass --allow-unsafe"
        )
    if plan.verdict == "allowed":
        return f"unsafe but allowed: {'; '.join(plan.unsafe_reasons)}"
    return "safe"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


MAIL_ICON = "📬"  # marks what changes mail delivery
PLAN_MARKER = "<!-- dns-reconciler-plan -->"  # CI finds (and updates) its one comment by it
MARKDOWN_ROWS = 400  # record rows in a comment: GitHub refuses comments over 65,536 characters
MARKDOWN_PROBLEMS = 100
_FOLD_ROWS = 25  # a zone with more rows than this is folded in <details>


def _zone_overview(plan: Plan) -> list[str]:
    """One row per changed zone: what happens, the serial, the counts."""
    out = [
        "| Zone | Action | Serial | RRsets added | removed | changed | Records |",
        "|---|---|---|---|---|---|---|",
    ]
    for zone in plan.zones:
        counts = zone.counts()
        before = "-" if zone.serial_before is None else str(zone.serial_before)
        after = "-" if zone.serial_after is None else str(zone.serial_after)
        out.append(
            f"| `{_md(zone.zone)}` | {zone.action} | {before} → {after} | {counts['add']} | "
            f"{counts['remove']} | {counts['change']} | {zone.records_before} → "
            f"{zone.records_after} |"
        )
    return out + [""]


def _record_rows(change: Change) -> list[tuple[str, int, str]]:
    """Like `_rows`, but a changed RRset with the same TTL shows only the records that differ
    (adding a third NS shows one added record, not two removed and three added)."""
    before, after = change.before, change.after
    if before is None or after is None or before.ttl != after.ttl:
        return _rows(change)
    gone = [("-", before.ttl, d) for d in before.rdatas if d not in after.rdatas]
    return gone + [("+", after.ttl, d) for d in after.rdatas if d not in before.rdatas]


def _zone_table(zone: ZonePlan, budget: int) -> tuple[list[str], int]:
    """The record rows of one zone (at most `budget`), folded when long; rows shown."""
    rows = [
        f"| {'➖' if sign == '-' else '➕'} | `{_md(change.owner)}` | {ttl} | "
        f"{change.rtype}{f' {MAIL_ICON}' if change.mail else ''} | `{_md(data)}` |"
        for change in zone.changes
        for sign, ttl, data in _record_rows(change)
    ]
    shown = rows[: max(budget, 0)]
    out = ["| | Name | TTL | Type | Data |", "|---|---|---|---|---|", *shown, ""]
    if len(shown) < len(rows):
        out += [
            f"… and {len(rows) - len(shown)} more record(s) not shown here: "
            "`reconciler plan` shows them all.",
            "",
        ]
    if len(rows) > _FOLD_ROWS:
        out = [f"<details><summary>{len(rows)} record(s)</summary>", "", *out, "</details>", ""]
    return out, len(shown)


def _verdict_markdown(plan: Plan) -> list[str]:
    if plan.verdict == "unsafe":
        return [
            f"**Verdict:** ⛔ unsafe: {_md('; '.join(plan.unsafe_reasons))}.",
            "",
            "To apply it anyway, end the head commit's message with this trailer line "
            "(or pass `--allow-unsafe` to `reconciler apply` on the primary):",
            "",
            "```",
            ALLOW_TRAILER,
            "```",
        ]
    if plan.verdict == "allowed":
        return [
            f"**Verdict:** ⚠️ unsafe but allowed (`{ALLOW_TRAILER}`): "
            f"{_md('; '.join(plan.unsafe_reasons))}"
        ]
    return [f"**Verdict:** {_md(_verdict_text(plan))}"]


def plan_markdown(plan: Plan) -> str:
    """The plan as a pull-request comment: the marker CI finds it by, an overview of the zones,
    each zone's records, the problems and the verdict (with how to allow an unsafe change).
    Long plans are cut at MARKDOWN_ROWS record rows to stay under GitHub's comment size."""
    icon = {"safe": "✅", "allowed": "⚠️", "unsafe": "⛔", "invalid": "❌"}[plan.verdict]
    mail = f" · {MAIL_ICON} changes mail" if plan.affects_mail else ""
    out = [
        PLAN_MARKER,
        f"### dns-reconciler plan {icon} {plan.verdict}{mail}",
        "",
        f"`{plan.base}` → `{plan.head}`: {len(plan.zones)} zone(s) changed, "
        f"{len(plan.unchanged)} unchanged",
        "",
    ]
    if plan.affects_mail:
        zones = ", ".join(
            f"`{_md(zone.zone)}` ({', '.join(zone.mail)})" for zone in plan.zones if zone.mail
        )
        out += [f"> {MAIL_ICON} **This changes mail delivery:** {zones}", ""]
    if plan.zones:
        out += _zone_overview(plan)
    budget = MARKDOWN_ROWS
    for zone in plan.zones:
        out += [
            f"#### `{_md(zone.zone)}` ({zone.action}, {_serials(zone)})",
            "",
            _summary(zone),
            "",
        ]
        if zone.mail:
            out += [f"{MAIL_ICON} changes mail delivery: {', '.join(zone.mail)}", ""]
        if zone.changes:
            table, shown = _zone_table(zone, budget)
            budget -= shown
            out += table
        if zone.dnssec is not None:
            out.append(f"> 🔏 DNSSEC: {_md(zone.dnssec.text)}")
        if zone.ds is not None:
            out.append(f"> 🔏 DNSSEC: {_md(zone.ds)}")
        out += [f"> ⛔ **unsafe**: {_md(reason)}" for reason in zone.unsafe]
        if zone.unsafe:
            out.append("")
    if any(zone.serial_after is not None for zone in plan.zones):
        out += [
            "_Serials count from the base commit's files; `apply` serves the next serial "
            "after the one the primary serves then._",
            "",
        ]
    errors = [p for p in plan.problems if p.severity == "error"]
    warnings = [p for p in plan.problems if p.severity == "warning"]
    if errors or warnings:
        listed = [f"- ❌ `{_md(str(p))}`" for p in errors]
        listed += [f"- ⚠️ `{_md(str(p))}`" for p in warnings]
        out += ["#### Problems", "", *listed[:MARKDOWN_PROBLEMS]]
        if len(listed) > MARKDOWN_PROBLEMS:
            out.append(
                f"- … and {len(listed) - MARKDOWN_PROBLEMS} more: `reconciler check` lists them all"
            )
        out.append("")
    out += _verdict_markdown(plan)
    return "\n".join(out)


def outcome_text(outcome: Outcome) -> str:
    lines = []
    if outcome.plan is not None and outcome.plan.zones:
        lines.append(plan_text(outcome.plan))
    lines += [str(p) for p in outcome.problems]
    served = ", ".join(
        f"{zone} serial {serial}"
        + (f" signed {outcome.signed[zone]}" if zone in outcome.signed else "")
        for zone, serial in sorted(outcome.served.items())
    )
    headline = outcome.status.headline(outcome.commit)
    lines.append(headline + (f" ({served})" if served else ""))
    if outcome.reason:
        lines.append(f"reason: {outcome.reason}")
    return "\n".join(lines)


def status_text(status: Overview) -> str:
    lines = [f"deployed: {status.deployed or 'nothing yet'}"]
    if status.last_attempted and status.last_attempted != status.deployed:
        lines.append(f"last attempted: {status.last_attempted}")
    lines.append(
        "servers: " + ", ".join(f"{s.name} ({s.role}) {s.address}:{s.port}" for s in status.servers)
    )
    names = [s.name for s in status.servers]
    width = max([len(z.zone) + 1 for z in status.zones] + [4])
    lines.append(f"{'zone':<{width}}  {'served':>10}  " + "  ".join(f"{n:>10}" for n in names))
    for zone in status.zones:
        cells = []
        for name in names:
            serial = zone.serials.get(name)
            cell = "-" if serial is None else str(serial)
            cells.append(f"{cell + ('!' if name in zone.lagging else ''):>10}")
        name = zone.zone + ("*" if zone.signed else "")
        lines.append(f"{name:<{width}}  {zone.recorded:>10}  " + "  ".join(cells))
    if any(zone.signed for zone in status.zones):
        lines.append(
            "* signed inline: served is the unsigned serial; the servers answer the signed "
            "zone's (BIND moves it on its own)"
        )
    lines.append(
        "converged" if status.converged else "NOT converged (! = lagging or not answering)"
    )
    if status.last_failure:
        lines.append(
            f"last failure: {status.last_failure.get('commit', '')[:12]}: "
            f"{status.last_failure.get('reason')}"
        )
    lines += drift_text(status.drift)
    return "\n".join(lines)


def dnssec_status_text(zones: Sequence[ZoneSigning]) -> str:
    """`reconciler dnssec status`: per signed zone its keys, their DS and the next step."""
    if not zones:
        return "no signed zone deployed ([dnssec] in reconciler.toml)"
    lines = []
    for zone in zones:
        lines.append(f"{zone.keys.zone}: dnssec-policy {zone.keys.policy}")
        if zone.problem:
            lines.append(f"  problem: {zone.problem}")
        for key in zone.keys.keys:
            states = ", ".join(f"{what} {state}" for what, state in key.states.items())
            lines.append(f"  key {key.tag} {key.role} {key.algorithm}: {states}")
            if key.tag in zone.ds:
                lines.append(f"    DS: {zone.ds[key.tag]}")
        lines.append(f"  next: {zone.next}")
    return "\n".join(lines)


def drift_text(drift: DriftReport | None) -> list[str]:
    """The daemon's last drift check: each drifted zone with its diff."""
    if drift is None:
        return []
    if not drift.drifted:
        lines = [f"drift: none (checked {drift.checked_at})"]
    else:
        lines = [f"DRIFT (checked {drift.checked_at}): the primary serves what git does not say"]
    for zone in drift.drifted:
        lines.append(f"  {zone.summary()}")
        lines += [f"    {line}" for line in zone.diff]
        if zone.more:
            lines.append(f"    and {zone.more} more")
    lines += [f"  not compared: {item}" for item in drift.unread]
    return lines


def demo_text(sandbox: Demo) -> str:
    root, servers = sandbox.root, sandbox.servers
    ports = " ".join(f"{s.name}=127.0.0.1:{s.port}" for s in servers.all())
    secondary = servers.secondaries[0]
    config = root / "daemon.toml"
    return "\n".join(
        [
            f"name servers: {ports}",
            f"zone repository: {root / 'clone'} (pushes to {root / 'repo.git'})",
            "",
            "Make a change and see it on the secondaries (the daemon applies each push):",
            f"  cd {root / 'clone'} && sed -i 's/^www     IN A    192.0.2.10/www     IN A    "
            f"192.0.2.99/' zones/example.com.zone && git commit -qam 'Move www' && git push -q",
            f"  dig @127.0.0.1 -p {secondary.port} www.example.com +short",
            f"  reconciler status --config {config}",
        ]
    )
