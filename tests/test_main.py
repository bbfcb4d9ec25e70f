"""``python -m infossl`` is the ``infossl`` command."""

import subprocess
import sys

import infossl.__main__  # noqa: F401  (importing it must not run the command)


def test_python_dash_m_infossl_runs_the_command():
    out = subprocess.run([sys.executable, "-m", "infossl", "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("infossl ")
