"""``infossl train`` end to end on tiny settings: table, JSON, run folder, errors."""

import json

import pytest

from infossl.cli import main
from infossl.io.safe_load import read_training_checkpoint
from infossl.models import model_from_checkpoint

TINY = ["--epochs", "1", "--steps-per-epoch", "1", "--widths", "4-8", "--projector", "16-16", "--batch-size", "64",
        "--quiet"]


def test_table_and_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out), "--save-format", "safetensors"]) == 0
    text = capsys.readouterr().out
    assert "infossl train: info-vicreg (logdet entropy) on digits, seed 0" in text
    assert "linear probe, augmented test set" in text and "raw inputs, augmented" in text
    for name in ("metrics.jsonl", "last.pt", "ckpt_epoch000.pt", "ckpt_epoch001.pt", "ckpt_epoch001.safetensors",
                 "config.json", "summary.json", "curves.png"):
        assert (out / name).exists(), name
    ck = read_training_checkpoint(out / "ckpt_epoch001.pt")
    assert ck["config"]["options"] == {} and ck["config"]["objective"] == "info-vicreg"
    _, config = model_from_checkpoint(out / "ckpt_epoch001.safetensors")
    assert config["model"]["widths"] == "4-8"
    # running again into the same folder needs --resume or --overwrite
    assert main(["train", *TINY, "--out", str(out)]) == 1
    assert "already holds a run; pass --resume" in capsys.readouterr().err
    assert main(["train", *TINY, "--out", str(out), "--overwrite"]) == 0
    assert main(["train", *TINY, "--out", str(out), "--resume", "--overwrite"]) == 1
    assert "exclude each other" in capsys.readouterr().err


def test_json_and_coefficients(tmp_path, capsys):
    assert main(["train", *TINY, "--objective", "vicreg", "--std-coeff", "0", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 1 and "probe_augmented" in summary and "invariance" in summary
    assert json.loads((tmp_path / "config.json").read_text())["options"] == {"std_coeff": 0.0}


def test_default_out_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *TINY, "--objective", "barlow", "--seed", "3"]) == 0
    assert (tmp_path / "runs" / "barlow-seed3" / "last.pt").exists()


@pytest.mark.parametrize("args, match", [
    (["--temperature", "0.1"],
     "temperature=0.1 does not apply to objective 'info-vicreg' \\(it applies to simclr, cissl\\)"),
    (["--objective", "barlow", "--entropy", "gaussian"],
     "entropy='gaussian' does not apply to objective 'barlow' \\(it applies to info-vicreg\\)"),
    (["--objective", "vicreg", "--alpha", "1"], "alpha=1.0 does not apply to objective 'vicreg' \\(it applies to "
                                                "info-vicreg, vicreg-logdet, vicreg-pairdist, byol-logdet\\)"),
    (["--objective", "vicreg", "--student", "16"],
     "student=16 does not apply to .*\\(it applies to cissl, dissl\\)"),
    (["--objective", "simclr", "--predictor", "16-16"],
     "predictor='16-16' does not apply to .*byol, byol-logdet"),
    (["--objective", "byol", "--predictor", "16-8"], "must end with the projector's output size 16"),
    (["--objective", "byol", "--momentum", "1.5"], "momentum must be in"),
    (["--objective", "vicreg", "--std-coeff", "-1"], "std_coeff must be in"),
    (["--option", "beta"], "--option expects NAME=VALUE, got 'beta'"),
    (["--beta", "2", "--option", "beta=3"], "beta given both as a flag and as --option"),
    (["--augment", "rotation=abc"], "augment rotation must be a real number"),
    (["--augment", "blur=1"], "unknown augmentation option"),
    (["--epochs", "0"], "epochs must be >= 1, got 0"),
    (["--data", "missing.npy"], "no such file"),
    (["--resume"], "--resume found no intact checkpoint"),
])
def test_errors_are_one_line(tmp_path, capsys, args, match):
    import re

    assert main(["train", *TINY, "--out", str(tmp_path / "r"), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("infossl: error:") and re.search(match, err), err


@pytest.mark.parametrize("objective", ["vicreg-logdet", "vicreg-pairdist", "byol", "byol-logdet"])
def test_the_papers_variants_train_two_epochs(tmp_path, capsys, objective):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--probe-every", "5", "--objective", objective,
                 "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 2 and ("regression" in summary) == objective.startswith("byol")
    assert ("entropy_a" in summary) == (objective != "byol")
    config = json.loads((out / "config.json").read_text())
    assert config["entropy"] is None and config["objective"] == objective  # nothing recorded that is not used
    assert (config["predictor"] == "16-16") == objective.startswith("byol")
    assert [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [0, 1, 2]
    model, _ = model_from_checkpoint(out / "ckpt_epoch002.pt")
    assert (model.target is not None) == objective.startswith("byol")


def test_diverged_run_exits_1(tmp_path, capsys, monkeypatch):
    from infossl.training import run
    from infossl.training.engine import NonFiniteLossError

    def boom(*a, **k):
        raise NonFiniteLossError("the loss became nan at epoch 2, step 7; the last good checkpoint is x")

    monkeypatch.setattr(run, "train", boom)
    assert main(["train", *TINY, "--out", str(tmp_path)]) == 1
    assert "the loss became nan at epoch 2" in capsys.readouterr().err


def test_usage_error_is_2(capsys):
    assert main(["train", "--objective", "mocov3"]) == 2


def test_user_vectors_and_images(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    np.save(tmp_path / "x.npy", rng.normal(size=(200, 10)) + y[:, None])
    np.save(tmp_path / "y.npy", y)
    args = ["train", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "32", "--projector", "16", "--quiet"]
    assert main([*args, "--data", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"),
                 "--out", str(tmp_path / "vec"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["probe_clean"] > 0.5  # three shifted Gaussian classes; chance is 1/3
    cfg = json.loads((tmp_path / "vec" / "config.json").read_text())
    assert cfg["model"]["backbone"] == "mlp" and cfg["model"]["input_shape"] == [10]
    np.save(tmp_path / "img.npy", rng.random((120, 3, 6, 6)).astype(np.float32))
    assert main([*args, "--data", str(tmp_path / "img.npy"), "--widths", "4-8", "--out", str(tmp_path / "img")]) == 0
    text = capsys.readouterr().out
    assert "on " + str(tmp_path / "img.npy") in text and "linear probe" not in text  # no labels, no probe
    assert json.loads((tmp_path / "img" / "config.json").read_text())["model"]["input_shape"] == [3, 6, 6]
