"""Small-noise regime check on a random 20-64-64-10 ReLU MLP."""


import pytest
import torch
from torch import nn

from infossl.deterministic import regime_check


def _mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 10)).double().eval()


def test_small_and_large_noise(seed):
    net = _mlp(seed)
    x = torch.randn(10, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    small = regime_check(net, x, 1e-3, n_noise=2000, generator=seed)
    large = regime_check(net, x, 0.1, n_noise=2000, generator=seed)
    # sigma = 1e-3: a unit flips only when its pre-activation is within ~1e-3 of 0 (measured mean 0.97-0.99
    # over seeds 0-2); the covariance error is sampling noise: ratio to the Wishart floor 0.9-1.1 (median)
    assert small.pattern_fraction.median() > 0.99 and small.pattern_fraction.mean() > 0.9
    assert (small.cov_error / small.cov_error_floor).median() < 1.6
    # sigma = 0.1: almost every copy changes some unit (measured mean 0.02-0.03); the error is 3-4x the floor
    assert large.pattern_fraction.mean() < 0.1
    assert (large.cov_error / large.cov_error_floor).median() > 2.0
    assert list(small.columns) == ["input", "pattern_fraction", "cov_error", "cov_error_floor",
                                   "normality_pvalue", "mean_shift"]
    assert small.normality_pvalue.between(0, 1).all()


def test_normality_rejected_far_from_linear():
    net = nn.Sequential(nn.Linear(1, 1), nn.ReLU()).double().eval()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.fill_(0.0)
    df = regime_check(net, torch.tensor([[0.5]], dtype=torch.float64), 1.0, n_noise=2000, generator=0)
    assert df.normality_pvalue[0] < 1e-6        # half-normal-plus-atom outputs
    assert df.pattern_fraction[0] < 0.8


def test_no_relu_modules_gives_nan_fraction():
    lin = nn.Linear(3, 2).double()
    df = regime_check(lin, torch.randn(2, 3, dtype=torch.float64), 0.1, n_noise=50, generator=0)
    assert df.pattern_fraction.isna().all()


def test_bad_input():
    net = _mlp(0)
    x = torch.randn(2, 20, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"noise_std must be in \(0.0, inf\), got 0.0"):
        regime_check(net, x, 0.0)
    with pytest.raises(ValueError, match=r"n_noise must be >= 20, got 5"):
        regime_check(net, x, 0.1, n_noise=5)
    with pytest.raises(TypeError, match="generator must be None, an int seed or a torch.Generator"):
        regime_check(net, x, 0.1, generator="a")


def test_views_route_is_exact_for_an_affine_map():
    """With given copies the prediction J S J^T uses their own displacement covariance: exact when affine."""
    g = torch.Generator().manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).double()
    x = torch.randn(4, 1, 4, 4, dtype=torch.float64, generator=g)
    skewed = torch.rand(4, 300, 1, 4, 4, dtype=torch.float64, generator=g) ** 3      # not Gaussian, not centred
    df = regime_check(lin, x, views=x[:, None] + skewed)
    assert (df.cov_error < 1e-10).all() and (df.cov_error_floor > 0.05).all()
    # the copies' mean output sits away from f(x) by the mean displacement (1/4 per pixel), in spread units
    assert (df.mean_shift > 0.3).all()


def test_views_route_agrees_with_noise_route_on_gaussian_copies():
    net = _mlp(1)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 20, dtype=torch.float64, generator=g)
    views = x[:, None] + 1e-4 * torch.randn(3, 400, 20, dtype=torch.float64, generator=g)
    by_views = regime_check(net, x, views=views)
    by_noise = regime_check(net, x, 1e-4, n_noise=400, generator=3)
    assert (by_views.pattern_fraction == 1).all() and (by_noise.pattern_fraction == 1).all()
    # S-hat carries its own sampling error, so the views error is not above the noise route's floor
    assert (by_views.cov_error < 2 * by_noise.cov_error_floor).all()


def test_views_route_bad_input():
    net = _mlp(0)
    x = torch.randn(2, 20, dtype=torch.float64)
    views = x[:, None] + 0.01 * torch.randn(2, 30, 20, dtype=torch.float64)
    with pytest.raises(ValueError, match="exactly one of noise_std .* got noise_std=0.1 and views given"):
        regime_check(net, x, 0.1, views=views)
    with pytest.raises(ValueError, match="got noise_std=None and views None"):
        regime_check(net, x)
    with pytest.raises(ValueError, match=r"views of shape \(2, 30, 19\) do not match x of shape \(2, 20\)"):
        regime_check(net, x, views=views[..., :19])
    with pytest.raises(ValueError, match="at least 20 copies per input .* got M=5"):
        regime_check(net, x, views=views[:, :5])
