"""`python -m designer` does what the `designer` command does."""

from designer.cli import command

command()
