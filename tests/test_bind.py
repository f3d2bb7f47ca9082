"""py against BIND's own tools and a real named: keys, the catalog zone, the generated
configuration, rndc and the reasons named gives in its log. No mocks: named-checkzone,
named-checkconf, rndc and named run for real, on 127.0.0.1 only."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.atomic import write_atomic
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG, catalog_member_id, catalog_zone_text
from reconciler.bind.conf import primary_include, secondary_config
from reconciler.bind.journal import discard_journal, journal_end, journal_files, journal_fits
from reconciler.bind.keys import Key, key_text, new_key, read_key_file, write_key_file
from reconciler.bind.namedlog import LoadFailure, load_failure, load_failure_reason, log_size
from reconciler.bind.rndc import Rndc
from reconciler.bind.tools import checkconf, tool
from reconciler.config.repo import Server
from reconciler.devtools import sandbox
from reconciler.errors import BindError, ConfigError

ZONE = """$TTL 3600
@       IN SOA ns1 hostmaster ( {serial} 1800 900 1209600 1800 )
@       IN NS  ns1
ns1     IN A   192.0.2.1
www     IN A   192.0.2.80
"""
SECONDARIES = [Server("ns3", "127.0.0.1", 5303), Server("ns2", "::1", 5302)]


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sandbox.Servers]:
    """A primary alone that is stricter than the checker: named refuses TTLs over an hour."""
    root = tmp_path_factory.mktemp("strict")
    with sandbox.start_servers(root, secondaries=0, primary_options="max-zone-ttl 3600;") as s:
        yield s


def _serve(servers: sandbox.Servers, zone: str, text: str, serial: int) -> Path:
    """Put `zone` on the primary (include regenerated, rndc reconfig) and wait until it loads."""
    primary = servers.primary
    assert primary.include_file is not None
    zone_file = primary.zone_dir / f"{zone}.zone"
    write_atomic(zone_file, text)
    zones = {p.name[: -len(".zone")]: p for p in primary.zone_dir.glob("*.zone")}
    zones.pop(CATALOG, None)
    include = primary_include(
        zones, [], sandbox.TRANSFER_KEY, servers.catalog_file, servers.transfer_key_file
    )
    write_atomic(primary.include_file, include)
    assert checkconf(primary.conf) == []
    servers.rndc().reconfig()
    assert probe.wait_for_serial(primary.address, primary.port, zone, serial, 30) == serial
    return zone_file


# --- keys ------------------------------------------------------------------------------------


def test_key_file_round_trip_is_private_and_exact(tmp_path: Path) -> None:
    key = new_key("transfer-key")
    assert len(base64.b64decode(key.secret)) == 32
    path = tmp_path / "transfer.key"
    write_key_file(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["transfer.key"]  # no temp file left


def test_key_never_shows_its_secret(tmp_path: Path) -> None:
    key = new_key("transfer-key", "hmac-sha512")
    shown = [repr(key), str(key), f"{key}", f"{key!r}", repr([key]), str({"k": key})]
    for text in shown:
        assert key.secret not in text
        assert "transfer-key" in text and "hmac-sha512" in text
    assert key.secret in key_text(key)  # the key file itself must hold it


def test_bad_key_file_error_names_the_file_not_the_content(tmp_path: Path) -> None:
    secret = base64.b64encode(b"s" * 32).decode()
    cases = {
        "unquoted-extra.key": f'key "k" {{ algorithm hmac-md5; secret {secret} {secret[:9]}; }};',
        "no-algorithm.key": f'key "k" {{ secret "{secret}"; }};',
        "bad-algorithm.key": f'key "k" {{ algorithm rot13; secret "{secret}"; }};',
        "bad-base64.key": f'key "k" {{ algorithm hmac-sha256; secret "{secret}!!"; }};',
        "unterminated.key": f'key "k" {{ algorithm hmac-sha256; secret "{secret}',
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            read_key_file(path)
        message = str(caught.value) + repr(caught.value)
        assert str(path) in message
        assert secret[:9] not in message, name
    with pytest.raises(ConfigError, match="missing.key"):
        read_key_file(tmp_path / "missing.key")


def test_invalid_secret_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Key("k", "hmac-sha256", "not base64 at all: c2VjcmV0")
    assert "c2VjcmV0" not in str(caught.value)


def test_reads_tsig_keygen_output_and_picks_a_key_by_name(tmp_path: Path) -> None:
    made = subprocess.run(
        [tool("tsig-keygen"), "-a", "hmac-sha384", "made-by-bind"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = tmp_path / "keys.conf"
    other = new_key("other")
    path.write_text(f"# two keys\n{key_text(other)}/* and one from BIND */\n{made}")
    key = read_key_file(path, name="made-by-bind")
    assert (key.name, key.algorithm) == ("made-by-bind", "hmac-sha384")
    assert key.secret in made
    assert read_key_file(path) == other
    with pytest.raises(ConfigError, match="no key named 'absent'"):
        read_key_file(path, name="absent")


def test_write_atomic_replaces_whole_files_and_cleans_up_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "zone"
    write_atomic(path, "old\n")
    write_atomic(path, b"new\n", mode=0o640)
    assert path.read_bytes() == b"new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):  # the rename fails, after the temp file is written
        write_atomic(tmp_path / "folder", "never seen\n")
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "zone"]
    with pytest.raises(ValueError):
        write_atomic(path, "x", mode=-1)


# --- the catalog zone ----------------------------------------------------------------------


def test_catalog_zone_loads_in_named_checkzone(tmp_path: Path) -> None:
    text = catalog_zone_text(["example.com", "Example.NET.", "example.com"], 7)
    assert text == catalog_zone_text(["example.net", "example.com"], 7)  # stable
    path = tmp_path / "catalog.zone"
    path.write_text(text)
    run = subprocess.run(
        [tool("named-checkzone"), "-D", "-o", "-", CATALOG, str(path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    records = [line.split() for line in run.stdout.splitlines() if line]
    ptr = {r[0]: r[-1] for r in records if r[3] == "PTR"}
    sha1 = hashlib.sha1(b"example.net").hexdigest()
    assert ptr == {
        f"{hashlib.sha1(b'example.com').hexdigest()}.zones.catalog.invalid.": "example.com.",
        f"{sha1}.zones.catalog.invalid.": "example.net.",
    }
    assert ["version.catalog.invalid.", "0", "IN", "TXT", '"2"'] in records
    soa = next(r for r in records if r[3] == "SOA")
    assert soa[4:7] == ["invalid.", "invalid.", "7"]
    assert catalog_member_id("EXAMPLE.net.") == sha1


def test_catalog_refuses_bad_input() -> None:
    with pytest.raises(ConfigError):
        catalog_zone_text(['evil"; }; include "/etc/passwd'], 1)
    with pytest.raises(ConfigError):
        catalog_zone_text(["catalog.invalid"], 1)
    with pytest.raises(ConfigError):
        catalog_zone_text([], 2**32)


# --- named.conf pieces ---------------------------------------------------------------------


def _named_conf(folder: Path, body: str, options: str = "") -> Path:
    conf = folder / "named.conf"
    conf.write_text(f'options {{\n\tdirectory "{folder}";\n{options}}};\n{body}')
    return conf


def test_primary_include_passes_named_checkconf(tmp_path: Path) -> None:
    key_file = tmp_path / "transfer.key"
    write_key_file(key_file, new_key("transfer-key"))
    zones = {"example.com": tmp_path / "example.com.zone", "b.example": tmp_path / "b.zone"}
    text = primary_include(zones, SECONDARIES, "transfer-key", tmp_path / "catalog.zone", key_file)
    reordered = dict(reversed(list(zones.items())))
    same = primary_include(
        reordered, SECONDARIES[::-1], "transfer-key", tmp_path / "catalog.zone", key_file
    )
    assert text == same
    assert text.startswith("// dns-reconciler") and "do not edit" in text
    assert text.index('zone "b.example"') < text.index('zone "example.com"')
    assert text.count('also-notify { ::1 port 5302 key "transfer-key"; 127.0.0.1 port 5303') == 3
    assert text.count('allow-transfer { key "transfer-key"; };') == 3
    include = tmp_path / "reconciler.conf"
    include.write_text(text)
    assert checkconf(_named_conf(tmp_path, f'include "{include}";\n')) == []


def test_primary_include_without_secondaries_or_key_file_passes(tmp_path: Path) -> None:
    text = primary_include({}, [], "transfer-key", tmp_path / "catalog.zone")
    assert 'include "' not in text and "notify no;" in text
    key = key_text(new_key("transfer-key"))
    assert checkconf(_named_conf(tmp_path, key + text)) == []


def test_generated_config_refuses_injection(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        primary_include({'x"; }; zone "y': tmp_path / "z"}, [], "k", tmp_path / "c")
    with pytest.raises(ConfigError):
        primary_include({"x.test": Path('/z"; include "/etc/passwd')}, [], "k", tmp_path)
    with pytest.raises(ConfigError):
        primary_include({}, [Server("s", "ns2.example.com")], "k", tmp_path / "c")
    with pytest.raises(ConfigError):
        secondary_config(Server("p", "127.0.0.1"), 'k"; };', tmp_path / "k", tmp_path)


def test_secondary_config_passes_named_checkconf(tmp_path: Path) -> None:
    key_file = tmp_path / "transfer.key"
    write_key_file(key_file, new_key("transfer-key"))
    piece = secondary_config(
        Server("ns1", "192.0.2.53", 5300), "transfer-key", key_file, tmp_path / "catz"
    )
    assert "type secondary;" in piece.top_level
    assert 'primaries { 192.0.2.53 port 5300 key "transfer-key"; };' in piece.top_level
    assert "allow-new-zones yes;" in piece.options
    assert piece.options.count('allow-transfer { key "transfer-key"; };') == 1
    assert 'allow-transfer { key "transfer-key"; };' in piece.top_level
    assert f'zone-directory "{tmp_path / "catz"}"' in piece.options
    assert "default-primaries { 192.0.2.53 port 5300" in piece.options
    text = piece.text()
    assert piece.top_level in text and piece.options in text
    assert "top level" in text and "inside the options" in text
    assert checkconf(_named_conf(tmp_path, piece.top_level, piece.options)) == []
    assert "min-update-interval" not in piece.options  # BIND's default unless asked
    quick = secondary_config(
        Server("ns1", "192.0.2.53"), "transfer-key", key_file, tmp_path, min_update_interval=1
    )
    assert "\t\t\tmin-update-interval 1\n" in quick.options
    assert checkconf(_named_conf(tmp_path, quick.top_level, quick.options)) == []


def test_checkconf_reports_and_scrubs_secrets(tmp_path: Path) -> None:
    secret = base64.b64encode(b"k" * 32).decode()
    key_file = tmp_path / "broken.key"
    # a slip BIND's parser reports by quoting the token after the secret: part of a secret
    key_file.write_text(
        f'key "k" {{\n\talgorithm hmac-sha256;\n\tsecret {secret} {secret[5:20]};\n}};\n'
    )
    conf = _named_conf(tmp_path, f'include "{key_file}";\nzone "x" {{ type nonsense; }};\n')
    complaints = checkconf(conf)
    assert complaints, "named-checkconf accepted a broken key file"
    joined = "\n".join(complaints)
    assert f"{key_file}:3: missing ';' before '<redacted>'" in joined
    assert secret[5:20] not in joined and secret not in joined


# --- rndc and named's log ------------------------------------------------------------------


def test_rndc_talks_to_named(strict: sandbox.Servers) -> None:
    assert "server is up and running" in strict.rndc().status()
    assert isinstance(strict.rndc().reload(CATALOG), str)


def test_rndc_reload_of_unknown_zone_raises_with_rndc_message(strict: sandbox.Servers) -> None:
    with pytest.raises(BindError) as caught:
        strict.rndc().reload("nosuch.example")
    message = str(caught.value)
    assert "no matching zone 'nosuch.example'" in message
    assert f"port {strict.primary.rndc_port}" in message
    assert read_key_file(strict.rndc_key_file).secret not in message + repr(caught.value)


def test_rndc_with_the_wrong_key_or_port_fails_cleanly(
    strict: sandbox.Servers, tmp_path: Path
) -> None:
    wrong = new_key(sandbox.RNDC_KEY)
    wrong_file = tmp_path / "wrong.key"
    write_key_file(wrong_file, wrong)
    rndc = Rndc("127.0.0.1", strict.primary.rndc_port, wrong_file)
    with pytest.raises(BindError, match="connection to remote host closed") as caught:
        rndc.status()
    assert wrong.secret not in str(caught.value)
    closed = Rndc("127.0.0.1", sandbox.free_port(), strict.rndc_key_file)
    with pytest.raises(BindError, match="connection refused"):
        closed.status()
    garbage = tmp_path / "garbage.key"
    garbage.write_text(f"key {wrong.secret}")
    with pytest.raises(ConfigError) as caught:  # a key file that cannot work: permanent
        Rndc("127.0.0.1", strict.primary.rndc_port, garbage).status()
    assert str(garbage) in str(caught.value) and wrong.secret not in str(caught.value)


def test_load_failure_reason_after_named_refuses_a_zone(strict: sandbox.Servers) -> None:
    primary, rndc = strict.primary, strict.rndc()
    zone = "strict.test"
    zone_file = _serve(strict, zone, ZONE.format(serial=1), 1)
    offset = log_size(primary.log_file)
    write_atomic(zone_file, ZONE.format(serial=2).replace("www ", "www 86400"))
    rndc.reload(zone)  # exits 0 ("zone reload queued") although named will refuse the file
    reason = None
    end = time.monotonic() + 30
    while reason is None and time.monotonic() < end:
        reason = load_failure_reason(primary.log_file, zone, offset)
        time.sleep(0.05)
    assert reason == f"{zone_file}:5: TTL 86400 exceeds configured max-zone-ttl 3600"
    assert probe.soa_serial(primary.address, primary.port, zone) == 1  # the last good copy
    assert load_failure_reason(primary.log_file, "other.test", offset) is None
    after = log_size(primary.log_file)
    assert load_failure_reason(primary.log_file, zone, after) is None
    write_atomic(zone_file, ZONE.format(serial=3))
    rndc.reload(zone)
    assert probe.wait_for_serial(primary.address, primary.port, zone, 3, 30) == 3
    assert load_failure_reason(primary.log_file, zone, after) is None


# Lines named 9.18 wrote when it refused zones (print-time, -category and -severity on).
NAMED_LOG = """\
25-Nov-2026 14:39:37.285 general: info: received control channel command 'reload bad.test'
25-Nov-2026 14:39:37.285 general: warning: /z/bad.test.zone:6: unknown RR type 'BOGUS'
25-Nov-2026 14:39:37.285 zoneload: error: zone bad.test/IN: loading from master file \
/z/bad.test.zone failed: unknown class/type
25-Nov-2026 14:39:37.285 zoneload: error: zone bad.test/IN: not loaded due to errors.
25-Nov-2026 14:39:38.301 zoneload: info: zone bad.test/IN: loaded serial 3
25-Nov-2026 14:39:39.353 general: info: received control channel command 'reload bad.test'
25-Nov-2026 14:39:39.353 general: error: zone bad.test/IN: NS 'ns2.bad.test' has no address \
records (A or AAAA)
25-Nov-2026 14:39:39.353 zoneload: error: zone bad.test/IN: not loaded due to errors.
25-Nov-2026 14:39:41.433 zoneload: error: zone gone.test/IN: loading from master file \
/z/gone.test.zone failed: file not found
25-Nov-2026 14:39:41.433 zoneload: error: zone gone.test/IN: not loaded due to errors.
"""


def test_load_failure_reason_picks_the_failure_of_that_zone(tmp_path: Path) -> None:
    log = tmp_path / "named.log"
    log.write_text(NAMED_LOG)
    assert (
        load_failure_reason(log, "bad.test")
        == "zone bad.test/IN: NS 'ns2.bad.test' has no address records (A or AAAA)"
    )
    first = NAMED_LOG.index("25-Nov-2026 14:39:38")
    log.write_text(NAMED_LOG[:first])
    assert load_failure_reason(log, "bad.test") == "/z/bad.test.zone:6: unknown RR type 'BOGUS'"
    log.write_text(NAMED_LOG)
    assert load_failure_reason(log, "gone.test.") == (
        "zone gone.test/IN: loading from master file /z/gone.test.zone failed: file not found"
    )
    assert load_failure_reason(log, "bad.test", since_offset=len(NAMED_LOG)) is None
    log.write_text(
        NAMED_LOG + "25-Nov-2026 14:40:00.000 zoneload: info: zone bad.test/IN: loaded serial 9\n"
    )
    assert load_failure_reason(log, "bad.test") is None  # it loaded again since
    assert load_failure_reason(log, "gone.test") is not None
    log.write_text(NAMED_LOG)
    assert load_failure_reason(log, "bad.test", since_offset=10**9) is not None  # rotated
    assert load_failure_reason(tmp_path / "absent.log", "bad.test") is None


def test_key_files_written_by_the_sandbox_are_private(strict: sandbox.Servers) -> None:
    for path in (strict.transfer_key_file, strict.rndc_key_file):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


LIMIT_LOG = """\
01-Dec-2026 18:51:06.276 database: error: error adding 'many.example.com/A' in \
'example.com/IN' (zone): too many records (must not exceed 3)
01-Dec-2026 18:51:06.276 general: error: dns_master_load: /z/example.com.zone:10: \
many.example.com: too many records
01-Dec-2026 18:51:06.276 zoneload: error: zone example.com/IN: loading from master file \
/z/example.com.zone failed: too many records
01-Dec-2026 18:51:06.276 zoneload: error: zone example.com/IN: not loaded due to errors.
"""


def test_load_failure_keeps_bind_s_whole_message_and_the_record(tmp_path: Path) -> None:
    log = tmp_path / "named.log"
    log.write_text(LIMIT_LOG)
    failure = load_failure(log, "example.com")
    assert failure == LoadFailure(
        text="/z/example.com.zone:10: many.example.com: too many records",
        message="too many records (must not exceed 3)",
        file="/z/example.com.zone",
        line=10,
        owner="many.example.com.",
        rtype="A",
    )
    log.write_text(NAMED_LOG)
    failure = load_failure(log, "gone.test")
    assert failure is not None and failure.file is None and failure.message.endswith("not found")


def test_journal_leftovers_go_and_an_unreadable_journal_never_fits(tmp_path: Path) -> None:
    zone = tmp_path / "example.com.zone"
    zone.write_text("example.com. 300 IN SOA a. b. 5 1 1 1 1\n")
    assert journal_end(zone) is None and journal_fits(zone, 5)
    for path in journal_files(zone):
        path.write_bytes(b"not a journal")
    assert not journal_fits(zone, 5)
    with pytest.raises(BindError, match="named-journalprint cannot read it"):
        journal_end(zone)
    assert discard_journal(zone) == [
        "example.com.zone.jnl",
        "example.com.zone.jnw",
        "example.com.zone.jbk",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["example.com.zone"]
