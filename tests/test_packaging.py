"""An installed wheel (not the source checkout) still has its template and hook scripts."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_template_and_hooks(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("dns_reconciler-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    # The dependencies come from this venv (no network), the package from the wheel only.
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    program = venv / "bin" / "reconciler"
    where = subprocess.run(
        [str(python), "-c", "import reconciler; print(reconciler.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert where.stdout.startswith(str(venv)), where.stdout  # not the checkout
    made = subprocess.run(
        [str(program), "init", str(tmp_path / "zones")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    for name in (
        "reconciler.toml",
        "zones/example.com.zone",
        "zones/example.net.zone.j2",
        "zones/common/shared.j2",
        "host/policy.toml",
        "README.md",
        ".gitlab-ci.yml",
        ".pre-commit-config.yaml",
        ".github/workflows/dns-reconciler.yml",
    ):
        assert (tmp_path / "zones" / name).is_file(), name
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "bare.git")], check=True)
    hooks = subprocess.run(
        [str(program), "install-hooks", str(tmp_path / "bare.git")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert hooks.returncode == 0, hooks.stderr
    assert (tmp_path / "bare.git" / "hooks" / "pre-receive").is_file()
    templates = subprocess.run(
        [
            str(python),
            "-c",
            "from reconciler.host.render import package_templates; "
            "print(' '.join(sorted(package_templates())))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert templates.stdout.split() == [
        "chrony.sources.j2",
        "fail2ban.local.j2",
        "named-options.conf.j2",
        "nftables.nft.j2",
        "sshd_config.j2",
    ], templates.stderr
