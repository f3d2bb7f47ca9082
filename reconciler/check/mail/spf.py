"""SPF (RFC 7208): one record per name, valid terms, at most 10 DNS lookups, no `+all`.

`parse` reads one record's text into `Term`s and says what is wrong with it (doctor uses it
too, for the records it asks the servers for); `check` runs the rules on every SPF record
of the repo's zones. The lookup count follows `include:` and `redirect=` into the zones of
the repo; a target outside them counts as 1 and is named. Pure.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.check.mail.common import Mail, in_file_order, problem, quote
from reconciler.check.rules import Zone
from reconciler.errors import Problem
from reconciler.model.mail import SPF_VERSION, is_spf, txt_strings, txt_text
from reconciler.model.rules import Rule
from reconciler.model.zone import Record

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")  # RFC 7208 4.6.4
MAX_LOOKUPS = 10
_TERM = re.compile(r"^(?P<q>[-+~?]?)(?P<name>[A-Za-z][A-Za-z0-9_.-]*)(?P<rest>.*)$")
_MACRO = re.compile(r"%\{[slodiphcrtv][0-9]*r?[.\-+,/_=]*\}|%%|%_|%-", re.IGNORECASE)
_ENDS_IN_MACRO = re.compile(r"(?:%\{[^}]*\}|%%|%_|%-)\.?$")
_TOPLABEL = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]+$|^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$")
_CIDR = re.compile(r"^(?:/(?P<v4>\d+))?(?://(?P<v6>\d+))?$")


@dataclass(frozen=True)
class Term:
    """One term of an SPF record: a mechanism (with its qualifier) or a modifier."""

    text: str
    name: str  # lower case
    qualifier: str = ""  # "+", "-", "~", "?" ("" when not written, or for a modifier)
    argument: str = ""  # the domain-spec, network or value after ":" or "="
    modifier: bool = False

    @property
    def lookup(self) -> bool:
        return self.name in LOOKUP_TERMS and (self.name != "redirect" or self.modifier)

    @property
    def target(self) -> str | None:
        """The name an include:/redirect= asks for, absolute; None with macros (or none)."""
        if self.name not in ("include", "redirect") or not self.argument:
            return None
        if "%" in self.argument:
            return None
        return self.argument.rstrip(".").lower() + "."


@dataclass(frozen=True)
class Spf:
    terms: tuple[Term, ...]
    errors: tuple[str, ...]  # what makes receivers give permerror

    def has(self, name: str) -> bool:
        return any(t.name == name and not t.modifier for t in self.terms)


def _domain_spec(spec: str) -> str:
    """What is wrong with a domain-spec (RFC 7208 7.1), "" when nothing."""
    if not spec:
        return "is missing"
    literal = _MACRO.sub("", spec)
    if "%" in literal:
        return "has a bad macro ('%' starts %{x}, %%, %_ or %-)"
    if any(not 0x21 <= ord(c) <= 0x7E for c in literal):
        return "has a character that is not printable ASCII"
    if _ENDS_IN_MACRO.search(spec):
        return ""  # ends in a macro: any domain
    name = spec.rstrip(".")
    parts = name.split(".")
    if len(parts) < 2 or not _TOPLABEL.match(parts[-1]):
        return "is not a domain name with a top-level label (e.g. _spf.example.com)"
    if "%" not in spec and (len(name) > 253 or any(not 0 < len(p) <= 63 for p in parts)):
        return "is not a valid domain name (empty or overlong label)"
    return ""


def _network(kind: str, rest: str) -> str:
    if not rest.startswith(":"):
        return f"{kind} needs an address: {kind}:ADDRESS[/PREFIX]"
    address, _, prefix = rest[1:].partition("/")
    bits = 32 if kind == "ip4" else 128
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"{quote(address)} is not an IPv{4 if kind == 'ip4' else 6} address"
    if parsed.version != (4 if kind == "ip4" else 6):
        return f"{quote(address)} is not an IPv{4 if kind == 'ip4' else 6} address"
    if prefix and (not prefix.isdigit() or int(prefix) > bits or prefix != str(int(prefix))):
        return f"prefix length /{prefix} is not 0-{bits}"
    return ""


def _mechanism(term: str, qualifier: str, name: str, rest: str) -> tuple[Term, str]:
    lower = name.lower()
    made = Term(term, lower, qualifier, rest[1:] if rest[:1] in (":", "/") else rest)
    if lower == "all":
        return made, f"{quote(term)}: all takes no argument" if rest else ""
    if lower in ("ip4", "ip6"):
        wrong = _network(lower, rest)
        return Term(term, lower, qualifier, rest[1:]), f"{quote(term)}: {wrong}" if wrong else ""
    spec, cidr = rest, ""
    if lower in ("a", "mx"):
        slash = rest.find("/")
        spec, cidr = (rest[:slash], rest[slash:]) if slash >= 0 else (rest, "")
        found = _CIDR.match(cidr)
        if not found:
            return made, f"{quote(term)}: bad prefix length (/N for IPv4, //N for IPv6)"
        v4, v6 = found["v4"], found["v6"]
        if (v4 and int(v4) > 32) or (v6 and int(v6) > 128):
            return made, f"{quote(term)}: prefix length out of range (IPv4 0-32, IPv6 0-128)"
    if not spec:
        if lower in ("include", "exists"):
            return made, f"{quote(term)}: {lower} needs a domain ({lower}:DOMAIN)"
        return Term(term, lower, qualifier, ""), ""
    if not spec.startswith(":"):
        return made, f"{quote(term)} is not a mechanism (did you mean {lower}:{spec}?)"
    wrong = _domain_spec(spec[1:])
    made = Term(term, lower, qualifier, spec[1:])
    return made, f"{quote(term)}: the domain {wrong}" if wrong else ""


def parse_term(term: str) -> tuple[Term | None, str]:
    """One space-separated term of a record: the Term and what is wrong with it ("" nothing)."""
    found = _TERM.match(term)
    if not found:
        return None, f"{quote(term)} is not a mechanism or modifier"
    qualifier, name, rest = found["q"], found["name"], found["rest"]
    if rest.startswith("="):
        if qualifier:
            return None, f"{quote(term)}: a modifier takes no qualifier"
        lower, value = name.lower(), rest[1:]
        made = Term(term, lower, "", value, modifier=True)
        if lower in ("redirect", "exp"):
            wrong = _domain_spec(value)
            return made, f"{quote(term)}: the domain {wrong}" if wrong else ""
        if lower in MECHANISMS:
            return made, (
                f"{quote(term)} is an unknown modifier, ignored by receivers: "
                f"the mechanism is {lower}:{value}"
            )
        return made, ""
    if name.lower() not in MECHANISMS:
        return None, f"unknown mechanism {quote(term)} (known: {', '.join(MECHANISMS)})"
    return _mechanism(term, qualifier, name, rest)


def parse(text: str) -> Spf:
    """An SPF record's text (its strings joined): the terms and every reason for permerror."""
    if not is_spf(text):
        return Spf((), (f"does not start with '{SPF_VERSION} ' ({quote(text[:12])})",))
    terms: list[Term] = []
    errors: list[str] = []
    if any(c not in " " and not 0x21 <= ord(c) <= 0x7E for c in text):
        errors.append("has a character other than printable ASCII and spaces")
    for token in text[len(SPF_VERSION) :].split(" "):
        if not token:
            continue
        term, wrong = parse_term(token)
        if wrong:
            errors.append(wrong)
        if term is not None:
            terms.append(term)
    for name in ("redirect", "exp"):
        if sum(1 for t in terms if t.modifier and t.name == name) > 1:
            errors.append(f"{name}= is given more than once")
    return Spf(tuple(terms), tuple(errors))


# --- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """The DNS lookups a record needs, as far as the repo tells."""

    total: int
    parts: tuple[str, ...]  # "include:_spf.example.net 4", in order
    outside: tuple[str, ...]  # include/redirect targets outside the repo: counted as 1
    faults: tuple[str, ...]  # include/redirect targets in the repo without one SPF record


def spf_records(records: list[Record]) -> list[tuple[Record, str]]:
    """The records of a TXT RRset meant as SPF (starting with "v=spf1"), with their text."""
    found = []
    for record in records:
        if record.rdata[1:7].lower() != SPF_VERSION:
            continue  # not '"v=spf1...': only SPF records are parsed
        text = txt_text(record.rdata)
        if text[:6].lower() == SPF_VERSION:
            found.append((record, text))
    return found


Resolve = Callable[[str], "list[str] | None"]  # name -> its SPF texts; None: not known here


def count_lookups(
    spf: Spf, resolve: Resolve, path: tuple[str, ...] = (), memo: dict[str, Count] | None = None
) -> Count:
    """The lookups `spf` needs, following include:/redirect= targets that `resolve` knows.

    `path`: the names being counted (an include loop is a fault); `memo`: counts of targets
    done, so that each name is counted once however often it is included.
    """
    memo = {} if memo is None else memo
    total, parts = 0, []
    outside: list[str] = []
    faults: list[str] = []
    for term in spf.terms:
        if not term.lookup or (term.name == "redirect" and spf.has("all")):
            continue
        target = term.target
        texts = resolve(target) if target else None
        nested = 1
        if target and target in path:
            faults.append(f"include loop: {' -> '.join((*path, target))}")
        elif target and texts is None:
            outside.append(target)
        elif target and texts is not None:
            records = [t for t in texts if t[:6].lower() == SPF_VERSION]
            if len(records) != 1:
                has = f"{len(records)} SPF records" if records else "no SPF record"
                faults.append(f"{term.text}: {target} has {has} (receivers give permerror)")
            else:
                if target not in memo:
                    memo[target] = count_lookups(parse(records[0]), resolve, (*path, target), memo)
                inner = memo[target]
                nested += inner.total
                outside += inner.outside
                faults += [f for f in inner.faults if f.startswith("include loop")]
        total += nested
        parts.append(f"{term.text} {nested}")
    return Count(total, tuple(parts), tuple(dict.fromkeys(outside)), tuple(faults))


def _split(record: Record) -> str:
    """Where the strings of a split record join two terms without a space (RFC 7208 3.3)."""
    strings = txt_strings(record.rdata) or ()
    texts = [s.decode("utf-8", errors="replace") for s in strings]
    for index in range(1, len(texts)):
        before, after = texts[index - 1], texts[index]
        if not before or not after or before[-1] == " " or after[0] == " ":
            continue
        head = "".join(texts[:index]).rsplit(" ", 1)[-1]
        tail = "".join(texts[index:]).split(" ", 1)[0]
        head_term, head_wrong = parse_term(head)
        head_ok = head.lower() == SPF_VERSION or (head_term is not None and not head_wrong)
        tail_term, tail_wrong = parse_term(tail)
        if head_ok and tail_term is not None and not tail_wrong:
            return (
                f"strings {index} and {index + 1} are joined without a space: {quote(head)} + "
                f"{quote(tail)} reads as {quote(head + tail)}; end string {index} with a space"
            )
    return ""


def check(mail: Mail) -> list[Problem]:
    problems: list[Problem] = []

    def resolve(name: str) -> list[str] | None:
        records = mail.at(name, "TXT")
        if records is None:
            return None
        return [text for _record, text in spf_records(records)]

    for zone in mail.zones:
        for owner, records in mail.of(zone, "TXT"):
            found = spf_records(in_file_order(zone, records) if len(records) > 1 else records)
            for extra, _text in found[1:]:
                problems.append(
                    problem(
                        zone,
                        Rule.SPF_MULTIPLE,
                        f"{len(found)} SPF records at {owner}: receivers give permerror and "
                        "check nothing; merge them into one",
                        extra,
                    )
                )
            for record, text in found:
                problems += _one(zone, owner, record, text, resolve)
    return problems


def _one(zone: Zone, owner: str, record: Record, text: str, resolve: Resolve) -> list[Problem]:
    out: list[Problem] = []
    split = _split(record)
    if split:
        return [problem(zone, Rule.SPF_SPLIT, split, record)]
    spf = parse(text)
    for wrong in spf.errors:
        out.append(problem(zone, Rule.SPF_SYNTAX, f"SPF {wrong}", record))
    count = count_lookups(spf, resolve, (owner,))
    for fault in count.faults:
        out.append(problem(zone, Rule.SPF_INCLUDE, f"SPF {fault}", record))
    if count.total > MAX_LOOKUPS:
        outside = (
            f"; counted as 1 each, their own lookups unknown here: {', '.join(count.outside)}"
            if count.outside
            else ""
        )
        out.append(
            problem(
                zone,
                Rule.SPF_LOOKUPS,
                f"SPF needs {count.total} DNS lookups, over the limit of {MAX_LOOKUPS} "
                f"(receivers give permerror): {', '.join(count.parts)}{outside}",
                record,
            )
        )
    for term in spf.terms:
        if term.name == "all" and term.qualifier in ("", "+"):
            out.append(
                problem(
                    zone,
                    Rule.SPF_PASS_ALL,
                    f"SPF {quote(term.text)} lets every host on the Internet send as {owner}; "
                    "end with -all or ~all",
                    record,
                    "warning",
                )
            )
        if term.name == "ptr" and not term.modifier:
            out.append(
                problem(
                    zone,
                    Rule.SPF_PTR,
                    f"SPF {quote(term.text)}: RFC 7208 5.5 says not to use ptr (slow, "
                    "unreliable, and some receivers skip it); list the addresses with ip4:/ip6:",
                    record,
                    "warning",
                )
            )
    out += _ignored(zone, spf, record)
    return out


def _ignored(zone: Zone, spf: Spf, record: Record) -> list[Problem]:
    mechanisms = [t for t in spf.terms if not t.modifier]
    names = [t.name for t in mechanisms]
    found = []
    if "all" in names and names.index("all") < len(names) - 1:
        after = " ".join(t.text for t in mechanisms[names.index("all") + 1 :])
        found.append(f"SPF terms after 'all' are never used: {quote(after)}")
    if "all" in names and any(t.modifier and t.name == "redirect" for t in spf.terms):
        found.append("SPF redirect= is never used when the record has 'all'")
    return [problem(zone, Rule.SPF_IGNORED, text, record, "warning") for text in found]
