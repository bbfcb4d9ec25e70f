import math

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf, oas

from infossl import DegenerateInputWarning
from infossl.estimators import (gaussian_entropy, gaussian_mutual_information, logdet_entropy, shrink_covariance,
                                wishart_logdet_bias)


def random_cov(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


def gauss_entropy_true(cov):
    return 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1]


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("d", [1, 5, 20])
def test_entropy_matches_closed_form(rng, d):
    cov = random_cov(rng, d)
    z = rng.multivariate_normal(np.zeros(d), cov, size=4000)
    # The bias-corrected estimator is unbiased with standard deviation sqrt(d / (2n)) nats (delta method
    # on the Wishart log-det); 5 standard deviations.
    tol = 5 * math.sqrt(d / (2 * 4000))
    assert gaussian_entropy(z) == pytest.approx(gauss_entropy_true(cov), abs=tol)


def test_bias_correction_removes_bias():
    # d = 30, n = 100: the plug-in log-det is biased by c(d, n) ~ -4.9 nats; over 200 draws the corrected
    # mean lands within 4 standard errors of the truth and the uncorrected one does not.
    rng = np.random.default_rng(0)
    d, n = 30, 100
    vals, raw = [], []
    for _ in range(200):
        z = rng.standard_normal((n, d))
        vals.append(gaussian_entropy(z))
        raw.append(gaussian_entropy(z, bias_correction=False))
    truth = 0.5 * d * math.log(2 * math.pi * math.e)
    se = np.std(vals) / math.sqrt(len(vals))
    assert abs(np.mean(vals) - truth) < 4 * se
    assert abs(np.mean(raw) - truth) > 20 * se


def test_wishart_bias_matches_monte_carlo():
    rng = np.random.default_rng(1)
    d, n = 4, 12
    lds = [np.linalg.slogdet(np.cov(rng.standard_normal((n, d)), rowvar=False))[1] for _ in range(20000)]
    # Monte-Carlo standard error ~ 0.006; tolerance 4 SE.
    assert np.mean(lds) == pytest.approx(float(wishart_logdet_bias(d, n)), abs=0.025)


@pytest.mark.parametrize("dx,dy", [(1, 1), (3, 2), (10, 10)])
def test_mi_matches_closed_form(rng, dx, dy):
    cov = random_cov(rng, dx + dy)
    true = 0.5 * (np.linalg.slogdet(cov[:dx, :dx])[1] + np.linalg.slogdet(cov[dx:, dx:])[1]
                  - np.linalg.slogdet(cov)[1])
    z = rng.multivariate_normal(np.zeros(dx + dy), cov, size=5000)
    # Asymptotic sd of the Gaussian MI estimate is below sqrt(dx*dy/n) + sqrt(2 I / n); 5 sd.
    tol = 5 * (math.sqrt(dx * dy / 5000) + math.sqrt(2 * true / 5000)) / 2 + 0.01
    assert gaussian_mutual_information(z[:, :dx], z[:, dx:]) == pytest.approx(true, abs=tol)


def test_mi_equals_cca_form(rng):
    x = rng.standard_normal((500, 4))
    y = x @ rng.standard_normal((4, 3)) + rng.standard_normal((500, 3))
    xc, yc = x - x.mean(0), y - y.mean(0)
    qx, _ = np.linalg.qr(xc)
    qy, _ = np.linalg.qr(yc)
    rho = np.linalg.svd(qx.T @ qy, compute_uv=False)
    cca = -0.5 * np.sum(np.log1p(-rho**2))
    assert gaussian_mutual_information(x, y, bias_correction=False) == pytest.approx(cca, rel=1e-10)


def test_mi_rank3_signal_in_r25_is_finite_and_right(rng):
    rho, r, d, n = 0.9, 3, 25, 4000
    s = rng.standard_normal((n, r))
    t = rho * s + math.sqrt(1 - rho**2) * rng.standard_normal((n, r))
    qx = np.linalg.qr(rng.standard_normal((d, r)))[0]
    qy = np.linalg.qr(rng.standard_normal((d, r)))[0]
    x, y = s @ qx.T, t @ qy.T  # rank 3 in R^25
    true = -0.5 * r * math.log(1 - rho**2)
    est = gaussian_mutual_information(x, y)
    assert math.isfinite(est)
    assert est == pytest.approx(true, abs=0.08)  # sd ~ sqrt(2 I r / n) ~ 0.03 at n=4000


def test_mi_of_identical_variables_is_inf_with_warning(rng):
    x = rng.standard_normal((200, 3))
    with pytest.warns(DegenerateInputWarning, match="linearly dependent"):
        assert gaussian_mutual_information(x, 2 * x + 1) == math.inf


def test_mi_with_constant_side_is_zero(rng):
    x = rng.standard_normal((100, 2))
    assert gaussian_mutual_information(x, np.ones((100, 3))) == 0.0


def test_entropy_scale_equivariance(rng):
    z = rng.standard_normal((300, 4))
    h = gaussian_entropy(z)
    for a in (1e30, 1e-30):
        assert gaussian_entropy(a * z) == pytest.approx(h + 4 * math.log(a), rel=1e-10)
    assert logdet_entropy(1e30 * z) == pytest.approx(0.5 * 4 * math.log(1e60) + 0.5 * np.log(np.linalg.eigvalsh(
        np.cov(z, rowvar=False, bias=True))).sum(), rel=1e-6)
    assert math.isfinite(logdet_entropy(1e-30 * z))


def test_mi_scale_invariance(rng):
    x = rng.standard_normal((300, 3))
    y = x[:, :2] + rng.standard_normal((300, 2))
    v = gaussian_mutual_information(x, y)
    assert gaussian_mutual_information(1e30 * x, 1e-30 * y) == pytest.approx(v, rel=1e-8)


# ------------------------------------------------------------------ degenerate input
def test_singular_entropy_warns_and_is_finite(rng):
    z = rng.standard_normal((100, 3))
    z = np.hstack([z, z[:, :1]])  # collinear column
    with pytest.warns(DegenerateInputWarning, match="numerical rank 3 of 4"):
        h = gaussian_entropy(z, bias_correction=False)
    assert math.isfinite(h)


def test_constant_input_raises():
    with pytest.raises(ValueError, match="z is constant"):
        gaussian_entropy(np.ones((10, 2)))


def test_n_le_d_needs_shrinkage(rng):
    z = rng.standard_normal((10, 20))
    with pytest.raises(ValueError, match="bias_correction needs n > d"):
        with pytest.warns(DegenerateInputWarning):
            gaussian_entropy(z)
    assert math.isfinite(gaussian_entropy(z, shrinkage="ledoit_wolf"))
    assert math.isfinite(logdet_entropy(z))


# ------------------------------------------------------------------ shrinkage vs scikit-learn
@pytest.mark.parametrize("kind,ref", [("ledoit_wolf", ledoit_wolf), ("oas", oas)])
def test_shrinkage_matches_sklearn(rng, kind, ref):
    z = rng.standard_normal((40, 15)) @ rng.standard_normal((15, 15))
    expected, _ = ref(z)
    got = shrink_covariance(torch.from_numpy(z), kind).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_float_shrinkage(rng):
    z = rng.standard_normal((50, 3))
    s = np.cov(z, rowvar=False, bias=True)
    expected = 0.5 * s + 0.5 * np.trace(s) / 3 * np.eye(3)
    np.testing.assert_allclose(shrink_covariance(torch.from_numpy(z), 0.5).numpy(), expected, rtol=1e-12)


# ------------------------------------------------------------------ logdet
def test_logdet_gram_path_equals_covariance_path(rng):
    z = rng.standard_normal((8, 30))
    lam = np.linalg.eigvalsh(np.cov(z, rowvar=False, bias=True))
    expected = 0.5 * np.sum(np.log1p(2.0 * np.clip(lam, 0, None)))
    assert logdet_entropy(z, beta=2.0) == pytest.approx(expected, rel=1e-10)


def test_logdet_constant_is_zero():
    assert logdet_entropy(np.ones((5, 3))) == 0.0


# ------------------------------------------------------------------ backends and autograd
def test_numpy_equals_torch(rng):
    x = rng.standard_normal((200, 3))
    y = x[:, :2] + rng.standard_normal((200, 2))
    for f, args in [(gaussian_entropy, (x,)), (logdet_entropy, (x,)), (gaussian_mutual_information, (x, y))]:
        a = f(*args)
        t = f(*[torch.from_numpy(v) for v in args])
        assert isinstance(a, float) and isinstance(t, torch.Tensor) and t.ndim == 0
        assert float(t) == pytest.approx(a, rel=1e-12)
    t32 = gaussian_entropy(torch.from_numpy(x).float())
    assert t32.dtype == torch.float32
    assert float(t32) == pytest.approx(gaussian_entropy(x), rel=1e-4)


def test_gradcheck():
    rng = np.random.default_rng(0)  # one seed: gradcheck is slow and seed-independent
    x = torch.from_numpy(rng.standard_normal((15, 3))).requires_grad_()
    y = torch.from_numpy(rng.standard_normal((15, 2))).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: gaussian_entropy(a), (x,))
    assert torch.autograd.gradcheck(lambda a: logdet_entropy(a, beta=0.7), (x,))
    assert torch.autograd.gradcheck(lambda a: gaussian_entropy(a, shrinkage="ledoit_wolf"), (x,))
    assert torch.autograd.gradcheck(lambda a, b: gaussian_mutual_information(a, b), (x, y))


# ------------------------------------------------------------------ validation
def test_option_errors(rng):
    z = rng.standard_normal((20, 2))
    with pytest.raises(ValueError, match="ridge must be in"):
        gaussian_entropy(z, ridge=-1)
    with pytest.raises(ValueError, match="shrinkage must be one of"):
        gaussian_entropy(z, shrinkage="magic")
    with pytest.raises(ValueError, match=r"shrinkage must be in \[0.0, 1.0\]"):
        gaussian_entropy(z, shrinkage=1.5)
    with pytest.raises(ValueError, match="beta must be in"):
        logdet_entropy(z, beta=0)
    with pytest.raises(ValueError, match="needs more samples than dimensions: n=3"):
        gaussian_mutual_information(z[:3], rng.standard_normal((3, 2)))


@pytest.mark.parametrize("kw", [dict(ridge=0.1), dict(shrinkage="ledoit_wolf"), dict(shrinkage="oas"),
                                dict(shrinkage=0.3, ridge=0.01)])
def test_low_rank_path_equals_dense_logdet(rng, kw):
    # n < d uses the matrix determinant lemma on the n x n Gram matrix; it must equal the d x d log-det.
    z = rng.standard_normal((30, 70)) @ rng.standard_normal((70, 70))
    zt = torch.from_numpy(z)
    if "shrinkage" in kw:
        cov = shrink_covariance(zt, kw["shrinkage"]).numpy()
    else:
        cov = np.cov(z, rowvar=False)
    cov = cov + kw.get("ridge", 0.0) * np.trace(cov) / 70 * np.eye(70)
    expected = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1]
    assert gaussian_entropy(z, **kw) == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------ streamed second moment (issue 11, item 7)
def _reference_rank_projection(t):
    """The previous one-shot rule, written out: centre, eigenbasis of the column space (Gram route if d > n)."""
    n, d = t.shape
    tc = t - t.mean(axis=0)
    if d > n:
        evals, evecs = np.linalg.eigh(tc @ tc.T)
        keep = evals > 10 * d * np.finfo(float).eps * max(evals[-1], 0)
        return evecs[:, keep] * np.sqrt(evals[keep])
    evals, evecs = np.linalg.eigh(tc.T @ tc)
    keep = evals > 10 * d * np.finfo(float).eps * max(evals[-1], 0)
    return tc if keep.all() else tc @ evecs[:, keep]


def _reference_gaussian_mi(x, y):
    xp, yp = _reference_rank_projection(x), _reference_rank_projection(y)
    rx, ry, n = xp.shape[1], yp.shape[1], x.shape[0]
    cov = np.cov(np.hstack([xp, yp]), rowvar=False)
    mi = 0.5 * (np.linalg.slogdet(cov[:rx, :rx])[1] + np.linalg.slogdet(cov[rx:, rx:])[1]
                - np.linalg.slogdet(cov)[1])
    return mi + 0.5 * float(wishart_logdet_bias(rx + ry, n) - wishart_logdet_bias(rx, n) - wishart_logdet_bias(ry, n))


def _pair_of_kind(rng, kind):
    if kind == "wide":  # d > n on the x side, rank 4
        x = rng.standard_normal((30, 4)) @ rng.standard_normal((4, 50))
        return x, x[:, :3] + 0.5 * rng.standard_normal((30, 3))
    x = rng.standard_normal((400, 6))
    y = 0.6 * x[:, :5] + 0.8 * rng.standard_normal((400, 5))
    if kind == "rank-deficient":  # collinear and constant columns
        x = np.hstack([x, x[:, :2] @ rng.standard_normal((2, 3)), np.full((400, 1), 2.0)])
    elif kind == "tied":
        x, y = np.maximum(x, 0), np.maximum(np.round(y, 1), 0)
    elif kind == "scaled":
        x, y = x * 1e-3 + 1e6, y * 1e30
    return x, y


@pytest.mark.parametrize("kind", ["full-rank", "rank-deficient", "tied", "scaled", "wide"])
def test_streamed_gaussian_mi_equals_one_shot_and_reference(rng, kind):
    from infossl.estimators.gaussian import gaussian_mi_of_tensors

    x, y = _pair_of_kind(rng, kind)
    ref = _reference_gaussian_mi(x, y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    opts = dict(ridge=0.0, bias_correction=True, rtol=None)
    values = [gaussian_mutual_information(x, y), float(gaussian_mutual_information(tx, ty)),
              float(gaussian_mi_of_tensors(tx, ty, memory_budget=1, **opts)),  # one row per chunk
              float(gaussian_mi_of_tensors(tx, ty, memory_budget=8 * 11 * 3 * 37, **opts))]  # ragged chunks
    gx = tx.clone().requires_grad_(True)  # the autograd route projects the data as before
    with_grad = gaussian_mi_of_tensors(gx, ty, **opts)
    with_grad.backward()
    assert gx.grad is not None and bool(torch.isfinite(gx.grad).all())
    values.append(float(with_grad.detach()))
    np.testing.assert_allclose(values, ref, rtol=1e-10)


@pytest.mark.parametrize("ridge", [0.0, 0.1])
def test_streamed_gaussian_mi_keeps_ridge_and_plug_in(rng, ridge):
    from infossl.estimators.gaussian import gaussian_mi_of_tensors

    x, y = _pair_of_kind(rng, "rank-deficient")
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for bias_correction in (True, False):
        opts = dict(ridge=ridge, bias_correction=bias_correction, rtol=None)
        streamed = float(gaussian_mi_of_tensors(tx, ty, memory_budget=4096, **opts))
        autograd = float(gaussian_mi_of_tensors(tx.clone().requires_grad_(True), ty, **opts))
        assert streamed == pytest.approx(autograd, rel=1e-10)


def test_streamed_gaussian_mi_warns_inf_on_dependent_sides(rng):
    x = rng.standard_normal((300, 4))
    y = np.hstack([x[:, :1] * 2 + 1, rng.standard_normal((300, 2))])
    with pytest.warns(DegenerateInputWarning, match="linearly dependent"):
        assert gaussian_mutual_information(x, y) == math.inf
    assert gaussian_mutual_information(x, np.full((300, 2), 3.0)) == 0.0


def test_centred_joint_moment_is_the_scaled_covariance(rng):
    from infossl.estimators.gaussian import centred_joint_moment

    x, y = rng.standard_normal((257, 3)) * 1e200, rng.standard_normal((257, 2)) + 5
    for budget in (1, 1000, 2**30):
        moment, [(mx, sx), (my, sy)] = centred_joint_moment([torch.from_numpy(x), torch.from_numpy(y)],
                                                            memory_budget=budget)
        expected = np.cov(np.hstack([x / float(sx), y / float(sy)]), rowvar=False) * 256  # no overflow at 1e200
        np.testing.assert_allclose(moment.numpy(), expected, rtol=1e-10, atol=1e-12)
        assert bool((moment.abs() <= 257).all())  # every centred entry was scaled into [-1, 1]


def test_every_singular_route_warns_once_with_the_one_ridge():
    from infossl.estimators.gaussian import SINGULAR_RIDGE, regularised_logdet, singular_logdet_lowrank

    z = np.random.default_rng(0).standard_normal((30, 3))
    z = np.c_[z, z[:, :1] + z[:, 1:2]]  # collinear: rank 3 of 4, the d x d route
    wide = torch.from_numpy(np.random.default_rng(1).standard_normal((5, 12)))  # n <= d: the Gram route
    wide = wide - wide.mean(0)
    with pytest.warns(DegenerateInputWarning, match=r"numerical rank 3 of 4\); .* ridge of 1e-6") as record:
        regularised_logdet(torch.from_numpy(np.cov(z.T)), 0.0, what="z")
    assert len(record) == 1
    with pytest.warns(DegenerateInputWarning, match=r"rank at most 4 of 12: .* ridge of 1e-6") as record:
        value = singular_logdet_lowrank(wide, 1.0 / 4, what="z")
    assert len(record) == 1 and SINGULAR_RIDGE == 1e-6
    # the Gram route equals the d x d matrix with the same ridge
    cov = wide.T @ wide / 4
    ridged = cov + SINGULAR_RIDGE * torch.diagonal(cov).mean() * torch.eye(12, dtype=cov.dtype)
    assert float(value) == pytest.approx(float(torch.linalg.slogdet(ridged)[1]), rel=1e-9)
