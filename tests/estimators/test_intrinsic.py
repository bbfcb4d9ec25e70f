"""TwoNN / Levina-Bickel intrinsic dimension."""

import numpy as np
import pytest
import torch

from infossl import DegenerateInputWarning
from infossl.estimators import intrinsic_dimension, mle_dimension, twonn_dimension
from infossl.synthetic import embedded_gaussian_pair
from infossl.estimators.intrinsic import calibrated_dimension, is_manifold, manifold_dimension


@pytest.mark.parametrize("k", [1, 2, 3])
def test_twonn_and_mle_on_linear_cube(k):
    rng = np.random.default_rng(k)
    u = rng.uniform(size=(2000, k))
    z = u @ rng.standard_normal((k, 60))  # a k-dimensional parallelepiped in R^60
    for est in (twonn_dimension(z), twonn_dimension(z, fit="mle"), mle_dimension(z)):
        assert abs(est.value - k) < 0.15 * k + 0.1, est


def test_twonn_invariances(rng):
    z = rng.standard_normal((1000, 4)) @ rng.standard_normal((4, 30))
    q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    a = twonn_dimension(z).value
    assert twonn_dimension(3.0 * z @ q + 5.0).value == pytest.approx(a, rel=1e-8)
    assert float(intrinsic_dimension(z, "mle")) == pytest.approx(mle_dimension(z).value)


def test_twonn_subsample_is_deterministic(rng):
    x, _ = embedded_gaussian_pair(3, 64, mi=1.0).sample(3000, random_state=0)
    a = twonn_dimension(x, max_samples=1000, random_state=4)
    b = twonn_dimension(x, max_samples=1000, random_state=4)
    assert a == b and a.n_used == 1000 and abs(a.value - 3) < 0.4


def test_intrinsic_dimension_bad_input(rng):
    z = rng.standard_normal((50, 3))
    with pytest.raises(ValueError, match="method"):
        intrinsic_dimension(z, "pca")
    with pytest.raises(ValueError, match="fit"):
        twonn_dimension(z, fit="ols")
    with pytest.raises(ValueError, match="k=20 needs more than 20"):
        mle_dimension(z[:10])
    with pytest.raises(ValueError, match="NaN|nan|finite"):
        twonn_dimension(np.full((10, 2), np.nan))


def test_duplicates_are_left_out_with_a_warning(rng):
    z = rng.standard_normal((200, 2))
    z = np.vstack([z, z[:10]])
    with pytest.warns(DegenerateInputWarning, match="duplicate"):
        est = twonn_dimension(z)
    assert est.n_used == 190 and abs(est.value - 2) < 0.5


def test_calibration_undoes_the_high_dimension_bias():
    assert calibrated_dimension(1.0, 2000) == 1
    raw = twonn_dimension(np.random.default_rng(0).standard_normal((2000, 12))).value
    assert raw < 11.5  # TwoNN is low here ...
    assert abs(calibrated_dimension(raw, 2000, random_state=1) - 12) <= 1  # ... the calibration is not


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunked_equals_one_shot(rng, chunk):
    # the neighbour search runs chunk rows at a time; the dimension does not depend on the chunking
    z = rng.standard_normal((300, 3)) @ rng.standard_normal((3, 10))
    for fn in (twonn_dimension, mle_dimension):
        one = fn(z, max_samples=None)
        chunked = fn(z, max_samples=None, chunk_size=chunk)
        assert chunked.value == pytest.approx(one.value, rel=1e-12, abs=1e-12), fn.__name__


def test_manifold_rule():
    assert not is_manifold(None, 5) and is_manifold(2.0, 4) and not is_manifold(2.1, 4) and not is_manifold(0.5, 1)
    assert manifold_dimension(torch.randn(49, 3, dtype=torch.float64)) is None  # under 50 rows
    assert manifold_dimension(torch.randn(200, 1, dtype=torch.float64)) is None  # d = 1
    circle = 6.0 * torch.rand(400, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ring = torch.stack([circle.cos(), circle.sin(), torch.zeros_like(circle) + 0.3 * circle.cos()], 1)
    dim = manifold_dimension(ring)  # a closed curve in R^3
    assert dim is not None and abs(dim - 1) < 0.3 and is_manifold(dim, 3)
