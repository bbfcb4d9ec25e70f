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


def test_details_result(embedded):
    pair, x, y = embedded
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReliabilityWarning)
        r = infossl.mutual_information(x, y, details=True)
    assert isinstance(r, EstimateResult) and r.method == "auto -> latent" and r.trusted
    assert r.kind.startswith("lower bound")
    lo, hi = r.interval
    assert lo <= r.value <= hi and lo <= pair.mutual_information() + 0.1 and hi >= pair.mutual_information() - 0.1
    names = [c.name for c in r.checks]
    assert names == ["stability n, n/2, n/4", "agreement", "log n ceiling", "intrinsic dimension"]
    d = json.loads(json.dumps(r.to_dict()))
    assert d["value"] == pytest.approx(float(r)) and d["trusted"] is True
    assert "latent" in str(r)


def test_details_warns_for_full_dimensional_method_on_manifold(embedded):
    _, x, y = embedded
    with pytest.warns(ReliabilityWarning, match="intrinsic dimension"):
        r = infossl.mutual_information(x[:1000], y[:1000], method="gaussian", details=True)
    assert not r.trusted and any("intrinsic dimension" in w for w in r.warnings)


def test_details_log_n_ceiling(rng):
    x, y = make_family("high-mi", 5, mi=8.0).sample(60, random_state=0)
    with pytest.warns(ReliabilityWarning, match="log n ceiling"):
        r = infossl.mutual_information(x, y, method="gaussian", details=True)
    assert r.value > math.log(60)


def test_copula_kind_is_a_lower_bound_only_in_one_dimension():
    assert mi_kind("copula", 1, 1) == "lower bound"
    assert mi_kind("copula", 2, 1) == "estimate"
    assert mi_kind("infonce", 5, 5) == "lower bound"


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
    good = (var > var.amax() * 1e-10).squeeze(0)
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
