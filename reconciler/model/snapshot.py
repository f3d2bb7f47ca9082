"""The repo's files at one revision (or the working tree), as a value.

Made by source/repo.py; read by check/ without touching git. Which files there are
(paths, sizes, symlinks) is known when the snapshot is made; a file's bytes may be
read only when first asked for (`FileEntry.data`, through the `read` the edge gave),
so that checking one zone of many does not read the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

WORKTREE = "working tree"


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    stored: bytes | None = None  # the bytes, when read already
    symlink: bool = False
    read: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def data(self) -> bytes | None:
        """The file's bytes: None when a symlink or larger than the limit; read once."""
        if self.stored is not None or self.read is None:
            return self.stored
        return self.read()

    @property
    def readable(self) -> bool:
        """Whether there are bytes to read (known without reading them)."""
        return not self.symlink and (self.stored is not None or self.read is not None)


class _Folder(Mapping[str, bytes]):
    """Path -> bytes of the readable files under a folder, each read when first asked for."""

    def __init__(self, entries: dict[str, FileEntry]) -> None:
        self._entries = entries

    def __getitem__(self, path: str) -> bytes:
        data = self._entries[path].data
        if data is None:
            raise KeyError(path)
        return data

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class Snapshot:
    """The repo's files at one revision (or the working tree)."""

    label: str
    commit: str | None = None
    message: str = ""
    files: dict[str, FileEntry] = field(default_factory=dict)
    trailers: tuple[tuple[str, str], ...] = ()  # the message's git trailers, (key, value)

    def folder(self, folder: str) -> Mapping[str, bytes]:
        """Path -> bytes of the files under `folder` that BIND can read (symlinks left out),
        each read when first looked up.

        The one filter for what a zone file, an `$INCLUDE` or a template can name.
        """
        return _Folder(
            {
                path: entry
                for path, entry in self.files.items()
                if path.startswith(folder + "/") and entry.readable
            }
        )

    def text_of(self, path: str) -> bytes | None:
        entry = self.files.get(path)
        return entry.data if entry else None
