"""infossl.synthetic.embedded_gaussian_pair: a correlated Gaussian latent pair embedded injectively in high dimension, with
exact MI."""
import math

import numpy as np
import pytest

from infossl.synthetic import EmbeddedGaussianPair, embedded_gaussian_pair
from infossl.synthetic import SplitMultinormal


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



@pytest.mark.parametrize("k, rho", [(1, 0.3), (3, -0.8), (5, 0.95)])
def test_exact_mi_is_the_gaussian_latent_mi(k, rho):
    pair = EmbeddedGaussianPair(k, 3 * k + 2, 2 * k + 1, rho)
    eye = np.eye(k)
    latent = SplitMultinormal(np.block([[eye, rho * eye], [rho * eye, eye]]), k)
    assert pair.mutual_information() == pytest.approx(latent.mutual_information(), rel=1e-12)
    assert pair.mutual_information() == pytest.approx(-0.5 * k * math.log(1 - rho ** 2), rel=1e-12)
    assert pair.intrinsic_dimension() == k
    # mi= inverts the formula
    assert embedded_gaussian_pair(k, 3 * k, mi=pair.mutual_information()).rho == pytest.approx(abs(rho))


def test_latent_sample_has_the_stated_correlation():
    pair = embedded_gaussian_pair(2, 8, rho=0.6)
    u, v = pair.latent_sample(20000, random_state=0)
    assert u.shape == v.shape == (20000, 2)
    c = np.corrcoef(np.concatenate([u, v], axis=1).T)
    assert np.allclose(np.diag(c, 2), 0.6, atol=0.02) and abs(c[0, 1]) < 0.03 and abs(c[0, 3]) < 0.03


def test_linear_warp_latent_is_an_exact_linear_function_of_x():
    # injectivity through the public surface: with warp="linear", u is the first k coordinates of Q^T x,
    # so least squares from x (plus an intercept) recovers u to rounding
    pair = embedded_gaussian_pair(3, 20, 12, rho=0.5)
    x, y = pair.sample(400, random_state=1)
    u, v = pair.latent_sample(400, random_state=1)
    for z, latent in ((x, u), (y, v)):
        design = np.concatenate([z, np.ones((len(z), 1))], axis=1)
        coef, *_ = np.linalg.lstsq(design, latent, rcond=None)
        assert np.abs(design @ coef - latent).max() < 1e-8
    # the covariance has full ambient rank: the tanh features are not linear in u
    assert np.linalg.matrix_rank(np.cov(x.T)) == 20


def test_embedding_seed_and_sample_seed_are_separate():
    a = embedded_gaussian_pair(2, 10, rho=0.5, random_state=0)
    b = embedded_gaussian_pair(2, 10, rho=0.5, random_state=0)
    c = embedded_gaussian_pair(2, 10, rho=0.5, random_state=1)
    assert np.array_equal(a.sample(5, random_state=3)[0], b.sample(5, random_state=3)[0])
    assert not np.allclose(a.sample(5, random_state=3)[0], c.sample(5, random_state=3)[0])
    assert np.array_equal(a.latent_sample(5, random_state=3)[0], c.latent_sample(5, random_state=3)[0])
    assert repr(a) == "EmbeddedGaussianPair(k=2, dim_x=10, dim_y=10, rho=0.5, warp='linear')"
    with pytest.raises(ValueError, match="warp"):
        EmbeddedGaussianPair(2, 10, 10, 0.5, warp="cubic")
