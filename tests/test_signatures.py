"""`verify_signature` against real git, ssh-keygen and gpg: no mocks.

SSH-signed commits are checked against an allowed-signers file, GPG-signed ones
against a keyring in a GNUPGHOME of the test's own. A tampered commit (the
signed object with its message changed) shows a signature that does not verify.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from reconciler.errors import ConfigError
from reconciler.source.signatures import verify_signature


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"{args}: {run.stderr}"
    return run.stdout


def ssh_key(folder: Path, name: str) -> Path:
    key = folder / name
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key)
    return key


def allowed_signers(folder: Path, *keys: Path) -> Path:
    """ssh-keygen's allowed-signers format: `principal key-type key`."""
    lines = []
    for key in keys:
        kind, blob = Path(f"{key}.pub").read_text().split()[:2]
        lines.append(f"operator@example.com {kind} {blob}\n")
    file = folder / "allowed_signers"
    file.write_text("".join(lines))
    return file


def new_repo(path: Path) -> git.Repo:
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test Operator")
        config.set_value("user", "email", "operator@example.com")
    return repo


def commit(repo: git.Repo, message: str, *, sign: list[str] | None = None, **env: str) -> str:
    """A commit with one more line in a file; signed with `git -c ... commit -S` when asked."""
    file = Path(repo.working_dir, "file.txt")
    file.write_text((file.read_text() if file.exists() else "") + message + "\n")
    repo.git.add("file.txt")
    signing = [] if sign is None else [x for item in sign for x in ("-c", item)]
    flags = ["-S"] if sign is not None else []
    _run(
        "git", *signing, "commit", "-q", *flags, "-m", message, cwd=Path(repo.working_dir), env=env
    )
    return repo.head.commit.hexsha


def ssh_signed(repo: git.Repo, key: Path, message: str) -> str:
    return commit(repo, message, sign=["gpg.format=ssh", f"user.signingkey={key}"])


def tampered(repo: git.Repo, sha: str) -> str:
    """The signed commit object with its message changed: same signature, other content."""
    raw = repo.git.cat_file("commit", sha) + "\n"
    assert "gpgsig" in raw
    head, _, message = raw.partition("\n\n")
    path = Path(repo.git_dir, "tampered")
    path.write_text(head + "\n\n" + message.replace(message.strip(), "Something else"))
    return repo.git.hash_object("-t", "commit", "-w", str(path))


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    return new_repo(tmp_path / "repo")


def test_ssh_signed_commit_verifies_against_allowed_signers(repo: git.Repo, tmp_path: Path) -> None:
    key = ssh_key(tmp_path, "alice")
    sha = ssh_signed(repo, key, "Signed by alice")
    signers = allowed_signers(tmp_path, key)
    assert verify_signature(repo, sha, gpg_home=None, allowed_signers=signers) is None
    assert verify_signature(repo, "HEAD", gpg_home=None, allowed_signers=signers) is None


def test_unsigned_commit_is_refused(repo: git.Repo, tmp_path: Path) -> None:
    signers = allowed_signers(tmp_path, ssh_key(tmp_path, "alice"))
    sha = commit(repo, "Not signed")
    reason = verify_signature(repo, sha, gpg_home=None, allowed_signers=signers)
    assert reason == "is not signed"


def test_key_not_in_allowed_signers_is_refused(repo: git.Repo, tmp_path: Path) -> None:
    alice, mallory = ssh_key(tmp_path, "alice"), ssh_key(tmp_path, "mallory")
    signers = allowed_signers(tmp_path, alice)
    sha = ssh_signed(repo, mallory, "Signed by mallory")
    reason = verify_signature(repo, sha, gpg_home=None, allowed_signers=signers)
    assert reason == "signed by a key that is not allowed"
    assert (
        verify_signature(
            repo, ssh_signed(repo, alice, "ok"), gpg_home=None, allowed_signers=signers
        )
        is None
    )


def test_without_allowed_signers_no_ssh_key_is_allowed(repo: git.Repo, tmp_path: Path) -> None:
    key = ssh_key(tmp_path, "alice")
    signers = allowed_signers(tmp_path, key)
    sha = ssh_signed(repo, key, "Signed by alice")
    with repo.config_writer() as config:  # the repo's own config is not what decides
        config.set_value("gpg.ssh", "allowedSignersFile", str(signers))
    reason = verify_signature(repo, sha, gpg_home=None, allowed_signers=None)
    assert reason == "signed by a key that is not allowed"


def test_tampered_ssh_signed_commit_does_not_verify(repo: git.Repo, tmp_path: Path) -> None:
    key = ssh_key(tmp_path, "alice")
    signers = allowed_signers(tmp_path, key)
    forged = tampered(repo, ssh_signed(repo, key, "Signed by alice"))
    reason = verify_signature(repo, forged, gpg_home=None, allowed_signers=signers)
    assert reason is not None and reason.startswith("signature does not verify: ")
    assert "\n" not in reason


def test_missing_allowed_signers_file_is_a_config_error(repo: git.Repo, tmp_path: Path) -> None:
    sha = ssh_signed(repo, ssh_key(tmp_path, "alice"), "Signed by alice")
    with pytest.raises(ConfigError, match="allowed signers file does not exist"):
        verify_signature(repo, sha, gpg_home=None, allowed_signers=tmp_path / "no-such-file")


def _gnupg_home(path: Path) -> Path:
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def keyrings(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """A keyring holding a new signing key (and its fingerprint), and an empty one."""
    signer, other = _gnupg_home(tmp_path / "gpg-signer"), _gnupg_home(tmp_path / "gpg-other")
    try:
        _run(
            *("gpg", "--batch", "--passphrase", "", "--quick-gen-key"),
            *("Test Operator <operator@example.com>", "ed25519", "sign", "never"),
            env={"GNUPGHOME": str(signer)},
        )
        listing = _run("gpg", "--with-colons", "-K", env={"GNUPGHOME": str(signer)})
        fingerprint = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr"))
        yield signer, other, fingerprint
    finally:
        for home in (signer, other):  # the agents gpg started for these homes
            subprocess.run(
                ["gpgconf", "--kill", "all"],
                env={**os.environ, "GNUPGHOME": str(home)},
                check=False,
                capture_output=True,
            )


def test_gpg_signed_commit_verifies_with_its_keyring_only(
    repo: git.Repo, keyrings: tuple[Path, Path, str]
) -> None:
    signer, other, fingerprint = keyrings
    sha = commit(
        repo,
        "Signed with GPG",
        sign=["gpg.format=openpgp", f"user.signingkey={fingerprint}"],
        GNUPGHOME=str(signer),
    )
    assert verify_signature(repo, sha, gpg_home=signer, allowed_signers=None) is None
    reason = verify_signature(repo, sha, gpg_home=other, allowed_signers=None)
    assert reason == "signed by a key that is not allowed"
    forged = tampered(repo, sha)
    reason = verify_signature(repo, forged, gpg_home=signer, allowed_signers=None)
    assert reason == "signature does not verify: bad signature"


def test_gpg_public_key_imported_into_the_keyring_is_allowed(
    repo: git.Repo, keyrings: tuple[Path, Path, str]
) -> None:
    signer, other, fingerprint = keyrings
    sha = commit(
        repo,
        "Signed with GPG",
        sign=["gpg.format=openpgp", f"user.signingkey={fingerprint}"],
        GNUPGHOME=str(signer),
    )
    public = _run("gpg", "--armor", "--export", fingerprint, env={"GNUPGHOME": str(signer)})
    key_file = other.parent / "signer.asc"
    key_file.write_text(public)
    _run("gpg", "--batch", "--import", key_file, env={"GNUPGHOME": str(other)})
    assert verify_signature(repo, sha, gpg_home=other, allowed_signers=None) is None
