"""infossl.diagnostics.report: DiagnosisReport as JSON (NaN as null), dict, markdown and an atomic plot."""

import json
import math

import numpy as np
import pytest

from infossl.diagnostics import diagnose


def test_json_markdown_and_dict(tmp_path, rng):
    r = diagnose(rng.standard_normal((100, 4)) @ np.diag([1, 1, 1, 0]))
    d = r.as_dict()
    assert (d["verdict"], d["collapse_rank"], d["dim"], d["n"]) == ("dimensional-collapse", 3, 4, 100)
    json.dumps(d)  # JSON-able
    text = r.to_json(tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc == json.loads(text) and doc["verdict"] == "dimensional-collapse"
    assert len(doc["spectrum"]) == 4 and doc["thresholds"]["eigenvalue_floor"] == 1e-5
    md = r.to_markdown()
    assert "**Verdict: dimensional-collapse** (k = 3 of d = 4)" in md and "| rankme |" in md
    with pytest.raises(KeyError, match="no metric 'nope'"):
        r["nope"]


def test_markdown_escapes_its_cells(rng):
    # a description holding ||Z||_F^2 split the row into extra columns
    r = diagnose(rng.standard_normal((100, 4)))
    r.metrics.loc["rankme", "description"] = "ratio ||Z||_F^2 / ||Z||_2^2 *of* [rows]\nsecond line"
    rows = [ln for ln in r.to_markdown().splitlines() if ln.startswith("| ")]
    unescaped = [ln.replace("\\|", "") for ln in rows]
    assert all(ln.count("|") == 4 for ln in unescaped)  # every row keeps its three cells
    row = next(ln for ln in rows if ln.startswith("| rankme |"))
    assert "\\|\\|Z\\|\\|\\_F^2" in row and "\\*of\\* \\[rows\\] second line" in row
    assert "| effective\\_rank |" in r.to_markdown()


def test_nan_metrics_become_null_in_json(rng):
    r = diagnose(np.full((10, 3), 1.0))  # alpha-ReQ undefined for a zero spectrum
    assert math.isnan(r["alpha_req"])
    assert json.loads(r.to_json())["alpha_req"] is None


def test_plot_is_written_atomically(tmp_path, rng):
    pytest.importorskip("matplotlib")
    r = diagnose(rng.standard_normal((200, 8)))
    fig = r.plot(tmp_path / "spectrum.png")
    data = (tmp_path / "spectrum.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "spectrum.png"]  # no temporary file left behind
    import matplotlib.pyplot as plt

    plt.close(fig)
