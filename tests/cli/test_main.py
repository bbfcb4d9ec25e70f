"""``python -m infossl.cli`` (infossl/cli/__main__.py) runs the command line in a fresh process."""

import subprocess
import sys


def test_python_dash_m():
    res = subprocess.run(
        [sys.executable, "-m", "infossl.cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0 and res.stdout.startswith("infossl ")
