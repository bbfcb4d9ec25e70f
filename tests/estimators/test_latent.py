"""Latent MI, the auto route on low-intrinsic-dimension data, and the details=True result."""
import json
import math
import warnings

import numpy as np
import pytest
import torch

import infossl
from infossl.estimators import EstimateResult, ReliabilityWarning, latent_mutual_information
from infossl.estimators.dispatch import auto_mi_route, is_manifold, manifold_dimension
from infossl.estimators.details import mi_kind
from infossl.estimators.embedded import embedded_gaussian_pair
from infossl.synthetic import make_family


@pytest.fixture(scope="module")
def embedded():
    pair = embedded_gaussian_pair(2, 64, mi=1.66, random_state=0)
    return pair, *pair.sample(3000, random_state=0)


def test_latent_mi_on_the_embedded_family(embedded):
    pair, x, y = embedded
    truth = pair.mutual_information()
    v = latent_mutual_information(x, y)
    assert abs(v - truth) <= max(0.1, 0.1 * truth)
    # the full-dimensional copula counts the tanh features as information
    assert infossl.mutual_information(x, y, method="copula") > 1.5 * truth


def test_latent_mi_is_deterministic_and_scale_invariant(embedded):
    _, x, y = embedded
    a = latent_mutual_information(x, y, latent_dim=2, random_state=3)
    assert latent_mutual_information(x, y, latent_dim=2, random_state=3) == a
    scale = np.linspace(0.5, 4.0, x.shape[1])
    assert latent_mutual_information(x * scale + 7.0, y, latent_dim=2, random_state=3) == pytest.approx(a, abs=1e-6)


def test_latent_mi_torch_and_estimators(embedded):
    _, x, y = embedded
    t = latent_mutual_information(torch.from_numpy(x), torch.from_numpy(y), latent_dim=2, estimator="gaussian")
    assert isinstance(t, torch.Tensor) and t.ndim == 0
    assert float(t) == pytest.approx(latent_mutual_information(x, y, latent_dim=2, estimator="gaussian"))


def test_latent_mi_bad_input(rng):
    x = rng.standard_normal((100, 5))
    with pytest.raises(ValueError, match="estimator"):
        latent_mutual_information(x, x, estimator="mine")
    with pytest.raises(ValueError, match="train_fraction"):
        latent_mutual_information(x, x, train_fraction=0.99)
    with pytest.raises(ValueError, match="at least 40"):
        latent_mutual_information(x[:30], x[:30])
    with pytest.raises(TypeError, match="latent_dim"):
        latent_mutual_information(x, x, latent_dim=2.5)
