"""infossl.diagnostics.checkpoints: models run on data, a layer captured, one report per checkpoint."""

import json

import numpy as np
import pytest
import torch

from infossl.diagnostics.checkpoints import CheckpointTrajectory, diagnose_checkpoints
from infossl.io.inputs import load_data
from infossl.models import load_factory

SPEC = {"backbone": "mlp", "input_shape": [64], "widths": "32", "projector": "16"}

def ssl_checkpoint(path, epoch, collapse=None, seed=0):
    """Write an ``infossl train`` checkpoint; ``collapse``: None, "dimensional" (2 live units), "complete"."""
    from infossl.io.train_format import checkpoint_dict, save_checkpoint
    from infossl.models import build_model

    model = build_model(SPEC, generator=torch.Generator().manual_seed(seed))
    bn = model.backbone.net[1]  # BatchNorm1d(32) after the first Linear
    with torch.no_grad():
        bn.running_var.fill_(1.0)
        bn.bias.fill_(0.5)  # positive shift: the ReLU keeps every unit alive
        if collapse == "dimensional":
            bn.weight[2:] = 0.0  # 30 of 32 units output the constant relu(0.5)
        elif collapse == "complete":
            bn.weight.zero_()
    save_checkpoint(checkpoint_dict(model, config={"model": SPEC}, epoch=epoch, step=10 * epoch), path)
    return model


# ----------------------------------------------------------------------------------------- trajectories
def test_infossl_checkpoints_trajectory(tmp_path):
    paths = [tmp_path / f"ckpt_epoch{e:03d}.pt" for e in range(3)]
    for e, (p, c) in enumerate(zip(paths, [None, "dimensional", "complete"])):
        ssl_checkpoint(p, e, c)
    traj = diagnose_checkpoints(paths, progress=False)
    assert isinstance(traj, CheckpointTrajectory) and traj.layer == "backbone" and traj.epochs == [0, 1, 2]
    assert [r.verdict for r in traj.reports] == ["healthy", "dimensional-collapse", "complete-collapse"]
    assert traj.reports[1].collapse_rank == 2 and all(r.dim == 32 and r.n == 445 for r in traj.reports)
    table = traj.table
    assert list(table["checkpoint"]) == [p.name for p in paths] and list(table["step"]) == [0, 10, 20]
    assert list(table["verdict"]) == [r.verdict for r in traj.reports]
    record = json.loads(traj.to_json(tmp_path / "traj.json"))
    assert record == json.loads((tmp_path / "traj.json").read_text())
    assert [c["epoch"] for c in record["checkpoints"]] == [0, 1, 2] and record["data"].startswith(
        "digits (test"
    )
    assert "| ckpt\\_epoch001.pt | 1 | dimensional-collapse | 2 | 32 |" in traj.to_markdown()
    fig = traj.plot(tmp_path / "traj.png")
    assert (tmp_path / "traj.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 3  # the metrics, the spectra, their colour bar


def test_same_model_diagnosed_like_its_embeddings(tmp_path):
    from infossl.diagnostics.diagnosis import diagnose

    model = ssl_checkpoint(tmp_path / "c.pt", 0)
    x, y, _ = load_data("digits")
    with torch.no_grad():
        z = model.eval().backbone(x).numpy()  # (445, 32)
        out = model(x).numpy()  # (445, 16)
    traj = diagnose_checkpoints([tmp_path / "c.pt"], progress=False, batch_size=100)
    ref = diagnose(z, labels=y)
    # float32 forward and float32 Gram products with other batchings: agreement to ~1e-6 of the top eigenvalue
    np.testing.assert_allclose(traj.reports[0].spectrum, ref.spectrum, rtol=1e-4, atol=1e-5 * ref.spectrum[0])
    assert traj.reports[0].verdict == ref.verdict
    projector = diagnose_checkpoints(tmp_path / "c.pt", layer="output", progress=False)
    assert projector.layer == "output" and projector.reports[0].dim == 16
    top = projector.reports[0].spectrum[0]
    np.testing.assert_allclose(
        projector.reports[0].spectrum, diagnose(out).spectrum, rtol=1e-4, atol=1e-5 * top
    )


def test_factory_and_plain_state_dicts(tmp_path, factory_module):
    torch.manual_seed(0)
    net = load_factory(f"{factory_module}:build")()
    torch.save(
        {"model_state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}, "epoch": 5},
        tmp_path / "plain.pt",
    )
    x = torch.rand(300, 1, 8, 8)
    traj = diagnose_checkpoints(
        tmp_path / "plain.pt", model=f"{factory_module}:build", data=x, progress=False
    )
    assert traj.layer == "output" and traj.reports[0].dim == 6 and traj.epochs == [5]
    hidden = diagnose_checkpoints(
        tmp_path / "plain.pt", model=f"{factory_module}:build", data=x, layer="2", progress=False
    )
    assert hidden.reports[0].dim == 12  # the ReLU after Linear(64, 12)
    with pytest.raises(
        ValueError, match=r"holds only weights .*model='package.module:factory' \(command line: --model\)"
    ):
        diagnose_checkpoints(tmp_path / "plain.pt", data=x, progress=False)
    with pytest.raises(
        ValueError,
        match=r"does not match the model. Keys not in the model \(2\): 3.weight, 3.bias; "
        r"other shapes \(2\): 1.weight: checkpoint \(12, 64\) vs model \(20, 64\)",
    ):
        diagnose_checkpoints(
            tmp_path / "plain.pt", model=f"{factory_module}:Nets.wide", data=x, progress=False
        )


def test_torchscript_checkpoint(tmp_path):
    model = ssl_checkpoint(tmp_path / "c.pt", 0)
    torch.jit.script(model.backbone).save(str(tmp_path / "scripted.pt"))
    with pytest.raises(ValueError, match="TorchScript archive"):  # code: refused unless trusted
        diagnose_checkpoints(tmp_path / "scripted.pt", progress=False)
    with pytest.warns(UserWarning, match="TorchScript"):
        traj = diagnose_checkpoints(tmp_path / "scripted.pt", trust=True, progress=False)
    ref = diagnose_checkpoints(tmp_path / "c.pt", progress=False)
    assert traj.layer == "output" and traj.reports[0].verdict == ref.reports[0].verdict
    top = ref.reports[0].spectrum[0]
    np.testing.assert_allclose(traj.reports[0].spectrum, ref.reports[0].spectrum, rtol=1e-4, atol=1e-5 * top)
    with pytest.raises(ValueError, match="TorchScript models do not run Python forward hooks"):
        diagnose_checkpoints(tmp_path / "scripted.pt", layer="net.0", trust=True, progress=False)
    with pytest.raises(ValueError, match=r"running scripted.pt on the data failed.*\(20x5 and 64x32\)"):
        diagnose_checkpoints(
            tmp_path / "scripted.pt", data=np.zeros((20, 5), dtype=np.float32), trust=True, progress=False
        )


def test_malicious_checkpoint_never_runs(tmp_path):
    marker = tmp_path / "MARKER"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    ssl_checkpoint(tmp_path / "good.pt", 0)
    torch.save({"state_dict": {"w": torch.ones(1)}, "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="refused to load .*evil.pt"):
        diagnose_checkpoints([tmp_path / "good.pt", tmp_path / "evil.pt"], progress=False)
    assert not marker.exists()


# ----------------------------------------------------------------------------------------- pieces


def test_safetensors_train_checkpoint(tmp_path):
    from infossl.io.train_format import checkpoint_dict, save_safetensors

    model = ssl_checkpoint(tmp_path / "c.pt", 3)
    record = checkpoint_dict(model, config={"model": SPEC}, epoch=3, step=30)
    save_safetensors(record, tmp_path / "c.safetensors")
    traj = diagnose_checkpoints([tmp_path / "c.pt", tmp_path / "c.safetensors"], progress=False)
    assert traj.epochs == [3, 3] and traj.kinds == ["infossl", "infossl"]
    np.testing.assert_array_equal(traj.reports[0].spectrum, traj.reports[1].spectrum)  # the same weights


def test_lightning_checkpoint_with_prefixes_diagnoses_like_the_bare_weights(tmp_path, factory_module):
    from tests.io.test_safe_load import _save_with_fake_class

    torch.manual_seed(0)
    net = load_factory(f"{factory_module}:build")()
    torch.save(net.state_dict(), tmp_path / "bare.pt")
    _save_with_fake_class(tmp_path / "last.ckpt", lambda AttributeDict: {
        "state_dict": {**{f"model.backbone.{k}": v for k, v in net.state_dict().items()},
                       "model.projector.weight": torch.zeros(3, 6)},
        "hyper_parameters": AttributeDict(lr=0.1), "epoch": 7, "global_step": 70},
        "lightning.fabric.utilities.data", "AttributeDict")
    x = torch.rand(200, 1, 8, 8)
    bare = diagnose_checkpoints(tmp_path / "bare.pt", model=f"{factory_module}:build", data=x, progress=False)
    light = diagnose_checkpoints(tmp_path / "last.ckpt", model=f"{factory_module}:build", data=x, progress=False)
    assert light.epochs == [7] and light.reports[0].as_dict() == bare.reports[0].as_dict()
    notes = light.as_dict()["checkpoints"][0]["notes"]
    assert any("AttributeDict" in n for n in notes)
    assert any("stripped the prefix 'model.backbone.'" in n and "model.projector.weight" in n for n in notes)


def test_timm_and_hugging_face_model_sources(tmp_path):
    timm = pytest.importorskip("timm")
    net = timm.create_model("resnet18", pretrained=False)
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in net.state_dict().items()}}, tmp_path / "r.pt")
    traj = diagnose_checkpoints(tmp_path / "r.pt", model="timm:resnet18", data=torch.rand(16, 3, 32, 32),
                                progress=False)
    assert traj.reports[0].dim == 1000 and "stripped the prefix 'backbone.'" in traj.notes[0][0]


def test_model_source_errors(tmp_path):
    with pytest.raises(ValueError, match="needs a model name"):
        load_factory("timm:")
    with pytest.raises(ValueError, match="not a directory"):
        load_factory(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(ValueError, match="no config.json"):
        load_factory(f"hf:{tmp_path}")


def test_iter_checkpoint_reports_yields_what_diagnose_checkpoints_collects(tmp_path):
    paths = [tmp_path / f"ckpt_epoch{e:03d}.pt" for e in range(2)]
    for e, p in enumerate(paths):
        ssl_checkpoint(p, e, "complete" if e else None)
    from infossl.diagnostics.checkpoints import iter_checkpoint_reports

    results = iter_checkpoint_reports(paths, progress=False)
    first = next(results)  # the first result comes before the second checkpoint has run
    assert first.path == str(paths[0]) and first.epoch == 0 and first.layer == "backbone"
    rest = list(results)
    traj = CheckpointTrajectory.of_results([first, *rest])
    assert [r.verdict for r in traj.reports] == ["healthy", "complete-collapse"]
    assert traj.paths == [str(p) for p in paths] and traj.epochs == [0, 1] and traj.layer == "backbone"


def test_trajectory_plot_is_readable_at_many_checkpoints():
    # at 41 checkpoints: no colour key for the epochs, a legend over the collapse_rank line, unlabelled bands
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from infossl.diagnostics.diagnosis import diagnose

    rng = np.random.default_rng(0)
    reports = [diagnose(rng.standard_normal((200, 6)) * np.r_[np.ones(6 - e // 4), np.zeros(e // 4)])
               for e in range(16)]
    epochs = list(range(0, 32, 2))
    traj = CheckpointTrajectory([f"c{e}.pt" for e in epochs], reports, epochs, epochs, "backbone", "data")
    fig = traj.plot()
    ax, spectra, bar = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"collapse_rank", "verdict: healthy", "verdict: dimensional-collapse"} <= set(labels)
    assert bar.get_ylabel() == "epoch" and bar.get_ylim() == (0.0, 30.0)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    assert legend_box.y1 <= ax.get_window_extent(renderer).y0  # below the axes: it covers no line
