"""Output mixture of a network under input noise: exact, sketched and view-based covariances; bad input."""

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from infossl._validation import DegenerateInputWarning
from infossl.deterministic import OutputMixture, output_mixture

from ._models import small_mlp as _mlp




def _rel(a, b):
    return float(((a - b).norm(dim=(1, 2)) / b.norm(dim=(1, 2))).max())


def test_linear_network_is_exact(seed):
    lin = nn.Linear(6, 4).double()
    x = torch.randn(7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    w = lin.weight.detach()
    mix = output_mixture(lin, x, noise_std=0.3, ridge=0.0)
    torch.testing.assert_close(mix.means, lin(x).detach())
    torch.testing.assert_close(mix.covariances(), (0.09 * w @ w.T).expand(7, 4, 4))
    # full and diagonal noise covariances
    s = torch.diag(torch.arange(1.0, 7.0, dtype=torch.float64))
    full = output_mixture(lin, x, noise_cov=s, ridge=0.0)
    diag = output_mixture(lin, x, noise_cov=torch.arange(1.0, 7.0, dtype=torch.float64), ridge=0.0)
    torch.testing.assert_close(full.covariances()[0], w @ s @ w.T)
    torch.testing.assert_close(diag.covariances(), full.covariances())


def test_numpy_input_and_conv_shapes():
    conv = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 2, 5)).double().eval()
    x = np.random.default_rng(0).normal(size=(3, 2, 4, 3))
    mix = output_mixture(conv, x, noise_std=0.1)
    assert isinstance(mix, OutputMixture) and mix.means.shape == (3, 5) and mix.cov.shape == (3, 5, 5)


def test_sketch_error_decreases_with_rank_and_is_exact_at_k(seed):
    net = _mlp(seed)
    x = torch.randn(30, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    exact = output_mixture(net, x, noise_std=0.1, ridge=0.0).covariances()
    errs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        for r in (2, 5, 8, 10):
            sk = output_mixture(net, x, noise_std=0.1, rank=r, ridge=0.0, generator=seed)
            assert sk.factor.shape == (30, 10, r)
            errs.append(_rel(sk.covariances(), exact))
    assert errs[0] > errs[1] > errs[2] > errs[3]
    assert errs[-1] < 1e-10  # rank >= K: the range finder spans the whole output space (round-off only)
    big = output_mixture(net, x, noise_std=0.1, rank=15, ridge=0.0, generator=seed)
    assert big.factor.shape == (30, 10, 15) and _rel(big.covariances(), exact) < 1e-10


def test_sketch_full_noise_cov(seed):
    net = _mlp(seed, (6, 16, 8))
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    a = torch.randn(6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 10))
    s = a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64)
    with pytest.warns(DegenerateInputWarning, match="rank at most 6 < K=8"):  # D = 6 < K = 8
        exact = output_mixture(net, x, noise_cov=s, ridge=0.0).covariances()
    with pytest.warns(DegenerateInputWarning, match="rank at most 6 < K=8"):
        sk = output_mixture(net, x, noise_cov=s, rank=8, ridge=0.0, generator=seed).covariances()
    assert _rel(sk, exact) < 1e-10


def test_views_covariance_converges(seed):
    net = _mlp(seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 20, dtype=torch.float64, generator=g)
    exact = output_mixture(net, x, noise_std=1e-3, ridge=0.0).covariances()
    views = x[:, None] + 1e-3 * torch.randn(8, 4000, 20, dtype=torch.float64, generator=g)
    mix = output_mixture(net, x, views=views, ridge=0.0)
    assert mix.method == "views"
    torch.testing.assert_close(mix.means, net(x).detach())
    # relative Frobenius error of a sample covariance ~ sqrt((1 + tr^2/|C|^2)/M) <= sqrt(11/4000) = 0.05
    assert _rel(mix.covariances(), exact) < 0.15
    no_x = output_mixture(net, views=views, ridge=0.0)
    torch.testing.assert_close(no_x.means, net(views).mean(dim=1).detach())


def test_chunked_equals_one_shot(seed):
    net = _mlp(seed)
    x = torch.randn(23, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    a = output_mixture(net, x, noise_std=0.1)
    b = output_mixture(net, x, noise_std=0.1, chunk_size=4)
    torch.testing.assert_close(a.cov, b.cov)
    views = x[:, None] + 0.1 * torch.randn(23, 12, 20, dtype=torch.float64)  # M = 12 > K = 10: full rank
    torch.testing.assert_close(output_mixture(net, x, views=views).cov,
                               output_mixture(net, x, views=views, chunk_size=3).cov)
    s1 = output_mixture(net, x, noise_std=0.1, rank=10, chunk_size=5, generator=1)
    torch.testing.assert_close(s1.covariances(with_output_noise=False), a.cov)


def test_ridge_and_degenerate_warning():
    lin = nn.Linear(3, 8).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    with pytest.warns(DegenerateInputWarning, match="rank at most 3 < K=8"):
        mix = output_mixture(lin, x, noise_std=0.1, ridge=1e-4)
    mean_var = float(mix.cov.diagonal(dim1=1, dim2=2).mean())
    assert math.isclose(mix.output_noise_var, 1e-4 * mean_var, rel_tol=1e-12)
    assert bool((torch.linalg.eigvalsh(mix.covariances()) > 0).all())


def test_output_noise_var_has_no_old_name():
    mix = output_mixture(nn.Linear(3, 2).double(), torch.randn(5, 3, dtype=torch.float64), noise_std=0.1)
    assert mix.output_noise_var > 0 and not hasattr(mix, "ridge")
    torch.testing.assert_close(mix.covariances(with_output_noise=False), mix.cov, rtol=0, atol=0)
    with pytest.raises(TypeError, match="with_ridge"):
        mix.covariances(with_ridge=False)
    with pytest.raises(TypeError, match="ridge"):
        OutputMixture(means=mix.means, cov=mix.cov, factor=None, ridge=0.5, method="exact")


def test_noise_beyond_the_float32_range_is_an_error_not_inf():
    lin = nn.Linear(3, 2).eval()
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    match = r"output covariances of the exact route overflow torch.float32 .*: noise_std=1e\+30 is too large"
    with pytest.raises(ValueError, match=match):
        output_mixture(lin, x, noise_std=1e30)
    with pytest.raises(ValueError, match=r"sketch route overflow torch.float32 .*noise_cov is too large"):
        output_mixture(lin, x, noise_cov=torch.full((3,), 1e39, dtype=torch.float64), rank=2, generator=0)
    with pytest.raises(ValueError, match=r"views route overflow torch.float32 .*the views' outputs spread"):
        output_mixture(lin, views=x[:, None] * torch.tensor([1e25, -1e25])[None, :, None])
    # a float64 model holds the same covariances (about 1e60)
    mix = output_mixture(lin.double(), x.double(), noise_std=1e30)
    assert bool(torch.isfinite(mix.covariances()).all()) and mix.output_noise_var > 1e50


def test_bad_input():
    net = _mlp(0, (4, 8, 2))
    x = torch.randn(5, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="exactly one of noise_std= or noise_cov=; got neither"):
        output_mixture(net, x)
    with pytest.raises(ValueError, match="exactly one of noise_std= or noise_cov=; got both"):
        output_mixture(net, x, noise_std=1.0, noise_cov=np.ones(4))
    with pytest.raises(ValueError, match=r"noise_std must be in \(0.0, inf\), got 0.0"):
        output_mixture(net, x, noise_std=0.0)
    with pytest.raises(ValueError, match=r"noise_std must be in \(0.0, inf\), got -1.0"):
        output_mixture(net, x, noise_std=-1.0)
    with pytest.raises(ValueError, match=r"noise_cov must have shape \(4,\) or \(4, 4\).*got \(3,\)"):
        output_mixture(net, x, noise_cov=np.ones(3))
    with pytest.raises(ValueError, match="diagonal noise_cov must be positive"):
        output_mixture(net, x, noise_cov=np.array([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="noise_cov is not positive definite"):
        output_mixture(net, x, noise_cov=-np.eye(4))
    with pytest.raises(ValueError, match=r"model failed on x of shape \(5, 3\)"):
        output_mixture(net, torch.randn(5, 3, dtype=torch.float64), noise_std=1.0)
    with pytest.raises(ValueError, match=r"x must have at least 2 dimensions.*got shape \(4,\)"):
        output_mixture(net, torch.randn(4, dtype=torch.float64), noise_std=1.0)
    with pytest.raises(ValueError, match="x contains 1 NaN or infinite"):
        output_mixture(net, torch.tensor([[np.nan, 0, 0, 0]], dtype=torch.float64), noise_std=1.0)
    with pytest.raises(ValueError, match="model outputs contain 2 non-finite values"):
        output_mixture(lambda u: u / 0.0, torch.ones(1, 2, dtype=torch.float64), noise_std=1.0)
    with pytest.raises(ValueError, match="model must map x of shape"):
        output_mixture(lambda u: u.sum(), x, noise_std=1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        output_mixture(net, x, noise_std=1.0, method="fast")
    with pytest.raises(ValueError, match=r"rank must be >= 1, got 0"):
        output_mixture(net, x, noise_std=1.0, rank=0)
    with pytest.raises(ValueError, match=r"ridge must be in \[0.0, inf\), got -1.0"):
        output_mixture(net, x, noise_std=1.0, ridge=-1.0)
    with pytest.raises(ValueError, match='method="views" needs views='):
        output_mixture(net, x, method="views")
    with pytest.raises(ValueError, match='method="exact" needs the inputs x'):
        output_mixture(net, method="exact", noise_std=1.0)
    with pytest.raises(ValueError, match="at least 2 views per input.*got M=1"):
        output_mixture(net, x, views=x[:, None])
    with pytest.raises(ValueError, match=r"views must have at least 3 dimensions"):
        output_mixture(net, x, views=x)
    with pytest.raises(ValueError, match=r"x of shape \(5, 4\) does not match views of shape \(4, 3, 4\)"):
        output_mixture(net, x, views=torch.randn(4, 3, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module or a callable"):
        output_mixture(3, x, noise_std=1.0)
    with pytest.raises(TypeError, match="x has boolean dtype"):
        output_mixture(net, torch.ones(5, 4, dtype=torch.bool), noise_std=1.0)
    with pytest.raises(TypeError, match="x has dtype <U1, which cannot be read as numbers"):
        output_mixture(net, np.array([["a"] * 4] * 5), noise_std=1.0)
    with pytest.raises(TypeError, match="views is a meta tensor"):
        output_mixture(net, views=torch.empty(5, 2, 4, device="meta"))
    with pytest.raises(TypeError, match="x is a sparse tensor"):
        output_mixture(net, torch.eye(5, 4, dtype=torch.float64).to_sparse(), noise_std=1.0)
    with pytest.raises(TypeError, match="noise_cov cannot be read as a numeric array"):
        output_mixture(net, x, noise_cov=[[1.0, 0.0], [1.0]])
    with pytest.raises(ValueError, match="noise_cov contains 1 NaN or infinite values"):
        output_mixture(net, x, noise_cov=np.array([1.0, np.nan, 1.0, 1.0]))
    with pytest.raises(ValueError, match="output covariance is zero for every input"):
        output_mixture(lambda u: 0.0 * u, x, noise_std=1.0)
    with pytest.raises(ValueError, match="x is empty"):
        output_mixture(net, torch.zeros(0, 4, dtype=torch.float64), noise_std=1.0)


def test_train_mode_batchnorm_and_dropout_refused():
    bn = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="BatchNorm layer '1' in train mode.*model.eval"):
        output_mixture(bn, x, noise_std=0.1)
    mix = output_mixture(bn.eval(), x, noise_std=0.1)   # eval: running statistics, samples independent
    assert mix.cov.shape == (6, 3, 3)
    do = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5)).double()
    with pytest.raises(ValueError, match="Dropout layer '1' in train mode"):
        output_mixture(do, x, noise_std=0.1)


def test_float32_model_and_input():
    net = _mlp(0, (4, 8, 3)).float()
    mix = output_mixture(net, torch.randn(5, 4), noise_std=0.1)
    assert mix.means.dtype == torch.float32 and mix.cov.dtype == torch.float32


@pytest.mark.gpu
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    net = _mlp(0)
    x = torch.randn(12, 20, dtype=torch.float64)
    cpu = output_mixture(net, x, noise_std=0.1)
    gpu = output_mixture(net.cuda(), x.cuda(), noise_std=0.1)
    assert gpu.cov.is_cuda
    torch.testing.assert_close(gpu.cov.cpu(), cpu.cov)
    sk = output_mixture(net, x.cuda(), noise_std=0.1, rank=10, generator=0)
    torch.testing.assert_close(sk.covariances(with_output_noise=False).cpu(), cpu.cov)
