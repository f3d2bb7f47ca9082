"""`reconciler completion bash|zsh|fish`: click's shell completion script for this CLI.

The script asks the installed `reconciler` itself (through `_RECONCILER_COMPLETE`) what to
complete, so it stays right as commands and options change. Registered by cli/main.py.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

PROGRAM = "reconciler"
COMPLETE_VAR = "_RECONCILER_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def script(main: click.Group, shell: str) -> str:
    """The completion script of `shell` for `main`, as click writes it."""
    kind = get_completion_class(shell)
    if kind is None:  # click knows every shell of SHELLS
        raise click.BadParameter(f"no completion for {shell}")
    return kind(main, {}, PROGRAM, COMPLETE_VAR).source()


def register(main: click.Group) -> None:
    @main.command("completion")
    @click.argument("shell", type=click.Choice(SHELLS))
    def completion_command(shell: str) -> None:
        """Print the shell completion script for SHELL.

        \b
        bash: eval "$(reconciler completion bash)"   (in ~/.bashrc)
        zsh:  eval "$(reconciler completion zsh)"    (in ~/.zshrc)
        fish: reconciler completion fish > ~/.config/fish/completions/reconciler.fish
        """
        click.echo(script(main, shell))
