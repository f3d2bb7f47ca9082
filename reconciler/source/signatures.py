"""The signed-commits gate: `git verify-commit`, with gpg or ssh-keygen.

`verify_signature` says None (verified) or why not, in one line. Called by
the reconcile step.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import git

from reconciler.errors import ConfigError
from reconciler.source.repo import resolve

NOT_SIGNED = "is not signed"


NOT_ALLOWED = "signed by a key that is not allowed"


VERIFY_TIMEOUT = 30.0  # seconds for git verify-commit (gpg or ssh-keygen)


_GPG_FAILURES = {  # gpg's status words (--raw) that mean the signature itself is bad
    "BADSIG": "bad signature",
    "EXPSIG": "the signature has expired",
    "EXPKEYSIG": "the signing key has expired",
    "REVKEYSIG": "the signing key is revoked",
}


def verify_signature(
    repo: git.Repo, commit: str, *, gpg_home: Path | None, allowed_signers: Path | None
) -> str | None:
    """None when `commit`'s signature verifies; else why not, one line.

    `git verify-commit` decides. A GPG signature verifies against the keyring in
    `gpg_home` (default: gpg's own) and any key there is allowed; an SSH signature
    against the `allowed_signers` file (ssh-keygen's format), and with none given no SSH
    key is allowed (the user's own git config is not consulted). Raises ConfigError when a
    given keyring or allowed-signers file is not there.
    """
    sha = resolve(repo, commit).hexsha
    if not _has_signature(repo, sha):
        return NOT_SIGNED
    if gpg_home is not None and not gpg_home.is_dir():
        raise ConfigError(f"{gpg_home}: the GPG keyring folder (gpg_home) does not exist")
    if allowed_signers is not None and not allowed_signers.is_file():
        raise ConfigError(f"{allowed_signers}: the allowed signers file does not exist")
    env = {**os.environ, "LC_ALL": "C", "LANGUAGE": "C"}
    if gpg_home is not None:
        env["GNUPGHOME"] = str(gpg_home)
    signers = str(allowed_signers) if allowed_signers is not None else os.devnull
    command = ["git", "--git-dir", str(repo.git_dir)]
    command += ["-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-commit", "--raw", sha]
    try:
        run = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=VERIFY_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"signature does not verify: git verify-commit took over {VERIFY_TIMEOUT:g} s"
    if run.returncode == 0:
        return None
    return signature_problem(run.stdout + "\n" + run.stderr)


def _has_signature(repo: git.Repo, sha: str) -> bool:
    """Whether the commit object has a signature header (gpgsig, gpgsig-sha256)."""
    raw = repo.git.cat_file("commit", sha)
    headers = raw.split("\n\n", 1)[0]
    return any(line.startswith("gpgsig") for line in headers.splitlines())


def signature_problem(output: str) -> str:
    """The one-line reason for what `git verify-commit --raw` said when it failed."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    status = {line.split()[1] for line in lines if line.startswith("[GNUPG:] ") and " " in line}
    for word, text in _GPG_FAILURES.items():
        if word in status:
            return f"signature does not verify: {text}"
    if "NO_PUBKEY" in status or "GOODSIG" in status:  # unknown key, or trusted too little
        return NOT_ALLOWED
    plain = [line for line in lines if not line.startswith("[GNUPG:]")]
    for line in plain:  # ssh-keygen: a bad signature, whoever's key it is
        if "incorrect signature" in line or line.startswith("Signature verification failed"):
            return f"signature does not verify: {line}"
    if any("No principal matched" in line for line in plain):
        return NOT_ALLOWED
    return f"signature does not verify: {plain[0] if plain else 'git verify-commit failed'}"
