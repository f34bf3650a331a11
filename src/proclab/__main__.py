"""`python -m proclab ...`: the same as the `proclab` command."""

from proclab.cli import main

main()
