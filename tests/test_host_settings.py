"""daemon.toml [host]: what the daemon does with host/policy.toml, where the managed files are."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config.host import HostSettings, parse_host_config
from reconciler.errors import ValidationError

pytestmark = pytest.mark.unit

BASE = (
    '[repo]\npath = "r"\n[bind]\nzone_dir = "z"\ninclude_file = "i"\n'
    '[rndc]\nkey_file = "k"\n[tsig]\nkey_file = "t"\n[state]\ndir = "s"\n'
)


def parse(extra: str) -> HostSettings:
    return parse_host_config(BASE + extra, "daemon.toml", Path("/etc/reconciler")).host


def test_without_host_table_the_host_half_is_off() -> None:
    settings = parse("")
    assert settings == HostSettings()
    assert settings.mode == "off"
    assert settings.sshd_config == Path("/etc/ssh/sshd_config")
    assert settings.nftables_file == Path("/etc/nftables.d/reconciler.nft")


def test_host_table_is_read_and_relative_paths_are_relative_to_the_file() -> None:
    settings = parse(
        '[host]\nmode = "enforce"\ninterval = 60\nmanagement_address = "192.0.2.53"\n'
        'confirm_timeout = 12.5\nservice_manager = "direct"\nsshd_config = "ssh/sshd_config"\n'
    )
    assert settings.mode == "enforce"
    assert settings.interval == 60.0
    assert settings.management_address == "192.0.2.53"
    assert settings.confirm_timeout == 12.5
    assert settings.service_manager == "direct"
    assert settings.sshd_config == Path("/etc/reconciler/ssh/sshd_config")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('mode = "on"', "daemon.toml:13: [host] mode must be one of off, audit, enforce, got 'on'"),
        ("interval = 0", "daemon.toml:13: [host] interval must be more than 0"),
        ("confirm_timeout = -1", "daemon.toml:13: [host] confirm_timeout must be more than 0"),
        ('service_manager = "openrc"', "[host] service_manager must be one of auto, systemd"),
        ('interval = "5m"', "[host] interval must be a number, got str"),
        ("owner = 1", "unknown key 'owner' in [host]"),
    ],
)
def test_bad_host_values_are_refused_with_their_line(line: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse(f"[host]\n{line}\n")
    assert message in str(info.value)
