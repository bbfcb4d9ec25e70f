"""``infossl estimate`` in-process through ``infossl.cli.main``: tables, JSON, ``--details``, exit statuses."""

import json
import warnings

import numpy as np
import pytest

import infossl
from infossl.cli import main
from infossl.synthetic import embedded_gaussian_pair
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
    assert [r["method"] for r in record["results"]] == ["gaussian", "copula", "ksg", "auto -> corrected-ksg"]
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
# ----------------------------------------------------------------------------------------- exits
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


# ----------------------------------------------------------------------------------------- --details
@pytest.fixture(scope="module")
def detail_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("details")
    x, y = embedded_gaussian_pair(2, 48, mi=1.5).sample(800, random_state=0)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    np.save(d / "g.npy", np.random.default_rng(0).standard_normal((600, 3)))
    np.save(d / "xs.npy", x[:300, :12])
    return d


def test_mi_details_table_and_json(detail_files, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(
            ["estimate", str(detail_files / "x.npy"), str(detail_files / "y.npy"), "--details", "--json"]
        )
    rec = json.loads(capsys.readouterr().out)
    det = rec["details"]
    assert code == 0 and det["method"] == "auto -> latent" and det["kind"].startswith("lower bound")
    assert det["value"] == pytest.approx(rec["value"]) and abs(rec["value"] - 1.5) < 0.2
    assert len(det["interval"]) == 2 and {c["name"] for c in det["checks"]} >= {"agreement", "log n ceiling"}


def test_entropy_details_flags_failed_checks(detail_files, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["estimate", str(detail_files / "xs.npy"), "--details"])
    out = capsys.readouterr().out
    assert code == 0 and "stability n, n/2, n/4" in out and "undefined (manifold)" in out and "warning:" in out and "-inf" in out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(["estimate", str(detail_files / "g.npy"), "--details", "--json"])
    rec = json.loads(capsys.readouterr().out)
    assert rec["details"]["trusted"] is True and rec["details"]["kind"] == "estimate"


def test_without_details_the_record_is_unchanged(detail_files, capsys):
    main(["estimate", str(detail_files / "g.npy"), "-m", "gaussian", "--json"])
    assert "details" not in json.loads(capsys.readouterr().out)


# ----------------------------------------------------------------------------------------- route and warnings
def test_plain_output_carries_the_route_and_the_warnings(detail_files, capsys):
    # the table used to show "auto" and JSON had no warnings field; a warning went to stderr only
    xs = str(detail_files / "xs.npy")  # 12 columns on a 2-dimensional set: auto's entropy warns
    code = main(["estimate", xs, "--json"])
    rec = json.loads(capsys.readouterr().out)
    assert code == 0 and rec["method"].startswith("auto -> ") and rec["requested_method"] == "auto"
    assert rec["interval"] is None and rec["kind"] is None
    assert any("-inf" in w or "manifold" in w or "lower-dimensional" in w for w in rec["warnings"]), rec
    code = main(["estimate", xs])
    out = capsys.readouterr().out
    assert f" {rec['method']} " in table_row(out, "H(A)")[1] and "\nwarning: " in out
    main(["estimate", str(detail_files / "x.npy"), str(detail_files / "y.npy"), "--json"])
    assert json.loads(capsys.readouterr().out)["method"] == "auto -> latent"


def test_details_put_interval_and_kind_in_the_table(detail_files, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(["estimate", str(detail_files / "g.npy"), "--details"])
    header, _, cells = table_row(capsys.readouterr().out, "H(A)")
    assert header.split()[-6:] == ["value", "low", "high", "kind", "units", "seconds"]
    value, low, high, kind = cells[-6:-2]  # the route "auto -> ..." spans several words
    assert kind == "estimate" and float(low) <= float(value) <= float(high)


def test_a_named_method_has_no_route_and_an_empty_warning_list(detail_files, capsys):
    main(["estimate", str(detail_files / "g.npy"), "-m", "gaussian", "--json"])
    rec = json.loads(capsys.readouterr().out)
    assert rec["method"] == "gaussian" and rec["warnings"] == []


def test_quiet_silences_every_bar_during_the_command(detail_files, capsys, monkeypatch):
    from infossl import _progress

    seen = []
    real = infossl.entropy

    def spy(*a, **k):
        seen.append(_progress.progress_enabled(None))
        return real(*a, **k)

    monkeypatch.setattr(infossl, "entropy", spy)
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    main(["estimate", str(detail_files / "g.npy"), "-m", "gaussian", "-q"])
    main(["estimate", str(detail_files / "g.npy"), "-m", "gaussian"])
    assert seen == [False, True] and _progress.progress_enabled(None)


def test_route_comes_from_the_structured_api_not_a_log_line(monkeypatch, rng):
    """The route of a plain auto call is the one dispatch returns with the value; silencing the DEBUG log
    line changes nothing."""
    from infossl.cli.estimate import estimate_with_route
    from infossl.estimators import dispatch

    monkeypatch.setattr(dispatch.logger, "debug", lambda *a, **k: None)
    x = rng.standard_normal((400, 3))
    y = x + rng.standard_normal((400, 3))
    value, route = estimate_with_route(infossl.mutual_information, x, y, method="auto", details=False)
    assert route["method"] == "auto -> corrected-ksg" and value == infossl.mutual_information(x, y)
    value, route = estimate_with_route(infossl.entropy, x, method="auto", details=False)
    assert route["method"] == "auto -> corrected-knn" and value == infossl.entropy(x)


def test_route_names_the_fallback_when_corrected_ksg_refuses(monkeypatch, rng):
    """When corrected KSG refuses the rows (a ValueError), auto falls back to the copula: the route says
    so, as the log line used to."""
    from infossl.cli.estimate import estimate_with_route
    from infossl.estimators import dispatch

    real = dispatch.mi_function

    def refusing(method):
        if method == "corrected-ksg":
            def refuse(*args, **kwargs):
                raise ValueError("duplicate points")
            return refuse
        return real(method)

    monkeypatch.setattr(dispatch, "mi_function", refusing)
    x = rng.standard_normal((400, 3))
    y = x + rng.standard_normal((400, 3))
    value, route = estimate_with_route(infossl.mutual_information, x, y, method="auto", details=False)
    assert route["method"] == "auto -> copula"
    assert value == pytest.approx(infossl.mutual_information(x, y, method="copula"))
