"""The plan: a record-level diff per zone, the serials to serve, a safety verdict.

A `Plan` is a value: built by the pure `make_plan` from two sets of canonical
zones, printed as text, markdown (a pull-request comment) or JSON. Diffs work
on BIND's canonical lines, grouped into RRsets only where lines differ, so a
one-record change in a 100,000-record zone costs a set difference, not a parse.
Called by `plan` (cli) and by the reconcile step (apply/reconcile.py).
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from itertools import zip_longest
from typing import Literal

from reconciler.errors import Problem
from reconciler.model.dnssec import Dnssec, PolicyChange, policy_change
from reconciler.model.mail import MailKind, host_asked, mail_kind, mx_hosts, mx_targets_among
from reconciler.model.serial import Scheme, next_serial, previous
from reconciler.model.zone import SERIAL_LEFT_OUT, CanonicalZone, soa_with_serial

ALLOW_KEY, ALLOW_VALUE = "Reconciler-Allow", "unsafe"
ALLOW_TRAILER = f"{ALLOW_KEY}: {ALLOW_VALUE}"


def allows_unsafe(trailers: tuple[tuple[str, str], ...]) -> bool:
    """Whether a commit's git trailers hold `Reconciler-Allow: unsafe`."""
    return any(
        key.lower() == ALLOW_KEY.lower() and value.lower() == ALLOW_VALUE for key, value in trailers
    )


Action = Literal["add", "remove", "change"]  # what happens to a zone, or to an RRset in it
ACTIONS: tuple[Action, ...] = ("add", "remove", "change")
Verdict = Literal["safe", "allowed", "unsafe", "invalid"]


def action(before: object | None, after: object | None) -> Action:
    """ "add" when there was nothing before, "remove" when nothing after, else "change"."""
    return "add" if before is None else "remove" if after is None else "change"


@dataclass(frozen=True)
class Safety:
    """The [safety] limits of reconciler.toml. Every one is looser when it is larger."""

    max_change_percent: float = 30.0
    min_records: int = 10
    max_zone_bytes: int = 64 * 1024 * 1024
    # Records per zone once $GENERATE and $INCLUDE are expanded: BIND checks a million in
    # about 7 s; a plan that adds them all takes about two minutes and 3 GB.
    max_records: int = 1_000_000


def loosened(limits: Safety, proposed: Safety) -> tuple[str, ...]:
    """How `proposed` limits are looser than the `limits` a commit is judged by.

    A commit that loosens the limits is itself unsafe: otherwise the commit that raises
    `min_records` would also slip a large change past the limit it raises.
    """
    return tuple(
        f"reconciler.toml: raises [safety] {item.name} from {_number(old)} to {_number(new)} "
        "(a looser safety limit)"
        for item in fields(Safety)
        if (new := getattr(proposed, item.name)) > (old := getattr(limits, item.name))
    )


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True, slots=True)  # slots: a zone added whole is an RRset per name and type
class RRset:
    ttl: int
    rdatas: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    owner: str
    rtype: str
    before: RRset | None
    after: RRset | None
    mail: MailKind | None = None  # why this RRset matters to mail delivery, if it does

    @property
    def kind(self) -> Action:
        return action(self.before, self.after)


@dataclass(frozen=True)
class ZonePlan:
    zone: str
    action: Action
    changes: tuple[Change, ...]
    records_before: int
    records_after: int
    records_touched: int  # records of the base deleted or changed
    serial_before: int | None
    serial_after: int | None
    unsafe: tuple[str, ...] = ()
    dnssec: PolicyChange | None = None  # how BIND's signing of the zone changes
    ds: str | None = None  # what is known of the parent's DS, when the change needs it

    def counts(self) -> dict[Action, int]:
        found = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            found[change.kind] += 1
        return found

    @property
    def mail(self) -> tuple[MailKind, ...]:
        """What of mail delivery this zone's changes touch (MX, SPF, DKIM, ...), in order."""
        kinds = {c.mail for c in self.changes if c.mail is not None}
        return tuple(k for k in MailKind if k in kinds)


@dataclass(frozen=True)
class Plan:
    base: str
    head: str
    zones: tuple[ZonePlan, ...]
    problems: tuple[Problem, ...] = ()
    allow_unsafe: bool = False
    unchanged: tuple[str, ...] = field(default=())
    loosens: tuple[str, ...] = ()  # how the head's [safety] limits are looser: unsafe

    @property
    def valid(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def unsafe_reasons(self) -> list[str]:
        return [*self.loosens, *(f"{z.zone}: {r}" for z in self.zones for r in z.unsafe)]

    @property
    def affects_mail(self) -> bool:
        return any(zone.mail for zone in self.zones)

    @property
    def verdict(self) -> Verdict:
        if not self.valid:
            return "invalid"
        if self.unsafe_reasons:
            return "allowed" if self.allow_unsafe else "unsafe"
        return "safe"

    def to_dict(self) -> dict[str, object]:
        return {
            "base": self.base,
            "head": self.head,
            "verdict": self.verdict,
            "unsafe": self.unsafe_reasons,
            "affects_mail": self.affects_mail,
            "zones": [
                {
                    **asdict(z),
                    "mail": [str(k) for k in z.mail],
                    "changes": [{**asdict(c), "kind": c.kind} for c in z.changes],
                }
                for z in self.zones
            ],
            "unchanged": list(self.unchanged),
            "loosens": list(self.loosens),
            "problems": [p.as_dict() for p in self.problems],
        }


_FEW_HOSTS = 16  # changed names looked up one by one; more: the MX lines read in one pass
_MX_LINE = re.compile(r"^\S+[ \t]+\S+[ \t]+\S+[ \t]+MX[ \t]+(.*)$", re.MULTILINE)  # its rdata


def _key(line: str) -> tuple[str, str]:
    owner, _ttl, _klass, rtype = line.split(None, 4)[:4]
    return owner.lower(), rtype


def _normal(lines: tuple[str, ...]) -> set[str]:
    """Lines with whitespace folded, owners in lower case and the SOA serial left out."""
    normal = set()
    for line in lines:
        if _key(line)[1] == "SOA":
            normal.add(soa_with_serial(line, SERIAL_LEFT_OUT))
        else:
            owner, rest = line.split(None, 1)
            normal.add(owner.lower() + " " + " ".join(rest.split()))
    return normal


def differing(
    before: CanonicalZone | Collection[str], after: CanonicalZone | Collection[str]
) -> tuple[set[str], set[str], list[str], set[str]]:
    """(gone, came, kept, same): the normalised lines only one side has; the lines both have
    as they are written, of the owners that changed only (`kept`, not normalised), and the
    lines written differently that are equal once normalised (`same`).

    Both sides come from BIND's dump, in its canonical order, with each line once: they are
    walked side by side, and only the lines not found at the same place on the other side
    are held (until the other side shows them), so a one-record change in a zone of a
    million holds a few lines, not both zones as sets. A second walk side by side makes it
    exact whatever the order (a line met out of step is gone only if the other side has it
    nowhere) and picks out the shared lines of the owners that changed. Only the few lines
    that differ are normalised.
    """
    if (
        isinstance(before, CanonicalZone)
        and isinstance(after, CanonicalZone)
        and before.dump == after.dump  # compared as memory, not line by line
    ):
        return set(), set(), [], set()
    walk_before, walk_after = _again(before), _again(after)
    old_raw, new_raw = _unmatched(walk_before(), walk_after())
    if not old_raw and not new_raw:
        return set(), set(), [], set()
    owners = {line.split(None, 1)[0].lower() for line in old_raw | new_raw}
    in_after: set[str] = set()
    in_before: set[str] = set()
    candidates: list[str] = []
    for old, new in zip_longest(walk_before(), walk_after()):
        if old is not None:
            if old in new_raw:
                in_before.add(old)
            elif old not in old_raw and old.split(None, 1)[0].lower() in owners:
                candidates.append(old)
        if new is not None and new in old_raw:
            in_after.add(new)
    old_raw -= in_after  # a line both sides have, met out of step more than once
    new_raw -= in_before
    old, new = _normal(tuple(old_raw)), _normal(tuple(new_raw))
    same = old & new  # written differently, equal once normalised (case, spacing, serial)
    keys = {_key(line) for line in (old | new) - same}
    kept = [line for line in candidates if _key(line) in keys]
    kept += [line for line in in_after | in_before if _key(line) in keys]
    return old - same, new - same, kept, same


def _again(lines: CanonicalZone | Collection[str]) -> Callable[[], Iterator[str]]:
    """A walk over `lines`, to be taken more than once: a zone's own, or a collection's."""
    if isinstance(lines, CanonicalZone):
        return lines.lines
    return lambda: iter(lines)


def _unmatched(before: Iterator[str], after: Iterator[str]) -> tuple[set[str], set[str]]:
    """The lines of each side the other did not show, in one walk side by side: a line out
    of step waits until the other side shows it, so what is held is the lines between the
    two sides' places, not either side."""
    old_only: set[str] = set()
    new_only: set[str] = set()
    for old, new in zip_longest(before, after):
        if old == new:
            continue
        if old is not None:
            if old in new_only:
                new_only.discard(old)
            else:
                old_only.add(old)
        if new is not None:
            if new in old_only:
                old_only.discard(new)
            else:
                new_only.add(new)
    return old_only, new_only


def diff_lines(
    gone: set[str], came: set[str], kept: Collection[str] = (), same: Collection[str] = ()
) -> list[Change]:
    """The RRset changes: `gone` and `came` normalised lines; the lines both sides share
    (`kept` as written, `same` normalised: see `differing`) complete the RRsets that changed.
    An RRset equal on both sides once complete is no change."""
    keys = {_key(line) for line in gone | came}
    owners = {owner for owner, _ in keys}
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    for line in kept:
        if line.split(None, 1)[0].lower() in owners and (key := _key(line)) in keys:
            shared[key].append(next(iter(_normal((line,)))))
    for line in same:
        if (key := _key(line)) in keys:
            shared[key].append(line)
    sides: list[dict[tuple[str, str], set[tuple[int, str]]]] = []
    for lines in (gone, came):
        grouped: dict[tuple[str, str], set[tuple[int, str]]] = defaultdict(set)
        for line in {*lines, *(x for k in keys for x in shared.get(k, ()))}:
            key = _key(line)
            if key in keys:
                parts = line.split(None, 4)
                grouped[key].add((int(parts[1]), parts[4] if len(parts) > 4 else ""))
        sides.append(grouped)

    def rrset(items: set[tuple[int, str]]) -> RRset | None:
        if not items:
            return None
        return RRset(min(ttl for ttl, _ in items), tuple(sorted(data for _, data in items)))

    changes = [
        Change(owner, rtype, before, after)
        for owner, rtype in keys
        if (before := rrset(sides[0].get((owner, rtype), set())))
        != (after := rrset(sides[1].get((owner, rtype), set())))
    ]
    return sorted(changes, key=lambda c: (c.owner.split(".")[::-1], c.rtype))


def whole_zone(zone: CanonicalZone | None, added: bool) -> list[Change] | None:
    """The changes of a zone added (or removed) whole, as `diff_lines` finds them: every
    RRset, in the same order. Read in one walk of BIND's dump, which holds an owner's lines
    together in its canonical order, an RRset's lines together: no set of a million
    normalised lines and no sort of a million keys. None (use `diff_lines`) when the lines
    come in another order.
    """
    if zone is None:
        return []
    changes: list[Change] = []
    items: set[tuple[int, str]] = set()
    key = ("", "")
    last_owner: list[str] | None = None
    run: list[Change] = []  # the changes of one owner, sorted by type once it is over
    types: set[str] = set()

    def rrset_over() -> None:
        if not items:
            return
        rrset = RRset(min(ttl for ttl, _ in items), tuple(sorted(data for _, data in items)))
        run.append(Change(key[0], key[1], None, rrset) if added else Change(*key, rrset, None))

    for line in zone.lines():
        parts = line.split(None, 4)
        owner, rtype = parts[0].lower(), sys.intern(parts[3])  # one "AAAA" for all
        if rtype == "SOA":
            parts = soa_with_serial(line, SERIAL_LEFT_OUT).split(None, 4)
        if (owner, rtype) != key:
            rrset_over()
            items = set()
            if owner != key[0]:
                changes += sorted(run, key=lambda c: c.rtype)
                run, types = [], set()
                labels = owner.split(".")[::-1]
                if last_owner is not None and labels <= last_owner:
                    return None  # owners out of order, or one seen twice
                last_owner = labels
            if rtype in types:
                return None  # an RRset's lines apart
            types.add(rtype)
            key = (owner, rtype)
        items.add((int(parts[1]), " ".join(parts[4].split()) if len(parts) > 4 else ""))
    rrset_over()
    return changes + sorted(run, key=lambda c: c.rtype)


def make_plan(
    base: Mapping[str, CanonicalZone],
    head: Mapping[str, CanonicalZone],
    *,
    base_label: str,
    head_label: str,
    safety: Safety,
    scheme: Scheme,
    now: datetime,
    served: Mapping[str, int] | None = None,
    allow_unsafe: bool = False,
    problems: tuple[Problem, ...] = (),
    invalid: Collection[str] = (),
    proposed: Safety | None = None,
    untouched: Collection[str] = (),
    dnssec: tuple[Dnssec, Dnssec] | None = None,
    parent_ds: Mapping[str, bool | None] | None = None,
    itemise: bool = True,
) -> Plan:
    """Compare two revisions' zones.

    `safety`: the limits the change is judged by, the base's (the last applied
    commit's); `proposed`: the head's, unsafe where looser. `served`: the serial each
    zone is served with now; `invalid`: zones present in the head but not valid there
    (left out: the problems say why); `untouched`: zones not compared because no file
    of theirs changed (counted as unchanged). `dnssec`: the base's and the head's
    [dnssec]: a zone whose signing changes is a change even when its records are not;
    `parent_ds`: per zone whether its parent holds a DS (None: could not be checked),
    for the changes that break a DS (signing off, an algorithm change). `itemise=False`: a
    zone added or removed whole is planned by its counts alone, with no changes listed (for
    a caller that shows no plan: the daemon need not hold a Change per RRset).
    """
    served = served or {}
    plans = []
    unchanged = []
    for name in sorted(set(base) | set(head)):
        if name in invalid:
            continue
        before, after = base.get(name), head.get(name)
        signing = policy_change(*dnssec, name) if dnssec and before and after else None
        found: list[Change] | None = None
        if before is None or after is None:  # the zone added or removed whole
            found = whole_zone(before or after, before is None) if itemise else []
        if found is None:
            found = diff_lines(*differing(before or (), after or ()))
        if before and after and not found and signing is None:
            unchanged.append(name)
            continue
        changes = mark_mail(found, before, after)
        old_count = before.count if before else 0
        touched = sum(len(c.before.rdatas) for c in changes if c.before and c.rtype != "SOA")
        if before is not None and after is None and not itemise:
            touched = before.count - 1  # every record but the SOA, as its changes count them
        current = served.get(name, before.serial if before else None)
        serial = None
        if after is not None:
            # Nothing served yet: the file's serial is where to start from.
            start = current if current is not None else previous(after.serial)
            serial = next_serial(start, scheme, now, floor=after.serial)
        plans.append(
            ZonePlan(
                zone=name,
                action=action(before, after),
                changes=changes,
                records_before=old_count,
                records_after=after.count if after else 0,
                records_touched=touched,
                serial_before=current,
                serial_after=serial,
                unsafe=tuple(_unsafe(name, before, after, changes, touched, safety))
                + _unsafe_signing(signing, (parent_ds or {}).get(name, None)),
                dnssec=signing,
                ds=_ds_note(signing, parent_ds, name),
            )
        )
    unchanged += [name for name in untouched if name not in base and name not in head]
    return Plan(
        base_label,
        head_label,
        tuple(plans),
        problems,
        allow_unsafe,
        tuple(sorted(unchanged)),
        loosens=loosened(safety, proposed) if proposed is not None else (),
    )


def mark_mail(
    changes: list[Change], before: CanonicalZone | None, after: CanonicalZone | None
) -> tuple[Change, ...]:
    """The changes, each marked with why it matters to mail delivery (model/mail.py).

    The zone's MX targets (before and after) are read only when an address or TLSA record
    changed, so a plan that touches neither costs no pass over a large zone.
    """
    hosts: set[str] = set()
    zones = [zone for zone in (before, after) if zone is not None]
    asked = {host for c in changes if (host := host_asked(c.owner, c.rtype))}
    if len(asked) > _FEW_HOSTS:  # a zone added or rewritten whole: one pass over each
        for zone in zones:
            hosts |= mx_hosts(m[1] for m in _MX_LINE.finditer(zone.dump))
    elif asked:  # a few changed names: is each an MX target? (str.find, not a pass per line)
        for zone in zones:
            hosts |= mx_targets_among(zone.dump, asked)
    marked = []
    for change in changes:
        rdatas = [*(change.before.rdatas if change.before else ()),
                  *(change.after.rdatas if change.after else ())]  # fmt: skip
        kind = mail_kind(change.owner, change.rtype, rdatas, hosts)
        marked.append(replace(change, mail=kind) if kind else change)
    return tuple(marked)


def _unsafe_signing(signing: PolicyChange | None, held: bool | None) -> tuple[str, ...]:
    """A change that breaks the parent's DS, while the parent holds one: the zone goes bogus
    for every validating resolver."""
    if signing is None or not signing.breaks_ds or held is not True:
        return ()
    way = (
        'set the policy to "insecure", withdraw the DS at the registrar, then "none"'
        if signing.after == "none"
        else "roll the algorithm with the DS: publish the new DS as BIND's CDS says"
    )
    return (f"{signing.text} while the parent holds a DS: the zone turns bogus; {way}",)


def _ds_note(
    signing: PolicyChange | None, parent_ds: Mapping[str, bool | None] | None, zone: str
) -> str | None:
    if signing is None or not signing.breaks_ds:
        return None
    held = (parent_ds or {}).get(zone)
    if held is None:
        return "the DS at the parent could not be checked: is one published for this zone?"
    return "the parent holds a DS for the zone" if held else "the parent holds no DS"


def _unsafe(
    name: str,
    before: CanonicalZone | None,
    after: CanonicalZone | None,
    changes: tuple[Change, ...],
    touched: int,
    safety: Safety,
) -> list[str]:
    if before is None:
        return []
    if after is None:
        return [f"deletes the zone ({before.count} records)"]
    reasons = []
    apex = name + "."
    if any(c.owner == apex and c.rtype == "NS" for c in changes):
        reasons.append("changes the apex NS set")
    count = before.count
    if count >= safety.min_records and touched * 100 > safety.max_change_percent * count:
        reasons.append(
            f"deletes or changes {touched} of {count} records "
            f"({touched * 100 // count}%, limit {safety.max_change_percent:g}%)"
        )
    return reasons
