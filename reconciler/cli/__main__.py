"""`python -m reconciler.cli`: the command line."""

from reconciler.cli.main import main

main(prog_name="reconciler")
