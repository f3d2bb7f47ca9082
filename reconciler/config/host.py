"""daemon.toml: the primary host's own configuration (never in the zone repo).

Where the repo is, where zones and the generated named.conf include are
written, how rndc is reached, where the TSIG and rndc key files are, where
state lives, and the confirmation deadlines. Relative paths are relative to
the file's folder. Pure parse (`parse_host_config`) plus `load_host_config`
for the path. Called by cli/main.py for apply/status/rollback/bind-config and by
the daemon.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config.tomlfile import check_types, syntax_problem, table_line
from reconciler.errors import ConfigError, Problem, ValidationError


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
    debounce: float = 0.2  # seconds of quiet after a push before reconciling
    recheck_interval: float = 30.0  # the safety net: look at the branch head this often
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    source: Path | None = None  # the daemon.toml this came from


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
    "daemon": {
        "debounce": (int, float),
        "recheck_interval": (int, float),
        "backoff_initial": (int, float),
        "backoff_max": (int, float),
    },
}
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
        if table not in _SCHEMA or not isinstance(values, dict):
            problems.append(
                Problem(file, f"unknown table or key '{table}'", line=table_line(text, table))
            )
            continue
        problems += check_types(text, file, table, values, _SCHEMA[table])
    for table, key in _REQUIRED:
        if key not in data.get(table, {}):
            problems.append(Problem(file, f"[{table}] needs '{key}'"))
    if problems:
        raise ValidationError(problems)

    def path(table: str, key: str) -> Path:
        return (base / data[table][key]).resolve()

    def optional(table: str, key: str) -> Path | None:
        return path(table, key) if key in data.get(table, {}) else None

    confirm = data.get("confirm", {})
    gates = data.get("gates", {})
    daemon = data.get("daemon", {})
    return HostConfig(
        repo=path("repo", "path"),
        branch=data["repo"].get("branch", "main"),
        zone_dir=path("bind", "zone_dir"),
        include_file=path("bind", "include_file"),
        transfer_key_file=path("tsig", "key_file"),
        rndc_key_file=path("rndc", "key_file"),
        state_dir=path("state", "dir"),
        rndc_server=data.get("rndc", {}).get("server", "127.0.0.1"),
        rndc_port=data.get("rndc", {}).get("port", 953),
        named_conf=optional("bind", "named_conf"),
        log_file=optional("bind", "log_file"),
        include_key=data["bind"].get("include_key", True),
        primary_deadline=float(confirm.get("primary_deadline", 10.0)),
        deadline=float(confirm.get("deadline", 30.0)),
        query_timeout=float(confirm.get("query_timeout", 1.0)),
        http_listen=data.get("http", {}).get("listen", "127.0.0.1:9153"),
        repo_url=data["repo"].get("url"),
        fetch_interval=float(data["repo"].get("fetch_interval", 60.0)),
        require_signed_commits=gates.get("require_signed_commits", False),
        gpg_home=optional("gates", "gpg_home"),
        allowed_signers=optional("gates", "allowed_signers"),
        allow_non_descendant=gates.get("allow_non_descendant", False),
        debounce=float(daemon.get("debounce", 0.2)),
        recheck_interval=float(daemon.get("recheck_interval", 30.0)),
        backoff_initial=float(daemon.get("backoff_initial", 1.0)),
        backoff_max=float(daemon.get("backoff_max", 60.0)),
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
