"""A commit's files as `read_snapshot` lists them from the tree, each blob read when needed.

A real repository with what a zones folder can hold: a symlink, a file over the size limit,
an empty file, a file in a subfolder, names that are not UTF-8 or hold a tab, and a zones
"folder" that is itself a symlink. The listing (paths, sizes, symlinks) and the bytes must be
what git holds, as when every blob was read up front.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import git

from reconciler.source.repo import read_snapshot

LATIN1 = os.fsdecode(b"zones/caf\xe9.zone")


def _repo(root: Path) -> git.Repo:
    repo = git.Repo.init(root, initial_branch="main")
    (root / "zones" / "sub").mkdir(parents=True)
    (root / "zones" / "a.zone").write_bytes(b"a\n")
    (root / "zones" / "empty.zone").write_bytes(b"")
    (root / "zones" / "big.zone").write_bytes(b"x" * 3000)
    (root / "zones" / "link.zone").symlink_to("a.zone")
    (root / "zones" / "sub" / "deep.inc").write_bytes(b"d\n")
    (root / LATIN1).write_bytes(b"x")  # the name's bytes as they are (surrogateescape)
    (root / "zones" / "tab\tname.zone").write_bytes(b"t\n")
    (root / "other").mkdir()
    (root / "other" / "o").write_bytes(b"o\n")
    (root / "linked").symlink_to("other")
    # git itself: GitPython's index cannot hold a name that is not UTF-8
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", *identity, "commit", "-qm", "all kinds"], cwd=root, check=True)
    return repo


def test_a_commits_files_are_listed_and_read_as_git_holds_them(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    snapshot = read_snapshot(repo, "main", ["zones"], ["missing.toml"], 1000)
    listed = {p: (e.size, e.symlink, e.readable) for p, e in snapshot.files.items()}
    assert listed == {
        "zones/a.zone": (2, False, True),
        "zones/big.zone": (3000, False, False),  # over the limit: never read
        LATIN1: (1, False, True),
        "zones/empty.zone": (0, False, True),
        "zones/link.zone": (6, True, False),
        "zones/sub/deep.inc": (2, False, True),
        "zones/tab\tname.zone": (2, False, True),
    }
    assert dict(snapshot.folder("zones")) == {
        "zones/a.zone": b"a\n",
        LATIN1: b"x",
        "zones/empty.zone": b"",
        "zones/sub/deep.inc": b"d\n",
        "zones/tab\tname.zone": b"t\n",
    }
    assert snapshot.text_of("zones/big.zone") is None
    assert snapshot.text_of("zones/link.zone") is None
    linked = read_snapshot(repo, "main", ["linked"], [], 1000)
    assert {p: (e.symlink, e.data) for p, e in linked.files.items()} == {"linked": (True, None)}
    assert read_snapshot(repo, "main", ["nothing"], [], 1000).files == {}
