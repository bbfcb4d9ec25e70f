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


def test_every_misspelled_option_gets_a_suggestion(capsys):
    for argv, hint in [
        (["train", "--objektive", "barlow"], "--objektive (did you mean --objective?)"),
        (["diagnose", "x.npy", "--jsn"], "--jsn (did you mean --json?)"),
        (["estimate", "--methd=knn", "x.npy"], "--methd=knn (did you mean --method?)"),
        (["diagnos", "x.npy"], "did you mean 'diagnose'?"),
    ]:
        code, _, err = run(capsys, *argv)
        assert code == 2 and hint in err, (argv, err)
        command = "" if argv[0] == "diagnos" else argv[0]
        assert err.splitlines()[0].startswith(f"usage: infossl {command}".rstrip())  # the command's usage


def test_version_imports_no_heavy_module():
    import subprocess
    import sys

    code = ("import sys\nfrom infossl.cli import main\nassert main(['--version']) == 0\n"
            "heavy = sorted({'torch', 'scipy', 'pandas', 'sklearn', 'matplotlib'} & set(sys.modules))\n"
            "assert heavy == [], heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
