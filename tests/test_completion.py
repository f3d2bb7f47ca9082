"""Shell completion: the script `reconciler completion SHELL` prints completes for real.

bash runs the script as an interactive shell would (COMP_WORDS, COMP_CWORD, then the
completion function); for zsh and fish the script's call into `reconciler` is made as
those scripts make it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
PROGRAM = BIN / "reconciler"
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def bash_complete(*words: str) -> list[str]:
    """What bash offers after `reconciler WORDS` with the script loaded (the last word is
    the one being completed)."""
    line = " ".join(f"'{w}'" for w in ("reconciler", *words))
    script = (
        "source <(reconciler completion bash) || exit 9\n"
        f"COMP_WORDS=({line}); COMP_CWORD={len(words)}\n"
        '_reconciler_completion reconciler\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    run = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, env=ENV
    )
    assert run.returncode == 0, run.stderr
    return [line for line in run.stdout.splitlines() if line]


def test_the_bash_script_is_the_completion_function() -> None:
    run = subprocess.run([str(PROGRAM), "completion", "bash"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "complete -o nosort -F _reconciler_completion reconciler" in run.stdout


def test_bash_completes_commands_subcommands_options_and_choices() -> None:
    assert bash_complete("ch") == ["check"]
    assert set(bash_complete("")) >= {"init", "check", "plan", "apply", "host", "completion"}
    assert bash_complete("host", "au") == ["audit"]
    assert set(bash_complete("host", "")) >= {"audit", "plan", "apply"}
    assert bash_complete("plan", "--fo") == ["--format"]
    assert bash_complete("plan", "--format", "") == ["text", "markdown", "json"]
    assert bash_complete("completion", "") == ["bash", "zsh", "fish"]


@pytest.mark.parametrize(
    ("shell", "header", "env"),
    [
        ("zsh", "#compdef reconciler", {"COMP_WORDS": "reconciler host au", "COMP_CWORD": "2"}),
        (
            "fish",
            "complete --no-files --command reconciler",
            {"COMP_WORDS": "reconciler host au", "COMP_CWORD": "au"},
        ),
    ],
)
def test_zsh_and_fish_scripts_and_the_answers_they_ask_for(
    shell: str, header: str, env: dict[str, str]
) -> None:
    run = subprocess.run([str(PROGRAM), "completion", shell], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert header in run.stdout and f"_RECONCILER_COMPLETE={shell}_complete" in run.stdout
    answer = subprocess.run(
        [str(PROGRAM)],
        capture_output=True,
        text=True,
        env={**ENV, **env, "_RECONCILER_COMPLETE": f"{shell}_complete"},
    )
    assert answer.returncode == 0, answer.stderr
    assert "audit" in answer.stdout and "plan" not in answer.stdout, answer.stdout
