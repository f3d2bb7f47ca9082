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

_AUTHOR = git.Actor("reconciler init", "reconciler@localhost")


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


def commit_all(repo: git.Repo, message: str) -> str:
    """Commit every change in the work tree, as the user if git knows them, else as us."""
    repo.git.add(A=True)
    reader = repo.config_reader()
    has_identity = reader.has_option("user", "name") and reader.has_option("user", "email")
    author = None if has_identity else _AUTHOR
    return repo.index.commit(message, author=author, committer=author).hexsha
