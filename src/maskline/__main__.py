"""`python -m maskline` runs the CLI."""

from maskline.cli import main

main()
