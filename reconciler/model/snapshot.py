"""The repo's files at one revision (or the working tree), as a value.

Made by source/repo.py; read by check/ without touching git.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WORKTREE = "working tree"


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    data: bytes | None = None  # None when a symlink or larger than the limit
    symlink: bool = False


@dataclass(frozen=True)
class Snapshot:
    """The repo's files at one revision (or the working tree)."""

    label: str
    commit: str | None = None
    message: str = ""
    files: dict[str, FileEntry] = field(default_factory=dict)
    trailers: tuple[tuple[str, str], ...] = ()  # the message's git trailers, (key, value)

    def folder(self, folder: str) -> dict[str, bytes]:
        """Path -> bytes of the files under `folder` that BIND can read (symlinks left out).

        The one filter for what a zone file, an `$INCLUDE` or a template can name.
        """
        return {
            path: entry.data
            for path, entry in self.files.items()
            if path.startswith(folder + "/") and entry.data is not None and not entry.symlink
        }

    def text_of(self, path: str) -> bytes | None:
        entry = self.files.get(path)
        return entry.data if entry else None
