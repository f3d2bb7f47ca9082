"""daemon.toml: the primary host's own configuration (never in the zone repo).

Where the repo is, where zones and the generated named.conf include are
written, how rndc is reached, where the TSIG and rndc key files are, where
state lives, the confirmation deadlines, and what the host half may do
(`[host]`: off, audit or enforce host/policy.toml, and the files it manages).
Relative paths are relative to the file's folder. Pure parse
(`parse_host_config`) plus `load_host_config` for the path. Called by
cli/main.py for apply/status/rollback/bind-config/host and by the daemon.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reconciler.config.tomlfile import check_types, key_line, syntax_problem, table_line
from reconciler.errors import ConfigError, Problem, ValidationError
from reconciler.model.names import DEFAULT_BRANCH, address_port
from reconciler.model.plan import Safety

HostMode = Literal["off", "audit", "enforce"]
HOST_MODES: tuple[HostMode, ...] = ("off", "audit", "enforce")
ServiceManager = Literal["auto", "systemd", "direct"]
SERVICE_MANAGERS: tuple[ServiceManager, ...] = ("auto", "systemd", "direct")
DriftAction = Literal["report", "restore"]  # what the daemon does when named serves other content
DRIFT_ACTIONS: tuple[DriftAction, ...] = ("report", "restore")


@dataclass(frozen=True)
class HostSettings:
    """[host]: what the daemon does with host/policy.toml, and where the managed files are."""

    mode: HostMode = "off"  # off, audit (report drift), enforce (also apply host/ commits)
    interval: float = 300.0  # seconds between two audits of the live host
    management_address: str | None = None  # where the SSH confirmation connects; None: found
    confirm_timeout: float = 30.0  # seconds for a new SSH connection to get in after a change
    service_manager: ServiceManager = "auto"  # systemd when it runs as PID 1, else direct
    sshd_config: Path = Path("/etc/ssh/sshd_config")
    nftables_file: Path = Path("/etc/nftables.d/reconciler.nft")
    nftables_conf: Path = Path("/etc/nftables.conf")  # loaded at boot; includes the above
    fail2ban_jail: Path = Path("/etc/fail2ban/jail.d/reconciler.local")
    chrony_sources: Path = Path("/etc/chrony/sources.d/reconciler.sources")
    named_options: Path = Path("/etc/bind/reconciler-options.conf")  # inside options { }


@dataclass(frozen=True)
class HostConfig:
    repo: Path
    branch: str
    zone_dir: Path
    include_file: Path
    transfer_key_file: Path
    rndc_key_file: Path
    state_dir: Path
    rndc_server: str = "127.0.0.1"
    rndc_port: int = 953
    named_conf: Path | None = None  # checked with named-checkconf when given
    log_file: Path | None = None  # named's log, for the reason a zone failed to load
    include_key: bool = True  # the generated include includes the transfer key file
    primary_deadline: float = 10.0
    deadline: float = 30.0
    query_timeout: float = 1.0
    http_listen: str = "127.0.0.1:9153"
    repo_url: str | None = None  # pull mode: fetch this URL into `repo` on an interval
    fetch_interval: float = 60.0
    require_signed_commits: bool = False
    gpg_home: Path | None = None  # keyring for GPG-signed commits
    allowed_signers: Path | None = None  # ssh allowed-signers file for SSH-signed commits
    allow_non_descendant: bool = False
    debounce: float = 0.2  # the most a reconcile waits after the first event of a burst
    recheck_interval: float = 30.0  # the safety net: look at the branch head this often
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    host: HostSettings = field(default_factory=HostSettings)
    # The most records a zone may have on this host; reconciler.toml can lower it, not raise it.
    max_records: int = Safety.max_records
    # The check cache shared by the hook's account and the daemon's (None: the default), and
    # the accounts (names or uids) whose entries are trusted besides the reader's own and root
    cache_dir: Path | None = None
    cache_writers: tuple[str | int, ...] = ()
    # Where named keeps the DNSSEC keys of the zones it signs (never in git); None: zone_dir/keys
    key_directory: Path | None = None
    # Servers of the parent zones, asked whether they hold a zone's DS before a change that
    # would break it (signing off, an algorithm change); none: the DS cannot be checked
    ds_parents: tuple[tuple[str, int], ...] = ()
    # The TSIG keys of reconciler.toml's [dynamic] (RFC 2136 clients); the include includes it
    update_key_file: Path | None = None
    drift_interval: float = 300.0  # seconds between two comparisons of served and applied; 0: off
    drift_action: DriftAction = "report"
    source: Path | None = None  # the daemon.toml this came from

    @property
    def keys(self) -> Path:
        """The DNSSEC key directory: `[dnssec] key_directory`, else `keys` in the zone folder."""
        return self.key_directory or self.zone_dir / "keys"


_SCHEMA: dict[str, dict[str, Any]] = {
    "repo": {"path": str, "branch": str, "url": str, "fetch_interval": (int, float)},
    "bind": {
        "zone_dir": str,
        "include_file": str,
        "named_conf": str,
        "log_file": str,
        "include_key": bool,
    },
    "rndc": {"server": str, "port": int, "key_file": str},
    "tsig": {"key_file": str},
    "state": {"dir": str},
    "confirm": {
        "primary_deadline": (int, float),
        "deadline": (int, float),
        "query_timeout": (int, float),
    },
    "http": {"listen": str},
    "gates": {
        "require_signed_commits": bool,
        "gpg_home": str,
        "allowed_signers": str,
        "allow_non_descendant": bool,
    },
    "check": {"max_records": int, "cache_dir": str, "trust_cache_of": list},
    "dnssec": {"key_directory": str, "parents": list},
    "dynamic": {"key_file": str},
    "drift": {"interval": (int, float), "action": str},
    "daemon": {
        "debounce": (int, float),
        "recheck_interval": (int, float),
        "backoff_initial": (int, float),
        "backoff_max": (int, float),
    },
    "host": {
        "mode": str,
        "interval": (int, float),
        "management_address": str,
        "confirm_timeout": (int, float),
        "service_manager": str,
        "sshd_config": str,
        "nftables_file": str,
        "nftables_conf": str,
        "fail2ban_jail": str,
        "chrony_sources": str,
        "named_options": str,
    },
}
_HOST_PATHS = (
    "sshd_config",
    "nftables_file",
    "nftables_conf",
    "fail2ban_jail",
    "chrony_sources",
    "named_options",
)
_REQUIRED = [
    ("repo", "path"),
    ("bind", "zone_dir"),
    ("bind", "include_file"),
    ("rndc", "key_file"),
    ("tsig", "key_file"),
    ("state", "dir"),
]


def parse_host_config(text: str, file: str, base: Path) -> HostConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError([syntax_problem(file, exc)]) from None
    problems: list[Problem] = []
    for table, values in data.items():
        if table not in _SCHEMA:
            problems.append(
                Problem(file, f"unknown table or key '{table}'", line=table_line(text, table))
            )
        elif not isinstance(values, dict):
            problems.append(Problem(file, f"[{table}] must be a table", table_line(text, table)))
        else:
            problems += check_types(text, file, table, values, _SCHEMA[table])
            if table != "host":  # [host] has rules of its own (_host_values)
                problems += _durations(text, file, table, values)
    ceiling = (
        data.get("check", {}).get("max_records") if isinstance(data.get("check"), dict) else None
    )
    if isinstance(ceiling, int) and ceiling < 1:
        where = key_line(text, "check", "max_records")
        problems.append(Problem(file, "[check] max_records must be positive", where))
    writers = (
        data.get("check", {}).get("trust_cache_of", [])
        if isinstance(data.get("check"), dict)
        else []
    )
    if isinstance(writers, list) and not all(
        (isinstance(w, str) and w) or (type(w) is int and w >= 0) for w in writers
    ):
        where = key_line(text, "check", "trust_cache_of")
        message = "[check] trust_cache_of must list account names or uids"
        problems.append(Problem(file, message, where))
    for table, key in _REQUIRED:
        if isinstance(data.get(table, {}), dict) and key not in data.get(table, {}):
            problems.append(Problem(file, f"[{table}] needs '{key}'"))
    parents = _parents(text, file, data.get("dnssec", {}), problems)
    drift = data.get("drift", {})
    if isinstance(drift, dict) and drift.get("action", "report") not in DRIFT_ACTIONS:
        where = key_line(text, "drift", "action")
        choices = " or ".join(f'"{a}"' for a in DRIFT_ACTIONS)
        problems.append(Problem(file, f"[drift] action must be {choices}", where))
    host_table = data.get("host", {})
    if isinstance(host_table, dict) and not problems:
        problems += _host_values(text, file, host_table)
    if problems:
        raise ValidationError(problems)

    def path(table: str, key: str) -> Path:
        return (base / str(data[table][key])).resolve()

    def optional(table: str, key: str) -> Path | None:
        return path(table, key) if key in data.get(table, {}) else None

    confirm = data.get("confirm", {})
    gates = data.get("gates", {})
    daemon = data.get("daemon", {})
    return HostConfig(
        repo=path("repo", "path"),
        branch=data["repo"].get("branch", DEFAULT_BRANCH),
        zone_dir=path("bind", "zone_dir"),
        include_file=path("bind", "include_file"),
        transfer_key_file=path("tsig", "key_file"),
        rndc_key_file=path("rndc", "key_file"),
        state_dir=path("state", "dir"),
        rndc_server=data.get("rndc", {}).get("server", HostConfig.rndc_server),
        rndc_port=data.get("rndc", {}).get("port", HostConfig.rndc_port),
        named_conf=optional("bind", "named_conf"),
        log_file=optional("bind", "log_file"),
        include_key=data["bind"].get("include_key", HostConfig.include_key),
        primary_deadline=float(confirm.get("primary_deadline", HostConfig.primary_deadline)),
        deadline=float(confirm.get("deadline", HostConfig.deadline)),
        query_timeout=float(confirm.get("query_timeout", HostConfig.query_timeout)),
        http_listen=data.get("http", {}).get("listen", HostConfig.http_listen),
        repo_url=data["repo"].get("url"),
        fetch_interval=float(data["repo"].get("fetch_interval", HostConfig.fetch_interval)),
        require_signed_commits=gates.get(
            "require_signed_commits", HostConfig.require_signed_commits
        ),
        gpg_home=optional("gates", "gpg_home"),
        allowed_signers=optional("gates", "allowed_signers"),
        allow_non_descendant=gates.get("allow_non_descendant", HostConfig.allow_non_descendant),
        debounce=float(daemon.get("debounce", HostConfig.debounce)),
        recheck_interval=float(daemon.get("recheck_interval", HostConfig.recheck_interval)),
        backoff_initial=float(daemon.get("backoff_initial", HostConfig.backoff_initial)),
        backoff_max=float(daemon.get("backoff_max", HostConfig.backoff_max)),
        host=_host_settings(data.get("host", {}), base),
        max_records=data.get("check", {}).get("max_records", HostConfig.max_records),
        cache_dir=optional("check", "cache_dir"),
        cache_writers=tuple(data.get("check", {}).get("trust_cache_of", ())),
        key_directory=optional("dnssec", "key_directory"),
        ds_parents=parents,
        update_key_file=optional("dynamic", "key_file"),
        drift_interval=float(drift.get("interval", HostConfig.drift_interval)),
        drift_action=next(
            a for a in DRIFT_ACTIONS if a == drift.get("action", HostConfig.drift_action)
        ),
    )


def _parents(
    text: str, file: str, table: object, problems: list[Problem]
) -> tuple[tuple[str, int], ...]:
    """[dnssec] parents: "ADDR[:PORT]" strings (problems are added to `problems`)."""
    raw = table.get("parents", []) if isinstance(table, dict) else []
    found = []
    for item in raw if isinstance(raw, list) else []:
        try:
            found.append(address_port(str(item), "[dnssec] parents:"))
        except ConfigError as exc:
            problems.append(Problem(file, str(exc), key_line(text, "dnssec", "parents")))
    return tuple(found)


def _durations(text: str, file: str, table: str, values: dict[str, Any]) -> list[Problem]:
    """Seconds are never negative (numbers of the wrong type are check_types' to say)."""
    return [
        Problem(file, f"[{table}] {key} must not be negative", key_line(text, table, key))
        for key, value in values.items()
        if _SCHEMA[table].get(key) == (int, float)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and value < 0
    ]


def _host_values(text: str, file: str, table: dict[str, Any]) -> list[Problem]:
    """[host] values beyond their types: the mode's choices, positive durations."""
    problems = []
    choices = {"mode": HOST_MODES, "service_manager": SERVICE_MANAGERS}
    for key, allowed in choices.items():
        if key in table and table[key] not in allowed:
            problems.append(
                Problem(
                    file,
                    f"[host] {key} must be one of {', '.join(allowed)}, got {table[key]!r}",
                    line=key_line(text, "host", key),
                )
            )
    for key in ("interval", "confirm_timeout"):
        if key in table and table[key] <= 0:
            problems.append(
                Problem(file, f"[host] {key} must be more than 0", line=key_line(text, "host", key))
            )
    return problems


def _host_settings(table: dict[str, Any], base: Path) -> HostSettings:
    defaults = HostSettings  # each default is stated once, on the dataclass
    paths = {key: (base / table[key]).resolve() for key in _HOST_PATHS if key in table}
    return HostSettings(
        mode=table.get("mode", defaults.mode),
        interval=float(table.get("interval", defaults.interval)),
        management_address=table.get("management_address") or None,
        confirm_timeout=float(table.get("confirm_timeout", defaults.confirm_timeout)),
        service_manager=table.get("service_manager", defaults.service_manager),
        **paths,
    )


def load_host_config(path: str | Path) -> HostConfig:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the host config: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not UTF-8") from None
    config = parse_host_config(text, str(file), file.parent.resolve())
    return HostConfig(**{**config.__dict__, "source": file.resolve()})
