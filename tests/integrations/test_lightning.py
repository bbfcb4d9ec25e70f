"""The Lightning callback on a real Trainer (skipped without Lightning): values logged through log_dict and a
JSON-lines file, equal to infossl.diagnose on the same embeddings."""

import json

import numpy as np
import pytest
import torch

pl = pytest.importorskip("lightning.pytorch")

import infossl  # noqa: E402
from infossl.integrations import InfoSSLCallback, JSONLinesLogger  # noqa: E402

X = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
Y = torch.arange(300) % 3


class Encoder(pl.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(8, 5)

    def training_step(self, batch, batch_idx):
        x, y = batch
        z1, z2 = self.net(x), self.net(x + 0.1 * torch.randn_like(x))
        loss = (z1 - z2).pow(2).mean() - z1.var(dim=0).mean()
        return {"loss": loss, "embeddings": z1.detach(), "views": (z1.detach(), z2.detach()), "labels": y}

    def validation_step(self, batch, batch_idx):
        x, y = batch
        return {"embeddings": self.net(x), "labels": y}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loader():
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=64)


def trainer(callback):
    return pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, callbacks=[callback])


def test_validation_values_equal_diagnose(tmp_path):
    path = tmp_path / "infossl.jsonl"
    cb = InfoSSLCallback(labels="labels", loggers=[JSONLinesLogger(path)])
    model = Encoder()
    t = trainer(cb)
    t.validate(model, loader(), verbose=False)
    with torch.no_grad():
        z = model.net(X)
    ref = infossl.diagnose(z, labels=Y.numpy()).as_dict()
    assert cb.last["infossl/verdict"] == ref["verdict"]
    for key in ("rankme", "effective_rank", "uniformity", "nc1", "gaussian_entropy"):
        assert cb.last[f"infossl/{key}"] == pytest.approx(ref[key], rel=1e-5), key
        assert float(t.callback_metrics[f"infossl/{key}"]) == pytest.approx(ref[key], rel=1e-5), key
    assert "infossl/label_information" in t.callback_metrics
    row = json.loads(path.read_text().splitlines()[-1])
    assert row["infossl/verdict"] == ref["verdict"] and row["step"] == 0


def test_train_stage_with_views():
    cb = InfoSSLCallback(stage="train", views="views", labels="labels", label_information=None)
    t = trainer(cb)
    t.fit(Encoder(), loader())
    assert cb.last["infossl/n"] == 300
    for key in ("mi_views_gaussian", "alignment", "invariance_ratio", "lidar", "verdict_code"):
        assert f"infossl/{key}" in t.callback_metrics, key
    assert np.isfinite(cb.last["infossl/mi_views_gaussian"])


class Separable(Encoder):
    """Labels that a linear probe and a k-NN classifier can read off the embeddings."""

    def __init__(self):
        super().__init__()
        with torch.no_grad():
            self.net.weight.copy_(torch.eye(5, 8))
            self.net.bias.zero_()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)  # a fixed encoder: the probe alone learns


def separable_loader():
    y = torch.arange(300) % 3
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(1)) + 6.0 * torch.eye(3, 8)[y]
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=50)


def test_online_probe_and_knn_accuracy():
    cb = InfoSSLCallback(labels="labels", num_classes=3, probe_lr=0.05, knn=True, knn_k=5)
    t = pl.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, callbacks=[cb],
                   num_sanity_val_steps=0)
    t.fit(Separable(), separable_loader(), separable_loader())
    assert cb.last["infossl/knn_accuracy"] > 0.95 and cb.last["infossl/probe_accuracy"] > 0.9
    assert float(t.callback_metrics["infossl/knn_accuracy"]) == pytest.approx(cb.last["infossl/knn_accuracy"])
    assert cb.knn.classifier.size == 300  # this epoch's training embeddings
    assert "infossl/rankme" in cb.last
    with pytest.raises(ValueError, match="need labels"):
        InfoSSLCallback(knn=True)


def test_bad_options():
    with pytest.raises(ValueError, match="stage"):
        InfoSSLCallback(stage="test")
    with pytest.raises(ValueError, match="every_n_epochs"):
        InfoSSLCallback(every_n_epochs=0)
    with pytest.raises(TypeError, match="callable"):
        InfoSSLCallback(loggers=[1])
