"""infossl.estimators.dispatch: the method= facade and the auto rules. n << d (d = 10 000, n = 50) goes
through the n x n Gram route: fast, and a value or a clear error (issue 14)."""
import math
import time
import warnings

import numpy as np
import pytest
import torch

import infossl
from infossl import DegenerateInputWarning
from infossl.estimators import ReliabilityWarning, gaussian_entropy, ksg_mutual_information
from infossl.estimators.dispatch import (
    AUTO_KNN_MAX_DIM,
    LATENT_MIN_ROWS,
    auto_entropy_route,
    auto_mi_route,
    entropy_function,
    is_manifold,
    low_dimensional_sides,
    manifold_dimension,
    mi_function,
)
from infossl.synthetic import make_family


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(0)
    return rng.standard_normal((50, 10_000)), rng.standard_normal((50, 10_000))


def _timed(fn):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        out = fn()
    return out, time.perf_counter() - t0


def test_wide_entropy_is_fast(wide):
    z, _ = wide
    with pytest.raises(ValueError, match="bias_correction needs n > d"):
        infossl.entropy(z, method="gaussian")
    h, secs = _timed(lambda: infossl.entropy(z, method="gaussian", bias_correction=False))
    assert np.isfinite(h) and secs < 10
    # the Gram route gives the value of the (d, d) formula: compare on a smaller wide case
    small = z[:, :300]
    cov = np.cov(small.T) + 1e-6 * np.cov(small.T).diagonal().mean() * np.eye(300)
    exact = 0.5 * (300 * np.log(2 * np.pi * np.e) + np.linalg.slogdet(cov)[1])
    assert _timed(lambda: infossl.entropy(small, method="gaussian", bias_correction=False))[0] == pytest.approx(exact, rel=1e-9)
    for method in ("copula", "auto"):
        h, secs = _timed(lambda: infossl.entropy(z, method=method))
        assert np.isfinite(h) and secs < 20, (method, secs)


@pytest.mark.parametrize("method", ["gaussian", "copula", "auto"])
def test_wide_mi_is_fast_and_clear(wide, method):
    x, y = wide
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="more samples than dimensions"):
        infossl.mutual_information(x, y, method=method)
    assert time.perf_counter() - t0 < 20


def test_auto_routes(embedded):
    _, x, y = embedded
    route, info = auto_mi_route(torch.from_numpy(x), torch.from_numpy(y))
    assert route == "latent" and abs(info["id_x"] - 2) < 0.3
    for fam in ("gaussian", "collapsed"):  # full-dimensional and linear low-rank: unchanged rule
        a, b = make_family(fam, 25).sample(1000, random_state=0)
        assert auto_mi_route(torch.from_numpy(a), torch.from_numpy(b))[0] == "corrected-ksg"
    assert infossl.mutual_information(x, y) == pytest.approx(
        infossl.estimators.latent.latent_parts(torch.from_numpy(x), torch.from_numpy(y), id_x=info["id_x"],
                                            id_y=info["id_y"]).value.item())


def test_entropy_auto_warns_on_manifold_data(embedded):
    _, x, _ = embedded
    z = x[:800]
    assert is_manifold(manifold_dimension(torch.from_numpy(z)), 64)
    with pytest.warns(ReliabilityWarning, match="-inf"):
        infossl.entropy(z)
    with pytest.warns(ReliabilityWarning):
        r = infossl.entropy(z, details=True)
    assert r.kind == "undefined (manifold)"


def test_entropy_auto_is_quiet_on_full_dimensional_data(rng):
    z = rng.standard_normal((800, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReliabilityWarning)
        h = infossl.entropy(z)
        r = infossl.entropy(z, details=True)
    truth = 3 * math.log(2 * math.pi * math.e)
    assert abs(h - truth) < 0.15 and r.trusted and r.interval[0] <= h <= r.interval[1]



# ----------------------------------------------------------------------------------------- method table and rules
def test_method_names_resolve_to_the_public_functions_and_unknown_names_list_the_choices():
    assert entropy_function("gaussian") is gaussian_entropy and mi_function("ksg") is ksg_mutual_information
    with pytest.raises(ValueError, match=r"unknown entropy method 'nope'; choose one of .*'gaussian'.*'auto'"):
        entropy_function("nope")
    with pytest.raises(ValueError, match=r"unknown mutual-information method 'nope'; choose one of .*'auto'"):
        infossl.mutual_information(np.zeros((10, 1)), np.zeros((10, 1)), method="nope")


def test_named_method_equals_its_function(rng):
    x, y = rng.standard_normal((300, 2)), rng.standard_normal((300, 3))
    assert infossl.mutual_information(x, y, method="ksg", k=4) == ksg_mutual_information(x, y, k=4)
    assert infossl.entropy(x, method="gaussian") == gaussian_entropy(x)


def test_auto_rules_by_shape():
    small = torch.randn(100, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert auto_entropy_route(small) == "corrected-knn"
    assert auto_entropy_route(torch.zeros(100, AUTO_KNN_MAX_DIM + 1)) == "copula"  # too wide for k-NN
    assert auto_entropy_route(torch.zeros(10, 20)) == "copula"  # n <= d
    # MI: under LATENT_MIN_ROWS rows no intrinsic dimension is measured; few dims -> corrected-ksg
    x = torch.randn(LATENT_MIN_ROWS - 1, 20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert low_dimensional_sides(x, x) == {"id_x": None, "id_y": None, "low_x": False, "low_y": False}
    route, info = auto_mi_route(x[:, :2], x[:, 2:4])
    assert route == "corrected-ksg" and info["id_x"] is None
    assert auto_mi_route(x[:19, :1], x[:19, 1:2])[0] == "copula"  # under 20 rows: no k-NN
    w = torch.randn(60, AUTO_KNN_MAX_DIM + 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert auto_mi_route(w[:, :65], w[:, 65:])[0] == "copula"  # dx + dy > AUTO_KNN_MAX_DIM


def test_manifold_rule():
    assert not is_manifold(None, 5) and is_manifold(2.0, 4) and not is_manifold(2.1, 4) and not is_manifold(0.5, 1)
    assert manifold_dimension(torch.randn(49, 3, dtype=torch.float64)) is None  # under 50 rows
    assert manifold_dimension(torch.randn(200, 1, dtype=torch.float64)) is None  # d = 1
    circle = 6.0 * torch.rand(400, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ring = torch.stack([circle.cos(), circle.sin(), torch.zeros_like(circle) + 0.3 * circle.cos()], 1)
    dim = manifold_dimension(ring)  # a closed curve in R^3
    assert dim is not None and abs(dim - 1) < 0.3 and is_manifold(dim, 3)
