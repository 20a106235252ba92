"""`python -m digest` runs the same command line as `digest`."""

from digest.cli import main

main()
