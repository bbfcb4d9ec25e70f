"""infossl.diagnostics.geometry: alignment, uniformity, per-dimension spread, off-diagonal energy, variance fraction."""

import numpy as np
import pytest
import torch

from infossl.diagnostics import (
    alignment,
    dead_dimensions,
    dimension_std,
    normalized_std,
    offdiagonal_energy,
    uniformity,
    variance_fraction,
)


def test_alignment_and_uniformity_brute_force(rng):
    x = rng.standard_normal((60, 5))
    y = x + 0.2 * rng.standard_normal(x.shape)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    v = y / np.linalg.norm(y, axis=1, keepdims=True)
    assert alignment(x, y) == pytest.approx(np.mean(np.sum((u - v) ** 2, 1)), rel=1e-12)
    assert alignment(x, y, alpha=1) == pytest.approx(np.mean(np.linalg.norm(u - v, axis=1)), rel=1e-12)
    i, j = np.triu_indices(60, 1)
    ref = np.log(np.mean(np.exp(-2 * np.sum((u[i] - u[j]) ** 2, 1))))
    assert uniformity(x) == pytest.approx(ref, rel=1e-10)
    assert uniformity(x, chunk_size=7) == pytest.approx(ref, rel=1e-12)  # chunked == one-shot
    xt = torch.from_numpy(x)
    ref1 = np.log(np.mean(np.exp(-np.sum((u[i] - u[j]) ** 2, 1))))
    assert float(uniformity(xt, t=1)) == pytest.approx(ref1)
    assert uniformity(np.ones((10, 3))) == 0.0  # complete collapse


def test_normalized_std_and_per_dimension(rng):
    z = rng.standard_normal((20000, 64))
    # isotropic: each normalised coordinate has variance 1/d -> mean std 1/sqrt(d) (sampling error ~1e-3)
    assert normalized_std(z) == pytest.approx(1 / 8, rel=0.01)
    assert normalized_std(5 + 1e-9 * z[:100]) < 1e-9
    np.testing.assert_allclose(dimension_std(z[:50]), z[:50].std(0, ddof=1), rtol=1e-12)
    w = z[:100].copy()
    w[:, 3] = 7.0  # constant column
    w[:, 5] = 2.0 + 1e-7 * w[:, 5]  # varies by 1e-7 around 2
    assert dead_dimensions(w) == 2
    assert dead_dimensions(np.zeros((4, 3))) == 3


def test_offdiagonal_energy_and_variance_fraction(rng):
    assert offdiagonal_energy(rng.standard_normal((200000, 3)) * [1, 2, 3]) < 1e-3
    x = rng.standard_normal((100, 1))
    # all 4 columns copies of one signal: every entry of C equal -> off-diagonal share 12/16
    assert offdiagonal_energy(np.hstack([x] * 4)) == pytest.approx(0.75, rel=1e-12)
    c = np.full(8, 3.0)
    noise = rng.standard_normal((1000, 8)) * 1e-3
    noise -= noise.mean(0)
    tv = np.sum(noise.var(0))
    assert variance_fraction(c + noise) == pytest.approx(tv / (tv + 72.0), rel=1e-8)
    assert variance_fraction(noise) == pytest.approx(1.0, rel=1e-12)
    assert variance_fraction(np.zeros((3, 2))) == 0.0
