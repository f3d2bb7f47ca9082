"""`import --config daemon.toml`: the primary made ready for a takeover without a gap.

When the zones are still named.conf's own `zone` statements, the reconciler's include
cannot list them too (named refuses a zone defined twice), and removing them first would
leave named without the zones until the first apply. So `import --config` also writes,
and loads nothing: each imported zone as the reconciler's file in `[bind] zone_dir`
(BIND's canonical form, the served serial unchanged), an empty catalog zone when there is
none, and the generated include listing them. The operator then replaces the zone
statements by the include and runs `rndc reconfig`: named serves the same content with the
same serials from the new files, and the first `apply` finds nothing to change. Nothing is
written over: not a zone file that exists, not an include that lists a zone already.
Called by cli/adopt.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.adopt.importer import Imported
from reconciler.apply.deploy import zone_file
from reconciler.apply.served import included_zones
from reconciler.atomic import write_atomic
from reconciler.bind.catalog import CATALOG, catalog_zone_text
from reconciler.bind.conf import primary_include
from reconciler.config.host import HostConfig
from reconciler.errors import ConfigError
from reconciler.model.zone import CanonicalZone


@dataclass(frozen=True)
class Staged:
    files: tuple[Path, ...]  # the zone files written
    include: Path


def stage(host: HostConfig, imported: Imported) -> Staged:
    """Write the zone files and the include for `imported`; ConfigError when either would
    write over something (then nothing is written)."""
    listed = included_zones(host.include_file) - {CATALOG}
    if listed:
        raise ConfigError(
            f"{host.include_file} lists zones already ({', '.join(sorted(listed))}): "
            "the reconciler serves from it; nothing was staged"
        )
    paths = {zone.zone: zone_file(host, zone.zone) for zone in imported.zones}
    there = sorted(str(path) for path in paths.values() if path.exists())
    if there:
        raise ConfigError(f"{there[0]} exists: nothing was staged (it is not written over)")
    host.zone_dir.mkdir(parents=True, exist_ok=True)
    for zone in imported.zones:
        write_atomic(paths[zone.zone], CanonicalZone.from_lines(zone.zone, zone.records).text())
    catalog = zone_file(host, CATALOG)
    if not catalog.exists():  # the first apply lists the zones in it
        write_atomic(catalog, catalog_zone_text([], 1))
    topology = imported.topology
    key_file = host.transfer_key_file if host.include_key else None
    include = primary_include(paths, topology.secondaries, topology.key_name, catalog, key_file)
    write_atomic(host.include_file, include)
    return Staged(tuple(paths[z] for z in sorted(paths)), host.include_file)


def next_steps(host: HostConfig, staged: Staged, zones: Sequence[str]) -> list[str]:
    """What the operator does next, in order."""
    conf = host.named_conf or Path("named.conf")
    return [
        f"staged {len(staged.files)} zone file(s) in {host.zone_dir} and {staged.include}",
        f"next: in {conf}, replace the zone statements of {', '.join(zones)} by "
        f'include "{staged.include}"; then rndc reconfig, then reconciler apply',
    ]
