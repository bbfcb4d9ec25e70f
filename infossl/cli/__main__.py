"""``python -m infossl.cli`` runs the ``infossl`` command."""

import sys

from infossl.cli import main

sys.exit(main())
