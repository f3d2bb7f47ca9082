"""`rndc dnssec -status` read into key states, and the operator's next step from them.
The text is BIND 9.18's own output (captured from named on this machine)."""

from __future__ import annotations

import pytest

from reconciler.model.keystate import ZoneKeys, next_step, parse_status

pytestmark = pytest.mark.unit

STATUS = """dnssec-policy: fast
current time:  Tue Dec  1 21:10:03 2026

key: 9244 (ECDSAP256SHA256), CSK
  published:      yes - since Tue Dec  1 21:09:56 2026
  key signing:    yes - since Tue Dec  1 21:09:56 2026
  zone signing:   yes - since Tue Dec  1 21:09:56 2026

  No rollover scheduled
  - goal:           omnipresent
  - dnskey:         {dnskey}
  - ds:             {ds}
  - zone rrsig:     rumoured
  - key rrsig:      rumoured
"""
DS = {9244: "example.com. IN DS 9244 13 2 AB"}


def _zone(dnskey: str, ds: str) -> ZoneKeys:
    return parse_status("example.com", STATUS.format(dnskey=dnskey, ds=ds))


def test_parse() -> None:
    zone = _zone("rumoured", "hidden")
    assert zone.policy == "fast"
    (key,) = zone.keys
    assert (key.tag, key.algorithm, key.role, key.signs_keys) == (
        9244,
        "ECDSAP256SHA256",
        "CSK",
        True,
    )
    assert key.states == {
        "goal": "omnipresent",
        "dnskey": "rumoured",
        "ds": "hidden",
        "zone rrsig": "rumoured",
        "key rrsig": "rumoured",
    }


def test_next_steps() -> None:
    assert next_step(_zone("rumoured", "hidden"), DS).startswith(
        "wait: the DNSKEY of key 9244 is rumoured; when it is omnipresent, publish the DS"
    )
    publish = next_step(_zone("omnipresent", "hidden"), DS)
    assert publish == (
        "publish the DS at the registrar: example.com. IN DS 9244 13 2 AB; once the parent "
        "serves it, `rndc dnssec -checkds -key 9244 published example.com`"
    )
    assert "rumoured until" in next_step(_zone("omnipresent", "rumoured"), DS)
    assert next_step(_zone("omnipresent", "omnipresent"), DS).startswith("nothing")
    retiring = STATUS.replace("goal:           omnipresent", "goal:           hidden")
    old = parse_status("example.com", retiring.format(dnskey="omnipresent", ds="omnipresent"))
    assert "withdraw the DS of key 9244" in next_step(old, DS)
