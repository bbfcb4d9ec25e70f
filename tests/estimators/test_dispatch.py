"""infossl.estimators.dispatch: the method= facade and the auto rules. n << d (d = 10 000, n = 50) goes
through the n x n Gram route: fast, and a value or a clear error (issue 14)."""
import math
import time
import warnings

import numpy as np
import pytest
import torch

import infossl
from infossl import DegenerateInputWarning
from infossl.estimators import ReliabilityWarning, gaussian_entropy, ksg_mutual_information
from infossl.estimators.intrinsic import is_manifold, manifold_dimension
from infossl.synthetic import make_family


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(0)
    return rng.standard_normal((50, 10_000)), rng.standard_normal((50, 10_000))


def _timed(fn):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        out = fn()
    return out, time.perf_counter() - t0


def test_wide_entropy_is_fast(wide):
    z, _ = wide
    with pytest.raises(ValueError, match="bias_correction needs n > d"):
        infossl.entropy(z, method="gaussian")
    h, secs = _timed(lambda: infossl.entropy(z, method="gaussian", bias_correction=False))
    assert np.isfinite(h) and secs < 10
    # the Gram route gives the value of the (d, d) formula: compare on a smaller wide case
    small = z[:, :300]
    cov = np.cov(small.T) + 1e-6 * np.cov(small.T).diagonal().mean() * np.eye(300)
    exact = 0.5 * (300 * np.log(2 * np.pi * np.e) + np.linalg.slogdet(cov)[1])
    assert _timed(lambda: infossl.entropy(small, method="gaussian", bias_correction=False))[0] == pytest.approx(exact, rel=1e-9)
    for method in ("copula", "auto"):
        h, secs = _timed(lambda: infossl.entropy(z, method=method))
        assert np.isfinite(h) and secs < 20, (method, secs)


@pytest.mark.parametrize("method", ["gaussian", "copula", "auto"])
def test_wide_mi_is_fast_and_clear(wide, method):
    x, y = wide
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="more samples than dimensions"):
        infossl.mutual_information(x, y, method=method)
    assert time.perf_counter() - t0 < 20


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



# ----------------------------------------------------------------------------------------- method table and rules
def test_named_method_equals_its_function(rng):
    x, y = rng.standard_normal((300, 2)), rng.standard_normal((300, 3))
    assert infossl.mutual_information(x, y, method="ksg", k=4) == ksg_mutual_information(x, y, k=4)
    assert infossl.entropy(x, method="gaussian") == gaussian_entropy(x)




def test_auto_on_resampled_rows_counts_each_pair_once_and_says_so(rng):
    x = rng.standard_normal((400, 2))
    y = x + rng.standard_normal((400, 2))
    idx = rng.integers(0, 400, 1200)  # re-sampled with replacement: many points with >= k copies
    with pytest.warns(ReliabilityWarning, match="each distinct pair is counted once"):
        v = infossl.mutual_information(x[idx], y[idx])
    keep = np.sort(np.unique(idx, return_index=True)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReliabilityWarning)
        assert v == infossl.mutual_information(x[idx][keep], y[idx][keep])  # the distinct pairs, in order


def test_auto_on_discrete_symbols_is_the_plug_in_estimate(rng):
    a = rng.integers(0, 2, 20000).astype(float)
    b = np.where(rng.random(20000) < 0.9, a, 1 - a)
    truth = math.log(2) + 0.9 * math.log(0.9) + 0.1 * math.log(0.1)  # binary symmetric channel, eps 0.1
    with pytest.warns(ReliabilityWarning, match="discrete symbols"):
        v = infossl.mutual_information(a, b)
    assert abs(v - truth) < 0.01


def test_model_based_value_above_log_n_warns_in_the_plain_call(rng):
    pair = make_family("high-mi", 5, mi=6.0)
    x, y = pair.sample(200, random_state=0)  # log 200 = 5.3 < 6
    with pytest.warns(ReliabilityWarning, match="log n ceiling"):
        v = infossl.mutual_information(x, y)
    assert v > math.log(200)
    lo = make_family("gaussian", 2)
    a, b = lo.sample(200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReliabilityWarning)
        infossl.mutual_information(a, b)  # a value well below log n: quiet


def test_auto_on_tensors_that_require_grad_warns_and_returns_no_gradient(rng):
    x = torch.from_numpy(rng.standard_normal((200, 2))).requires_grad_()
    y = x.detach() + torch.from_numpy(rng.standard_normal((200, 2)))
    with pytest.warns(UserWarning, match="not differentiable"):
        v = infossl.mutual_information(x, y)
    assert not v.requires_grad


def test_half_precision_tensors_are_computed_and_returned_in_float32(rng):
    x = rng.standard_normal((300, 2))
    y = x + rng.standard_normal((300, 2))
    v = infossl.mutual_information(torch.tensor(x, dtype=torch.float16), torch.tensor(y, dtype=torch.float16))
    assert v.dtype == torch.float32 and abs(float(v) - infossl.mutual_information(x, y)) < 0.05


def test_entropy_auto_on_a_tensor_that_requires_grad_warns(rng):
    z = torch.from_numpy(rng.standard_normal((200, 2))).requires_grad_()
    with pytest.warns(UserWarning, match="not differentiable"):
        h = infossl.entropy(z)
    assert not h.requires_grad


def test_auto_calls_return_their_route_with_the_value(rng):
    from infossl.estimators.dispatch import auto_entropy_estimate, auto_mutual_information

    x = rng.standard_normal((300, 70))
    y = 0.5 * x + rng.standard_normal((300, 70))
    value, route = auto_mutual_information(x, y)
    assert route == "copula" and isinstance(value, float) and value == infossl.mutual_information(x, y)
    value, route = auto_entropy_estimate(x[:, :3])
    assert route == "corrected-knn" and value == infossl.entropy(x[:, :3])
    t, route = auto_mutual_information(torch.from_numpy(x[:, :2]), torch.from_numpy(y[:, :2]))
    assert route == "corrected-ksg" and t.ndim == 0


def test_latent_route_measures_twonn_on_its_training_rows_in_both_calls(embedded):
    """The plain call and details=True (below the evidence route's n) fit the latent on the same training
    rows and measure its TwoNN dimensions there, not on all rows."""
    from infossl.estimators.latent import latent_parts

    _, x, y = embedded
    x, y = x[:1500], y[:1500]
    tx, ty = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in (x, y))
    own = latent_parts(tx, ty)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        plain = infossl.mutual_information(x, y)
        r = infossl.mutual_information(x, y, details=True)
    assert float(plain) == pytest.approx(float(own.value)) and r.value == pytest.approx(float(own.value))
    assert r.info["id_x_train"] == pytest.approx(own.id_x) and r.info["latent_dim"] == own.latent_dim
