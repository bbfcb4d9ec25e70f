"""Entropy and information of the output mixture against Monte Carlo of the true mixture entropy."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from infossl.deterministic import (
    OutputMixture,
    conditional_entropy,
    entropy_bounds,
    information_bounds,
    information_table,
    output_mixture,
    view_information,
)


def mc_entropy(means, covs, n_samples, generator):
    """Monte Carlo H = -E log p(z) of the mixture (1/n) sum_i N(means_i, covs_i); returns (value, std err)."""
    n = means.shape[0]
    comp = torch.distributions.MultivariateNormal(means, covariance_matrix=covs)
    idx = torch.randint(n, (n_samples,), generator=generator)
    chol = torch.linalg.cholesky(covs)
    eps = torch.randn(n_samples, means.shape[1], dtype=means.dtype, generator=generator)
    z = means[idx] + (chol[idx] @ eps[:, :, None])[:, :, 0]                       # (S, K)
    logp = torch.logsumexp(comp.log_prob(z[:, None, :]), dim=1) - math.log(n)     # (S,)
    return float(-logp.mean()), float(logp.std() / math.sqrt(n_samples))


def _q(rows, kind, note=None):
    return [r.value for r in rows if r.kind == kind and (note is None or note in r.note)][0]


def test_linear_network_bounds_bracket_monte_carlo(seed):
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(4, 3).double()
    x = 0.3 * torch.randn(40, 4, dtype=torch.float64, generator=g)   # overlapping components
    mix = output_mixture(lin, x, noise_std=0.2)
    h, se = mc_entropy(mix.means, mix.covariances(), 20000, g)
    hb = entropy_bounds(mix)
    # 4 standard errors of the MC mean: the bounds are exact inequalities, MC is the only noise
    assert _q(hb, "lower bound") - 4 * se <= h <= _q(hb, "upper bound", "KL") + 4 * se
    assert h <= _q(hb, "upper bound", "Gaussian") + 4 * se
    hzt = conditional_entropy(mix).value
    w = lin.weight.detach()
    cov = 0.04 * w @ w.T + mix.output_noise_var * torch.eye(3)
    exact = 0.5 * float(torch.logdet(2 * math.pi * math.e * cov))
    assert math.isclose(hzt, exact, rel_tol=1e-9)
    ib = information_bounds(mix)
    assert _q(ib, "lower bound") - 4 * se <= h - hzt <= _q(ib, "upper bound") + 4 * se


def test_relu_small_noise_against_monte_carlo_of_outputs(seed):
    """Outputs of the real network on noisy inputs: their cross-entropy under the mixture is ~ H(Z)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3)).double().eval()
    x0 = torch.randn(1, 6, dtype=torch.float64, generator=g)
    x = x0 + 2e-3 * torch.randn(30, 6, dtype=torch.float64, generator=g)
    s = 1e-3
    mix = output_mixture(net, x, noise_std=s)
    idx = torch.randint(30, (20000,), generator=g)
    z = net(x[idx] + s * torch.randn(20000, 6, dtype=torch.float64, generator=g)).detach()   # (S, K)
    comp = torch.distributions.MultivariateNormal(mix.means, covariance_matrix=mix.covariances())
    logp = torch.logsumexp(comp.log_prob(z[:, None, :]), dim=1) - math.log(30)
    h, se = float(-logp.mean()), float(logp.std() / math.sqrt(20000))
    hb = entropy_bounds(mix)
    # small noise: the mixture is the outputs' law up to O(s) curvature, far below 4 standard errors
    assert _q(hb, "lower bound") - 4 * se <= h <= _q(hb, "upper bound", "KL") + 4 * se


def test_random_mixtures_bd_le_mc_le_kl(seed):
    g = torch.Generator().manual_seed(seed)
    n, k = 25, 3
    means = torch.randn(n, k, dtype=torch.float64, generator=g)
    a = torch.randn(n, k, k, dtype=torch.float64, generator=g)
    covs = 0.3 * a @ a.transpose(1, 2) + 0.05 * torch.eye(k, dtype=torch.float64)
    mix = OutputMixture(means=means, cov=covs, factor=None, output_noise_var=0.0, method="exact")
    h, se = mc_entropy(means, covs, 20000, g)
    hb = entropy_bounds(mix)
    assert _q(hb, "lower bound") - 4 * se <= h <= _q(hb, "upper bound", "KL") + 4 * se


def test_view_information_limits_and_ordering(seed):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(20, 2, dtype=torch.float64, generator=g)
    eye = torch.eye(2, dtype=torch.float64).expand(20, 2, 2)
    far = OutputMixture(means=1e3 * means, cov=eye, factor=None, output_noise_var=0.0, method="exact")
    same = OutputMixture(means=0 * means, cov=eye, factor=None, output_noise_var=0.0, method="exact")
    mid = OutputMixture(means=means, cov=0.5 * eye, factor=None, output_noise_var=0.0, method="exact")
    for mix, target in ((far, math.log(20)), (same, 0.0)):
        for q in view_information(mix):
            assert math.isclose(q.value, target, abs_tol=1e-8)
    rows = view_information(mid)
    assert [q.kind for q in rows] == ["lower bound", "upper bound"]  # no point estimate without a guarantee
    lo, hi = (q.value for q in rows)
    i_hi = _q(information_bounds(mid), "upper bound")
    assert 0 <= lo <= hi <= i_hi + 1e-12


def test_view_information_against_monte_carlo():
    """I(Z;Z') = 2H(Z) - H(Z,Z') by Monte Carlo of both mixtures lies within the reported bounds."""
    g = torch.Generator().manual_seed(5)
    n, k = 15, 2
    means = torch.randn(n, k, dtype=torch.float64, generator=g)
    covs = 0.3 * torch.eye(k, dtype=torch.float64).expand(n, k, k)
    mix = OutputMixture(means=means, cov=covs, factor=None, output_noise_var=0.0, method="exact")
    h1, se1 = mc_entropy(means, covs, 40000, g)
    cj = torch.block_diag(covs[0], covs[0]).expand(n, 2 * k, 2 * k)
    h2, se2 = mc_entropy(torch.cat([means, means], 1), cj, 40000, g)
    i_mc, se = 2 * h1 - h2, math.sqrt(4 * se1 ** 2 + se2 ** 2)
    lo, hi = (q.value for q in view_information(mix))
    assert lo - 4 * se <= i_mc <= hi + 4 * se


def test_information_table():
    lin = nn.Linear(3, 2).double()
    mix = output_mixture(lin, torch.randn(10, 3, dtype=torch.float64), noise_std=0.5)
    df = information_table(mix)
    assert list(df.columns) == ["quantity", "value", "kind", "note"]
    assert set(df.kind) == {"exact", "lower bound", "upper bound"}
    assert np.isfinite(df.value).all() and len(df) == 9
    assert len(information_table(mix, views=False)) == 7


def test_bad_mixture_argument():
    with pytest.raises(TypeError, match="mixture must be an OutputMixture.*got dict"):
        information_table({})
    bad = OutputMixture(means=torch.zeros(2, 2, dtype=torch.float64),
                        cov=torch.zeros(2, 2, 2, dtype=torch.float64), factor=None, output_noise_var=0.0,
                        method="exact")
    with pytest.raises(ValueError, match="not positive definite; use a ridge > 0"):
        conditional_entropy(bad)
