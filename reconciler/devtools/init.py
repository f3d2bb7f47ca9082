"""`reconciler init DIR`: a new zone repository from repo-template/.

Copies the template, makes a git repository with an initial commit. Called by
cli/main.py and by the demo.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import git

from reconciler.errors import SourceError
from reconciler.resources import shared
from reconciler.source.repo import commit_all

__all__ = ["commit_all", "init_repo", "template_dir"]


def template_dir() -> Path:
    return shared("repo-template")


def init_repo(target: Path) -> git.Repo:
    """Copy the template into `target` (absent or empty) and commit it."""
    if target.exists() and any(target.iterdir()):
        raise SourceError(f"{target}: exists and is not empty")
    shutil.copytree(template_dir(), target, dirs_exist_ok=True, symlinks=False)
    repo = git.Repo.init(target, initial_branch="main")
    commit_all(repo, "Start the zone repository from the reconciler template")
    return repo
