"""infossl.io.detect: telling model checkpoints from embeddings files without unpickling."""

import numpy as np
import torch
from torch import nn

from infossl.io.detect import is_checkpoint, is_torchscript_archive
from infossl.io.train_format import checkpoint_dict, save_checkpoint, save_safetensors


def test_is_checkpoint_tells_models_from_embeddings(tmp_path):
    from safetensors.torch import save_file

    model = nn.Linear(3, 2)
    ck = checkpoint_dict(model, config={"model": {}}, epoch=1, step=2)
    save_checkpoint(ck, tmp_path / "c.pt")
    save_safetensors(ck, tmp_path / "c.safetensors")
    save_file({"z": torch.randn(5, 3)}, str(tmp_path / "emb.safetensors"))
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"model": nn.Linear(2, 2).state_dict()}, tmp_path / "entry.pt")
    torch.save(torch.randn(5, 3), tmp_path / "emb.pt")
    (tmp_path / "weights.ckpt").write_bytes(b"anything")
    (tmp_path / "torn.pt").write_bytes((tmp_path / "c.pt").read_bytes()[:100])
    np.save(tmp_path / "emb.npy", np.zeros((4, 2)))
    models = ["c.pt", "c.safetensors", "legacy.pt", "entry.pt", "weights.ckpt"]
    others = ["emb.safetensors", "emb.pt", "torn.pt", "emb.npy", "missing.pt"]
    assert [is_checkpoint(tmp_path / f) for f in models] == [True] * len(models)
    assert [is_checkpoint(tmp_path / f) for f in others] == [False] * len(others)


def test_torchscript_archives_are_recognised_without_loading(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated upstream
        torch.jit.script(nn.Linear(2, 2)).save(str(tmp_path / "scripted.pt"))
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "plain.pt")
    assert is_torchscript_archive(tmp_path / "scripted.pt") and is_checkpoint(tmp_path / "scripted.pt")
    assert not is_torchscript_archive(tmp_path / "plain.pt")
    (tmp_path / "notzip.pt").write_bytes(b"PK\x03\x04 torn")
    assert not is_torchscript_archive(tmp_path / "notzip.pt")
