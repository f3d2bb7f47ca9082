"""The Docker images, built offline: the Debian base, the wheelhouse, the reconciler image.

Nothing is pulled (no registry is needed):

- the base, `debian:bookworm-slim`, is made here: `debootstrap` (variant minbase, with BIND,
  Python and git) from Debian's package mirror into a folder, then `docker import`. It carries
  the label `org.dns-reconciler.base` (a hash of suite, mirror and package list) and is made
  once per machine; an existing `debian:bookworm-slim` without the label (the real one from a
  registry) is used as it is.
- the wheelhouse (`build/docker/wheelhouse`) is `pip download` of pyproject.toml's
  dependencies (and setuptools) for the image's Python, on the host, once per dependency list.
- the image (`dns-reconciler`) is `deploy/Dockerfile` built with `--network none` from a
  context made here: the Dockerfile, `wheelhouse/` and `src/` (the package, repo-template/,
  deploy/, pyproject.toml, README.md). Its label `org.dns-reconciler.inputs` is a hash of the
  Dockerfile, every source file, every wheel and the base image's id: when an image with that
  label exists, nothing is built.

Used by the integration suite (integration/conftest.py) and by `make image`
(`python -m integration.images`).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "docker"
WHEELHOUSE = BUILD / "wheelhouse"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"

BASE_IMAGE = "debian:bookworm-slim"
BASE_LABEL = "org.dns-reconciler.base"
IMAGE = "dns-reconciler"
INPUTS_LABEL = "org.dns-reconciler.inputs"
SUITE = "bookworm"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = (
    "bind9",
    "bind9-utils",
    "bind9-dnsutils",
    "python3",
    "python3-venv",
    "git",
    "nftables",
    "iproute2",
    "ca-certificates",
    "procps",
    # the host half (host audit/apply): what the classic hardening checklist runs on a primary
    "openssh-server",
    "fail2ban",
    "chrony",
    "rsyslog",
    # systemd as PID 1 for the containers that test the systemd side of `host apply`
    "systemd",
    "systemd-sysv",
    "dbus",
    # Knot DNS, for the secondary that is not BIND (integration/test_knot.py)
    "knot",
)
# The image's Python (Debian bookworm: CPython 3.11, glibc 2.36) for `pip download`.
WHEEL_TARGET = (
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    "--only-binary=:all:",
    # pip does not widen a manylinux_2_36 platform to the older glibc versions: name each
    *(arg for minor in range(36, 16, -1) for arg in ("--platform", f"manylinux_2_{minor}_x86_64")),
    "--platform",
    "manylinux2014_x86_64",
)
BUILD_REQUIREMENTS = ("setuptools>=77",)
# What goes into the image's src/: the package and what it reads beside itself at run time
# (repo-template/ for `init`, deploy/hooks/ for `install-hooks`, deploy/docker/ for the
# entrypoint), and what pip needs to install it.
SOURCES = ("reconciler", "repo-template", "deploy", "pyproject.toml", "README.md")
SKIP_NAMES = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", "compose.yaml"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".swp", "~")

Log = Callable[[str], None]


class ImageError(RuntimeError):
    """An image could not be made; the message says what to do."""


def _stderr(message: str) -> None:
    print(f"[images] {message}", file=sys.__stderr__, flush=True)


def _digest(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _find(client: docker.DockerClient, label: str, value: str) -> Image | None:
    found = client.images.list(filters={"label": f"{label}={value}"})
    return found[0] if found else None


# --- the base: debootstrap, then docker import --------------------------------------------


def base_hash() -> str:
    text = f"{SUITE}\n{MIRROR}\nminbase\n" + "\n".join(sorted(PACKAGES))
    return _digest([text.encode()])


def ensure_base(client: docker.DockerClient, log: Log = _stderr) -> Image:
    """`debian:bookworm-slim`, made with debootstrap unless it is there already."""
    wanted = base_hash()
    try:
        existing: Image | None = client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        existing = None
    if existing is not None:
        label = (existing.labels or {}).get(BASE_LABEL)
        if label is None or label == wanted:  # ours and current, or the registry's own
            return existing
        log(f"{BASE_IMAGE} was made from another package list: making it again")
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if debootstrap is None:
        raise ImageError(
            f"{BASE_IMAGE} is missing and debootstrap is not installed: "
            "`make images` installs it (Debian: apt-get install debootstrap)"
        )
    if os.geteuid() != 0:
        raise ImageError("debootstrap needs root to make the base image")
    BUILD.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=BUILD) as folder:
        rootfs = Path(folder) / "rootfs"
        log(f"debootstrap {SUITE} (minbase + {len(PACKAGES)} packages) from {MIRROR} ...")
        run = subprocess.run(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(rootfs),
                MIRROR,
            ],
            capture_output=True,
            text=True,
            errors="replace",
        )
        if run.returncode != 0:
            tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
            raise ImageError(f"debootstrap failed (exit {run.returncode}):\n{tail}")
        _clean_rootfs(rootfs)
        log(f"debootstrap took {time.monotonic() - started:.0f} s; importing ...")
        archive = Path(folder) / "rootfs.tar"
        subprocess.run(
            [
                "tar",
                "--numeric-owner",
                "--xattrs",
                "-C",
                str(rootfs),
                "--exclude=./dev/*",
                "--exclude=./proc/*",
                "--exclude=./sys/*",
                "-cf",
                str(archive),
                ".",
            ],
            check=True,
        )
        repository, tag = BASE_IMAGE.split(":")
        client.api.import_image(
            src=str(archive),
            repository=repository,
            tag=tag,
            changes=[
                f"LABEL {BASE_LABEL}={wanted}",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'CMD ["bash"]',
            ],
        )
    log(f"{BASE_IMAGE} made in {time.monotonic() - started:.0f} s")
    return client.images.get(BASE_IMAGE)


def _clean_rootfs(rootfs: Path) -> None:
    """No secrets and no caches in the base: bind9's postinst made an rndc key and
    openssh-server's made SSH host keys (every container would share them); drop them. A
    container that runs sshd makes its own host keys (`ssh-keygen -A`) on its first start."""
    for relative in ("etc/bind/rndc.key", "etc/machine-id", "var/lib/dbus/machine-id"):
        (rootfs / relative).unlink(missing_ok=True)
    for host_key in (rootfs / "etc" / "ssh").glob("ssh_host_*"):
        host_key.unlink()
    patterns = ("var/lib/apt/lists/*_*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb")
    for pattern in patterns:
        for found in rootfs.glob(pattern):
            found.unlink()
    for log_file in (rootfs / "var" / "log").glob("*.log"):
        log_file.unlink()
    # The real bookworm-slim keeps documentation out; so does this one, from now on.
    dpkg = rootfs / "etc" / "dpkg" / "dpkg.cfg.d"
    dpkg.mkdir(parents=True, exist_ok=True)
    (dpkg / "docker-slim").write_text(
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n"
    )


# --- the wheelhouse: pip download on the host ---------------------------------------------


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return sorted(project["dependencies"]) + list(BUILD_REQUIREMENTS)


def ensure_wheelhouse(log: Log = _stderr) -> Path:
    """Wheels of every dependency for the image's Python; downloaded once per dependency list."""
    wanted = "\n".join([*requirements(), *WHEEL_TARGET]) + "\n"
    stamp = WHEELHOUSE / ".requirements"
    if stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return WHEELHOUSE
    started = time.monotonic()
    log(f"downloading wheels for {len(requirements())} requirements into {WHEELHOUSE} ...")
    fresh = WHEELHOUSE.with_name("wheelhouse.new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(fresh),
            *WHEEL_TARGET,
            *requirements(),
        ],
        capture_output=True,
        text=True,
        errors="replace",
    )
    if run.returncode != 0:
        shutil.rmtree(fresh, ignore_errors=True)
        tail = "\n".join(run.stderr.strip().splitlines()[-10:])
        raise ImageError(f"pip download failed (exit {run.returncode}):\n{tail}")
    (fresh / ".requirements").write_text(wanted, encoding="utf-8")
    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    fresh.rename(WHEELHOUSE)
    log(f"wheelhouse ready in {time.monotonic() - started:.0f} s")
    return WHEELHOUSE


# --- the image: deploy/Dockerfile, offline ------------------------------------------------


def _skipped(path: Path) -> bool:
    return any(part in SKIP_NAMES for part in path.parts) or path.name.endswith(SKIP_SUFFIXES)


def context_files(wheelhouse: Path = WHEELHOUSE) -> list[tuple[str, Path]]:
    """(name in the build context, file on disk), sorted: what the image is made of."""
    files = [("Dockerfile", DOCKERFILE)]
    for wheel in sorted(wheelhouse.glob("*.whl")):
        files.append((f"wheelhouse/{wheel.name}", wheel))
    for source in SOURCES:
        path = ROOT / source
        if path.is_file():
            files.append((f"src/{source}", path))
            continue
        for found in sorted(path.rglob("*")):
            relative = found.relative_to(ROOT)
            if found.is_file() and not found.is_symlink() and not _skipped(relative):
                files.append((f"src/{relative.as_posix()}", found))
    return sorted(files)


def inputs_hash(files: list[tuple[str, Path]], base_id: str) -> str:
    parts = [base_id.encode()]
    for name, path in files:
        mode = "x" if os.access(path, os.X_OK) else "-"
        parts += [f"{name} {mode}".encode(), path.read_bytes()]
    return _digest(parts)


def _context(files: list[tuple[str, Path]]) -> io.BytesIO:
    """The build context as an uncompressed tar, deterministic (fixed owners and times)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, path in files:
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def ensure_image(client: docker.DockerClient, log: Log = _stderr) -> Image:
    """The reconciler image for the current inputs: found by its label, else built offline."""
    base = ensure_base(client, log)
    wheelhouse = ensure_wheelhouse(log)
    files = context_files(wheelhouse)
    digest = inputs_hash(files, base.id)
    found = _find(client, INPUTS_LABEL, digest)
    tag = f"{IMAGE}:{digest[:12]}"
    if found is not None:
        if f"{IMAGE}:latest" not in found.tags:
            found.tag(IMAGE, "latest")
        return found
    started = time.monotonic()
    log(f"building {tag} from deploy/Dockerfile (network none) ...")
    lines: list[str] = []
    for chunk in client.api.build(
        fileobj=_context(files),
        custom_context=True,
        tag=tag,
        labels={INPUTS_LABEL: digest},
        network_mode="none",
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
    ):
        if "error" in chunk:
            tail = "".join(lines[-20:])
            raise ImageError(f"docker build of {tag} failed: {chunk['error'].strip()}\n{tail}")
        if "stream" in chunk:
            lines.append(chunk["stream"])
    image = client.images.get(tag)
    image.tag(IMAGE, "latest")
    log(f"{tag} built in {time.monotonic() - started:.0f} s")
    _prune(client, keep=image.id, log=log)
    return image


def _prune(client: docker.DockerClient, keep: str, log: Log) -> None:
    """Remove older images of ours that no container uses (they differ only in inputs)."""
    for image in client.images.list(filters={"label": INPUTS_LABEL}):
        if image.id == keep:
            continue
        try:
            client.images.remove(image.id, noprune=False)
            log(f"removed the outdated image {image.short_id}")
        except docker.errors.APIError:
            pass  # in use, or already gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m integration.images",
        description="Make the base image, the wheelhouse and the dns-reconciler image offline.",
    )
    parser.add_argument("what", nargs="?", default="image", choices=["base", "wheelhouse", "image"])
    args = parser.parse_args(argv)
    try:
        if args.what == "wheelhouse":
            print(ensure_wheelhouse())
            return 0
        client = docker.from_env()
        image = ensure_base(client) if args.what == "base" else ensure_image(client)
        print(f"{' '.join(image.tags) or image.short_id} {image.short_id}")
    except (ImageError, docker.errors.DockerException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
