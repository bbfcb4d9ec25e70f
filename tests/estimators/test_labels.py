"""Label information I(Z; Y): Ross's kNN estimator for multivariate Z and the class-conditional Gaussian model,
against values known in closed form or by quadrature."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import infossl
from infossl import DegenerateInputWarning
from infossl.estimators.labels import (check_labels, gaussian_label_information_bounds,
                                       gaussian_label_mutual_information, knn_label_mutual_information,
                                       label_mutual_information)


def two_gaussians_mi(delta: float) -> float:
    """I(Z; Y) for Y ~ Bernoulli(1/2), Z | Y ~ N(+-delta/2 e_1, I_d): log 2 - E[h(posterior)], by quadrature
    along the separating axis (the other coordinates carry nothing)."""
    def integrand(x):
        p = 0.5 * (stats.norm.pdf(x, -delta / 2) + stats.norm.pdf(x, delta / 2))
        a = stats.norm.pdf(x, -delta / 2) / (2 * p)
        h = -(a * np.log(a) if a > 0 else 0.0) - ((1 - a) * np.log(1 - a) if a < 1 else 0.0)
        return p * h
    cond, _ = integrate.quad(integrand, -delta / 2 - 12, delta / 2 + 12, limit=200)
    return math.log(2) - cond


def gaussian_classes(n, delta, d, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    z = rng.standard_normal((n, d))
    z[:, 0] += delta * (y - 0.5)
    return z, y


@pytest.mark.parametrize("delta", [1.0, 2.5])
def test_two_gaussian_classes_match_quadrature(delta):
    truth = two_gaussians_mi(delta)
    z, y = gaussian_classes(6000, delta, 3)
    assert knn_label_mutual_information(z, y, k=5) == pytest.approx(truth, abs=0.03)
    assert gaussian_label_mutual_information(z, y) == pytest.approx(truth, abs=0.02)
    assert gaussian_label_mutual_information(z, y, covariance="shared", folds=3) == pytest.approx(truth, abs=0.02)
    lo, hi, h = gaussian_label_information_bounds(z, y)
    assert lo - 0.02 <= truth <= hi + 0.02 and hi <= h + 1e-12


def test_euclidean_metric_and_rotation():
    truth = two_gaussians_mi(2.0)
    z, y = gaussian_classes(5000, 2.0, 2, seed=1)
    rot = stats.special_ortho_group.rvs(2, random_state=0)
    v = knn_label_mutual_information(z @ rot.T, y, metric="euclidean", standardize=False)
    assert v == pytest.approx(truth, abs=0.04)


def test_independent_labels_give_about_zero():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((4000, 6))
    y = rng.integers(0, 5, 4000)
    assert abs(knn_label_mutual_information(z, y)) < 0.02
    assert abs(gaussian_label_mutual_information(z, y, covariance="shared")) < 0.01
    # cross-fitted: a lower bound, so about 0 or slightly below (full covariances overfit on the training folds)
    assert -0.05 < gaussian_label_mutual_information(z, y, folds=4) < 0.005


def test_injective_code_gives_label_entropy():
    rng = np.random.default_rng(3)
    p = np.array([0.5, 0.25, 0.125, 0.125])
    y = rng.choice(4, size=2400, p=p)
    codes = rng.standard_normal((4, 16)) * 10.0
    z = codes[y] + 1e-3 * rng.standard_normal((2400, 16))  # a deterministic injective code plus tiny noise
    counts = np.bincount(y)
    h_plugin = float(-(counts / counts.sum() * np.log(counts / counts.sum())).sum())
    assert knn_label_mutual_information(z, y) == pytest.approx(h_plugin, abs=2e-3)
    assert gaussian_label_mutual_information(z, y) == pytest.approx(h_plugin, abs=1e-6)
    assert h_plugin == pytest.approx(float(-(p * np.log(p)).sum()), abs=0.03)
    with pytest.raises(ValueError, match="exact copies"):
        knn_label_mutual_information(codes[y], y)  # exact atoms: undefined for continuous z
    with pytest.warns(DegenerateInputWarning, match="jitter"):
        v = knn_label_mutual_information(codes[y], y, duplicates="jitter", random_state=0)
    assert v == pytest.approx(h_plugin, abs=2e-3)


def test_torch_input_stays_a_tensor_and_dispatch():
    z, y = gaussian_classes(1000, 2.0, 2)
    t = torch.tensor(z, dtype=torch.float32)
    out = label_mutual_information(t, torch.tensor(y), method="knn")
    assert isinstance(out, torch.Tensor) and out.ndim == 0 and out.dtype == torch.float32
    assert float(out) == pytest.approx(knn_label_mutual_information(z, y), abs=1e-4)
    assert infossl.label_mutual_information(z, y, method="gaussian") == gaussian_label_mutual_information(z, y)
    g = label_mutual_information(t.double(), y, method="gaussian")
    assert isinstance(g, torch.Tensor) and g.dtype == torch.float64


def test_chunking_does_not_change_the_knn_value():
    z, y = gaussian_classes(700, 1.5, 4)
    assert knn_label_mutual_information(z, y, chunk_size=37) == pytest.approx(
        knn_label_mutual_information(z, y), abs=1e-12)


def test_string_labels_are_refused_and_relabelling_changes_nothing():
    z, y = gaussian_classes(800, 2.0, 2)
    with pytest.raises(TypeError, match="integer class labels .* got string values"):
        knn_label_mutual_information(z, np.array(["cat", "dog"])[y])
    codes = np.array([7, -3])[y]
    assert knn_label_mutual_information(z, codes) == knn_label_mutual_information(z, 1 - y)
    assert gaussian_label_mutual_information(z, codes) == pytest.approx(
        gaussian_label_mutual_information(z, 1 - y))


def test_collapsed_directions_are_dropped():
    z, y = gaussian_classes(3000, 2.0, 2)
    padded = np.hstack([z, np.zeros((3000, 3)), z[:, :1] * 2.0])  # constant and linearly dependent columns
    assert gaussian_label_mutual_information(padded, y) == pytest.approx(gaussian_label_mutual_information(z, y),
                                                                         abs=1e-9)


def test_bad_input():
    z, y = gaussian_classes(100, 1.0, 2)
    with pytest.raises(ValueError, match="one entry per row"):
        label_mutual_information(z, y[:-1])
    with pytest.raises(ValueError, match="1-D"):
        label_mutual_information(z, y.reshape(-1, 1))
    with pytest.raises(TypeError, match="non-integer"):
        label_mutual_information(z, y + 0.5)
    with pytest.raises(ValueError, match="NaN"):
        label_mutual_information(z, np.where(y == 0, np.nan, 1.0))
    with pytest.raises(ValueError, match="more than 3 rows in every class"):
        label_mutual_information(z, np.r_[np.zeros(98), [1, 1]])
    with pytest.raises(ValueError, match="NaN"):
        label_mutual_information(np.where(z > 1, np.nan, z), y)
    with pytest.raises(ValueError, match="method"):
        label_mutual_information(z, y, method="mine")
    with pytest.raises(ValueError, match="singular"):
        gaussian_label_mutual_information(np.random.default_rng(0).standard_normal((40, 30)),
                                          np.arange(40) % 4, covariance="full")
    with pytest.raises(TypeError, match="k must be an integer"):
        knn_label_mutual_information(z, y, k=2.5)
    with pytest.warns(DegenerateInputWarning, match="single class"):
        assert knn_label_mutual_information(z, np.zeros(100, int)) == 0.0
    with pytest.raises(TypeError, match="got boolean values"):
        check_labels([True, False, True], 3)
    classes, codes, counts = check_labels([1.0, 0.0, 1.0], 3)
    assert list(counts) == [1, 2] and list(codes) == [1, 0, 1]


def test_gaussian_label_information_of_wide_z_takes_the_gram_route():
    from tests.diagnostics._data import entry_budget

    rng = np.random.default_rng(0)
    z = rng.standard_normal((20, 2000))
    y = np.arange(20) % 2
    infossl.label_mutual_information(z[:, :30], y, method="gaussian", covariance="shared", ridge=0.1)
    with entry_budget(2000 * 2000 // 4):
        value = infossl.label_mutual_information(z, y, method="gaussian", covariance="shared", ridge=0.1)
    assert math.isfinite(value)


def test_gaussian_label_information_gram_route_equals_covariance_route():
    from infossl.estimators.labels import _coordinates

    rng = np.random.default_rng(1)
    z = rng.standard_normal((30, 45)) * np.linspace(0.5, 2, 45)  # d > n: the Gram route
    y = np.arange(30) % 3
    x = _coordinates(torch.from_numpy(z)).numpy()  # (30, 29): d <= n, the covariance route
    assert x.shape == (30, 29)
    for covariance, ridge in (("shared", 0.1), ("full", 0.5)):
        wide = infossl.label_mutual_information(z, y, method="gaussian", covariance=covariance, ridge=ridge)
        narrow = infossl.label_mutual_information(x, y, method="gaussian", covariance=covariance, ridge=ridge)
        assert wide == pytest.approx(narrow, rel=1e-10)
    bw = gaussian_label_information_bounds(z, y, covariance="shared", ridge=0.1)
    bn = gaussian_label_information_bounds(x, y, covariance="shared", ridge=0.1)
    assert bw.lower == pytest.approx(bn.lower, rel=1e-10) and bw.upper == pytest.approx(bn.upper, rel=1e-10)


def test_auto_covariance_takes_shared_for_small_classes():
    # 40 rows a class at d = 64: a class covariance is singular, so "auto" pools them (the LDA model) and
    # gives the value of covariance="shared"; with large classes it is the per-class (QDA) value.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 40)
    z = rng.standard_normal((200, 64)) + 3.0 * np.eye(5, 64)[y]
    auto = gaussian_label_mutual_information(z, y)
    assert auto == pytest.approx(gaussian_label_mutual_information(z, y, covariance="shared"), rel=1e-12)
    assert 0 < auto <= np.log(5) + 0.05
    big = np.repeat(np.arange(2), 400)
    zb = rng.standard_normal((800, 4)) + np.eye(2, 4)[big]
    assert gaussian_label_mutual_information(zb, big) == pytest.approx(
        gaussian_label_mutual_information(zb, big, covariance="full"), rel=1e-12)
    lower, upper, _ = gaussian_label_information_bounds(z, y)
    assert 0 <= lower <= upper
    with pytest.raises(ValueError, match="covariance"):
        gaussian_label_mutual_information(z, y, covariance="diag")
