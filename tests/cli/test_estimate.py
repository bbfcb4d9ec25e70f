"""The ``infossl`` command line, run in-process through ``infossl.cli.main``."""

import json
import subprocess
import sys

import numpy as np
import pytest

import infossl
from infossl.cli import main
from infossl.cli._common import format_table, parse_option, parse_value
from infossl.synthetic import correlated_gaussian


@pytest.fixture
def pair(seed):
    return correlated_gaussian(2, 0.6, dim_y=3).sample(300, random_state=seed)  # (300, 2), (300, 3)


@pytest.fixture
def files(tmp_path, pair):
    x, y = pair
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    return tmp_path


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def table_row(out, quantity):
    """The cells of the table row that starts with ``quantity`` (header first)."""
    lines = out.splitlines()
    header = next(ln for ln in lines if ln.startswith("quantity"))
    row = next(ln for ln in lines if ln.startswith(quantity))
    return header, row, row.split()


# ----------------------------------------------------------------------------------------- estimates
def test_entropy_table(capsys, files, pair):
    code, out, err = run(capsys, "estimate", files / "x.npy", "--method", "gaussian")
    assert code == 0, err
    header, row, cells = table_row(out, "H(A)")
    assert header.split() == ["quantity", "n", "d", "method", "value", "units", "seconds"]
    assert cells[:4] == ["H(A)", "300", "2", "gaussian"] and cells[5] == "nats"
    assert cells[4] == f"{infossl.entropy(pair[0], method='gaussian'):.4f}"
    assert header.index("value") + len("value") == row.index(cells[4]) + len(cells[4])  # right-aligned
    assert f"A = {files / 'x.npy'}" in out


def test_entropy_json_with_options(capsys, files, pair):
    code, out, _ = run(capsys, "estimate", files / "x.npy", "--method", "knn", "--option", "k=5", "--json")
    assert code == 0
    record = json.loads(out)
    assert record["quantity"] == "H(A)" and record["method"] == "knn" and record["options"] == {"k": 5}
    assert (record["n"], record["d"], record["units"]) == (300, 2, "nats")
    assert record["value"] == pytest.approx(infossl.entropy(pair[0], method="knn", k=5), rel=1e-12)
    assert record["seconds"] >= 0 and record["infossl_version"]


def test_mutual_information_json_and_out(capsys, files, pair):
    out_file = files / "res" / "mi.json"
    code, out, _ = run(
        capsys, "estimate", files / "x.npy", files / "y.npy", "-m", "gaussian", "--out", out_file
    )
    assert code == 0
    _, _, cells = table_row(out, "I(A;B)")
    assert cells[:4] == ["I(A;B)", "300", "2+3", "gaussian"]
    record = json.loads(out_file.read_text())
    assert (record["dx"], record["dy"], record["quantity"]) == (2, 3, "I(A;B)")
    assert record["value"] == pytest.approx(infossl.mutual_information(*pair, method="gaussian"), rel=1e-12)
    assert cells[4] == f"{record['value']:.4f}"


def test_keys_select_arrays(capsys, files, pair):
    code, out, _ = run(
        capsys,
        "estimate",
        files / "xy.npz",
        files / "xy.npz",
        "--key",
        "x",
        "--key-b",
        "y",
        "--method",
        "gaussian",
        "--json",
    )
    assert code == 0
    record = json.loads(out)
    assert record["value"] == pytest.approx(infossl.mutual_information(*pair, method="gaussian"), rel=1e-12)
    assert (record["key"], record["key_b"]) == ("x", "y")


def test_example(capsys):
    code, out, err = run(capsys, "estimate", "--example", "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["example"]["truth"] == pytest.approx(1.0)
    assert [r["method"] for r in record["results"]] == ["gaussian", "copula", "ksg", "auto"]
    for r in record["results"]:
        # n=2000 in 4+4 dims: every method is within 0.25 nats of the truth on this fixed seed
        # (measured spread of the gaussian/copula estimates over seeds: ~0.05 nats).
        assert abs(r["value"] - 1.0) < 0.25, r
    code, out, _ = run(capsys, "estimate", "--example", "--method", "gaussian", "--seed", "3")
    assert code == 0
    header, _, cells = table_row(out, "I(X;Y)")
    assert "truth" in header.split() and cells[3] == "gaussian" and cells[5] == "1.0000"
    assert "seed=3" in out


# ----------------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "text, value",
    [
        ("3", 3),
        ("-2", -2),
        ("0.5", 0.5),
        ("1e-3", 1e-3),
        ("true", True),
        ("No", False),
        ("none", None),
        ("chebyshev", "chebyshev"),
        ("", ""),
    ],
)
def test_parse_value(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_parse_option():
    assert parse_option("k=3") == ("k", 3)
    assert parse_option("chunk-size=10") == ("chunk_size", 10)
    assert parse_option("metric=a=b") == ("metric", "a=b")


def test_format_table_alignment():
    text = format_table([{"name": "a", "x": 1.5}, {"name": "long", "x": 10.25}], ["name", "x"])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "x"]
    assert lines[2].endswith(" 1.5000") and lines[3].endswith("10.2500")
    assert len(lines[2]) == len(lines[3])


# ----------------------------------------------------------------------------------------- exits
def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("infossl ")
    code, out, _ = run(capsys, "estimate", "--help")
    assert code == 0 and "examples:" in out and "infossl estimate --example" in out


def test_python_dash_m():
    res = subprocess.run(
        [sys.executable, "-m", "infossl.cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0 and res.stdout.startswith("infossl ")


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "required: COMMAND"),
        (["estimate"], "give a file A"),
        (["estimate", "--example", "x.npy"], "--example uses synthetic data and takes no files"),
        (["estimate", "x.npy", "--option", "k"], "expected NAME=VALUE"),
        (["estimate", "x.npy", "--option", "k=3", "--option", "k=4"], "--option given more than once for k"),
        (["estimate", "x.npy", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_data_errors_exit_1(capsys, files, tmp_path):
    cases = [
        (["estimate", tmp_path / "missing.npy"], "no such file: '" + str(tmp_path / "missing.npy")),
        (["estimate", files / "x.npy", "--method", "nonsense"], "unknown entropy method 'nonsense'"),
        (["estimate", files / "xy.npz"], "holds 2 arrays; choose one with key=...: 'x', 'y'"),
        (["estimate", files / "x.npy", files / "y.npy", "--key-b", "y"], "key='y' does not apply"),
        (["estimate", files / "x.npy", "-m", "gaussian", "--option", "bogus=1"], "bogus"),
    ]
    np.save(tmp_path / "short.npy", np.zeros((10, 2)))
    cases.append((["estimate", files / "x.npy", tmp_path / "short.npy"], "same number of rows"))
    (tmp_path / "afile").write_text("")
    cases.append(
        (["estimate", files / "x.npy", "-m", "gaussian", "--out", tmp_path / "afile" / "r.json"], "")
    )
    for argv, message in cases:
        code, _, err = run(capsys, *argv)
        assert code == 1, (argv, err)
        assert err.startswith("infossl: error: ") and message in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err  # one line, no traceback
