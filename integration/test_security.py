"""An outsider on the same network gets nothing: no transfer without the key or with a wrong
one, and its NOTIFY does not move a secondary. Issue #5, scenario 7.

The outsider's attempts are made from its own container (172.30.53.99) with dig and
dnspython; the same refusals are checked from the test process too.
"""

from __future__ import annotations

import base64
import re
import secrets

import pytest

from integration.topology import ADDRESSES, ZONE, Node, Topology, wait_until
from reconciler.bind.keys import Key
from reconciler.errors import TransferRefused

OUTSIDER = ADDRESSES["outsider"]
SOA_LINE = re.compile(rf"^{re.escape(ZONE)}\.\s+\d+\s+IN\s+SOA\s", re.MULTILINE)

NOTIFY = """
import sys
import dns.flags, dns.message, dns.opcode, dns.query, dns.rcode, dns.rdatatype, dns.rrset
address, zone, serial = sys.argv[1], sys.argv[2], int(sys.argv[3])
notify = dns.message.make_query(zone, dns.rdatatype.SOA)
notify.flags = dns.flags.AA  # the opcode lives in the flags word: set it after
notify.set_opcode(dns.opcode.NOTIFY)
soa = f"ns1.{zone}. hostmaster.{zone}. {serial} 1800 900 1209600 300"
notify.answer.append(dns.rrset.from_text(zone + ".", 0, "IN", "SOA", soa))
answer = dns.query.udp(notify, address, port=53, timeout=3)
print(dns.rcode.to_text(answer.rcode()))
"""


def wrong_key(key: Key) -> Key:
    return Key(key.name, key.algorithm, base64.b64encode(secrets.token_bytes(32)).decode())


def dig_axfr(outsider: Node, address: str, *flags: str) -> str:
    run = outsider.exec("dig", "+tries=1", "+time=3", *flags, f"@{address}", ZONE, "AXFR")
    return run.output


def test_transfers_without_the_key_or_with_a_wrong_key_are_refused(topology: Topology) -> None:
    """No key, a key name the servers do not know, the right name with a wrong secret."""
    assert topology.key is not None
    wrong = wrong_key(topology.key)
    stranger = Key("stranger-key", wrong.algorithm, wrong.secret)
    outsider = topology.nodes["outsider"]
    for node in topology.servers:
        assert any(" IN SOA " in line for line in topology.axfr(node.name))  # the key works
        with pytest.raises(TransferRefused, match="REFUSED"):
            topology.axfr(node.name, key=None)
        for key in (wrong, stranger):
            with pytest.raises(TransferRefused, match="TSIG refused by the server"):
                topology.axfr(node.name, key=key)

        plain = dig_axfr(outsider, node.address)
        assert "Transfer failed." in plain and not SOA_LINE.search(plain), plain
        for key in (wrong, stranger):
            signed = dig_axfr(outsider, node.address, "-y", f"hmac-sha256:{key.name}:{key.secret}")
            assert not SOA_LINE.search(signed), signed
            assert re.search(r"Transfer failed|tsig|TSIG|BADSIG|BADKEY|NOTAUTH", signed), signed

    denied = re.compile(
        rf"client @\S+ {re.escape(OUTSIDER)}#\d+ \({re.escape(ZONE)}\): "
        rf"zone transfer '{re.escape(ZONE)}/AXFR/IN' denied"
    )
    for node in topology.servers:
        wait_until(
            lambda node=node: denied.search(node.log()),
            f"{node.name}'s named to log the outsider's transfer denied",
        )
        wait_until(
            lambda node=node: "TSIG stranger-key: tsig verify failure (BADKEY)" in node.log(),
            f"{node.name}'s named to log the unknown key",
        )


def test_a_notify_from_the_outsider_is_ignored_by_the_secondaries(topology: Topology) -> None:
    outsider = topology.nodes["outsider"]
    serial = topology.soa("ns1")
    assert serial is not None
    python = "/opt/dns-reconciler/venv/bin/python"
    for node in topology.secondaries:
        rcode = outsider.exec(
            python, "-c", NOTIFY, node.address, ZONE, str((serial + 1000) % 2**32)
        ).out.strip()
        assert rcode == "REFUSED", rcode
        wait_until(
            lambda node=node: f"refused notify from non-primary: {OUTSIDER}#" in node.log(),
            f"{node.name}'s named to log the refused NOTIFY from the outsider",
        )
    assert topology.serials() == {"ns1": serial, "ns2": serial, "ns3": serial}
    topology.same_everywhere()
