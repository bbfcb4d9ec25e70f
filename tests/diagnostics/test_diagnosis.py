"""infossl.diagnostics.diagnosis: diagnose / diagnose_statistics -- one mechanism (the report's numbers are the
metric functions' numbers), streaming == in-memory, torch == numpy, views and labels, and error paths."""

import math

import numpy as np
import pytest
import torch

from infossl.diagnostics import (MomentAccumulator, alignment, alpha_req, dead_dimensions, diagnose,
                                 diagnose_statistics, effective_rank, invariance_ratio, lidar, nc1, nesum,
                                 normalized_std, offdiagonal_energy, rankme, stable_rank, uniformity,
                                 variance_fraction)
import infossl
from infossl.estimators import gaussian_entropy, gaussian_mutual_information
from infossl.synthetic import embedded_gaussian_pair


@pytest.fixture
def z(rng):
    return rng.standard_normal((600, 12)) @ rng.standard_normal((12, 12)) + 1.5


def test_report_numbers_are_the_metric_functions(z):
    r = diagnose(z)  # n = 600 <= sample_size: the sample is all rows
    assert r.n == 600 and r.dim == 12 and r.spectrum.shape == (12,)
    np.testing.assert_allclose(r.spectrum, np.linalg.eigvalsh(np.cov(z, rowvar=False))[::-1], rtol=1e-9)
    for name, ref in [("rankme", rankme(z)), ("effective_rank", effective_rank(z)), ("nesum", nesum(z)),
                      ("stable_rank", stable_rank(z)), ("alpha_req", alpha_req(z)),
                      ("normalized_std", normalized_std(z)), ("variance_fraction", variance_fraction(z)),
                      ("offdiagonal_energy", offdiagonal_energy(z)), ("uniformity", uniformity(z)),
                      ("gaussian_entropy", gaussian_entropy(z, bias_correction=False))]:
        # eigvalsh of the accumulated covariance vs SVD of the data: agreement to ~1e-12 relative
        assert r[name] == pytest.approx(ref, rel=1e-8), name
    assert r["dead_dimensions"] == dead_dimensions(z) == 0


def test_streaming_equals_in_memory(z):
    acc = MomentAccumulator(sample_size=2048)
    for start in range(0, 600, 77):
        acc.update(z[start:start + 77])
    a, b = diagnose(z), diagnose_statistics(acc)
    assert a.verdict == b.verdict and a.collapse_rank == b.collapse_rank
    for name in a.metrics.index:
        assert b[name] == pytest.approx(a[name], rel=1e-9, abs=1e-12), name
    np.testing.assert_allclose(b.spectrum, a.spectrum, rtol=1e-10)


def test_torch_input_same_report(z):
    a, b = diagnose(z), diagnose(torch.from_numpy(z))
    assert (a.verdict, a.collapse_rank) == (b.verdict, b.collapse_rank)
    for name in ("rankme", "nesum", "variance_fraction"):
        assert b[name] == pytest.approx(a[name], rel=1e-12)


def test_views_and_labels_metrics(rng):
    x = rng.standard_normal((300, 6))
    views = np.stack([x + 0.2 * rng.standard_normal(x.shape) for _ in range(2)], axis=1)
    labels = rng.integers(0, 4, 300)
    z = views[:, 0]
    r = diagnose(z, views=views, labels=labels)
    assert r["lidar"] == pytest.approx(lidar(views), rel=1e-12)
    assert r["alignment"] == pytest.approx(alignment(views[:, 0], views[:, 1]), rel=1e-12)
    assert r["mi_views"] == pytest.approx(float(infossl.mutual_information(views[:, 0], views[:, 1])), rel=1e-12)
    assert r["mi_views_gaussian"] == pytest.approx(gaussian_mutual_information(views[:, 0], views[:, 1]),
                                                   rel=1e-12)
    assert r["invariance_ratio"] == pytest.approx(invariance_ratio(views), rel=1e-12)
    assert r["nc1"] == pytest.approx(nc1(z, labels), rel=1e-10)
    assert r["n_classes"] == 4 and r["class_mean_rank"] == 3
    assert r["cover_fraction"] == 1.0 and 0 <= r["separability_fraction"] <= 1
    # Not enough rows for the Gaussian MI of 2 x 6 dimensions: NaN plus a note, not an exception.
    small = diagnose(z[:10], views=views[:10])
    assert math.isnan(small["mi_views_gaussian"]) and any("needs more samples" in s for s in small.reasons)
    assert math.isnan(small["mi_views"])  # n < 20: "auto" is the copula route, with the same limit


def test_view_mi_is_right_on_a_curved_low_dimensional_embedding():
    """The case of issue 11: views that are injective nonlinear embeddings of a 2-D Gaussian pair in 64
    dimensions. The Gaussian figure counts every nonlinear feature as information; "auto" does not."""
    pair = embedded_gaussian_pair(2, 64, mi=1.66, random_state=0)
    x, y = pair.sample(1500, random_state=1)
    r = diagnose(x, views=np.stack([x, y], axis=1))
    truth = pair.mutual_information()
    assert "route: latent" in r.metrics.loc["mi_views", "description"]
    assert abs(r["mi_views"] - truth) <= max(0.1, 0.1 * truth)
    assert r["mi_views_gaussian"] > 1.5 * truth


def test_one_other_view_is_taken_as_the_cli_takes_it(tmp_path):
    # diagnose(z, views=z2) raised; the CLI's --views z2.npy is the natural form
    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 6))
    z2 = z + 0.3 * rng.standard_normal(z.shape)
    np.save(tmp_path / "z2.npy", z2)
    expected = diagnose(z, views=np.stack([z, z2], axis=1))
    for views in (z2, tmp_path / "z2.npy", str(tmp_path / "z2.npy"), [tmp_path / "z2.npy"]):
        r = diagnose(z, views=views)
        for name in ("lidar", "alignment", "mi_views", "invariance_ratio"):
            assert r[name] == pytest.approx(expected[name], rel=1e-12), (views, name)
    with pytest.raises(ValueError, match="must have z's 300 rows"):
        diagnose(z, views=z2[:200])


def test_mi_views_above_log_n_says_so():
    # the MiniLM case: Gaussian MI of near-identical wide views far above log n, printed bare
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200, 40))
    r = diagnose(z, views=z + 1e-3 * rng.standard_normal(z.shape))
    desc = r.metrics.loc["mi_views_gaussian", "description"]
    assert r["mi_views_gaussian"] > np.log(200) and "above log n = 5.3" in desc and "McAllester" in desc
    assert any(s.startswith("views: ") and "mi_views_gaussian = " in s and "log n" in s for s in r.reasons)
    assert "route: " in r.metrics.loc["mi_views", "description"]
    low = diagnose(z, views=rng.standard_normal(z.shape))  # independent views: MI near 0, no caveat
    assert "log n" not in low.metrics.loc["mi_views", "description"]
    assert "log n" not in low.metrics.loc["mi_views_gaussian", "description"]


def test_errors(rng):
    z = rng.standard_normal((10, 3))
    bad = z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="z contains 1 NaN and 0 infinite values \\(first at row 3"):
        diagnose(bad)
    with pytest.raises(ValueError, match="needs at least 2 rows and 1 column to diagnose; got shape \\(1, 3"):
        diagnose(z[:1])
    with pytest.raises(ValueError, match="z must be 2-D"):
        diagnose(np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="diagnosis needs at least 2 rows, the accumulator has n=1"):
        diagnose_statistics(MomentAccumulator().update(z[:1]))
    with pytest.raises(TypeError, match="acc must be a MomentAccumulator"):
        diagnose_statistics(z)
    with pytest.raises(ValueError, match="labels must have shape \\(10,\\), one entry per row"):
        diagnose(z, labels=np.zeros(9))
    with pytest.raises(ValueError, match="views needs at least 2 views"):
        diagnose(z, views=[z])
    with pytest.raises(ValueError, match="eps must be in"):
        diagnose(z, eps=-1.0)


def test_float32_input_matches_float64(z):
    a, b = diagnose(z), diagnose(z.astype(np.float32))
    assert (a.verdict, a.collapse_rank) == (b.verdict, b.collapse_rank)
    for name in ("rankme", "effective_rank", "nesum", "variance_fraction", "normalized_std"):
        # float32 rounding of the input (relative 6e-8) and of the chunk products: ~1e-6 relative
        assert b[name] == pytest.approx(a[name], rel=1e-5), name


def test_label_metrics_use_the_aligned_sample(rng):
    z = rng.standard_normal((1000, 5))
    labels = rng.integers(0, 3, 1000)
    z += 3.0 * labels[:, None]  # classes shifted along the diagonal
    acc = MomentAccumulator(sample_size=100, random_state=4)
    for start in range(0, 1000, 128):
        acc.update(z[start:start + 128])
    r = diagnose_statistics(acc, labels=labels)
    idx = acc.sample_index
    assert r["nc1"] == pytest.approx(nc1(acc.sample.numpy(), labels[idx]), rel=1e-10)
    assert any("uniform sample of 100 of the 1000 rows" in s for s in r.reasons)


def test_chunk_rows_is_the_one_name(z):
    ref, chunked = diagnose(z).metrics["value"], diagnose(z, chunk_rows=7).metrics["value"]
    numeric = [k for k in ref.index if isinstance(ref[k], float) and math.isfinite(ref[k])]
    assert len(numeric) > 5 and np.allclose([chunked[k] for k in numeric], [ref[k] for k in numeric], rtol=1e-9)
    with pytest.raises(TypeError, match="chunk_size"):
        diagnose(z, chunk_size=7)


@pytest.mark.parametrize("shape", [(40, 60), (30, 200)])
def test_wide_data_route_equals_the_accumulator(rng, shape):
    """n < d in memory: the n x n Gram route gives the accumulator's report (every metric, labels included)."""
    z = rng.standard_normal(shape) @ rng.standard_normal((shape[1], shape[1])) * 0.1 + 2
    y = rng.integers(0, 3, shape[0])
    wide = diagnose(z, labels=y)
    streamed = diagnose_statistics(MomentAccumulator(shape[1]).update(z), labels=y)
    a, b = wide.metrics["value"], streamed.metrics["value"]
    assert list(a.index) == list(b.index) and wide.verdict == streamed.verdict
    for k in a.index:
        if isinstance(a[k], float) and math.isfinite(a[k]):
            assert a[k] == pytest.approx(b[k], rel=1e-8, abs=1e-10), k
        else:
            assert a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]), k
    np.testing.assert_allclose(wide.spectrum, streamed.spectrum, rtol=1e-8, atol=1e-12)


def test_very_wide_data_is_diagnosed_without_a_d_by_d_matrix(rng):
    report = diagnose(rng.standard_normal((50, 10_000)))  # ~0.5 s; the d x d route took ~170 s here
    assert report.verdict == "healthy" and report.collapse_rank == 49 and report.dim == 10_000


def test_bad_labels_views_and_sample_size_are_named(z):
    y = np.zeros(len(z))
    y[5] = np.nan
    with pytest.raises(ValueError, match=r"labels contain 1 NaN or infinite entries \(first at row 5\)"):
        diagnose(z, labels=y)
    with pytest.raises(TypeError, match="labels must be integer class labels .* got complex"):
        diagnose(z, labels=np.ones(len(z), dtype=complex))
    with pytest.raises(ValueError, match="z has d=12 columns but the views have 5"):
        diagnose(z, views=np.zeros((30, 2, 5)) + np.arange(5))
    with pytest.raises(ValueError, match="sample_size must be >= 2, got 0"):
        diagnose(z, sample_size=0)


def test_label_information_is_reported_against_its_ceiling(rng):
    y = np.repeat(np.arange(4), 150)
    separated = rng.standard_normal((600, 6)) + 8.0 * np.eye(6)[y]
    shuffled = rng.standard_normal((600, 6))
    good = diagnose(separated, labels=y).metrics["value"]
    none = diagnose(shuffled, labels=y).metrics["value"]
    assert good["label_entropy"] == pytest.approx(math.log(4))
    assert good["label_information"] == pytest.approx(math.log(4), abs=0.1)  # classes fully recoverable
    assert abs(none["label_information"]) < 0.15  # plug-in fit: a small positive bias of order params / n


def test_intrinsic_dimension_is_reported(rng):
    u = rng.uniform(-1, 1, (1500, 2))
    curved = np.column_stack([u, np.sin(3 * u), np.cos(2 * u), u[:, :1] * u[:, 1:]])  # a 2-D sheet in R^7
    report = diagnose(curved)
    assert report.metrics["value"]["intrinsic_dimension"] == pytest.approx(2.0, abs=0.4)
    assert report.collapse_rank > 3  # the linear rank sees more directions than the sheet has


# ------------------------------------------------------------------------------- memory: n < d and mmap
def test_wide_diagnose_with_views_forms_no_d_by_d_matrix():
    from ._data import entry_budget, wide_pair

    z, z2 = wide_pair()
    diagnose(z[:, :30], views=[z[:, :30], z2[:, :30]])  # the lazy imports, outside the budget
    with entry_budget(2000 * 2000 // 4):
        report = diagnose(z, views=[z, z2])
    assert report.n == 20 and math.isfinite(report["lidar"])


def test_wide_diagnose_gram_route_equals_covariance_route():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((15, 40)) @ np.diag(np.linspace(0.2, 3, 40))
    wide = MomentAccumulator(sample_size=4, random_state=0).update(z)
    dense = MomentAccumulator(sample_size=4, random_state=0).update(z)
    _ = dense.covariance  # the dense sums: eigendecompositions of the d x d matrices
    assert wide.rows is not None and dense.rows is None
    a, b = diagnose_statistics(wide), diagnose_statistics(dense)
    np.testing.assert_allclose(a.spectrum, b.spectrum, rtol=0, atol=1e-10 * b.spectrum[0])
    for name in ("rankme", "rankme_centered", "effective_rank", "stable_rank", "nesum", "gaussian_entropy",
                 "total_variance", "variance_fraction", "normalized_std", "offdiagonal_energy"):
        assert a[name] == pytest.approx(b[name], rel=1e-10, abs=1e-12), name


def test_memory_mapped_input_is_read_chunk_by_chunk(tmp_path, monkeypatch):
    from infossl.diagnostics import diagnosis

    from ._data import entry_budget

    z = np.random.default_rng(4).standard_normal((40000, 8)).astype(np.float32)
    path = tmp_path / "z.npy"
    np.save(path, z)
    released = []
    real = diagnosis._mapped_pages

    def spy(a):
        release = real(a)
        return None if release is None else lambda sl: (released.append((sl.start, sl.stop)), release(sl))

    monkeypatch.setattr(diagnosis, "_mapped_pages", spy)
    diagnose(z[:10], sample_size=16)
    with entry_budget(40000 * 8 // 4):  # no (n, d) temporary (the whole-array finite check made one)
        report = diagnose(np.load(path, mmap_mode="r"), chunk_rows=5000, sample_size=16)
    assert sorted(released) == [(s, s + 5000) for s in range(0, 40000, 5000)]
    in_memory = diagnose(z, chunk_rows=5000, sample_size=16)
    assert report["rankme"] == pytest.approx(in_memory["rankme"], rel=1e-12)


def test_copy_on_write_maps_are_not_released(tmp_path):
    from infossl.diagnostics.diagnosis import _mapped_pages

    np.save(tmp_path / "z.npy", np.ones((10, 3)))
    assert _mapped_pages(np.load(tmp_path / "z.npy", mmap_mode="c")) is None
    assert _mapped_pages(np.ones((10, 3))) is None
    assert _mapped_pages(np.load(tmp_path / "z.npy", mmap_mode="r")) is not None


def test_mi_views_of_repeated_rows_says_what_was_measured():
    # rows that repeat exactly: the auto MI warns (what it measures); the report keeps that as a note
    rng = np.random.default_rng(0)
    base = rng.standard_normal((40, 3))
    idx = rng.integers(0, 40, size=400)
    z = base[idx]
    views = np.stack([z, z + 0.0], axis=1)
    report = diagnose(z, views=views)
    assert any("repeat" in r for r in report.reasons), report.reasons
