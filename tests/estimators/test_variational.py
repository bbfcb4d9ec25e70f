"""Tests for infossl.estimators.variational (critics, trained InfoNCE / NWJ / DV estimators)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from infossl._validation import DegenerateInputWarning
from infossl.estimators import bounds
from infossl.estimators.variational import (
    ConcatCritic,
    CriticTraining,
    SeparableCritic,
    dv_lower_bound,
    dv_mutual_information,
    infonce_lower_bound,
    infonce_mutual_information,
    nwj_lower_bound,
    nwj_mutual_information,
)

from .test_bounds import log_ratio

ESTIMATORS = {"infonce": infonce_mutual_information, "nwj": nwj_mutual_information, "dv": dv_mutual_information}
# Small, fast training settings used by the default tests.
FAST = dict(steps=300, batch_size=128, hidden=64, lr=1e-3)


@pytest.fixture(autouse=True)
def one_thread():
    """The critics are tiny; on a shared 2-core box, intra-op threading makes each step several times slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def gaussian_pair(seed: int, n: int, rho: float, d: int = 2) -> tuple[np.ndarray, np.ndarray, float]:
    """x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps: I(X;Y) = -d/2 log(1 - rho^2) nats."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, d))
    return x, y, -d / 2 * math.log(1 - rho**2)


def test_bounds_are_re_exported_from_their_home():
    assert (infonce_lower_bound, nwj_lower_bound, dv_lower_bound) == (
        bounds.infonce_lower_bound, bounds.nwj_lower_bound, bounds.dv_lower_bound)


# ---------------------------------------------------------------------------------------------
# Critics
# ---------------------------------------------------------------------------------------------

def test_separable_critic_scores_are_inner_products():
    c = SeparableCritic(3, 2, hidden=8, embed=4, layers=1, generator=0, dtype=torch.float64)
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(7, 2, dtype=torch.float64)
    s = c(x, y)
    assert s.shape == (5, 7)
    assert torch.allclose(s[2, 4], c.g(x[2]) @ c.h(y[4]))


@pytest.mark.parametrize("chunk", [1, 3, None])
def test_concat_critic_matches_explicit_concatenation(chunk):
    c = ConcatCritic(3, 2, hidden=8, layers=2, chunk_size=chunk, generator=1, dtype=torch.float64)
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    pairs = torch.cat([x[:, None].expand(5, 4, 3), y[None].expand(5, 4, 2)], dim=-1)  # (5, 4, 5)
    assert torch.allclose(c(x, y), c.net(pairs).squeeze(-1), atol=1e-13)


@pytest.mark.parametrize("cls", [SeparableCritic, ConcatCritic])
def test_critic_init_uses_generator_only(cls):
    state = torch.random.get_rng_state()
    a = cls(3, 2, hidden=8, generator=torch.Generator().manual_seed(5))
    b = cls(3, 2, hidden=8, generator=5)
    c = cls(3, 2, hidden=8, generator=6)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    w = a.state_dict()[next(iter(a.state_dict()))]  # first weight: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert float(w.abs().max()) <= 1 / math.sqrt(w.shape[1])


def test_critic_argument_errors():
    with pytest.raises(ValueError, match="dim_x must be >= 1, got 0"):
        SeparableCritic(0, 2)
    with pytest.raises(TypeError, match="hidden must be an integer"):
        SeparableCritic(2, 2, hidden=2.5)
    with pytest.raises(ValueError, match="embed must be >= 1, got 0"):
        SeparableCritic(2, 2, embed=0)
    with pytest.raises(ValueError, match="layers must be >= 1, got 0"):
        ConcatCritic(2, 2, layers=0)
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got 0"):
        ConcatCritic(2, 2, chunk_size=0)
    with pytest.raises(ValueError, match="layers must be >= 0, got -1"):
        SeparableCritic(2, 2, layers=-1)


# ---------------------------------------------------------------------------------------------
# Trained estimators
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_trained_estimate_on_correlated_gaussian(name):
    """d = 2 + 2, rho = 0.7: I = 0.673 nats. Tolerance 0.15 nats: with these settings (n = 4000,
    300 steps, batch 128, hidden 64, lr 1e-3) 20 seeds gave mean error -0.008 to -0.010, sd 0.036,
    max |error| 0.094 for each bound (2-core CPU)."""
    x, y, true = gaussian_pair(7, 4000, 0.7)
    est = ESTIMATORS[name](x, y, **FAST, generator=7)
    assert isinstance(est, float)
    assert est == pytest.approx(true, abs=0.15)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_independent_variables_give_near_zero(name):
    """Independent x, y: over 20 seeds every estimate lay in [-0.018, 0.001] (mean -0.004 to -0.008)."""
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((4000, 2)), rng.standard_normal((4000, 2))
    assert abs(ESTIMATORS[name](x, y, **FAST, generator=3)) < 0.05


def test_reproducible_with_seed_and_details():
    x, y, _ = gaussian_pair(1, 1000, 0.5)
    opts = dict(steps=60, batch_size=64, hidden=16)
    a = infonce_mutual_information(x, y, **opts, generator=42, return_details=True)
    b = infonce_mutual_information(x, y, **opts, generator=torch.Generator().manual_seed(42), return_details=True)
    c = infonce_mutual_information(x, y, **opts, generator=43)
    assert a["estimate"] == b["estimate"] and a["train_curve"] == b["train_curve"]
    assert a["estimate"] != c
    assert a["cap"] == pytest.approx(math.log(64)) and a["estimate"] <= a["cap"]
    assert a["train_curve_steps"] == [50, 60] and len(a["train_curve"]) == 2
    assert (a["n_train"], a["n_test"], a["batch_size"]) == (700, 300, 64)
    assert len(a["test_batch_values"]) == 300 // 64
    assert a["estimate"] == pytest.approx(np.mean(a["test_batch_values"]), rel=1e-12)
    assert a["standard_error"] > 0 and isinstance(a["critic"], SeparableCritic)
    d = dv_mutual_information(x, y, **opts, generator=1, return_details=True)
    assert d["cap"] == math.inf


def test_infonce_estimate_is_capped_at_log_batch():
    """I = 6.2 nats but batch_size = 16: the estimate cannot exceed log 16 = 2.77 (over 10 seeds it lay in
    [1.96, 2.18]), whereas NWJ/DV have no such cap."""
    x, y, true = gaussian_pair(0, 1000, 0.999)
    est = infonce_mutual_information(x, y, steps=150, batch_size=16, hidden=32, lr=2e-3, generator=0,
                                     return_details=True)
    assert est["cap"] == pytest.approx(math.log(16))
    assert 1.5 < est["estimate"] <= est["cap"] < true - 3


def test_torch_input_returns_detached_tensor():
    x, y, _ = gaussian_pair(2, 600, 0.5)
    tx = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    out = nwj_mutual_information(tx, torch.tensor(y, dtype=torch.float32), steps=20, batch_size=32, hidden=8,
                                 generator=0)
    assert isinstance(out, torch.Tensor) and out.shape == () and out.dtype == torch.float32
    assert not out.requires_grad and tx.grad is None


def test_scale_invariance_through_standardisation():
    """Standardisation makes the estimate invariant to the units; 1e30 and 1e-30 neither overflow nor
    underflow (the only difference left is floating-point rounding)."""
    x, y, _ = gaussian_pair(3, 600, 0.6)
    opts = dict(steps=30, batch_size=32, hidden=8, generator=5)
    ref = dv_mutual_information(x, y, **opts)
    assert dv_mutual_information(x * 1e30, y * 1e-30, **opts) == pytest.approx(ref, abs=1e-6)
    assert dv_mutual_information(x + 1e6, 3 * y - 2, **opts) == pytest.approx(ref, abs=1e-6)


def test_constant_column_warns_and_stays_finite():
    x, y, _ = gaussian_pair(4, 600, 0.6)
    x[:, 1] = 3.0
    with pytest.warns(DegenerateInputWarning, match="x has 1 constant column"):
        est = dv_mutual_information(x, y, steps=20, batch_size=32, hidden=8, generator=0)
    assert math.isfinite(est)
    with pytest.warns(DegenerateInputWarning, match="y has constant column"):
        dv_mutual_information(y, np.ones((600, 1)), steps=2, batch_size=32, hidden=8, generator=0,
                              standardize=False)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_concat_critic_trains(name):
    x, y, true = gaussian_pair(5, 1000, 0.7)
    est = ESTIMATORS[name](x, y, critic="concat", steps=150, batch_size=64, hidden=32, lr=2e-3, generator=0)
    assert 0.2 < est < true + 0.25  # learns real dependence; short run, so only a loose check


class Bilinear(nn.Module):
    """A user critic: scores = x W y^T."""

    def __init__(self, dx: int, dy: int):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(dx, dy, dtype=torch.float64))

    def forward(self, x, y):
        return x @ self.w @ y.T


class GaussianOracle(nn.Module):
    """A parameter-free user critic: the exact log density ratio (evaluated only, never trained)."""

    def __init__(self, rho: float):
        super().__init__()
        self.rho = rho

    def forward(self, x, y):
        return log_ratio(x, y, self.rho)


def test_custom_critic_module_is_trained():
    x, y, true = gaussian_pair(6, 2000, 0.7)
    critic = Bilinear(2, 2)
    est = infonce_mutual_information(x, y, critic=critic, steps=200, batch_size=128, lr=1e-2, generator=0)
    assert float(critic.w.detach().diagonal().min()) > 0.1  # trained in place
    assert est == pytest.approx(true, abs=0.2)


def test_parameter_free_critic_is_only_evaluated():
    """The oracle critic on unstandardised data gives the closed form (tolerance as in the oracle test,
    here on 7 test batches of 256)."""
    x, y, true = gaussian_pair(8, 6000, 0.6)
    est = dv_mutual_information(x, y, critic=GaussianOracle(0.6), batch_size=256, standardize=False, generator=0,
                                return_details=True)
    assert est["train_curve"] == []
    assert est["estimate"] == pytest.approx(true, abs=0.1)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

def test_estimator_argument_errors():
    x, y, _ = gaussian_pair(0, 100, 0.5)
    f = infonce_mutual_information
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        f(x, y, steps=0)
    with pytest.raises(TypeError, match="steps must be an integer, got 1.5"):
        f(x, y, steps=1.5)
    with pytest.raises(ValueError, match=r"batch_size must be >= 2, got 1"):
        f(x, y, batch_size=1)
    with pytest.raises(ValueError, match=r"lr must be in \(0.0, inf\), got 0.0"):
        f(x, y, lr=0.0)
    for tf in (0.0, 1.0):
        with pytest.raises(ValueError, match=rf"test_fraction must be in \(0.0, 1.0\), got {tf}"):
            f(x, y, test_fraction=tf)
    with pytest.raises(ValueError, match="hidden must be >= 1, got 0"):
        f(x, y, hidden=0)
    with pytest.raises(ValueError, match="embed must be >= 1, got 0"):
        f(x, y, embed=0)
    with pytest.raises(ValueError, match="layers must be >= 0, got -2"):
        f(x, y, layers=-2)
    with pytest.raises(TypeError, match="standardize must be True or False, got 'yes'"):
        f(x, y, standardize="yes")
    with pytest.raises(ValueError, match="critic must be one of 'separable', 'concat'; got 'bilinear'"):
        f(x, y, critic="bilinear")
    with pytest.raises(TypeError, match="critic must be 'separable', 'concat' or a torch.nn.Module.*got 3"):
        f(x, y, critic=3)
    with pytest.raises(ValueError, match=r"batch_size=64 needs at least 64 rows in both splits; with n=100 and "
                                         r"test_fraction=0.3 the training split has 70 rows and the test split 30"):
        f(x, y, batch_size=64)
    with pytest.raises(TypeError, match="device must be None, a string or a torch.device, got 3.5"):
        f(x, y, batch_size=16, device=3.5)
    with pytest.raises(TypeError, match="generator must be None, an int seed or a torch.Generator"):
        f(x, y, batch_size=16, generator="seed")
    with pytest.raises(ValueError, match="same number of samples"):
        f(x, y[:50])


def test_the_three_estimators_share_one_critic_training_record():
    import dataclasses
    import inspect

    fields = [f.name for f in dataclasses.fields(CriticTraining)]
    for name, fn in ESTIMATORS.items():
        assert fn.__name__ == f"{name}_mutual_information"
        options = list(inspect.signature(fn).parameters)
        assert options == ["x", "y", *fields, "return_details"]
        assert all(inspect.signature(fn).parameters[f].default == CriticTraining.__dataclass_fields__[f].default
                   for f in fields)
    assert CriticTraining(device="cpu").device == torch.device("cpu")
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        CriticTraining(steps=0)
    with pytest.raises(ValueError, match=r"batch_size=8 needs at least 8 rows in both splits; with n=20"):
        CriticTraining(batch_size=8).split(20)
    assert CriticTraining(batch_size=8, test_fraction=0.5).split(20) == (10, 10)


def test_critic_output_errors():
    x, y, _ = gaussian_pair(0, 200, 0.5)

    class Wrong(nn.Module):
        def forward(self, a, b):
            return a @ b.T[:, :-1]

    with pytest.raises(ValueError, match=r"critic must return a \(32, 32\) score matrix .*got \(32, 31\)"):
        dv_mutual_information(x, y, critic=Wrong(), batch_size=32, generator=0)

    class Huge(nn.Module):
        def forward(self, a, b):
            return torch.full((a.shape[0], b.shape[0]), 1e4, dtype=a.dtype)

    with pytest.raises(ValueError, match="nwj bound is not finite on the test split"):
        nwj_mutual_information(x, y, critic=Huge(), batch_size=32, generator=0)


# ---------------------------------------------------------------------------------------------
# Slow / GPU
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_higher_mi_slow(name):
    """d = 2 + 2, rho = 0.9: I = 1.661 nats, well below the InfoNCE cap log 256 = 5.55.
    Tolerance 0.15 nats: over 6 seeds the error had mean -0.025 to -0.042, sd 0.019, max |error| 0.065
    (about 5 s per run on the 2-core CPU)."""
    x, y, true = gaussian_pair(9, 10000, 0.9)
    est = ESTIMATORS[name](x, y, steps=1500, batch_size=256, hidden=128, lr=1e-3, generator=9)
    assert est == pytest.approx(true, abs=0.15)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_on_gpu():
    x, y, true = gaussian_pair(7, 4000, 0.7)
    tx, ty = torch.tensor(x, device="cuda"), torch.tensor(y, device="cuda")
    est = infonce_mutual_information(tx, ty, **FAST, generator=7)
    assert est.device.type == "cuda"
    assert float(est) == pytest.approx(true, abs=0.15)
    cpu_gen = infonce_mutual_information(tx, ty, **FAST, generator=torch.Generator().manual_seed(1))
    assert cpu_gen.device.type == "cuda"
