"""infossl.estimators.latent: latent MI on the embedded family, its options and errors, and its streamed
principal components (the auto route and the details=True result are tested in test_dispatch.py and test_details.py)."""

import numpy as np
import pytest
import torch

import infossl
from infossl.estimators import latent_mutual_information
from infossl.estimators.latent import MIN_RELATIVE_VARIANCE
from infossl.synthetic import embedded_gaussian_pair


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


# ------------------------------------------------------------------ streamed principal components (issue 11, item 7)
def _reference_whitened_scores(t, train, p, rng):
    """The previous one-shot whitening, written out: standardise all rows with the training statistics, take
    the training rows' leading principal directions (eigh, or the seeded subspace iteration above 512 dims)."""
    from infossl.linalg import column_std

    ref = t[train]
    std = column_std(ref)
    keep = (std > 0).squeeze(0)
    t, ref, std = t[:, keep], ref[:, keep], std[:, keep]
    zs = (t - ref.mean(dim=0, keepdim=True)) / std
    zc = zs[train]
    d = zs.shape[1]
    p = min(p, d, train.numel() - 2)
    if d <= 512 or p >= d // 2:
        vec = torch.linalg.eigh(zc.T @ zc)[1][:, -p:].flip(1)
    else:
        q = min(d, p + 10)
        basis = torch.linalg.qr(zc.T @ (zc @ torch.from_numpy(rng.standard_normal((d, q))).to(zc.dtype)))[0]
        for _ in range(3):
            basis = torch.linalg.qr(zc.T @ (zc @ basis))[0]
        proj = zc @ basis
        vec = (basis @ torch.linalg.eigh(proj.T @ proj)[1])[:, -p:].flip(1)
    s = zs @ vec
    var = s[train].var(dim=0, keepdim=True)
    good = (var > var.amax() * MIN_RELATIVE_VARIANCE).squeeze(0)
    return s[:, good] / var[:, good].sqrt()


def _same_up_to_column_signs(a, b):
    assert a.shape == b.shape
    signs = torch.sign((a * b).sum(dim=0))  # principal directions are defined up to sign
    torch.testing.assert_close(a * signs, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("d, constant", [(40, 0), (40, 3), (600, 0), (530, 25)])
def test_whitened_scores_chunked_equal_one_shot_and_reference(d, constant):
    from infossl.estimators.latent import whitened_scores

    gen = np.random.default_rng(d)
    x = np.tanh(gen.standard_normal((300, 3)) @ gen.standard_normal((3, d))) + 0.1 * gen.standard_normal((300, d))
    x[:, :constant] = 2.0  # constant columns are dropped (530 - 25 = 505: the eigh route after dropping)
    t = torch.from_numpy(x)
    train = torch.from_numpy(np.random.default_rng(0).permutation(300)[:150]).sort().values
    ref = _reference_whitened_scores(t, train, 16, np.random.default_rng(5))
    rows = 1 if d < 100 else 37  # one row per chunk (small d), ragged chunks (large d), then one chunk
    for budget in (8 * d * 3 * rows, 2**40):
        _same_up_to_column_signs(whitened_scores(t, train, 16, np.random.default_rng(5), memory_budget=budget), ref)


def test_latent_value_is_the_same_in_chunks(embedded):
    from infossl.estimators.latent import latent_parts

    _, x, y = embedded
    tx, ty = torch.from_numpy(x[:1500]), torch.from_numpy(y[:1500])
    one_shot = latent_parts(tx, ty, memory_budget=2**40)
    for budget in (8 * 64 * 3 * 50, 2**20):
        parts = latent_parts(tx, ty, memory_budget=budget)
        assert parts.latent_dim == one_shot.latent_dim
        assert float(parts.value) == pytest.approx(float(one_shot.value), rel=1e-10)
    assert float(one_shot.value) == pytest.approx(latent_mutual_information(x[:1500], y[:1500]), rel=1e-10)
    assert float(latent_mutual_information(tx, ty)) == pytest.approx(float(one_shot.value), rel=1e-10)


def test_tiny_principal_components_do_not_overfit_the_canonical_step():
    # k = 1: x holds u and smooth functions of it, so its principal variances fall to 1e-10 of the largest
    # within 16 components. Whitened, those fit tail events of the training rows: this draw read 0.16 nats
    # (truth 1.0) before the variance floor, and the training canonical correlation exceeded the population
    # maximum rho = sqrt(1 - e^-2) = 0.930 that no functions of a Gaussian pair can beat.
    pair = embedded_gaussian_pair(1, 64, mi=1.0, random_state=0)
    x, y = pair.sample(5000, random_state=3)
    assert abs(latent_mutual_information(x, y) - 1.0) < 0.1
    assert abs(latent_mutual_information(x, y, latent_dim=1) - 1.0) < 0.1
