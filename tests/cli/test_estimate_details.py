"""``infossl estimate --details``: the result object in the table and in --json."""
import json
import warnings

import numpy as np
import pytest

from infossl.cli import main
from infossl.estimators.embedded import embedded_gaussian_pair


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("details")
    x, y = embedded_gaussian_pair(2, 48, mi=1.5).sample(800, random_state=0)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    np.save(d / "g.npy", np.random.default_rng(0).standard_normal((600, 3)))
    np.save(d / "xs.npy", x[:300, :12])
    return d


def test_mi_details_table_and_json(files, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["estimate", str(files / "x.npy"), str(files / "y.npy"), "--details", "--json"])
    rec = json.loads(capsys.readouterr().out)
    det = rec["details"]
    assert code == 0 and det["method"] == "auto -> latent" and det["kind"].startswith("lower bound")
    assert det["value"] == pytest.approx(rec["value"]) and abs(rec["value"] - 1.5) < 0.2
    assert len(det["interval"]) == 2 and {c["name"] for c in det["checks"]} >= {"agreement", "log n ceiling"}


def test_entropy_details_flags_failed_checks(files, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["estimate", str(files / "xs.npy"), "--details"])
    out = capsys.readouterr().out
    assert code == 0 and "stability n, n/2, n/4" in out and "undefined (manifold)" in out and "warning:" in out and "-inf" in out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(["estimate", str(files / "g.npy"), "--details", "--json"])
    rec = json.loads(capsys.readouterr().out)
    assert rec["details"]["trusted"] is True and rec["details"]["kind"] == "estimate"


def test_without_details_the_record_is_unchanged(files, capsys):
    main(["estimate", str(files / "g.npy"), "-m", "gaussian", "--json"])
    assert "details" not in json.loads(capsys.readouterr().out)
