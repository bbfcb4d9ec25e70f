"""``infossl diagnose`` end to end: embeddings, checkpoints, tables, JSON, plots; failures write nothing."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from infossl.cli import main
from infossl.io.detect import is_checkpoint
from infossl.diagnostics.diagnosis import diagnose

SPEC = {"backbone": "mlp", "input_shape": [64], "widths": "16", "projector": "8"}


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def emb(tmp_path, rng):
    """Rank 3 + tiny noise in R^8 (dimensional collapse to 3) and a healthy file."""
    low = rng.standard_normal((400, 3)) @ rng.standard_normal((3, 8)) + 1e-7 * rng.standard_normal((400, 8))
    np.save(tmp_path / "low.npy", low)
    np.save(tmp_path / "healthy.npy", rng.standard_normal((400, 8)))
    return tmp_path


def train_checkpoint(path, epoch, collapsed=False):
    from infossl.io.train_format import checkpoint_dict, save_checkpoint
    from infossl.models import build_model

    model = build_model(SPEC, generator=torch.Generator().manual_seed(0))
    bn = model.backbone.net[1]
    with torch.no_grad():
        bn.running_var.fill_(1.0)
        bn.bias.fill_(0.5)
        if collapsed:
            bn.weight.zero_()  # every backbone unit outputs relu(0.5): complete collapse
    save_checkpoint(checkpoint_dict(model, config={"model": SPEC}, epoch=epoch, step=epoch), path)
    return model


# ----------------------------------------------------------------------------------------- embeddings
def test_table_by_default(capsys, emb):
    code, out, err = run(capsys, "diagnose", emb / "low.npy", "--chunk-rows", "64")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{emb / 'low.npy'}: n=400, d=8"
    assert lines[1] == "verdict: dimensional-collapse (collapse rank 3 of 8 dimensions)"
    header = next(ln for ln in lines if ln.startswith("metric"))
    assert header.split()[:3] == ["metric", "value", "description"]
    ref = diagnose(np.load(emb / "low.npy"))
    row = next(ln for ln in lines if ln.startswith("effective_rank "))
    assert row.split()[1] == f"{ref['effective_rank']:.4f}"
    assert err == ""  # no progress bar: stderr is not a terminal


def test_json_out_and_plot(capsys, emb):
    out_json, png = emb / "out" / "report.json", emb / "spectrum.png"
    code, out, err = run(capsys, "diagnose", emb / "low.npy", "--json", "--out", out_json, "--plot", png)
    assert code == 0, err
    record = json.loads(out)
    assert record == json.loads(out_json.read_text())
    ref = diagnose(np.load(emb / "low.npy")).as_dict()
    assert record["verdict"] == ref["verdict"] == "dimensional-collapse" and record["collapse_rank"] == 3
    for k, v in ref.items():
        if isinstance(v, float):  # streamed (one chunk here) vs in-memory: same arithmetic up to ~1e-12
            assert record[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
    assert record["path"] == str(emb / "low.npy") and isinstance(record["reasons"], list)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_views_labels_and_threshold(capsys, emb, rng):
    z = np.load(emb / "healthy.npy")
    np.save(emb / "view.npy", z + 0.05 * rng.standard_normal(z.shape))
    np.save(emb / "y.npy", rng.integers(0, 3, 400))
    code, out, err = run(
        capsys,
        "diagnose",
        emb / "healthy.npy",
        "--views",
        emb / "view.npy",
        "--labels",
        emb / "y.npy",
        "--json",
        "--threshold",
        "eigenvalue_floor=1e-6",
        "--option",
        "eps=1e-6",
    )
    assert code == 0, err
    record = json.loads(out)
    assert {"lidar", "alignment", "nc1"} <= set(record) and record["verdict"] == "healthy"
    code, _, err = run(capsys, "diagnose", emb / "healthy.npy", "--threshold", "bogus=1")
    assert code == 1 and "unknown threshold bogus; known: complete_variance_fraction" in err


def test_several_files_one_row_each(capsys, emb):
    code, out, err = run(capsys, "diagnose", emb / "low.npy", emb / "healthy.npy", "--plot", emb / "both.png")
    assert code == 0, err
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines()[2:]}
    assert out.splitlines()[0].split()[:5] == ["file", "n", "dim", "verdict", "collapse_rank"]
    assert rows["low.npy"][3:5] == ["dimensional-collapse", "3"] and rows["healthy.npy"][3:5] == [
        "healthy",
        "8",
    ]
    assert (emb / "both.png").exists()


def test_fail_on_collapse_status(capsys, emb):
    assert run(capsys, "diagnose", emb / "healthy.npy", "--fail-on-collapse")[0] == 0
    assert run(capsys, "diagnose", emb / "low.npy", "--fail-on-collapse")[0] == 3
    assert run(capsys, "diagnose", emb / "low.npy")[0] == 0


# ----------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("case", ["nan", "truncated", "one-row", "missing", "pickled"])
def test_failures_write_nothing(capsys, emb, case):
    bad = emb / "bad.npy"
    z = np.load(emb / "healthy.npy")
    if case == "nan":
        z[7, 2] = np.nan
        np.save(bad, z)
        message = r"bad.npy \(rows from 0 on\): .*NaN or infinite values \(first at row 7 .*column 2\)"
    elif case == "truncated":
        np.save(bad, z)
        bad.write_bytes(bad.read_bytes()[:1000])
        message = r"bad.npy is truncated: its header describes an array of shape \(400, 8\)"
    elif case == "one-row":
        np.save(bad, z[:1])
        message = "at least 2 rows"
    elif case == "pickled":
        np.save(bad, np.array([[{"a": 1}]], dtype=object))
        message = "pickled Python objects; infossl does not unpickle"
    else:
        message = "no such file"
    out_json, png = emb / "r.json", emb / "r.png"
    code, out, err = run(capsys, "diagnose", bad, "--out", out_json, "--plot", png)
    assert code == 1 and out == ""
    assert err.startswith("infossl: error: ") and len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
    assert not out_json.exists() and not png.exists()
    assert not [p for p in os.listdir(emb) if p.endswith(".tmp")]


def test_usage_errors(capsys, emb):
    assert run(capsys, "diagnose")[0] == 2
    code, _, err = run(capsys, "diagnose", emb / "low.npy", emb / "healthy.npy", "--views", emb / "low.npy")
    assert code == 2 and "--views needs exactly one embeddings PATH" in err
    code, _, err = run(capsys, "diagnose", emb / "low.npy", "--chunk-rows", "0")
    assert code == 2 and "--chunk-rows must be a positive integer, got 0" in err
    code, _, err = run(capsys, "diagnose", emb / "low.npy", "--option", "eps=1", "--option", "eps=2")
    assert code == 2 and "--option given more than once for eps" in err


def test_unsupported_plot_format_writes_nothing(capsys, emb):
    code, _, err = run(capsys, "diagnose", emb / "low.npy", "--out", emb / "r.json", "--plot", emb / "r.xyz")
    assert code == 1 and "xyz" in err
    assert not (emb / "r.json").exists() and not (emb / "r.xyz").exists()


# ----------------------------------------------------------------------------------------- checkpoints
def test_train_checkpoints_need_no_model(capsys, tmp_path):
    train_checkpoint(tmp_path / "ckpt_epoch000.pt", 0)
    train_checkpoint(tmp_path / "ckpt_epoch001.pt", 1, collapsed=True)
    code, out, err = run(
        capsys,
        "diagnose",
        tmp_path / "ckpt_epoch000.pt",
        tmp_path / "ckpt_epoch001.pt",
        "--plot",
        tmp_path / "traj.png",
        "--out",
        tmp_path / "traj.json",
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "layer backbone on digits (test split, 445 images)"
    assert lines[1].split()[:6] == ["file", "epoch", "n", "dim", "verdict", "collapse_rank"]
    assert lines[3].split()[:5] == ["ckpt_epoch000.pt", "0", "445", "16", "healthy"]
    assert lines[4].split()[:6] == ["ckpt_epoch001.pt", "1", "445", "16", "complete-collapse", "0"]
    record = json.loads((tmp_path / "traj.json").read_text())
    assert [c["verdict"] for c in record["checkpoints"]] == ["healthy", "complete-collapse"]
    assert (tmp_path / "traj.png").exists()
    code, out, _ = run(capsys, "diagnose", tmp_path / "ckpt_epoch000.pt", "--layer", "output", "--json")
    assert (
        code == 0 and json.loads(out)["layer"] == "output" and json.loads(out)["checkpoints"][0]["dim"] == 8
    )


def test_plain_state_dict_with_model_factory(capsys, tmp_path, monkeypatch):
    (tmp_path / "cli_nets.py").write_text(
        "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n\n"
        "def other():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 12))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cli_nets", raising=False)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    torch.save({"module." + k: v for k, v in net.state_dict().items()}, tmp_path / "plain.pt")
    code, out, err = run(capsys, "diagnose", tmp_path / "plain.pt", "--model", "cli_nets:build", "--json")
    assert code == 0, err
    assert json.loads(out)["checkpoints"][0]["dim"] == 10 and json.loads(out)["layer"] == "output"
    code, _, err = run(capsys, "diagnose", tmp_path / "plain.pt")
    assert code == 1 and "holds only weights" in err and "--model" in err
    code, _, err = run(capsys, "diagnose", tmp_path / "plain.pt", "--model", "cli_nets:other")
    assert code == 1 and "other shapes (2): 1.weight: checkpoint (10, 64) vs model (12, 64)" in err
    code, _, err = run(capsys, "diagnose", tmp_path / "plain.pt", "--model", "cli_nets:build", "--layer", "9")
    assert code == 1 and "layer='9' is not a submodule of the model; available: 0, 1" in err


def test_malicious_checkpoint_refused_marker_absent(capsys, tmp_path):
    marker = tmp_path / "MARKER"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"state_dict": {"w": torch.ones(1)}, "hook": Payload()}, tmp_path / "evil.pt")
    for extra in ([], ["--model", "torch.nn:Identity"]):
        code, out, err = run(capsys, "diagnose", tmp_path / "evil.pt", "--out", tmp_path / "r.json", *extra)
        assert code == 1 and "refused to load" in err and "--trust-checkpoint" in err
        assert not marker.exists() and not (tmp_path / "r.json").exists()


def test_trusted_pickled_module_and_torchscript(capsys, tmp_path):
    model = train_checkpoint(tmp_path / "c.pt", 0)
    torch.save(model.backbone, tmp_path / "module.pt")  # a pickled full module
    code, _, err = run(capsys, "diagnose", tmp_path / "module.pt")
    assert code == 1 and "refused to load" in err
    with pytest.warns(UserWarning, match="executes any code stored in the file"):
        code, out, err = run(capsys, "diagnose", tmp_path / "module.pt", "--trust-checkpoint", "--json")
    assert code == 0, err
    trusted = json.loads(out)["checkpoints"][0]
    torch.jit.script(model.backbone).save(str(tmp_path / "scripted.pt"))
    code, _, err = run(capsys, "diagnose", tmp_path / "scripted.pt")
    assert code == 1 and "TorchScript archive" in err and "--trust-checkpoint" in err
    with pytest.warns(UserWarning, match="TorchScript archive"):
        code, out, err = run(capsys, "diagnose", tmp_path / "scripted.pt", "--trust-checkpoint", "--json")
    assert code == 0, err
    scripted = json.loads(out)["checkpoints"][0]
    assert trusted["dim"] == scripted["dim"] == 16 and trusted["verdict"] == scripted["verdict"]


def test_checkpoint_detection_and_mixing(capsys, tmp_path, emb):
    train_checkpoint(tmp_path / "c.pt", 0)
    torch.save(torch.randn(50, 4), tmp_path / "emb.pt")
    torch.save({"emb": torch.randn(50, 4)}, tmp_path / "dict_emb.pt")
    torch.save({"state_dict": nn.Linear(2, 2).state_dict()}, tmp_path / "wrapped.pt")
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert is_checkpoint(str(tmp_path / "c.pt")) and is_checkpoint(str(tmp_path / "wrapped.pt"))
    assert is_checkpoint(str(tmp_path / "legacy.pt"))
    assert not is_checkpoint(str(tmp_path / "emb.pt")) and not is_checkpoint(str(tmp_path / "dict_emb.pt"))
    assert not is_checkpoint(str(emb / "low.npy"))
    code, _, err = run(capsys, "diagnose", tmp_path / "c.pt", emb / "low.npy")
    assert code == 1 and "mix checkpoints" in err
    code, out, err = run(capsys, "diagnose", tmp_path / "emb.pt")
    assert code == 0 and out.splitlines()[0].endswith("n=50, d=4")


def test_truncated_checkpoint_is_a_clear_error(capsys, tmp_path):
    train_checkpoint(tmp_path / "c.pt", 0)
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    for extra in ([], ["--checkpoints"]):
        code, out, err = run(capsys, "diagnose", tmp_path / "c.pt", "--out", tmp_path / "r.json", *extra)
        assert code == 1 and out == "" and "c.pt" in err and ("corrupt" in err or "truncated" in err), err
        assert not (tmp_path / "r.json").exists()


def test_console_entry_point_subprocess(tmp_path):
    """The real command line in a fresh process: exit status, JSON on stdout, quiet stderr (run once)."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "low.npy", rng.standard_normal((300, 2)) @ rng.standard_normal((2, 6)))
    proc = subprocess.run(
        [sys.executable, "-m", "infossl.cli", "diagnose", str(tmp_path / "low.npy"), "--json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "dimensional-collapse" and proc.stderr == ""


def test_checkpoint_rows_are_printed_as_each_checkpoint_finishes(capsys, tmp_path, monkeypatch):
    # 41 checkpoints printed nothing for 8 minutes: every row came at the end
    from infossl.diagnostics import checkpoints

    paths = [tmp_path / f"ckpt_epoch{e:03d}.pt" for e in range(3)]
    for e, p in enumerate(paths):
        train_checkpoint(p, e, collapsed=e == 2)
    seen_before_model = []
    real = checkpoints.model_for_checkpoint

    def spy(ck, factory):
        seen_before_model.append(capsys.readouterr().out)  # what was printed before this model runs
        return real(ck, factory)

    monkeypatch.setattr(checkpoints, "model_for_checkpoint", spy)
    assert main(list(map(str, ["diagnose", *paths]))) == 0
    last = capsys.readouterr().out
    assert seen_before_model[0] == ""
    assert seen_before_model[1].splitlines()[0] == "layer backbone on digits (test split, 445 images)"
    first_row = seen_before_model[1].splitlines()[-1]
    assert first_row.split()[:5] == ["ckpt_epoch000.pt", "0", "445", "16", "healthy"]
    assert seen_before_model[2].split()[:2] == ["ckpt_epoch001.pt", "1"]
    assert last.split()[:5] == ["ckpt_epoch002.pt", "2", "445", "16", "complete-collapse"]


def test_checkpoint_bar_counts_checkpoints_and_quiet_silences_it(capsys, tmp_path, monkeypatch):
    from infossl import _progress
    from infossl.diagnostics import checkpoints

    paths = [tmp_path / f"c{e}.pt" for e in range(2)]
    for e, p in enumerate(paths):
        train_checkpoint(p, e)
    bars = []
    real = checkpoints.progress_bar

    def spy(enabled, **kw):
        bars.append((enabled, kw["total"], kw["unit"]))
        return real(False, **kw)

    monkeypatch.setattr(checkpoints, "progress_bar", spy)
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    assert main(list(map(str, ["diagnose", *paths, "--json"]))) == 0
    assert main(list(map(str, ["diagnose", *paths, "--json", "-q"]))) == 0
    # a bar for two small checkpoints (each runs a model), counting checkpoints, not forward passes
    assert bars == [(True, 2, "ckpt"), (False, 2, "ckpt")]


def test_several_files_print_each_row_when_its_file_is_done(capsys, emb, monkeypatch):
    from infossl.diagnostics import stream

    before = []
    real = stream.diagnose_path

    def spy(path, *a, **k):
        before.append(capsys.readouterr().out)
        return real(path, *a, **k)

    monkeypatch.setattr(stream, "diagnose_path", spy)
    assert main(["diagnose", str(emb / "low.npy"), str(emb / "healthy.npy")]) == 0
    assert before[0].split()[:5] == ["file", "n", "dim", "verdict", "collapse_rank"]  # the header first
    assert before[1].split()[:5] == ["low.npy", "400", "8", "dimensional-collapse", "3"]  # before file 2 runs
    assert capsys.readouterr().out.split()[:4] == ["healthy.npy", "400", "8", "healthy"]
