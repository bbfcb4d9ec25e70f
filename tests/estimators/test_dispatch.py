"""Issue 14: n << d (d = 10 000, n = 50) goes through the n x n Gram route: fast, and a value or a clear error."""
import time
import warnings

import numpy as np
import pytest

import infossl
from infossl import DegenerateInputWarning


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
