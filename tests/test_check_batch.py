"""`check` of many zones: BIND's verdict from one strict `named-checkconf -z`, the same
problems as one strict `named-checkzone` per zone.

The batch (check/checkzone.py `_batch`) must refuse exactly what strict named-checkzone
refuses, and call a zone clean only where named-checkzone says nothing at all; every
other zone goes through named-checkzone itself. Real BIND tools throughout; processes
are counted by wrappers on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.bind.tools import run_tool, tool
from reconciler.check import checkzone
from reconciler.check.checkzone import BATCH_FROM, STRICT, _batch_conf, _clean
from reconciler.check.inspect import Inspection, inspect
from reconciler.model.zone import ZoneText, decode

from .conftest import GOOD_ZONE, ZoneRepo

CORPUS = Path(__file__).parent / "corpus"


def _corpus_name(data: bytes) -> str:
    first = data.split(b"\n", 1)[0].decode("ascii", "replace")
    return first[len("; zone ") :].strip() if first.startswith("; zone ") else "example.org"


def _strict(zone: str, case: Path) -> tuple[int, list[str]]:
    """named-checkzone as check runs it: its exit code and every message it prints."""
    run = subprocess.run(
        [tool("named-checkzone"), *STRICT, "-D", "-o", "/dev/null", zone, case.name],
        cwd=case.parent,
        capture_output=True,
    )
    said = run.stderr.decode("utf-8", "replace").splitlines()
    loaded = f"zone {zone}/IN: loaded serial "
    return run.returncode, [line for line in said if not line.startswith(loaded) and line != "OK"]


def test_the_batch_refuses_exactly_what_strict_named_checkzone_refuses(tmp_path: Path) -> None:
    cases = sorted(CORPUS.glob("*.zone"))
    rounds: list[list[tuple[Path, ZoneText]]] = []  # zone names are unique in one named.conf
    for case in cases:
        zone = ZoneText(_corpus_name(case.read_bytes()), f"zones/{case.name}", "")
        free = next((r for r in rounds if zone.name not in {z.name for _, z in r}), None)
        if free is None:
            free = []
            rounds.append(free)
        free.append((case, zone))
    clean_cases = 0
    for number, cases_of_round in enumerate(rounds):
        root = tmp_path / str(number)
        shutil.copytree(CORPUS / "common", root / "common")
        run = [(f"{index:07d}.db", zone) for index, (_, zone) in enumerate(cases_of_round)]
        for (file, _), (case, _) in zip(run, cases_of_round, strict=True):
            (root / file).write_bytes(case.read_bytes())
        (root / "batch.conf").write_text(_batch_conf(root, run), encoding="utf-8")
        finished = run_tool("named-checkconf", ["-z"], [str(root / "batch.conf")], root)
        clean = _clean(run, finished)
        said = finished.stdout.decode("utf-8", "replace")
        for case, zone in cases_of_round:
            code, messages = _strict(zone.name, case)
            refused = f"zone {zone.name}/IN: not loaded due to errors." in said
            assert refused == (code != 0), case.name
            if zone.name in clean:
                assert code == 0 and messages == [], case.name
                clean_cases += 1
    assert clean_cases >= 20  # the corpus's good zones mostly load without a word


def _zones(count: int) -> dict[str, str]:
    return {f"z{index:02}.example": GOOD_ZONE for index in range(count)}


def _wrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """named-checkzone and named-checkconf behind wrappers that note each run, with its
    first argument: `named-checkconf-z` is a batch, `named-checkzone-k` a strict check."""
    folder = tmp_path / "wrappers"
    folder.mkdir()
    log = tmp_path / "runs.log"
    for name in ("named-checkzone", "named-checkconf"):
        wrapper = folder / name
        wrapper.write_text(f'#!/bin/sh\necho {name}$1 >> "{log}"\nexec "{tool(name)}" "$@"\n')
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


def _runs(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_many_clean_zones_take_one_bind_process_and_no_named_checkzone(
    zone_repo: ZoneRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in _zones(BATCH_FROM + 4).items():
        zone_repo.write(f"zones/{name}.zone", text)
    zone_repo.write("zones/z00.example.zone", GOOD_ZONE + "bad IN CNAME www\nbad IN A 192.0.2.9\n")
    monkeypatch.setenv("RECONCILER_CACHE_DIR", "off")
    log = _wrap(tmp_path, monkeypatch)
    result = zone_repo.run("check")
    assert result.code == 1
    assert "CNAME and other data" in result.out
    runs = _runs(log)
    # one named-checkconf for all (the template's two zones too); named-checkzone only for
    # the zone it did not load cleanly
    assert runs.count("named-checkconf-z") == 1
    assert runs.count("named-checkzone-k") == 1, runs


def test_plan_still_runs_named_checkzone_for_every_zone(
    zone_repo: ZoneRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in _zones(BATCH_FROM + 1).items():
        zone_repo.write(f"zones/{name}.zone", text)
    zone_repo.commit("many zones")
    monkeypatch.setenv("RECONCILER_CACHE_DIR", "off")
    log = _wrap(tmp_path, monkeypatch)
    assert zone_repo.run("plan", "--base", "HEAD~1", "--head", "HEAD").code == 0
    runs = _runs(log)
    assert "named-checkconf-z" not in runs
    assert runs.count("named-checkzone-k") == BATCH_FROM + 1  # each new zone of the head


def _problems(found: Inspection) -> list[dict[str, object]]:
    return [p.as_dict() for p in found.problems]


def test_check_finds_the_same_problems_and_forms_either_way(
    zone_repo: ZoneRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    zones = _zones(BATCH_FROM)
    # our rules' warnings and errors on zones BIND loads cleanly
    zones["z00.example"] = GOOD_ZONE + "ftp IN CNAME www.example.com.z00.example.\n"
    zones["z01.example"] = GOOD_ZONE.replace("1800 900 1209600 1800", "60 900 99 1800")
    zones["z02.example"] = GOOD_ZONE + '@ IN TXT "v=spf1 include:nowhere.z03.example -all"\n'
    zones["z02.example"] += '_dmarc IN TXT "v=DMARC1; p=maybe"\n'
    zones["z03.example"] = GOOD_ZONE + "sub IN NS ns.z04.example.\n@ IN MX 5 web.z04.example.\n"
    zones["z04.example"] = GOOD_ZONE + "web IN CNAME www\n"
    zones["z05.example"] = GOOD_ZONE + "Mixed IN A 192.0.2.7\nmixed IN A 192.0.2.6\n"
    # BIND's own errors
    zones["z06.example"] = GOOD_ZONE + "www IN CNAME mail\n"
    zones["z07.example"] = GOOD_ZONE + "x.*.w IN A 192.0.2.5\n"
    for name, text in zones.items():
        zone_repo.write(f"zones/{name}.zone", text)
    zone_repo.write("zones/common/more.inc", "more IN A 192.0.2.77\n")
    zone_repo.write("zones/inc.example.zone", GOOD_ZONE + "$INCLUDE common/more.inc\n")
    monkeypatch.setenv("RECONCILER_CACHE_DIR", "off")
    one_each = inspect(zone_repo.repo, None)
    batched = inspect(zone_repo.repo, None, canonical_forms=False)
    assert _problems(batched) == _problems(one_each)
    assert len(one_each.problems) >= 8
    assert batched.zones == one_each.zones  # zoneread's forms are BIND's
    refused = {"z06.example", "z07.example"}  # CNAME and other data; a bad owner name
    assert set(batched.zones) == set(zones) - refused | {
        "inc.example",
        "example.com",
        "example.net",
    }
    as_json = json.loads(zone_repo.run("check", "--format", "json").out)
    assert as_json["problems"] == _problems(one_each)


def test_a_batch_a_limit_stops_leaves_every_zone_to_named_checkzone(zone_repo: ZoneRepo) -> None:
    for name, text in _zones(BATCH_FROM).items():
        zone_repo.write(f"zones/{name}.zone", text)
    folder = zone_repo.path / "zones"
    texts = [
        ZoneText(name, f"zones/{name}.zone", decode((folder / f"{name}.zone").read_bytes()))
        for name in _zones(BATCH_FROM)
    ]
    limits = checkzone.LIMITS
    tiny = checkzone.bounded.Limits(limits.cpu_seconds, limits.memory_bytes, 1, 60.0)
    assert checkzone._batch(texts, tiny, None) == []
    assert len(checkzone._batch(texts, checkzone.LIMITS, None)) == BATCH_FROM
