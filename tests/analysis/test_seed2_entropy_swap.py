"""analysis/seed2_entropy_swap.py on tiny random stand-ins, so the CIFAR-10 (GPU) and MNIST paths cannot rot."""

import gzip
import importlib.util
import os
import pickle

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script():
    path = os.path.join(ROOT, "analysis", "seed2_entropy_swap.py")
    spec = importlib.util.spec_from_file_location("seed2_entropy_swap", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_cifar_batches(folder, rng, n_train=24, n_test=12):
    root = folder / "cifar-10-batches-py"
    root.mkdir()
    for name, n in (("data_batch_1", n_train), ("test_batch", n_test)):
        d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"labels": list(rng.integers(0, 10, n).astype(int))}
        with open(root / name, "wb") as fh:
            pickle.dump(d, fh)


def test_cifar10_standin_batches_runs_every_method_with_the_gpu_defaults(tmp_path):
    mod = _script()
    _fake_cifar_batches(tmp_path, np.random.default_rng(0))
    out = str(tmp_path / "res")
    table = mod.main(["--dataset", "cifar10", "--data-dir", str(tmp_path), "--quick", "--seeds", "1",
                      "--epochs", "1", "--batch-size", "8", "--widths", "8-16", "--projector", "32-32", "--out", out])
    assert list(table.method) == list(mod.METHODS)
    assert (table.n_seeds == 1).all()
    assert table.probe_clean_mean.between(0, 1).all()
    for suffix in ("_runs.csv", "_summary.csv", ".png"):
        assert os.path.exists(out + suffix)


def test_cifar10_standin_npz_hwc_uint8_and_default_architecture(tmp_path):
    mod = _script()
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "cifar10.npz", x_train=rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8),
             y_train=rng.integers(0, 10, 16), x_test=rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8),
             y_test=rng.integers(0, 10, 8))
    x, y, xt, yt = mod.load_cifar10(str(tmp_path))
    assert tuple(x.shape) == (16, 3, 32, 32) and float(x.max()) <= 1.0 and tuple(xt.shape) == (8, 3, 32, 32)
    table = mod.main(["--dataset", "cifar10", "--data-dir", str(tmp_path / "cifar10.npz"), "--quick",
                      "--seeds", "1", "--epochs", "1", "--batch-size", "8", "--methods", "vicreg,logdet",
                      "--out", str(tmp_path / "r")])
    assert list(table.method) == ["vicreg", "logdet"]


def test_missing_data_skips_cleanly(tmp_path, capsys):
    mod = _script()
    assert mod.main(["--dataset", "mnist", "--mnist-file", str(tmp_path / "none.whl")]).empty
    assert "MNIST skipped" in capsys.readouterr().out
    assert mod.main(["--dataset", "cifar10", "--data-dir", str(tmp_path)]).empty


def test_mnist_standin_csv(tmp_path):
    mod = _script()
    rng = np.random.default_rng(2)
    rows = np.c_[rng.integers(0, 256, (50, 784)), np.repeat(np.arange(10), 5)]
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as fh:
        np.savetxt(fh, rows, fmt="%d", delimiter=",")
    x, y, xt, yt = mod.load_mnist(str(path))
    assert tuple(x.shape[1:]) == (1, 14, 14) and len(x) + len(xt) == 50 and len(xt) == 10
    table = mod.main(["--dataset", "mnist", "--mnist-file", str(path), "--quick", "--epochs", "1",
                      "--batch-size", "8", "--methods", "vicreg,pairdist-bd", "--out", str(tmp_path / "m")])
    assert list(table.method) == ["vicreg", "pairdist-bd"]


@pytest.mark.gpu
def test_cifar10_standin_on_cuda(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    mod = _script()
    _fake_cifar_batches(tmp_path, np.random.default_rng(3))
    table = mod.main(["--dataset", "cifar10", "--data-dir", str(tmp_path), "--quick", "--epochs", "1",
                      "--batch-size", "8", "--device", "cuda", "--out", str(tmp_path / "g")])
    assert len(table) == len(mod.METHODS)
