"""Zone-name rules: one function that check and deploy both apply. Pure."""

from __future__ import annotations

import re

from reconciler.errors import ConfigError

_LABEL = r"[A-Za-z0-9_/](?:[A-Za-z0-9_/-]{0,61}[A-Za-z0-9_/])?"


_ZONE_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")


def checked_zone_name(name: str) -> str:
    """A zone name, validated for use in named.conf and the catalog; no trailing dot."""
    if not isinstance(name, str) or not _ZONE_NAME.match(name) or len(name.rstrip(".")) > 253:
        raise ConfigError(f"invalid zone name {name!r}")
    return name.rstrip(".")
