"""``python -m infossl`` runs the ``infossl`` command (the same entry point as the console script)."""

import sys

from infossl.cli import main

if __name__ == "__main__":
    sys.exit(main())
