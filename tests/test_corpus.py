"""The corpus: `check` gives the same verdict as strict `named-checkzone`, case by case.

`tests/corpus/` holds zones of the classes of BIND's own checkzone system tests
(`bin/tests/system/checkzone/zones/good-*` and `bad-*`) that apply to BIND 9.18,
written for this project, plus the forms operators use: `$ORIGIN .` and
`named-compilezone` output, `$GENERATE`, `$TTL` variants, classless in-addr.arpa,
wildcards, DNAME, CNAME and other data, bad TTLs, no SOA, Latin-1 and UTF-8 bytes.
A case's name says what BIND 9.18 makes of it (`good-`: loads, `bad-`: refused); a
first line `; zone NAME` names the zone (default `example.org`). Each case is put in
a zone repo as `zones/NAME.zone` and checked with `reconciler check`; BIND is asked
about the same bytes with the same strict options.

Out-of-zone data is the one deliberate difference (named-checkzone drops such records
with a warning, `check` refuses them): test_zone_fidelity.py covers it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.check.checkzone import STRICT

from .conftest import ZoneRepo

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*.zone"))


def _zone_name(data: bytes) -> str:
    first = data.split(b"\n", 1)[0].decode("ascii", "replace")
    return first[len("; zone ") :].strip() if first.startswith("; zone ") else "example.org"


def _bind_accepts(zone: str, case: Path) -> bool:
    run = subprocess.run(
        ["named-checkzone", *STRICT, "-o", "/dev/null", zone, case.name],
        cwd=CORPUS,
        capture_output=True,
    )
    return run.returncode == 0


def test_the_corpus_has_both_kinds() -> None:
    good = [c for c in CASES if c.name.startswith("good-")]
    bad = [c for c in CASES if c.name.startswith("bad-")]
    assert len(good) >= 25 and len(bad) >= 50 and len(good) + len(bad) == len(CASES)


def test_check_agrees_with_named_checkzone_on_every_case(
    zone_repo: ZoneRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    zones = zone_repo.path / "zones"
    shutil.rmtree(zones)
    shutil.copytree(CORPUS / "common", zones / "common")
    agree = 0
    wrong: list[str] = []
    for case in CASES:
        data = case.read_bytes()
        zone = _zone_name(data)
        for old in zones.glob("*.zone"):
            old.unlink()
        (zones / f"{zone}.zone").write_bytes(data)
        result = zone_repo.run("check", "--format", "json")
        assert result.code in (0, 1), f"{case.name}: {result.out}{result.err}"
        report = json.loads(result.out)
        ours, bind = result.code == 0, _bind_accepts(zone, case)
        if ours == bind:
            agree += 1
        else:
            problems = [f"{p['file']}:{p['line']}: {p['message']}" for p in report["problems"]]
            wrong.append(
                f"{case.name}: check {'accepts' if ours else 'refuses'}, BIND does not {problems}"
            )
        if bind != case.name.startswith("good-"):
            wrong.append(f"{case.name}: BIND {'accepts' if bind else 'refuses'} it: misnamed")
        unplaced = [p for p in report["problems"] if p["line"] is None]
        if unplaced:
            wrong.append(f"{case.name}: problems without a line: {unplaced}")
    with capsys.disabled():
        print(f"\ncorpus: {agree}/{len(CASES)} agree with named-checkzone")
    assert not wrong, "\n".join(wrong)
