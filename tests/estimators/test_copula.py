import math

import numpy as np
import pytest
import torch
from scipy.stats import norm, rankdata

from infossl import DegenerateInputWarning
from infossl.estimators import copula_entropy, copula_mutual_information, gaussian_mutual_information, normal_scores
from infossl.estimators.copula import marginal_entropies


def corr_pair(rng, n, d, rho):
    x = rng.standard_normal((n, d))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, d))
    return x, y, -0.5 * d * math.log(1 - rho**2)


def test_normal_scores_match_scipy_with_ties(rng):
    z = np.round(rng.standard_normal((500, 4)), 1)  # many ties
    expected = norm.ppf(rankdata(z, axis=0) / 501)
    np.testing.assert_allclose(normal_scores(torch.from_numpy(z)).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_normal_scores_column_blocks_equal_one_block(rng, dtype):
    z = torch.from_numpy(np.round(rng.standard_normal((700, 9)), 1)).to(dtype)  # ties in every column
    one_block = normal_scores(z, memory_budget=2**40)
    for budget in (1, 7 * 8 * 700 * 4):  # one column per block; four columns per block (a ragged last one)
        assert torch.equal(normal_scores(z, memory_budget=budget), one_block)
    assert one_block.dtype == dtype
    expected = norm.ppf(rankdata(z.double().numpy(), axis=0) / 701)
    np.testing.assert_allclose(one_block.double().numpy(), expected, atol=1e-12 if dtype == torch.float64 else 1e-5)


@pytest.mark.parametrize("transform", [lambda v: v, np.exp, lambda v: norm.cdf(v), lambda v: np.sign(v) * np.abs(v) ** 1.5])
def test_mi_invariant_to_monotone_maps(rng, transform):
    x, y, true = corr_pair(rng, 3000, 3, 0.7)
    base = copula_mutual_information(x, y)
    # Ranks are unchanged by strictly increasing maps, so the estimate is identical, not just close.
    assert copula_mutual_information(transform(x), transform(y)) == pytest.approx(base, abs=1e-12)
    assert base == pytest.approx(true, abs=0.1)  # normal-score loss of efficiency is small at rho=0.7


def test_mi_heavy_tails_where_gaussian_fails(rng):
    x, y, true = corr_pair(rng, 4000, 2, 0.8)
    tx, ty = np.sinh(3 * x), np.sinh(3 * y)  # extremely heavy tails, same MI
    assert copula_mutual_information(tx, ty) == pytest.approx(true, abs=0.1)
    assert abs(gaussian_mutual_information(tx, ty) - true) > 0.3


def test_mi_relu_ties_and_constant_columns(rng):
    x, y, _ = corr_pair(rng, 2000, 4, 0.8)
    xr = np.maximum(x, 0)  # half the values are tied at 0
    xr = np.hstack([xr, np.ones((2000, 1))])  # plus a dead unit
    v = copula_mutual_information(xr, y)
    assert math.isfinite(v) and v > 0.5


def test_mi_independent_near_zero(rng):
    x, y = rng.standard_normal((3000, 5)), rng.standard_normal((3000, 5))
    assert abs(copula_mutual_information(x, y)) < 0.03  # sd of the bias-corrected estimate ~ 5/3000


def test_marginal_entropies_match_closed_forms(rng):
    n = 20000
    z = np.column_stack([rng.standard_normal(n), rng.uniform(0, 3, n), rng.exponential(2.0, n)])
    expected = [0.5 * math.log(2 * math.pi * math.e), math.log(3), 1 + math.log(2.0)]
    got = marginal_entropies(torch.from_numpy(z), k=3, chunk_size=2).numpy()
    np.testing.assert_allclose(got, expected, atol=0.03)  # 1-D KL sd ~ 0.01 at n=2e4


def test_marginal_entropies_equal_brute_force(rng):
    z = rng.standard_normal((60, 2))
    k = 2
    for j in range(2):
        dist = np.abs(z[:, j, None] - z[None, :, j])
        np.fill_diagonal(dist, np.inf)
        r = np.sort(dist, axis=1)[:, k - 1]
        from scipy.special import digamma
        expected = digamma(60) - digamma(k) + math.log(2) + np.log(r).mean()
        assert float(marginal_entropies(torch.from_numpy(z), k=k)[j]) == pytest.approx(expected, rel=1e-12)


def test_copula_entropy_gaussian_and_transformed(rng):
    d, n = 6, 8000
    a = rng.standard_normal((d, d))
    cov = a @ a.T / d + np.eye(d)
    z = rng.multivariate_normal(np.zeros(d), cov, size=n)
    true = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1]
    assert copula_entropy(z) == pytest.approx(true, abs=0.1)
    # exp of a column adds E[z_j] = 0 to the entropy (log-normal), so the truth is unchanged
    z2 = z.copy()
    z2[:, 0] = np.exp(z2[:, 0])
    assert copula_entropy(z2) == pytest.approx(true + 0.0, abs=0.1)


def test_copula_entropy_point_mass_raises(rng):
    z = rng.standard_normal((100, 2))
    z[:10, 1] = 0.0
    with pytest.raises(ValueError, match=r"column\(s\) \[1\].*point mass"):
        copula_entropy(z)


def test_copula_entropy_collinear_warns(rng):
    z = rng.standard_normal((200, 2))
    z = np.hstack([z, z[:, :1] * 2])
    with pytest.warns(DegenerateInputWarning, match="singular"):
        assert math.isfinite(copula_entropy(z))


def test_torch_path_keeps_device_and_dtype(rng):
    x, y, _ = corr_pair(rng, 500, 2, 0.5)
    a = copula_mutual_information(x, y)
    t = copula_mutual_information(torch.from_numpy(x).float(), torch.from_numpy(y).float())
    assert t.dtype == torch.float32 and t.ndim == 0
    assert float(t) == pytest.approx(a, abs=1e-4)


def test_errors(rng):
    with pytest.raises(ValueError, match="k=5 needs more than 5 samples, got 5"):
        copula_entropy(rng.standard_normal((5, 2)), k=5)
    with pytest.raises(TypeError, match="k must be an integer"):
        copula_entropy(rng.standard_normal((5, 2)), k=1.5)


# ------------------------------------------------------------------ streamed copula MI (issue 11, item 7)
def _reference_scores(t):
    """The previous copula_scores, written out: rank projection of the raw data, then scipy normal scores."""
    n, d = t.shape
    tc = t - t.mean(axis=0)
    if d > n:
        evals, evecs = np.linalg.eigh(tc @ tc.T)
        keep = evals > 10 * d * np.finfo(float).eps * max(evals[-1], 0)
        proj = evecs[:, keep] * np.sqrt(evals[keep])
    else:
        evals, evecs = np.linalg.eigh(tc.T @ tc)
        keep = evals > 10 * d * np.finfo(float).eps * max(evals[-1], 0)
        proj = tc if keep.all() else tc @ evecs[:, keep]
    return norm.ppf(rankdata(proj, axis=0) / (n + 1))


def _reference_copula_mi(x, y):
    from infossl.estimators import wishart_logdet_bias

    sides = []
    for s in (_reference_scores(x), _reference_scores(y)):  # the Gaussian MI's rank projection of the scores
        sc = s - s.mean(axis=0)
        evals, evecs = np.linalg.eigh(sc.T @ sc)
        keep = evals > 10 * s.shape[1] * np.finfo(float).eps * max(evals[-1], 0)
        sides.append(sc if keep.all() else sc @ evecs[:, keep])
    rx, ry, n = sides[0].shape[1], sides[1].shape[1], x.shape[0]
    cov = np.cov(np.hstack(sides), rowvar=False)
    mi = 0.5 * (np.linalg.slogdet(cov[:rx, :rx])[1] + np.linalg.slogdet(cov[rx:, rx:])[1] - np.linalg.slogdet(cov)[1])
    return mi + 0.5 * float(wishart_logdet_bias(rx + ry, n) - wishart_logdet_bias(rx, n) - wishart_logdet_bias(ry, n))


def _copula_pair(rng, kind):
    if kind == "wide":  # d > n on the x side, rank 4
        x = rng.standard_normal((30, 4)) @ rng.standard_normal((4, 50))
        return x, x[:, :3] + 0.5 * rng.standard_normal((30, 3))
    x = rng.standard_normal((400, 6))
    y = np.exp(0.6 * x[:, :5] + 0.8 * rng.standard_normal((400, 5)))
    if kind == "rank-deficient":  # collinear and constant columns
        x = np.hstack([x, x[:, :2] @ rng.standard_normal((2, 3)), np.full((400, 1), 2.0)])
    elif kind == "tied":  # ReLU zeros and rounding
        x, y = np.maximum(x, 0), np.round(np.maximum(np.log(y), 0), 1)
    elif kind == "tied-rank-deficient":  # ReLU zeros seen through a collinear embedding
        x = np.maximum(x - 0.3, 0) @ rng.standard_normal((6, 9))
    return x, y


@pytest.mark.parametrize("kind", ["full-rank", "rank-deficient", "tied", "tied-rank-deficient", "wide"])
def test_streamed_copula_mi_equals_one_shot_and_reference(rng, kind):
    from infossl.estimators.copula import copula_mi_of_tensors

    x, y = _copula_pair(rng, kind)
    ref = _reference_copula_mi(x, y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    opts = dict(ridge=0.0, bias_correction=True)
    values = [copula_mutual_information(x, y), float(copula_mutual_information(tx, ty)),
              float(copula_mi_of_tensors(tx, ty, memory_budget=1, **opts)),  # one row / one column per block
              float(copula_mi_of_tensors(tx, ty, memory_budget=7 * 8 * 400 * 3, **opts)),  # ragged blocks
              float(copula_mi_of_tensors(tx, ty, memory_budget=2**40, **opts))]  # one block
    np.testing.assert_allclose(values, ref, rtol=1e-10)


def test_copula_ranks_are_exact_doubled_average_ranks(rng):
    from infossl.estimators.copula import copula_ranks, copula_scores

    z = torch.from_numpy(np.round(rng.standard_normal((300, 5)), 1))  # full rank, ties in every column
    expected = 2 * rankdata(z.numpy(), axis=0)
    for budget in (1, 7 * 8 * 300 * 2, 2**40):
        twice, means = copula_ranks(z, memory_budget=budget)
        assert twice.dtype == torch.int32 and np.array_equal(twice.numpy(), expected)
        np.testing.assert_allclose(means.numpy()[0], norm.ppf(expected / 2 / 301).mean(axis=0), atol=1e-14)
    assert torch.equal(copula_scores(z), normal_scores(z))  # the same scores, bit for bit
    twice, means = copula_ranks(torch.full((300, 2), 7.0))
    assert twice.shape == (300, 0) and means.shape == (1, 0)  # a constant side has nothing to rank


def test_streamed_copula_mi_keeps_ridge_and_constant_sides(rng):
    from infossl.estimators.copula import copula_mi_of_tensors

    x, y = _copula_pair(rng, "rank-deficient")
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    chunked = copula_mi_of_tensors(tx, ty, ridge=0.1, bias_correction=False, memory_budget=1)
    on_scores = gaussian_mutual_information(_reference_scores(x), _reference_scores(y), ridge=0.1,
                                            bias_correction=False)
    assert float(chunked) == pytest.approx(on_scores, rel=1e-10)
    assert copula_mutual_information(np.full((400, 3), 1.5), y) == 0.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_first_equal_rows_finds_exact_duplicates(rng, dtype):
    from infossl.estimators.copula import first_equal_rows

    z = torch.from_numpy(rng.standard_normal((50, 4))).to(dtype)
    assert first_equal_rows(z) is None
    z[[7, 30, 41]] = z[3].clone()
    z[12] = 0.0
    z[44] = -0.0  # equal to row 12 as a value
    z[45] = z[3].clone()
    z[45, 2] = torch.nextafter(z[3, 2], torch.tensor(math.inf, dtype=dtype))  # one ulp away: a different row
    for budget in (1, 2**30):
        rep = first_equal_rows(z, memory_budget=budget)
        expected = torch.arange(50)
        expected[[7, 30, 41]] = 3
        expected[44] = 12
        assert torch.equal(rep, expected)
