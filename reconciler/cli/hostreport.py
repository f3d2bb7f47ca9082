"""Text and markdown renderings of the host half's values: audits, plans, apply outcomes.

Pure: values in, strings out. Called by cli/host.py, and by `reconciler plan --format
markdown` for the host section of the pull-request comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.host.audit import Audit, Status

if TYPE_CHECKING:
    from reconciler.host.apply import HostOutcome
    from reconciler.host.plan import HostPlan

MAX_DIFF_LINES = 400  # per file in the markdown comment (GitHub refuses over 65,536 characters)
ORDER = {Status.DRIFT: 0, Status.UNREADABLE: 1, Status.NOT_APPLICABLE: 2, Status.IN_POLICY: 3}


def audit_text(audit: Audit, label: str) -> str:
    width = max((len(f.item) for f in audit.findings), default=10)
    out = [f"host audit against host/policy.toml of {label}"]
    for finding in sorted(audit.findings, key=lambda f: ORDER[f.status]):
        status = finding.status.value
        if finding.status is Status.IN_POLICY:
            detail = finding.found
        else:
            detail = f"found {finding.found}; wanted {finding.wanted}"
        out.append(f"  {status:<10}  {finding.item:<{width}}  {detail}")
    drift, unreadable = len(audit.of(Status.DRIFT)), len(audit.of(Status.UNREADABLE))
    if unreadable:
        out.append(f"incomplete: {unreadable} item(s) could not be read, {drift} drifted")
    elif drift:
        out.append(f"drift: {drift} item(s) differ; `reconciler host plan` shows what apply does")
    else:
        out.append(f"in policy: {len(audit.findings)} item(s)")
    return "\n".join(out)


def plan_text(plan: HostPlan) -> str:
    head = f"host plan: host/policy.toml of {plan.label}"
    out = [head if plan.base is None else f"{head} (against {plan.base})"]
    for change in plan.files:
        action = change.action
        if action == "load":
            action = "load: the file is right, the live ruleset is not"
        out.append(f"file {change.path} ({action}, from {change.source})")
        out += [f"  {line}" for line in change.diff()]
    for step in plan.steps:
        out.append(f"command: {step.what}")
        out += [f"  {' '.join(argv)}" for argv in step.commands]
    out += [f"note: {note}" for note in plan.notes]
    if plan.empty:
        out.append("nothing to change")
    return "\n".join(out)


def plan_markdown(plan: HostPlan) -> str:
    """The host section of the pull-request comment."""
    out = ["### Host (`host/`)", ""]
    if plan.empty and not plan.notes:
        out.append("The managed files and commands do not change.")
        return "\n".join(out)
    if plan.files:
        out += ["| File | Action | From |", "|---|---|---|"]
        for change in plan.files:
            action = change.action
            out.append(f"| `{change.path}` | {action} | `{change.source}` |")
        out.append("")
    for change in plan.files:
        lines = change.diff()
        out += [f"#### `{change.path}`", "", "```diff"]
        out += lines[:MAX_DIFF_LINES]
        if len(lines) > MAX_DIFF_LINES:
            out.append(f"... {len(lines) - MAX_DIFF_LINES} more line(s)")
        out += ["```", ""]
    if plan.steps:
        out += ["**Commands**", ""] + [f"- {step.what}" for step in plan.steps] + [""]
    if plan.notes:
        out += ["**Notes**", ""] + [f"- {note}" for note in plan.notes] + [""]
    out.append(
        "_Rendered for a systemd host; `reconciler host plan` on the primary compares with its"
        " live files. An SSH or firewall change is kept only after a new SSH connection gets in._"
    )
    return "\n".join(out)


def apply_text(outcome: HostOutcome) -> str:
    """What `host apply` did, in a few lines (the problems go to stderr, one per line)."""
    result, plan = outcome.result, outcome.plan
    if result.value == "unchanged":
        return f"host apply: host/policy.toml of {plan.label}: nothing to change"
    changed = [c.label for c in plan.files] + [s.what for s in plan.steps]
    out = [f"host apply: host/policy.toml of {plan.label}: {result.value}"]
    out += [f"  {what}" for what in changed]
    if outcome.confirmed_by:
        out.append(f"kept: a new SSH connection to {outcome.confirmed_by} got in")
    if outcome.reason:
        out.append(outcome.reason)
    if outcome.guard and result.value != "applied":
        out.append(f"saved copies and the revert's log: {outcome.guard}")
    out += [f"note: {note}" for note in plan.notes]
    return "\n".join(out)


def status_text(summary: Mapping[str, Any]) -> str:
    """The daemon's last audit of the host (STATE/host/last-audit.json), for `status`."""
    drift, unreadable = summary.get("drift", []), summary.get("unreadable", [])
    verdict = "in policy" if summary.get("in_policy") else f"{len(drift)} item(s) drifted"
    if unreadable:
        verdict += f", {len(unreadable)} unreadable"
    lines = [
        f"host ({summary.get('mode')}): {verdict} at {summary.get('at')}"
        f" against host/policy.toml of {summary.get('policy')}"
    ]
    lines += [f"  drift: {f['item']}: found {f['found']}; wanted {f['wanted']}" for f in drift]
    lines += [f"  unreadable: {f['item']}: {f['found']}" for f in unreadable]
    if summary.get("reboot_required"):
        lines.append("  a reboot is required")
    return "\n".join(lines)
