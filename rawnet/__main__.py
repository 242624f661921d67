"""``python -m rawnet`` runs the command line."""

from rawnet.cli import main

main()
