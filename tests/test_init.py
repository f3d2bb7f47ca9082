"""`reconciler init`: a new repository from repo-template/ that passes `check`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli.main import main

from .conftest import ZoneRepo


def test_init_makes_a_committed_repo_that_checks_clean(tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "reconciler.toml").is_file()
    assert (target / "host" / "policy.toml").is_file()
    assert (target / "zones" / "example.com.zone").is_file()
    assert (target / "zones" / "example.net.zone.j2").is_file()
    assert (target / "README.md").is_file()
    log = CliRunner().invoke(main, ["-C", str(target), "check", "HEAD"])
    assert log.exit_code == 0, log.output
    assert "2 zone(s) valid" in log.stdout


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "exists and is not empty" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_template_zone_is_the_classic_setup(zone_repo: ZoneRepo) -> None:
    result = zone_repo.run("check", "--format", "json")
    assert result.code == 0, result.err
    text = (zone_repo.path / "zones" / "example.com.zone").read_text()
    assert "1800    ; refresh" in text and "900     ; retry" in text
    assert "1209600 ; expire" in text and "1800 )  ; minimum" in text
    assert "MX   10 mail.example.com." in text
    assert "ns1     IN A    192.0.2.1" in text and "ns2     IN A    198.51.100.2" in text
