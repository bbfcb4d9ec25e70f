"""TwoNN / Levina-Bickel intrinsic dimension, and the embedded family with exact MI."""
import math
import warnings

import numpy as np
import pytest
import torch

from infossl import DegenerateInputWarning
from infossl.estimators import intrinsic_dimension, mle_dimension, twonn_dimension
from infossl.estimators.embedded import EmbeddedGaussianPair, embedded_gaussian_pair
from infossl.estimators.latent import calibrated_dimension


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


def test_embedded_family_is_exact_and_injective():
    pair = embedded_gaussian_pair(3, 40, 50, rho=0.8, warp="wiggly", random_state=2)
    assert pair.mutual_information() == pytest.approx(-1.5 * math.log(1 - 0.64))
    assert embedded_gaussian_pair(4, 20, mi=2.5).mutual_information() == pytest.approx(2.5)
    x, y = pair.sample(500, random_state=0)
    u, v = pair.latent_sample(500, random_state=0)
    assert x.shape == (500, 40) and y.shape == (500, 50)
    head = x @ pair._maps[0][0][:, :3]  # Q^T x, first k coordinates = w(u)
    assert np.allclose(head, u + 0.45 * np.sin(2 * u))
    assert abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1] - 0.8) < 0.1
    with pytest.raises(ValueError, match="exactly one"):
        embedded_gaussian_pair(2, 10)
    with pytest.raises(ValueError, match="rho"):
        EmbeddedGaussianPair(2, 10, 10, 1.0)
    with pytest.raises(ValueError, match="dim_x"):
        EmbeddedGaussianPair(4, 3, 10, 0.5)
