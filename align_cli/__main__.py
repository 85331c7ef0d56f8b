"""``python -m align_cli`` runs the ``xalign`` command line (useful without the console script)."""

from align_cli.cli import main

if __name__ == "__main__":
    main()
