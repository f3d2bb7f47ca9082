"""The version of this installation, from the package metadata (pyproject.toml's version).

One source of truth: `reconciler --version`, the `reconciler_version` of every `--format json`
output and /metrics' `reconciler_build_info{version}` all read `VERSION`.
"""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "dns-reconciler"


def _installed() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # the source tree on sys.path, never installed
        return "0+unknown"


VERSION = _installed()
