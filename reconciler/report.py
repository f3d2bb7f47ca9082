"""Text, markdown and JSON renderings of check results and plans.

Pure: values in, strings out. Called by cli.py (the only place that prints);
the markdown plan is what CI posts as a pull-request comment.
"""

from __future__ import annotations

from .check import Inspection
from .plan import ALLOW_TRAILER, Change, Plan, ZonePlan


def check_json(result: Inspection) -> dict[str, object]:
    return {
        "ok": result.ok,
        "revision": result.snapshot.label,
        "zones": sorted(result.zones),
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "problems": [p.as_dict() for p in result.problems],
    }


def check_text(result: Inspection) -> list[str]:
    lines = [str(p) for p in result.errors] + [str(p) for p in result.warnings]
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


def plan_text(plan: Plan) -> str:
    out = [f"plan {plan.base} -> {plan.head}"]
    for zone in plan.zones:
        out.append(f"zone {zone.zone}: {zone.action}, {_serials(zone)}")
        out.append(f"  {_summary(zone)}")
        for change in zone.changes:
            mark = {"add": "+", "remove": "-", "change": "~"}[change.kind]
            out.append(f"  {mark} {change.owner} {change.rtype}")
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


def plan_markdown(plan: Plan) -> str:
    icon = {"safe": "✅", "allowed": "⚠️", "unsafe": "⛔", "invalid": "❌"}[plan.verdict]
    out = [
        f"### dns-reconciler plan {icon} {plan.verdict}",
        "",
        f"`{plan.base}` → `{plan.head}`: {len(plan.zones)} zone(s) changed, "
        f"{len(plan.unchanged)} unchanged",
        "",
    ]
    for zone in plan.zones:
        out += [f"#### `{zone.zone}` ({zone.action}, {_serials(zone)})", "", _summary(zone), ""]
        if zone.changes:
            out += ["| | Name | TTL | Type | Data |", "|---|---|---|---|---|"]
            for change in zone.changes:
                out += [
                    f"| {'➖' if sign == '-' else '➕'} | `{_md(change.owner)}` | {ttl} | "
                    f"{change.rtype} | `{_md(data)}` |"
                    for sign, ttl, data in _rows(change)
                ]
            out.append("")
        out += [f"> ⛔ **unsafe**: {_md(reason)}" for reason in zone.unsafe]
        if zone.unsafe:
            out.append("")
    errors = [p for p in plan.problems if p.severity == "error"]
    warnings = [p for p in plan.problems if p.severity == "warning"]
    if errors or warnings:
        out += ["#### Problems", ""]
        out += [f"- ❌ `{_md(str(p))}`" for p in errors]
        out += [f"- ⚠️ `{_md(str(p))}`" for p in warnings]
        out.append("")
    out.append(f"**Verdict:** {_md(_verdict_text(plan))}")
    return "\n".join(out)
