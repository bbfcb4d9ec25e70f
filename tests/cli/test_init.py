"""infossl.cli's ``main``: the sub-command parser, ``--version`` and ``--help``."""

from infossl.cli import main


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("infossl ")
    code, out, _ = run(capsys, "estimate", "--help")
    assert code == 0 and "examples:" in out and "infossl estimate --example" in out
