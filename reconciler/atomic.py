"""Atomic file writes: readers see the old file or the new one, never a part.

Called by everything that writes a file BIND or the reconciler reads back:
zone files, the generated include, key files, the state file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write `path` so that readers see the old file or the new one, never a part.

    A temp file in the same folder (created 0600, so a secret is never readable by others
    even for a moment), written, fsynced, given `mode`, renamed over `path`; then the folder
    is fsynced so the rename survives a crash. Raises OSError like any write, naming
    `path` (a full or read-only folder says which file could not be written).
    """
    path = Path(path)
    if not 0 <= mode <= 0o7777:
        raise ValueError(f"file mode {mode:#o} is out of range")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        _write(path, payload, mode)
    except OSError as exc:  # named after the file wanted, not the temp file
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _write(path: Path, payload: bytes, mode: int) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
