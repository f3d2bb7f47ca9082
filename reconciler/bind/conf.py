"""named.conf pieces: the primary's generated include and a secondary's configuration.

`primary_include` renders every zone of the repo plus the catalog zone (TSIG-only
transfers, explicit NOTIFY); `secondary_config` is what `reconciler bind-config`
prints for a secondary; `quote` is the one way a value enters named.conf. Pure text
in, text out. Called by the reconcile step, cli/main.py and devtools/sandbox.py.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.bind.catalog import CATALOG, GENERATED
from reconciler.config.repo import Server
from reconciler.errors import ConfigError
from reconciler.model.dnssec import NONE, Dnssec
from reconciler.model.dynamic import Dynamic, DynamicZone
from reconciler.model.names import KEY_NAME, checked_zone_name, zone_name_problem

_UNSAFE_IN_STRING = re.compile(r'["\\\x00-\x1f\x7f]')


# --- named.conf pieces ---------------------------------------------------------------------


def quote(value: str | Path, what: str) -> str:
    """A value quoted for named.conf; refuses what would break out of the quotes."""
    text = str(value)
    if _UNSAFE_IN_STRING.search(text) or not text:
        raise ConfigError(f"{what} {text!r} cannot be written into named.conf")
    return f'"{text}"'


def _key_name(name: str) -> str:
    if not isinstance(name, str) or not KEY_NAME.match(name.rstrip(".")):
        raise ConfigError(f"invalid TSIG key name {name!r}")
    return name


def endpoint(server: Server) -> tuple[str, int]:
    """The server's address and port, checked: what a generated configuration may name."""
    try:
        address = ipaddress.ip_address(server.address)
    except ValueError:
        raise ConfigError(
            f"server {server.name}: {server.address!r} is not an IP address"
        ) from None
    if not 1 <= server.port <= 65535:
        raise ConfigError(f"server {server.name}: port {server.port} is out of range")
    return str(address), server.port


def _remote(server: Server, key_name: str) -> str:
    address, port = endpoint(server)
    return f'{address} port {port} key "{_key_name(key_name)}";'


def _signing(policy: str, key_directory: Path | None) -> list[str]:
    """A zone's DNSSEC lines: BIND signs a copy of the file it loads (inline signing), so
    the file the reconciler writes stays unsigned and the keys stay in `key_directory`."""
    if policy == NONE:
        return []
    lines = [f"\tdnssec-policy {quote(policy, 'dnssec-policy')};", "\tinline-signing yes;"]
    if key_directory is not None:
        lines.append(f"\tkey-directory {quote(key_directory, 'key directory')};")
    return lines


def _update_policy(dynamic: DynamicZone | None) -> list[str]:
    """The zone's `update-policy`: the dynamic key may change its names and types, no more."""
    if dynamic is None:
        return []
    key = _key_name(dynamic.key)
    types = " ".join(dynamic.types)
    grants = [f'\t\tgrant "{key}" name {name} {types};' for name in dynamic.names]
    return ["\tupdate-policy {", *grants, "\t};"]


def _primary_zone(
    name: str,
    file: Path,
    notify_to: list[str],
    key_name: str,
    signing: Sequence[str] = (),
    dynamic: DynamicZone | None = None,
) -> str:
    lines = [
        f"zone {quote(name, 'zone name')} {{",
        "\ttype primary;",
        f"\tfile {quote(file, 'zone file')};",
        *signing,
        f'\tallow-transfer {{ key "{key_name}"; }};',
        *_update_policy(dynamic),
    ]
    if notify_to:
        lines += ["\tnotify explicit;", f"\talso-notify {{ {' '.join(notify_to)} }};"]
    else:
        lines.append("\tnotify no;")
    lines += ["\tnotify-delay 0;", "\tixfr-from-differences yes;", "};"]
    return "\n".join(lines)


def primary_include(
    zones: Mapping[str, Path],
    secondaries: Sequence[Server],
    key_name: str,
    catalog_file: Path,
    key_file: Path | None = None,
    dnssec: Dnssec | None = None,
    key_directory: Path | None = None,
    dynamic: Dynamic | None = None,
    update_key_file: Path | None = None,
) -> str:
    """The include file for the primary's named.conf: every zone and the catalog zone.

    With `dynamic`, each zone it names gets an `update-policy` granting its key exactly its
    names and types; `update_key_file` (the file that holds those keys) is then included.

    With `dnssec`, each zone it signs gets its `dnssec-policy` (the repo's policies are
    written as top-level statements first), `inline-signing yes` and `key_directory`.

    Transfers are allowed only with the TSIG key `key_name` (all servers may share one
    address, so address ACLs would not do), NOTIFY goes to each secondary signed with the same
    key and without delay. With `key_file`, the include also includes the key. Deterministic:
    zones and secondaries are sorted, so equal input gives equal text.
    """
    key_name = _key_name(key_name)
    names: dict[str, Path] = {}
    for zone, path in zones.items():
        lower = checked_zone_name(zone).lower()
        problem = zone_name_problem(lower)  # the rule check/zonefiles.py applies
        if problem:
            raise ConfigError(f"zone {lower}: {problem}")
        if lower in names:
            raise ConfigError(f"zone {lower} is listed twice")
        names[lower] = Path(path)
    ordered = sorted(secondaries, key=lambda s: (s.name, s.address, s.port))
    notify_to = [_remote(s, key_name) for s in ordered]
    parts = [
        f"// dns-reconciler: the primary's zones and the catalog zone {CATALOG}.\n// {GENERATED}",
    ]
    if key_file is not None:
        parts.append(f"include {quote(key_file, 'key file')};")
    dynamic = dynamic or Dynamic()
    wanted = update_key_file is not None and update_key_file != key_file
    if update_key_file is not None and wanted and any(dynamic.of(name) for name in names):
        parts.append(f"include {quote(update_key_file, 'update key file')};")
    dnssec = dnssec or Dnssec()
    parts += [policy.statement() for policy in dnssec.used(set(names))]
    for name in sorted(names):
        signing = _signing(dnssec.policy_name(name), key_directory)
        parts.append(
            _primary_zone(name, names[name], notify_to, key_name, signing, dynamic.of(name))
        )
    parts.append(
        "// The catalog zone (RFC 9432): secondaries learn the zones above from it.\n"
        + _primary_zone(CATALOG, Path(catalog_file), notify_to, key_name)
    )
    return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class SecondaryConfig:
    """What a secondary's named.conf needs: `top_level` statements and `options` lines."""

    top_level: str
    options: str
    primary: str  # "name (address port N)", for the comments
    key_file: Path
    zone_dir: Path

    def text(self) -> str:
        """Both pieces, with comments telling the operator where each goes."""
        return (
            f"// BIND configuration for a secondary of {self.primary}, "
            "generated by dns-reconciler.\n"
            f"// 1. Put the TSIG key file at {self.key_file} on this server (mode 0600,\n"
            "//    readable by named): the same key as on the primary.\n"
            f"// 2. Create {self.zone_dir}, writable by named: the catalog's zones go there.\n"
            "// 3. Add this at the top level of named.conf (outside options { }):\n\n"
            f"{self.top_level}\n"
            "// 4. Add these lines inside the options { } block of named.conf:\n\n"
            f"{self.options}\n"
            "// 5. Check with `named-checkconf`, then `rndc reconfig`. Zones added to or removed\n"
            "//    from the catalog on the primary then appear and disappear here by themselves.\n"
        )


def secondary_config(
    primary: Server,
    key_name: str,
    key_file: Path,
    zone_dir: Path,
    catalog: str = CATALOG,
    min_update_interval: int | None = None,
) -> SecondaryConfig:
    """The configuration a secondary needs to follow the primary's catalog zone over TSIG.

    `min_update_interval` (seconds) overrides BIND's default of 5 s between two applied
    catalog updates; a catalog change that comes sooner waits for it.
    """
    key_name = _key_name(key_name)
    if min_update_interval is not None and (
        isinstance(min_update_interval, bool)
        or not isinstance(min_update_interval, int)
        or min_update_interval < 0
    ):
        raise ConfigError(f"min-update-interval {min_update_interval!r} must be seconds >= 0")
    interval = (
        f"\t\t\tmin-update-interval {min_update_interval}\n"
        if min_update_interval is not None
        else ""
    )
    catalog = checked_zone_name(catalog)
    remote = _remote(primary, key_name)
    catalog_file = Path(zone_dir) / f"{catalog}.db"
    top_level = (
        f"include {quote(key_file, 'key file')};\n\n"
        f"// The catalog zone: the list of zones to serve, transferred from the primary.\n"
        f"zone {quote(catalog, 'catalog zone')} {{\n"
        "\ttype secondary;\n"
        f"\tfile {quote(catalog_file, 'catalog file')};\n"
        f"\tprimaries {{ {remote} }};\n"
        f'\tallow-transfer {{ key "{key_name}"; }};\n'
        "\tnotify no;\n"
        "};\n"
    )
    options = (
        "\t// Zones from the catalog take their settings from here. BIND 9.18 lets anyone\n"
        "\t// transfer a secondary zone by default: here only holders of the key may (this also\n"
        "\t// applies to other zones of this server that do not set allow-transfer).\n"
        f'\tallow-transfer {{ key "{key_name}"; }};\n'
        "\t// Only the primary sends NOTIFY: a secondary that did would notify the other servers\n"
        '\t// of each zone\'s NS set, which refuse it ("refused notify from non-primary"). This\n'
        "\t// too applies to other zones of this server that do not set notify themselves.\n"
        "\tnotify no;\n"
        "\tallow-new-zones yes;\n"
        "\tcatalog-zones {\n"
        f"\t\tzone {quote(catalog, 'catalog zone')}\n"
        f"\t\t\tdefault-primaries {{ {remote} }}\n"
        f"\t\t\tzone-directory {quote(zone_dir, 'zone directory')}\n"
        f"{interval}"
        "\t\t\tin-memory no;\n"
        "\t};\n"
    )
    where = f"{primary.name} ({primary.address} port {primary.port})"
    return SecondaryConfig(top_level, options, where, Path(key_file), Path(zone_dir))


# --- BIND's tools --------------------------------------------------------------------------


# --- named's log ---------------------------------------------------------------------------
