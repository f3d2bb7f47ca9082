"""What the live host is like: the values `host audit` compares with host/policy.toml.

Values only. The readers (host/read.py) fill them from the real tools; every part that could
not be read is an `Unreadable` naming what was tried and why it failed, so the audit can say
"could not read" (exit 2) instead of guessing. Pure evaluation (host/audit.py) takes a `Facts`
and a `Policy` and never touches the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar, Union

T = TypeVar("T")


@dataclass(frozen=True)
class Unreadable:
    """A fact that could not be read: the command or file, and why."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


Reading = Union[T, Unreadable]  # noqa: UP007 - a generic alias needs Union


@dataclass(frozen=True)
class Sshd:
    """sshd's effective configuration (`sshd -T`): lower-case keyword -> its values in order."""

    options: Mapping[str, tuple[str, ...]]

    def get(self, keyword: str) -> str | None:
        values = self.options.get(keyword)
        return values[0] if values else None

    def all(self, keyword: str) -> tuple[str, ...]:
        return self.options.get(keyword, ())


@dataclass(frozen=True)
class Opening:
    """One accept rule of the reconciler's input chain: a port, for everyone or one network."""

    proto: str  # "tcp" or "udp"
    port: int
    source: str | None = None  # a network, or None: from anywhere

    def __str__(self) -> str:
        return f"{self.port}/{self.proto}" + (f" from {self.source}" if self.source else "")


@dataclass(frozen=True)
class Firewall:
    """The live ruleset (`nft -j list ruleset`), as far as the policy cares."""

    tables: tuple[str, ...]  # "family name" of every table, e.g. "inet f2b-table"
    present: bool  # the table inet reconciler exists
    hooked: bool = False  # it has a base chain on the input hook
    policy: str | None = None  # that chain's policy: "accept" or "drop"
    rejects: bool = False  # it ends by rejecting what no rule accepted
    openings: frozenset[Opening] = frozenset()
    other: tuple[str, ...] = ()  # accept rules that are none of the above, as nft wrote them


@dataclass(frozen=True)
class Jail:
    """One fail2ban jail as the running server has it."""

    name: str
    bantime: int | None
    maxretry: int | None
    banned: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fail2ban:
    """The running fail2ban server (`fail2ban-client status`); `running` False: no answer."""

    running: bool
    jails: Mapping[str, Jail] = field(default_factory=dict)
    detail: str = ""  # why it is not running: "not installed", or what the client said


class Sync(Enum):
    """Whether the clock is synchronised to NTP."""

    YES = "synchronised"
    NO = "not synchronised"


@dataclass(frozen=True)
class Clock:
    """The time zone and the synchronisation state, and where they were read."""

    timezone: str | None
    synchronised: Sync | None  # None: nothing on this host says
    source: str  # "timedatectl", or the files and the NTP client asked


class Enablement(Enum):
    """Whether a service starts at boot."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    ABSENT = "not installed"
    OTHER = "static"  # started by something else (a socket, another unit)


@dataclass(frozen=True)
class Service:
    """One service: enabled at boot, and running now."""

    name: str
    enabled: Enablement
    running: bool

    def __str__(self) -> str:
        if self.enabled is Enablement.ABSENT:
            return "not installed"
        return f"{self.enabled.value}, {'running' if self.running else 'not running'}"


@dataclass(frozen=True)
class Named:
    """named's effective options (`named-checkconf -px`) and how the process runs."""

    version_hidden: bool
    recursion: bool
    allow_transfer: tuple[str, ...]  # options-level allow-transfer (BIND's default: any)
    zones_open: tuple[str, ...]  # zones whose allow-transfer is not one TSIG key (or none)
    user: Reading[str | None] = None  # the running named's user; None: not running
    chroot: bool = False


@dataclass(frozen=True)
class FileMode:
    """Owner, group and permission bits of a file or folder; `exists` False: it is missing."""

    path: str
    exists: bool
    owner: str = ""
    group: str = ""
    mode: int = 0

    def __str__(self) -> str:
        return f"{self.owner}:{self.group} {self.mode:04o}" if self.exists else "missing"


class Password(Enum):
    """What an account's password hash field says."""

    SET = "set"
    LOCKED = "locked"  # "!" or "*": no password login
    EMPTY = "empty"  # no password at all


@dataclass(frozen=True)
class Account:
    """One login account: its keys, its password state."""

    name: str
    uid: int
    shell: str
    keys: int  # public keys in its authorized_keys files
    password: Password


@dataclass(frozen=True)
class Users:
    """Every account with a login shell (root included), by name."""

    accounts: Mapping[str, Account]


@dataclass(frozen=True)
class Kernel:
    """The running kernel and the installed ones; and whether a package asks for a reboot."""

    running: str
    installed: tuple[str, ...]  # newest last; empty in a container (no kernel image)
    reboot_required: bool
    reboot_packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Facts:
    """The whole live host, as far as host/policy.toml speaks about it."""

    sshd: Reading[Sshd]
    firewall: Reading[Firewall]
    fail2ban: Reading[Fail2ban]
    clock: Reading[Clock]
    services: Mapping[str, Reading[Service]]
    named: Reading[Named]
    files: Mapping[str, Reading[FileMode]]  # by role: "tsig_key", "rndc_key", "zone_dir"
    users: Reading[Users]
    kernel: Reading[Kernel]
    managed: Mapping[str, Reading[str | None]]  # managed file label -> its text (None: absent)
    nftables_conf: Reading[str | None] = None  # what nftables loads at boot
    systemd: bool = False  # PID 1 is systemd
