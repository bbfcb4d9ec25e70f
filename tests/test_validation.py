"""The boundary policy (infossl._backend, infossl._validation), exercised through the public façade."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

import infossl
from infossl._backend import chunk_size_for, global_scale, iter_chunks, to_tensor
from infossl._validation import (check_choice, check_float, check_generator, check_int, check_pair,
                                 check_random_state)


@pytest.fixture
def z(rng):
    return rng.standard_normal((50, 3))


def test_nan_and_inf_are_named(z):
    z = z.copy()
    z[7, 2] = np.nan
    z[9, 0] = np.inf
    with pytest.raises(ValueError, match=r"z contains 1 NaN and 1 infinite values \(first at row 7, column 2\)"):
        infossl.entropy(z, method="gaussian")
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        infossl.mutual_information(z, z[:, :1], method="gaussian")


def test_empty_and_wrong_rank():
    with pytest.raises(ValueError, match=r"z is empty: shape \(0, 3\)"):
        infossl.entropy(np.zeros((0, 3)), method="gaussian")
    with pytest.raises(ValueError, match=r"must be 2-D .* got shape \(2, 3, 4\).*reshape"):
        infossl.entropy(np.zeros((2, 3, 4)), method="gaussian")
    with pytest.raises(ValueError, match=r"must be 2-D .* got shape \(\)"):
        infossl.entropy(np.float64(1.0), method="gaussian")


def test_one_d_is_a_column(rng):
    v = rng.standard_normal(400)
    assert infossl.entropy(v, method="gaussian") == infossl.entropy(v[:, None], method="gaussian")


def test_different_n(z):
    with pytest.raises(ValueError, match="same number of samples .* got 50 and 49"):
        infossl.mutual_information(z, z[:49], method="gaussian")


def test_dtypes(z):
    with pytest.raises(TypeError, match="boolean dtype"):
        infossl.entropy(z > 0, method="gaussian")
    with pytest.raises(TypeError, match="complex dtype"):
        infossl.entropy(z.astype(complex), method="gaussian")
    with pytest.raises(TypeError, match="boolean dtype"):
        infossl.entropy(torch.from_numpy(z) > 0, method="gaussian")
    with pytest.raises(TypeError, match="cannot be read as numbers"):
        infossl.entropy(np.array([["a", "b"], ["c", "d"]], dtype=object), method="gaussian")
    # integers are read as continuous values in float64
    zi = np.round(10 * z).astype(np.int32)
    assert infossl.entropy(zi, method="gaussian") == pytest.approx(
        infossl.entropy(zi.astype(float), method="gaussian"))
    # float16 numpy -> float64; float16 torch -> computed and returned in float32
    assert isinstance(infossl.entropy(z.astype(np.float16), method="gaussian"), float)
    h16 = infossl.entropy(torch.from_numpy(z).half(), method="gaussian")
    assert h16.dtype == torch.float32
    assert float(h16) == pytest.approx(infossl.entropy(z.astype(np.float16), method="gaussian"), rel=1e-4)
    hi = infossl.entropy(torch.from_numpy(zi), method="gaussian")
    assert hi.dtype == torch.float64


def test_pandas_and_lists(z):
    df = pd.DataFrame(z)
    assert infossl.entropy(df, method="gaussian") == pytest.approx(infossl.entropy(z, method="gaussian"))
    assert infossl.entropy(z.tolist(), method="gaussian") == pytest.approx(infossl.entropy(z, method="gaussian"))


def test_mixed_numpy_torch_pair(z):
    y = z[:, :1] + 1.0
    y[::2] = 0.0
    v = infossl.mutual_information(torch.from_numpy(z).float(), y, method="gaussian")
    # computed in the wider dtype, returned in x's currency (a float32 0-d tensor)
    assert isinstance(v, torch.Tensor) and v.ndim == 0 and v.dtype == torch.float32
    assert float(v) == pytest.approx(infossl.mutual_information(z, y, method="gaussian"), rel=1e-6)


def test_scale_extremes(z, rng):
    y = z[:, :2] + rng.standard_normal((len(z), 2))
    for a in (1e30, 1e-30):
        h = infossl.entropy(a * z, method="gaussian")
        assert math.isfinite(h)
        assert h == pytest.approx(infossl.entropy(z, method="gaussian") + 3 * math.log(a), rel=1e-9)
        mi = infossl.mutual_information(a * z, y, method="gaussian")
        assert math.isfinite(mi)
        assert mi == pytest.approx(infossl.mutual_information(z, y, method="gaussian"), rel=1e-8)


def test_float32_extreme_scale(z):
    t = torch.from_numpy(z).float() * 1e30  # squares would overflow float32
    h = infossl.entropy(t, method="gaussian")
    assert torch.isfinite(h)


def test_unknown_method_and_auto_options(z):
    with pytest.raises(ValueError, match="unknown entropy method 'nope'; choose one of 'gaussian'"):
        infossl.entropy(z, method="nope")
    with pytest.raises(ValueError, match="unknown mutual-information method 'knn'"):
        infossl.mutual_information(z, z, method="knn")
    with pytest.raises(TypeError, match="method='auto' takes no options"):
        infossl.entropy(z, k=5)
    with pytest.raises(TypeError, match="method='auto' takes no options"):
        infossl.mutual_information(z, z, k=5)


def test_scalar_checks():
    assert check_int(3, "k") == 3
    with pytest.raises(TypeError, match="k must be an integer, got True"):
        check_int(True, "k")
    with pytest.raises(ValueError, match=r"k must be >= 1, got 0"):
        check_int(0, "k")
    with pytest.raises(ValueError, match=r"k must be in \[1, 4\], got 5"):
        check_int(5, "k", high=4)
    with pytest.raises(TypeError, match="beta must be a real number"):
        check_float("1", "beta")
    with pytest.raises(ValueError, match="beta must be finite"):
        check_float(float("nan"), "beta")
    with pytest.raises(ValueError, match=r"beta must be in \(0.0, inf\), got 0.0"):
        check_float(0.0, "beta", low=0.0, low_open=True)
    with pytest.raises(ValueError, match=r"a must be in \(-inf, 1.0\), got 1.0"):
        check_float(1.0, "a", high=1.0, high_open=True)
    with pytest.raises(ValueError, match="metric must be one of 'a', 'b'; got 'c'"):
        check_choice("c", "metric", ("a", "b"))


def test_random_state_and_generator():
    a = check_random_state(3).standard_normal(3)
    np.testing.assert_array_equal(a, np.random.default_rng(3).standard_normal(3))
    g = np.random.default_rng(0)
    assert check_random_state(g) is g
    assert isinstance(check_random_state(np.random.RandomState(0)), np.random.Generator)
    with pytest.raises(TypeError, match="random_state must be None, an int or a numpy Generator"):
        check_random_state("seed")
    t1 = torch.rand(3, generator=check_generator(5, torch.device("cpu")))
    t2 = torch.rand(3, generator=check_generator(5, torch.device("cpu")))
    assert torch.equal(t1, t2)
    tg = torch.Generator()
    assert check_generator(tg, torch.device("cpu")) is tg
    assert isinstance(check_generator(None, torch.device("cpu")), torch.Generator)
    with pytest.raises(TypeError, match="generator must be None, an int seed or a torch.Generator"):
        check_generator(1.5, torch.device("cpu"))


def test_backend_helpers(rng):
    assert [s.start for s in iter_chunks(10, 4)] == [0, 4, 8]
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
        list(iter_chunks(10, 0))
    assert chunk_size_for(1000, itemsize=8, memory_budget=8000 * 5) == 5
    z = torch.from_numpy(rng.standard_normal((100, 3)))
    s = global_scale(z)
    assert float(s) == pytest.approx(float(((z - z.mean(0)) ** 2).mean().sqrt()), rel=1e-12)
    assert float(global_scale(torch.ones(5, 2))) == 0.0
    t, b = to_tensor(np.arange(3.0))
    assert not b.is_torch and b.finish(t.sum()) == 3.0
    x, y, bb = check_pair(torch.zeros(4, 1) + torch.arange(4.0)[:, None], np.arange(4.0))
    assert bb.is_torch and x.dtype == torch.float64


@pytest.mark.parametrize("method,options", [("gaussian", {}), ("logdet", {}), ("knn", {}),
                                            ("mixture", {"sigma": 0.5}), ("renyi", {})])
def test_estimators_ignore_autocast(rng, method, options):
    # Inside a bfloat16 autocast region the estimators still compute in float32 (bfloat16 log-dets and
    # log-distances would be off by far more than the 1e-4 allowed here).
    z = torch.from_numpy(rng.standard_normal((200, 8))).float().requires_grad_()
    ref = infossl.entropy(z, method=method, **options)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = infossl.entropy(z, method=method, **options)
    assert h.dtype == torch.float32
    assert float(h.detach()) == pytest.approx(float(ref.detach()), rel=1e-4)
    h.backward()
    assert torch.isfinite(z.grad).all()


def test_infovicreg_under_autocast(rng):
    from infossl.objectives import InfoVICRegLoss
    za = torch.from_numpy(rng.standard_normal((64, 16))).float().requires_grad_()
    zb = (za.detach() + 0.1 * torch.randn(64, 16)).requires_grad_()
    for entropy in ("gaussian", "logdet", "pairdist-kl"):
        loss_fn = InfoVICRegLoss(entropy=entropy)
        ref = loss_fn(za, zb)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_fn(za, zb)
        assert torch.isfinite(loss) and float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-3, abs=1e-3)
        loss.backward()
        assert torch.isfinite(za.grad).all()


def test_check_labels_the_one_rule():
    from infossl._validation import check_labels

    for good in ([3, 1, 3], np.array([3.0, 1.0, 3.0]), torch.tensor([3, 1, 3]), pd.Series([3, 1, 3]),
                 np.array([3, 1, 3], dtype=np.uint8)):
        out = check_labels(good, 3)
        assert out.dtype == np.int64 and out.tolist() == [3, 1, 3]
    cases = [([True, False, True], TypeError, "got boolean values"),
             (["a", "b", "a"], TypeError, "got string values"),
             (np.array([1, None, 2], dtype=object), TypeError, "got object values"),
             (np.ones(3, dtype=complex), TypeError, "got complex values"),
             ([0.0, 0.5, 1.0], TypeError, r"non-integer values \(e.g. 0.5 at row 1\)"),
             ([0.0, np.nan, 1.0], ValueError, r"contain 1 NaN or infinite entries \(first at row 1\)"),
             ([0.0, np.inf, 1.0], ValueError, "NaN or infinite"),
             ([[0], [1], [2]], ValueError, r"must be 1-D .* Use y.reshape\(-1\)"),
             ([0, 1], ValueError, r"y must have shape \(3,\), one entry per row; got 2 entries"),
             ([[0, 1], [2]], TypeError, "could not be read as an array"),
             ([0.0, 1e19, 1.0], ValueError, "beyond the int64 range")]
    for labels, error, message in cases:
        with pytest.raises(error, match=message):
            check_labels(labels, 3, name="y")
