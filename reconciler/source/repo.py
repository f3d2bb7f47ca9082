"""The edge that reads the zone repo: a commit (through git) or the working tree.

`read_snapshot` returns a `Snapshot` value holding the files the pipeline needs
(reconciler.toml, host/policy.toml and the zone folder), with symlinks and
oversize files marked rather than read. `changed_paths` and `is_ancestor`
answer the git questions `plan` and `apply` ask; `commit_all` makes the commits of
`init` and `import`; `verify_signature` (git
verify-commit, with gpg or ssh-keygen) answers the signed-commits gate. Works
on bare repositories too, and inside a pre-receive hook (git's quarantined
objects reach every git subprocess through the environment). Called by
`cli/main.py`, `check/inspect.py`, the reconcile step and the daemon; with
`signatures.py`, the only modules that run git.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import git

from reconciler.errors import SourceError
from reconciler.model.snapshot import WORKTREE, FileEntry, Snapshot

SYMLINK_MODE = 0o120000
_AUTHOR = git.Actor("reconciler", "reconciler@localhost")  # when git knows no user


def commit_all(repo: git.Repo, message: str) -> str:
    """Commit every change in the work tree, as the user if git knows them, else as us."""
    repo.git.add(A=True)
    reader = repo.config_reader()
    has_identity = reader.has_option("user", "name") and reader.has_option("user", "email")
    author = None if has_identity else _AUTHOR
    return repo.index.commit(message, author=author, committer=author).hexsha


def new_repo(path: str | Path) -> git.Repo:
    """A new, empty repository with the branch `main` (for `init` and `import`)."""
    return git.Repo.init(path, initial_branch="main")


def parent_of(repo: git.Repo, rev: str) -> str | None:
    """The first parent of `rev`; None for a root commit."""
    commit = resolve(repo, rev)
    return commit.parents[0].hexsha if commit.parents else None


def open_repo(path: str | Path) -> git.Repo:
    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceError(f"{path}: not a git repository") from None


def resolve(repo: git.Repo, rev: str) -> git.Commit:
    try:
        return repo.commit(rev)
    except (git.BadName, ValueError, git.GitCommandError):
        raise SourceError(f"revision '{rev}' does not exist in {repo.working_dir}") from None


def read_file(repo: git.Repo, rev: str | None, path: str) -> bytes | None:
    """One small file (a config file); None when absent."""
    if rev is None:
        full = Path(repo.working_dir, path)
        return full.read_bytes() if full.is_file() and not full.is_symlink() else None
    try:
        blob = resolve(repo, rev).tree / path
    except KeyError:
        return None
    return blob.data_stream.read() if blob.type == "blob" else None


def read_snapshot(
    repo: git.Repo, rev: str | None, folders: list[str], extra: list[str], max_bytes: int
) -> Snapshot:
    """Files in `folders` (recursively) and the `extra` files, at `rev` or the working tree.

    At a commit, the files are listed from its tree (one `git ls-tree`: paths, modes and
    sizes) and each file's bytes are read from git only when first asked for
    (`FileEntry.data`): a check of one zone reads that zone, and what it includes, not
    every file of the zones folder.
    """
    if rev is None:
        return _worktree_snapshot(Path(repo.working_dir), folders, extra, max_bytes)
    commit = resolve(repo, rev)
    files: dict[str, FileEntry] = {}
    for path in extra:
        data = read_file(repo, commit.hexsha, path)
        if data is not None:
            files[path] = FileEntry(path, len(data), data)
    for folder in folders:
        for mode, kind, sha, size, path in _listing(repo, commit.hexsha, folder):
            if path == folder:  # the folder itself is a file or a symlink
                files[folder] = FileEntry(folder, size, None, mode == SYMLINK_MODE)
                continue
            if kind != "blob":
                continue  # a submodule
            link = mode == SYMLINK_MODE
            reader = None if link or size > max_bytes else _blob_reader(repo, sha)
            files[path] = FileEntry(path, size, None, link, reader)
    message = str(commit.message)
    return Snapshot(commit.hexsha[:12], commit.hexsha, message, files, trailers(message))


_READING = threading.Lock()  # GitPython's one `git cat-file --batch` per repo is not shared


def _blob_reader(repo: git.Repo, sha: str) -> Callable[[], bytes]:
    """Reads blob `sha` when called (through the repo's persistent `git cat-file`)."""
    binsha = bytes.fromhex(sha)

    def read() -> bytes:
        with _READING:
            return bytes(repo.odb.stream(binsha).read())

    return read


def _listing(repo: git.Repo, commit: str, folder: str) -> Iterator[tuple[int, str, str, int, str]]:
    """(mode, type, sha, size, path) of `folder` and everything under it at `commit`."""
    try:
        out = repo.git.execute(
            ["git", "--literal-pathspecs", "ls-tree", "-r", "-l", "-z", "--full-tree"]
            + [commit, "--", folder],
            stdout_as_string=False,
        )
    except git.GitCommandError as exc:
        raise SourceError(f"cannot list {folder} at {commit[:12]}: {exc.stderr.strip()}") from None
    assert isinstance(out, bytes)
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw = record.partition(b"\t")
        mode, kind, sha, size = meta.decode("ascii").split()
        path = raw.decode("utf-8", "surrogateescape")
        if path != folder and not path.startswith(folder + "/"):
            continue
        yield int(mode, 8), kind, sha, int(size) if size.isdigit() else 0, path


def _worktree_snapshot(root: Path, folders: list[str], extra: list[str], limit: int) -> Snapshot:
    files: dict[str, FileEntry] = {}
    wanted = [root / p for p in extra]
    for folder in folders:
        top = root / folder
        if top.is_symlink():
            files[folder] = FileEntry(folder, 0, None, True)
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            wanted += [Path(dirpath, n) for n in filenames + dirnames]
            dirnames[:] = [d for d in dirnames if not Path(dirpath, d).is_symlink()]
    for full in wanted:
        try:
            info = full.lstat()
        except FileNotFoundError:
            continue
        rel = full.relative_to(root).as_posix()
        if stat.S_ISLNK(info.st_mode):
            files[rel] = FileEntry(rel, 0, None, True)
        elif stat.S_ISREG(info.st_mode):
            data = full.read_bytes() if info.st_size <= limit else None
            files[rel] = FileEntry(rel, info.st_size, data)
    return Snapshot(WORKTREE, None, "", files)


def changed_paths(repo: git.Repo, base: str, head: str | None) -> set[str]:
    """Paths that differ between `base` and `head` (None: the working tree)."""
    base_commit = resolve(repo, base)
    diffs = base_commit.diff(None if head is None else resolve(repo, head).hexsha)
    changed = {d.a_path for d in diffs} | {d.b_path for d in diffs}
    if head is None:
        changed |= set(repo.untracked_files)
    return {p for p in changed if p}


def is_ancestor(repo: git.Repo, older: str, newer: str) -> bool:
    return repo.is_ancestor(resolve(repo, older), resolve(repo, newer))


def trailers(message: str) -> tuple[tuple[str, str], ...]:
    """The message's trailers as git reads them (`git interpret-trailers --parse`)."""
    run = subprocess.run(
        ["git", "-c", "trailer.separators=:", "interpret-trailers", "--parse"],
        input=message,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    found = []
    for line in run.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            found.append((key.strip(), value.strip()))
    return tuple(found)


NOTES_REF = "reconciler"


HOST_LINE = "host: "  # the host half's lines of a note (serve/hostwatch.py): zones keep them


def add_note(repo: git.Repo, commit: str, text: str, keep: str | None = None) -> None:
    """Attach (replace) the reconciler's note on `commit`: `git log --notes=reconciler`.
    `keep`: lines of the note there already that start with it stay, after `text`."""
    if keep is not None:
        kept = [
            line for line in (read_note(repo, commit) or "").splitlines() if line.startswith(keep)
        ]
        text = "\n".join([text, *kept])
    repo.git.execute(
        [
            "git",
            "-c",
            "user.name=dns-reconciler",
            "-c",
            "user.email=reconciler@localhost",
            "notes",
            f"--ref={NOTES_REF}",
            "add",
            "-f",
            "-m",
            text,
            commit,
        ]
    )


def all_notes(repo: git.Repo) -> dict[str, str]:
    """Every reconciler note: annotated commit -> the note's text (empty: no notes yet)."""
    try:
        listing = repo.git.notes(f"--ref={NOTES_REF}", "list")
    except git.GitCommandError:
        return {}
    notes = {}
    for line in listing.splitlines():
        blob, _, commit = line.partition(" ")
        data = repo.odb.stream(bytes.fromhex(blob)).read()
        notes[commit] = data.decode("utf-8", errors="replace")
    return notes


def read_note(repo: git.Repo, commit: str) -> str | None:
    """The reconciler's note on `commit` (None: it has none)."""
    try:
        return str(repo.git.notes(f"--ref={NOTES_REF}", "show", commit))
    except git.GitCommandError:
        return None
