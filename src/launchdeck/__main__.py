"""`python -m launchdeck` runs the CLI."""

from .cli import main

main()
