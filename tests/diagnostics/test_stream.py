"""infossl.diagnostics.stream: a file streamed in chunks gives the report of the whole array."""

import io
import os

import numpy as np
import pandas as pd
import pytest
import torch

from infossl.diagnostics.accumulator import MomentAccumulator
from infossl.diagnostics.stream import accumulate_path, diagnose_path, show_progress
from tests._ranks import run_ranks


@pytest.fixture
def z(rng):
    """Low rank + noise: 6 strong directions in 10 dimensions, shifted mean, float64 (n, d) = (600, 10)."""
    basis = rng.standard_normal((6, 10))
    return rng.standard_normal((600, 6)) @ basis + 0.01 * rng.standard_normal((600, 10)) + 3.0


def one_shot(z, **kw):
    return MomentAccumulator(sample_size=kw.pop("sample_size", 2048), random_state=0).update(z)


# ----------------------------------------------------------------------------------------- accumulate
@pytest.mark.parametrize("fmt", ["npy", "npz", "pt", "safetensors", "csv", "parquet"])
@pytest.mark.parametrize("chunk_rows", [7, 600, None])
def test_streamed_moments_equal_one_shot(tmp_path, z, fmt, chunk_rows):
    path = tmp_path / f"z.{fmt}"
    if fmt == "npy":
        np.save(path, z)
    elif fmt == "npz":
        np.savez_compressed(path, z=z)
    elif fmt == "pt":
        torch.save(torch.from_numpy(z), path)
    elif fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({"z": torch.from_numpy(z)}, str(path))
    else:
        df = pd.DataFrame(z, columns=[f"f{i}" for i in range(10)])
        df.to_csv(path, index=False, float_format="%.17g") if fmt == "csv" else df.to_parquet(path)
    acc = accumulate_path(path, chunk_rows=chunk_rows, progress=False)
    ref = one_shot(z)
    assert acc.n == 600 and acc.dim == 10
    # float64 sums over 600 rows: chunking changes the summation order only (~1e-13 relative)
    np.testing.assert_allclose(acc.mean.numpy(), ref.mean.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(acc.covariance.numpy(), ref.covariance.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(acc.covariance.numpy(), np.cov(z, rowvar=False), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(acc.normalized_var.numpy(), ref.normalized_var.numpy(), rtol=1e-10, atol=1e-12)


def test_shards_are_concatenated(tmp_path, z):
    for i, part in enumerate(np.array_split(z, 3)):
        np.save(tmp_path / f"shard{i}.npy", part)
    acc = accumulate_path([tmp_path / f"shard{i}.npy" for i in range(3)], chunk_rows=50, progress=False)
    assert acc.n == len(z)
    np.testing.assert_allclose(acc.covariance.numpy(), np.cov(z, rowvar=False), rtol=1e-10, atol=1e-10)
    np.save(tmp_path / "narrow.npy", z[:, :3])
    with pytest.raises(
        ValueError, match=r"different numbers of columns \(.*shard0.npy: 10, .*narrow.npy: 3\)"
    ):
        accumulate_path([tmp_path / "shard0.npy", tmp_path / "narrow.npy"])


def test_float32_file_is_accumulated_in_float32(tmp_path, z):
    np.save(tmp_path / "z32.npy", z.astype(np.float32))
    acc = accumulate_path(tmp_path / "z32.npy", chunk_rows=64, progress=False)
    assert acc.input_dtype == torch.float32
    # products in float32 on chunk-centred rows: relative error ~ sqrt(n) * 6e-8 per entry
    np.testing.assert_allclose(
        acc.covariance.numpy(),
        np.cov(z.astype(np.float32).astype(np.float64), rowvar=False),
        rtol=1e-4,
        atol=1e-4,
    )


def test_existing_accumulator_is_continued(tmp_path, z):
    np.save(tmp_path / "a.npy", z[:300])
    np.save(tmp_path / "b.npy", z[300:])
    acc = accumulate_path(tmp_path / "a.npy", progress=False)
    same = accumulate_path(tmp_path / "b.npy", accumulator=acc, progress=False)
    assert same is acc and acc.n == 600
    np.testing.assert_allclose(acc.covariance.numpy(), np.cov(z, rowvar=False), rtol=1e-10, atol=1e-10)
    with pytest.raises(TypeError, match="accumulator must be a MomentAccumulator, got dict"):
        accumulate_path(tmp_path / "a.npy", accumulator={})


def test_bad_input_names_the_file(tmp_path, z):
    z = z.copy()
    z[123, 4] = np.nan
    np.save(tmp_path / "nan.npy", z)
    with pytest.raises(ValueError, match=r"nan.npy \(rows from 0 on\): .*NaN or infinite.*row 123.*column 4"):
        accumulate_path(tmp_path / "nan.npy", chunk_rows=50, progress=False)
    with pytest.raises(ValueError, match="paths is empty"):
        accumulate_path([])
    with pytest.raises(TypeError, match="paths must be a path or a sequence of paths, got 3"):
        accumulate_path(3)
    with pytest.raises(ValueError, match="chunk_rows must be >= 1, got 0"):
        accumulate_path(tmp_path / "nan.npy", chunk_rows=0)
    with pytest.raises(TypeError, match="progress must be True, False or None, got 'yes'"):
        accumulate_path(tmp_path / "nan.npy", progress="yes")
    with pytest.raises(FileNotFoundError, match="no such file"):
        accumulate_path([tmp_path / "nan.npy", tmp_path / "missing.npy"])  # checked before the pass


def test_progress_bar_only_on_a_terminal(tmp_path, z, monkeypatch, capsys):
    np.save(tmp_path / "z.npy", z)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert not show_progress(None, 10**9)  # pytest's stderr is not a terminal
    assert show_progress(True, 1) and not show_progress(False, 10**9)
    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    assert show_progress(None, 10**9) and show_progress(None, None) and not show_progress(None, 100)
    accumulate_path(tmp_path / "z.npy", chunk_rows=100, progress=True)
    assert "600/600" in fake.getvalue() or "600" in fake.getvalue()
    fake.truncate(0)
    accumulate_path(tmp_path / "z.npy", chunk_rows=100, progress=False)
    assert fake.getvalue() == ""


# ----------------------------------------------------------------------------------------- diagnose
def test_diagnose_path_equals_in_memory_diagnose(tmp_path, z):
    from infossl.diagnostics.diagnosis import diagnose

    np.save(tmp_path / "z.npy", z)
    streamed = diagnose_path(tmp_path / "z.npy", chunk_rows=37, progress=False)
    whole = diagnose(z)
    assert streamed.verdict == whole.verdict and streamed.collapse_rank == whole.collapse_rank
    assert (streamed.n, streamed.dim) == (600, 10)
    np.testing.assert_allclose(streamed.spectrum, whole.spectrum, rtol=1e-8, atol=1e-10)
    a, b = streamed.as_dict(), whole.as_dict()
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float):  # summation order only: float64 agreement to ~1e-9 relative
            assert a[k] == pytest.approx(b[k], rel=1e-7, abs=1e-9, nan_ok=True), k
        else:
            assert a[k] == b[k], k


def test_diagnose_path_with_labels_and_views(tmp_path, z, rng):
    from infossl.diagnostics.diagnosis import diagnose

    labels = rng.integers(0, 3, size=len(z))
    view = z + 0.1 * rng.standard_normal(z.shape)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "y.npy", labels)
    np.save(tmp_path / "v.npy", view)
    streamed = diagnose_path(
        tmp_path / "z.npy", views=[tmp_path / "v.npy"], labels=tmp_path / "y.npy", progress=False
    )
    whole = diagnose(z, views=[z, view], labels=labels)
    assert streamed.verdict == whole.verdict
    assert streamed.as_dict().keys() == whole.as_dict().keys() and "lidar" in streamed.as_dict()
    assert streamed["lidar"] == pytest.approx(whole["lidar"], rel=1e-9)  # the views are the same arrays
    with pytest.raises(ValueError, match="views need a single embeddings file"):
        diagnose_path([tmp_path / "z.npy", tmp_path / "z.npy"], views=[tmp_path / "v.npy"], progress=False)
    with pytest.raises(
        ValueError, match=r"labels must have shape \(600,\), one entry per row; got 5 entries"
    ):
        diagnose_path(tmp_path / "z.npy", labels=np.zeros(5), progress=False)


def test_diagnose_path_verdicts(tmp_path, rng):
    constant = np.full((500, 8), 2.0) + 1e-9 * rng.standard_normal((500, 8))
    np.save(tmp_path / "constant.npy", constant)
    assert (
        diagnose_path(tmp_path / "constant.npy", chunk_rows=64, progress=False).verdict == "complete-collapse"
    )
    healthy = rng.standard_normal((500, 8))
    np.save(tmp_path / "healthy.npy", healthy)
    assert diagnose_path(tmp_path / "healthy.npy", chunk_rows=64, progress=False).verdict == "healthy"
    low = rng.standard_normal((500, 2)) @ rng.standard_normal((2, 8)) + 1e-6 * rng.standard_normal((500, 8))
    np.save(tmp_path / "low.npy", low)
    report = diagnose_path(tmp_path / "low.npy", chunk_rows=64, progress=False)
    assert report.verdict == "dimensional-collapse" and report.collapse_rank == 2
    np.save(tmp_path / "one.npy", healthy[:1])
    with pytest.raises(ValueError, match="n=1|at least 2|2 rows|2 samples"):
        diagnose_path(tmp_path / "one.npy", progress=False)


# ----------------------------------------------------------------------------------------- distributed
def _rank_main(rank, shards, out_dir):
    acc = accumulate_path(shards, chunk_rows=40, progress=False, distributed=True)
    np.save(os.path.join(out_dir, f"cov{rank}.npy"), acc.covariance.numpy())
    np.save(os.path.join(out_dir, f"n{rank}.npy"), np.array([acc.n]))


@pytest.mark.slow  # spawns two processes that import torch: ~5-13 s on the 2-core box
def test_distributed_shards_equal_one_process(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((600, 6)) @ rng.standard_normal((6, 10)) + 3.0  # (600, 10)
    shards = []
    for i, part in enumerate(np.array_split(z, 3)):  # 3 shards on 2 ranks: rank 0 reads two of them
        shards.append(str(tmp_path / f"shard{i}.npy"))
        np.save(shards[-1], part)
    run_ranks(_rank_main, tmp_path, shards, str(tmp_path))
    for rank in range(2):
        assert int(np.load(tmp_path / f"n{rank}.npy")[0]) == len(z)
        np.testing.assert_allclose(np.load(tmp_path / f"cov{rank}.npy"), np.cov(z, rowvar=False), rtol=1e-10,
                                   atol=1e-10)  # float64 sums merged in another order


def test_distributed_needs_a_process_group(tmp_path, z):
    np.save(tmp_path / "z.npy", z)
    with pytest.raises(ValueError, match="distributed=True needs an initialised torch.distributed"):
        accumulate_path(tmp_path / "z.npy", distributed=True)
    with pytest.raises(TypeError, match="distributed must be True or False, got 1"):
        accumulate_path(tmp_path / "z.npy", distributed=1)
    with pytest.raises(ValueError, match="cannot be used with distributed=True"):
        diagnose_path(tmp_path / "z.npy", labels=np.zeros(600), distributed=True)


def test_the_pass_chunk_budget_lives_in_backend():
    from infossl import _backend
    from infossl.diagnostics.stream import PASS_CHUNK_BYTES

    assert PASS_CHUNK_BYTES == _backend.PASS_CHUNK_BYTES == 128 * 2**20


def test_wide_file_forms_no_d_by_d_matrix(tmp_path):
    from ._data import entry_budget

    z = np.random.default_rng(0).standard_normal((20, 2000)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    diagnose_path(str(tmp_path / "z.npy"), progress=False)  # the lazy imports, outside the budget
    with entry_budget(2000 * 2000 // 4):
        report = diagnose_path(str(tmp_path / "z.npy"), progress=False)
    assert report.n == 20 and report.dim == 2000
