"""What the host's tools print, turned into fact values (host/facts.py). Pure: text in, values out.

One function per tool or file: `sshd -T`, `nft -j list ruleset`, `fail2ban-client status`,
`timedatectl show` and `systemctl show` (key=value lines), `chronyc -n tracking`,
`named-checkconf -px`, /etc/passwd, /etc/shadow and authorized_keys. Each is tested against
output captured from the real tool (tests/data/host/). Called by host/read.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from reconciler.host.facts import Enablement, Firewall, Opening, Password, Sshd, Sync

OUR_TABLE = ("inet", "reconciler")


# --- sshd -T ----------------------------------------------------------------------------------


def sshd_options(text: str) -> Sshd:
    """`sshd -T`: one `keyword value` per line; a keyword given several times keeps them all."""
    options: dict[str, list[str]] = {}
    for line in text.splitlines():
        keyword, _, value = line.strip().partition(" ")
        if keyword:
            options.setdefault(keyword.lower(), []).append(value.strip())
    return Sshd({k: tuple(v) for k, v in options.items()})


# --- nft -j list ruleset ----------------------------------------------------------------------


def _ports(right: object) -> list[int] | None:
    """The ports a dport match names: one, a set of them, or a short range; None: other."""
    if isinstance(right, int):
        return [right]
    if isinstance(right, dict) and "set" in right:
        found: list[int] = []
        for item in right["set"]:
            more = _ports(item)
            if more is None:
                return None
            found += more
        return found
    if isinstance(right, dict) and "range" in right:
        low, high = right["range"]
        if isinstance(low, int) and isinstance(high, int) and 0 <= high - low < 16:
            return list(range(low, high + 1))
    return None


def _network(right: object) -> str | None:
    if isinstance(right, str):
        return right
    if isinstance(right, dict) and "prefix" in right:
        prefix = right["prefix"]
        return f"{prefix['addr']}/{prefix['len']}"
    return None


@dataclass
class _Rule:
    """What one rule of the input chain matches and does."""

    verdict: str | None = None
    protos: tuple[str, ...] = ()
    ports: list[int] | None = None
    source: str | None = None
    standard: bool = False  # conntrack state, loopback or ICMP: part of every ruleset
    unknown: bool = False


def _rule(expressions: list[dict[str, object]]) -> _Rule:
    rule = _Rule()
    for expression in expressions:
        for verdict in ("accept", "drop", "reject"):
            if verdict in expression:
                rule.verdict = verdict
        match = expression.get("match")
        if not isinstance(match, dict):
            continue
        left, right = match.get("left"), match.get("right")
        payload = left.get("payload") if isinstance(left, dict) else None
        meta = left.get("meta") if isinstance(left, dict) else None
        loopback = isinstance(meta, dict) and meta.get("key") in ("iif", "iifname")
        if (isinstance(left, dict) and "ct" in left) or (loopback and right == "lo"):
            rule.standard = True
        elif isinstance(meta, dict) and meta.get("key") == "l4proto":
            rule.protos = tuple(right["set"]) if isinstance(right, dict) else (str(right),)
        elif isinstance(payload, dict) and payload.get("field") == "dport":
            rule.protos = (str(payload.get("protocol")),)
            rule.ports = _ports(right)
            rule.unknown = rule.unknown or rule.ports is None
        elif isinstance(payload, dict) and payload.get("field") == "saddr":
            rule.source = _network(right)
            rule.unknown = rule.unknown or rule.source is None
        elif isinstance(payload, dict) and (payload.get("field"), right) in (
            ("protocol", "icmp"),
            ("nexthdr", "ipv6-icmp"),
        ):
            rule.standard = True
        elif isinstance(payload, dict) and payload.get("field") == "daddr":
            pass  # the loopback rules' own address
        else:
            rule.unknown = True
    return rule


def firewall(text: str) -> Firewall:
    """`nft -j list ruleset`: every table, and what the table inet reconciler lets in."""
    items = json.loads(text).get("nftables", [])
    tables: list[str] = []
    hooked, policy, rejects = False, None, False
    openings: set[Opening] = set()
    other: list[str] = []
    base_chains: set[str] = set()
    for item in items:
        if "table" in item:
            tables.append(f"{item['table']['family']} {item['table']['name']}")
        chain = item.get("chain")
        if (
            chain
            and (chain["family"], chain["table"]) == OUR_TABLE
            and chain.get("hook") == "input"
        ):
            hooked, policy = True, chain.get("policy", "accept")
            base_chains.add(chain["name"])
    for item in items:
        raw = item.get("rule")
        if not raw or (raw["family"], raw["table"]) != OUR_TABLE or raw["chain"] not in base_chains:
            continue
        rule = _rule(raw.get("expr", []))
        if rule.verdict == "reject" and rule.ports is None and rule.source is None:
            rejects = True
        elif rule.verdict != "accept" or rule.standard:
            continue
        elif rule.unknown or rule.ports is None or not rule.protos:
            other.append(json.dumps(raw.get("expr", []), separators=(",", ":")))
        else:
            for proto in rule.protos:
                for port in rule.ports:
                    openings.add(Opening(proto, port, rule.source))
    return Firewall(
        tables=tuple(tables),
        present=" ".join(OUR_TABLE) in tables,
        hooked=hooked,
        policy=policy,
        rejects=rejects,
        openings=frozenset(openings),
        other=tuple(other),
    )


# --- fail2ban-client --------------------------------------------------------------------------


def fail2ban_jails(text: str) -> tuple[str, ...]:
    """`fail2ban-client status`: the names after `Jail list:`."""
    found = re.search(r"Jail list:\s*(.*)$", text, re.MULTILINE)
    if not found:
        raise ValueError("no 'Jail list:' in fail2ban-client status")
    return tuple(name.strip() for name in found.group(1).split(",") if name.strip())


def fail2ban_banned(text: str) -> tuple[str, ...]:
    """`fail2ban-client status JAIL`: the addresses after `Banned IP list:`."""
    found = re.search(r"Banned IP list:\s*(.*)$", text, re.MULTILINE)
    return tuple(found.group(1).split()) if found else ()


def integer(text: str) -> int | None:
    """A number printed alone (`fail2ban-client get JAIL bantime`)."""
    value = text.strip()
    return int(value) if re.fullmatch(r"-?\d+", value) else None


# --- key=value output: timedatectl show, systemctl show ---------------------------------------


def key_values(text: str) -> dict[str, str]:
    """`KEY=value` lines (timedatectl show)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value
    return out


def key_value_blocks(text: str) -> Iterator[dict[str, str]]:
    """`systemctl show` of several units: blocks of KEY=value lines between blank lines."""
    for block in re.split(r"\n\s*\n", text.strip()):
        if block.strip():
            yield key_values(block)


def enablement(unit_file_state: str, load_state: str) -> Enablement:
    """systemd's UnitFileState (and LoadState) as an `Enablement`."""
    if load_state == "not-found":
        return Enablement.ABSENT
    if unit_file_state in ("enabled", "enabled-runtime", "alias"):
        return Enablement.ENABLED
    if unit_file_state in ("disabled", "masked", "masked-runtime"):
        return Enablement.DISABLED
    return Enablement.OTHER


def synchronised(value: str) -> Sync:
    """timedatectl's NTPSynchronized=yes|no."""
    return Sync.YES if value.strip() == "yes" else Sync.NO


def chrony_tracking(text: str) -> Sync:
    """`chronyc -n tracking`: synchronised unless its leap status says otherwise."""
    found = re.search(r"^Leap status\s*:\s*(.+)$", text, re.MULTILINE)
    if not found:
        raise ValueError("no 'Leap status' in chronyc tracking")
    return Sync.NO if "not synchronised" in found.group(1).lower() else Sync.YES


# --- named-checkconf -px ----------------------------------------------------------------------


Block = list["Statement"]


@dataclass
class Statement:
    words: list[str]
    block: Block | None = None


def _tokens(text: str) -> Iterator[str]:
    text = re.sub(r"(?m)(//|#).*$", "", re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL))
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[{};]|[^\s{};"]+', text):
        yield token.group(0)


def _block(tokens: Iterator[str]) -> Block:
    statements: Block = []
    words: list[str] = []
    block: Block | None = None
    for token in tokens:
        if token == "{":
            block = _block(tokens)
        elif token == "}":
            if words or block is not None:
                statements.append(Statement(words, block))
            return statements
        elif token == ";":
            if words or block is not None:
                statements.append(Statement(words, block))
            words, block = [], None
        else:
            words.append(token.strip('"'))
    if words or block is not None:
        statements.append(Statement(words, block))
    return statements


def named_conf(text: str) -> Block:
    """named.conf text (as `named-checkconf -p` prints it) as nested statements."""
    return _block(_tokens(text))


def _find(block: Block, *names: str) -> Statement | None:
    for statement in block:
        if statement.words and statement.words[0] == names[0]:
            return statement
    return None


def _elements(statement: Statement | None) -> tuple[str, ...] | None:
    if statement is None or statement.block is None:
        return None
    return tuple(" ".join(s.words) for s in statement.block)


NO = {"no", "false", "0"}


@dataclass(frozen=True)
class NamedOptions:
    version_hidden: bool
    recursion: bool
    allow_transfer: tuple[str, ...]
    zones_open: tuple[str, ...]


def named_options(text: str) -> NamedOptions:
    """The options the policy speaks about, with BIND's defaults where they are not set."""
    config = named_conf(text)
    options = _find(config, "options")
    block = options.block if options is not None and options.block is not None else []
    recursion = _find(block, "recursion")
    allow = _elements(_find(block, "allow-transfer")) or ("any",)  # BIND's default
    open_zones = []
    for statement in config:
        if statement.words[:1] != ["zone"] or statement.block is None:
            continue
        kind = _find(statement.block, "type")
        if kind is None or kind.words[1:2] not in (["primary"], ["master"]):
            continue
        zone_allow = _elements(_find(statement.block, "allow-transfer")) or allow
        if not tsig_only(zone_allow):
            open_zones.append(statement.words[1] if len(statement.words) > 1 else "?")
    return NamedOptions(
        version_hidden=_find(block, "version") is not None,
        recursion=recursion is None or recursion.words[1:2] != [] and recursion.words[1] not in NO,
        allow_transfer=allow,
        zones_open=tuple(open_zones),
    )


def tsig_only(elements: tuple[str, ...]) -> bool:
    """An address match list that lets in nobody, or only requests signed with a key."""
    return all(e == "none" or e.startswith("key ") for e in elements)


# --- accounts ---------------------------------------------------------------------------------

NO_LOGIN = ("nologin", "false", "sync", "halt", "shutdown")
KEY_TYPE = re.compile(r"(^|\s)(ssh-(ed25519|rsa|dss)|ecdsa-sha2-\S+|sk-\S+@openssh\.com)\s+AAAA")


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    home: str
    shell: str


def passwd(text: str) -> list[PasswdEntry]:
    """/etc/passwd: the accounts with a login shell."""
    out = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) != 7 or not parts[2].isdigit():
            continue
        if parts[6].rsplit("/", 1)[-1] in NO_LOGIN or not parts[6]:
            continue
        out.append(PasswdEntry(parts[0], int(parts[2]), parts[5], parts[6]))
    return out


def shadow(text: str) -> dict[str, Password]:
    """/etc/shadow: each account's password state (never the hash itself)."""
    out: dict[str, Password] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) < 2:
            continue
        field = parts[1]
        if field == "":
            out[parts[0]] = Password.EMPTY
        elif field.startswith(("!", "*")):
            out[parts[0]] = Password.LOCKED
        else:
            out[parts[0]] = Password.SET
    return out


def authorized_keys(text: str) -> int:
    """How many public keys an authorized_keys file holds (comments and blanks aside)."""
    return sum(
        1
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and KEY_TYPE.search(line)
    )
