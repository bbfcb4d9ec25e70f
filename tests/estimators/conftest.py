"""Fixtures shared by the estimator tests."""
import pytest

from infossl.synthetic import embedded_gaussian_pair


@pytest.fixture(scope="module")
def embedded():
    """The embedded Gaussian pair (2 latent pairs in 64 + 64 dims, 1.66 nats) and 3000 of its rows."""
    pair = embedded_gaussian_pair(2, 64, mi=1.66, random_state=0)
    return pair, *pair.sample(3000, random_state=0)
