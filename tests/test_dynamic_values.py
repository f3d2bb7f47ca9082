"""[dynamic] and the Knot configuration as values: parsing with lines, the update-policy the
include gets, the one predicate, and what the Knot text refuses to carry. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply.dynamic import without_dynamic
from reconciler.bind.conf import primary_include
from reconciler.bind.knot import knot_config
from reconciler.config.repo import Server, parse_repo_config
from reconciler.errors import ConfigError, ValidationError
from reconciler.model.dynamic import is_dynamic
from reconciler.model.zone import CanonicalZone

pytestmark = pytest.mark.unit

BASE = '[primary]\nname = "ns1"\naddress = "192.0.2.1"\n'
GOOD = (
    BASE
    + """
[dynamic."Example.COM"]
key = "acme-key"
names = ["_acme-challenge", "_acme-challenge.www.example.com."]
"""
)


def test_dynamic_names_are_absolute_and_types_default_to_txt() -> None:
    dynamic = parse_repo_config(GOOD).dynamic
    zone = dynamic.of("example.com.")
    assert zone is not None and zone.key == "acme-key" and zone.types == ("TXT",)
    assert zone.names == ("_acme-challenge.example.com.", "_acme-challenge.www.example.com.")
    assert is_dynamic(dynamic, "example.com", "_ACME-challenge.example.com", "txt")
    assert not is_dynamic(dynamic, "example.com", "_acme-challenge.example.com.", "A")
    assert not is_dynamic(dynamic, "example.com", "www.example.com.", "TXT")
    assert not is_dynamic(dynamic, "example.net", "_acme-challenge.example.net.", "TXT")


def test_each_problem_names_the_line() -> None:
    text = (
        BASE
        + """
[dynamic."example.com"]
key = "bad key"
names = ["_acme-challenge", "other.example.net.", "@"]
types = ["TXT", "NS", "NOPE"]
colour = "blue"
"""
    )
    with pytest.raises(ValidationError) as caught:
        parse_repo_config(text)
    found = {(p.line, p.message) for p in caught.value.problems}
    prefix = '[dynamic."example.com"]: '
    assert (6, prefix + "key must be a TSIG key's name, got 'bad key'") in found
    assert (7, prefix + "names: 'other.example.net.' is not in example.com") in found
    assert (7, prefix + "names: the zone's apex cannot be dynamic") in found
    assert (8, prefix + "types: NS cannot be dynamic") in found
    assert (8, prefix + "types: 'NOPE' is not a record type") in found
    assert (9, prefix + "unknown key 'colour' (key, names, types)") in found


def test_the_include_grants_exactly_the_dynamic_names(tmp_path: Path) -> None:
    config = parse_repo_config(GOOD)
    text = primary_include(
        {"example.com": tmp_path / "a.zone", "example.net": tmp_path / "b.zone"},
        [],
        "transfer-key",
        tmp_path / "catalog.zone",
        tmp_path / "transfer.key",
        dynamic=config.dynamic,
        update_key_file=tmp_path / "acme.key",
    )
    assert text.count("update-policy") == 1
    assert (
        "\tupdate-policy {\n"
        '\t\tgrant "acme-key" name _acme-challenge.example.com. TXT;\n'
        '\t\tgrant "acme-key" name _acme-challenge.www.example.com. TXT;\n'
        "\t};\n"
    ) in text
    assert f'include "{tmp_path / "acme.key"}";' in text
    without = primary_include(
        {"example.net": tmp_path / "b.zone"},
        [],
        "transfer-key",
        tmp_path / "catalog.zone",
        dynamic=config.dynamic,
        update_key_file=tmp_path / "acme.key",
    )
    assert "acme" not in without  # no dynamic zone served: the key is not needed


def test_a_copy_from_the_primary_loses_only_the_dynamic_records() -> None:
    dynamic = parse_repo_config(GOOD).dynamic
    served = CanonicalZone.from_lines(
        "example.com",
        (
            "example.com. 3600 IN SOA ns1.example.com. h.example.com. 5 1 1 1 1",
            '_acme-challenge.example.com. 60 IN TXT "token"',
            '_acme-challenge.example.com. 60 IN TXT "token-2"',
            "_acme-challenge.example.com. 60 IN A 192.0.2.9",
            "www.example.com. 3600 IN A 192.0.2.80",
        ),
    )
    kept = without_dynamic(served, dynamic)
    lines = list(served.lines())
    assert list(kept.lines()) == [lines[0], lines[3], lines[4]]


def test_knot_config_refuses_what_would_break_out() -> None:
    primary, secondary = Server("ns1", "192.0.2.1"), Server("ns2", "192.0.2.2")
    with pytest.raises(ConfigError):
        knot_config(primary, secondary, "key\n", Path("/k"), Path("/s"))
    with pytest.raises(ConfigError):
        knot_config(primary, secondary, "k", Path('/k"\ninclude: /etc/shadow'), Path("/s"))
    with pytest.raises(ConfigError):
        knot_config(primary, Server("ns2", "ns2.example.com"), "k", Path("/k"), Path("/s"))
    text = knot_config(primary, secondary, "k", Path("/k.conf"), Path("/s")).config
    assert "listen: 192.0.2.2@53" in text and "address: 192.0.2.1@53" in text


def test_a_key_name_with_a_newline_is_refused() -> None:
    """`$` matched before a trailing newline: a key name could carry one into named.conf."""
    with pytest.raises(ValidationError):
        parse_repo_config(BASE + '[transfer]\ntsig_key = "transfer-key\\n"\n')
    with pytest.raises(ValidationError):
        parse_repo_config(GOOD.replace('"acme-key"', '"acme-key\\n"'))


def test_dynamic_names_in_a_signed_zone_are_refused_for_now() -> None:
    signed = GOOD + '\n[dnssec.zones]\n"example.com" = "default"\n'
    with pytest.raises(ValidationError) as caught:
        parse_repo_config(signed)
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (
            5,
            '[dynamic."example.com"]: example.com is signed ([dnssec]); dynamic names in a '
            "signed zone are not supported yet",
        )
    ]
