"""Where the host policy comes from: host/ of the zone repo at a revision, or a folder.

`from_repo` reads `host/policy.toml` and the template overrides (`host/*.j2`) at a revision
through git (source/repo.py); `from_folder` reads them from a folder on disk (`--policy`).
Both return a `PolicySource`: the validated policy, the overrides, and a label saying where
they came from. A missing policy file is the default policy; an invalid one raises
`ValidationError` with file and line. Called by the host commands, the daemon and `plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import git

from reconciler.config.policy import DEFAULT_FILE, Policy, read_policy
from reconciler.config.tomlfile import utf8_text
from reconciler.errors import Problem, ValidationError
from reconciler.host.render import Managed
from reconciler.model.names import TEMPLATE_DIR
from reconciler.source.repo import read_snapshot

MAX_BYTES = 1024 * 1024
TEMPLATES = {m.template for m in Managed}


@dataclass(frozen=True)
class PolicySource:
    policy: Policy
    overrides: Mapping[str, str] = field(default_factory=dict)  # template name -> text
    label: str = "defaults"  # a commit, "working tree", or the folder
    commit: str | None = None
    warnings: tuple[Problem, ...] = ()


def _decode(path: str, data: bytes | None) -> str | None:
    text, problems = utf8_text(path, data)
    if problems:
        raise ValidationError(problems)
    return text


def _build(texts: Mapping[str, bytes | None], label: str, commit: str | None) -> PolicySource:
    """The policy and overrides from `texts` (repo-relative path -> bytes)."""
    problems: list[Problem] = []
    overrides: dict[str, str] = {}
    for path, data in texts.items():
        name = path.removeprefix(f"{TEMPLATE_DIR}/")
        if path.endswith(".j2") and "/" not in name:
            if name not in TEMPLATES:
                known = ", ".join(sorted(TEMPLATES))
                problems.append(Problem(path, f"not a template the host half uses ({known})"))
                continue
            if data is None:
                problems.append(Problem(path, "is a symlink or too large; not read"))
                continue
            text = _decode(path, data)
            if text is not None:
                overrides[name] = text
    if problems:
        raise ValidationError(problems)
    text = _decode(DEFAULT_FILE, texts.get(DEFAULT_FILE))
    policy, warnings = read_policy(text, DEFAULT_FILE) if text is not None else (Policy(), ())
    return PolicySource(policy, overrides, label, commit, warnings)


def from_repo(repo: git.Repo, rev: str | None) -> PolicySource:
    """host/ at `rev` (None: the working tree)."""
    snapshot = read_snapshot(repo, rev, [TEMPLATE_DIR], [], MAX_BYTES)
    return _build(
        {path: entry.data for path, entry in snapshot.files.items()},
        snapshot.label,
        snapshot.commit,
    )


def from_folder(folder: Path) -> PolicySource:
    """A folder holding policy.toml and perhaps NAME.j2 overrides (`host --policy DIR`)."""
    texts: dict[str, bytes | None] = {}
    for path in sorted(folder.iterdir()):
        if path.name == "policy.toml" or path.suffix == ".j2":
            key = DEFAULT_FILE if path.name == "policy.toml" else f"{TEMPLATE_DIR}/{path.name}"
            too_big = path.is_symlink() or path.stat().st_size > MAX_BYTES
            texts[key] = None if too_big else path.read_bytes()
    return _build(texts, str(folder), None)
