"""The command line: the only package that prints and picks exit codes."""
