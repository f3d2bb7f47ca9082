"""The daemon's DNSSEC metrics and /healthz, as a real process on the demo's sandbox: a push
signs example.com; the signatures' expiry on every server and the keys by state appear in
/metrics; a parent (a named of our own) with a DS that matches no key makes /healthz red."""

from __future__ import annotations

import signal
from pathlib import Path

from reconciler.devtools.init import commit_all
from tests.daemonsite import Site, metrics_of, wait_until
from tests.test_dnssec_config import with_policy
from tests.test_doctor import COM, start_named

WRONG_DS = "example.com. IN DS 4711 13 2 " + "AB" * 32 + "\n"
SERVERS = ("ns1", "ns2", "ns3")


def _series(site: Site, name: str) -> dict[tuple, float]:
    return {labels: value for (series, labels), value in metrics_of(site).items() if series == name}


def test_signed_zone_metrics_and_a_bogus_chain_on_healthz(site: Site, tmp_path: Path) -> None:
    daemon = site.start()
    config = site.root / "clone" / "reconciler.toml"
    config.write_text(with_policy(config.read_text(), "example.com", "default"))
    commit_all(site.clone, "Sign example.com")
    site.clone.git.push("-q", "origin", "main")

    def valid_everywhere() -> bool:
        valid = _series(site, "reconciler_dnssec_signatures_valid")
        return all(valid.get((("server", s), ("zone", "example.com"))) == 1 for s in SERVERS)

    wait_until(valid_everywhere, "every server's signatures to validate")
    expiry = _series(site, "reconciler_dnssec_signature_expiry_seconds")
    for server in SERVERS:
        seconds = expiry[(("server", server), ("zone", "example.com"))]
        assert 0 < seconds <= 14 * 86400  # BIND's default signatures-validity: 14 days
    keys = _series(site, "reconciler_dnssec_keys")
    dnskey = {
        dict(labels)["state"]: value
        for labels, value in keys.items()
        if dict(labels) | {"state": ""}
        == {"zone": "example.com", "role": "CSK", "record": "dnskey", "state": ""}
    }
    assert sum(dnskey.values()) == 1 and set(dnskey) <= {"rumoured", "omnipresent"}, keys
    assert not [labels for labels in expiry if ("zone", "example.net") in labels]  # unsigned
    wait_until(lambda: site.get("/healthz")[0] == 200, "healthz to be green")

    parent = start_named(tmp_path, "tld", {"com": COM + WRONG_DS})
    try:
        with open(site.config, "a") as toml:
            toml.write(f'\n[dnssec]\nparents = ["127.0.0.1:{parent.port}"]\n')
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: site.get("/healthz")[0] == 503, "healthz to turn red")
        status, body = site.get("/healthz")
        assert "bogus chain: example.com: the parent's DS matches no KSK or CSK" in body, body
        mismatch = _series(site, "reconciler_dnssec_ds_mismatch")
        assert mismatch == {(("zone", "example.com"),): 1.0}
    finally:
        parent.stop()
