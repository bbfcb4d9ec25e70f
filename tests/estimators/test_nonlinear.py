"""Tests of the nonlinear latent route and of the discrete plug-in MI (infossl.estimators.nonlinear)."""
import math

import numpy as np
import pytest
import torch

from infossl.estimators.nonlinear import (NonlinearResult, discrete_mutual_information,
                                          nonlinear_mutual_information, row_repeats)

# Small, fast settings: the encoders train for at most 40 epochs
FAST = dict(max_epochs=40, patience=10, hidden=32)


def _curved_pair(n: int, rho: float, seed: int):
    """A Gaussian latent pair (1 + 1 dims, correlation rho) mapped injectively with no linear copy."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((n, 1))
    v = rho * u + math.sqrt(1 - rho ** 2) * rng.standard_normal((n, 1))
    x = np.hstack([np.tanh(2 * u), np.tanh(2 * u) ** 3, np.sinh(u), np.cos(3 * u)])
    y = np.hstack([np.arctan(3 * v), np.exp(v), np.sin(2 * v)])
    return x, y, -0.5 * math.log(1 - rho ** 2)


def test_discrete_closed_form_binary_symmetric_channel():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 40000)
    b = np.where(rng.random(40000) < 0.8, a, 1 - a)
    truth = math.log(2) + 0.8 * math.log(0.8) + 0.2 * math.log(0.2)
    # sampling sd of the plug-in at n = 4e4 is about 0.003 nats here; 0.015 is five of them
    assert abs(discrete_mutual_information(a, b) - truth) < 0.015


def test_discrete_independent_is_near_zero_after_miller_madow():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 10, 3000), rng.integers(0, 10, 3000)
    # plug-in bias 81 / 6000 = 0.0135 nats; the corrected value is within 0.01 of 0
    assert abs(discrete_mutual_information(a, b)) < 0.01


def test_discrete_rows_are_symbols_and_invariant_to_relabelling():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, 2000)
    table = rng.standard_normal((4, 5))
    x = table[codes]  # (n, 5): four distinct rows
    y = (codes + rng.integers(0, 2, 2000)) % 4
    same = discrete_mutual_information(codes, y)
    assert discrete_mutual_information(x, y) == pytest.approx(same, abs=1e-12)
    assert discrete_mutual_information(x, y) == pytest.approx(discrete_mutual_information(7 * codes + 1, y))


def test_discrete_details_interval_holds_the_truth_and_counts_symbols():
    rng = np.random.default_rng(10)
    a = rng.integers(0, 6, 5000)
    b = np.where(rng.random(5000) < 0.6, a, rng.integers(0, 6, 5000))
    p_same = 0.6 + 0.4 / 6
    truth = p_same * math.log(6 * p_same) + (1 - p_same) * math.log(6 * 0.4 / 6)
    res = discrete_mutual_information(a, b, details=True)
    assert isinstance(res, NonlinearResult) and res.mode == "discrete"
    assert res.value == pytest.approx(discrete_mutual_information(a, b))
    assert res.interval[0] <= truth <= res.interval[1]
    assert res.interval[1] - res.interval[0] < 0.1
    assert res.info == dict(symbols_x=6, symbols_y=6, symbols_joint=36)
    # the interval depends on random_state, the value does not
    other = discrete_mutual_information(a, b, details=True, random_state=1)
    assert other.value == res.value and other.interval != res.interval


def test_discrete_interval_with_few_rows():
    a = np.arange(30) % 3
    res = discrete_mutual_information(a, a, details=True)
    assert all(math.isnan(v) for v in res.interval) and "too few" in res.notes[0]
    res = discrete_mutual_information(np.arange(300) % 3, np.arange(300) % 3, details=True)
    assert res.interval[0] <= res.value <= res.interval[1]  # halves only


def test_discrete_on_rows_resampled_from_continuous_data_reads_about_log_n():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1000, 3))
    idx = rng.integers(0, 1000, 4000)
    # every item its own symbol: the documented misuse, far above the (zero) MI of x with itself's noise
    assert discrete_mutual_information(x[idx], x[idx]) > math.log(np.unique(idx).size) - 0.5


@pytest.mark.parametrize("make, regime", [
    (lambda r: (r.integers(0, 3, 1000), r.integers(0, 4, 1000)), "discrete"),
    (lambda r: (lambda i: (r.standard_normal((300, 2))[i], r.standard_normal((300, 2))[i]))(
        r.integers(0, 300, 1000)), "copies"),
    (lambda r: (r.integers(0, 300, 1000), r.standard_normal(1000)), "one-side"),
    (lambda r: (r.standard_normal((1000, 2)), r.standard_normal(1000)), "none"),
])
def test_row_repeats_names_the_regime(make, regime):
    x, y = make(np.random.default_rng(12))
    out = row_repeats(x, y)
    assert out["regime"] == regime and out["n_rows"] == 1000
    assert out["distinct_pairs"] <= 1000 and out["distinct_x"] <= 1000


def test_curved_pair_is_read_within_tolerance():
    x, y, truth = _curved_pair(4000, 0.8, 0)
    res = nonlinear_mutual_information(x, y, latent_dim=1, device="cpu", random_state=0, details=True, **FAST)
    assert isinstance(res, NonlinearResult)
    # truth 0.511; the held-out reading on 2000 rows has sd about 0.03 and the encoders lose a little
    assert abs(res.value - truth) < 0.1
    assert res.mode == "latent" and res.latent_dim == 1
    assert res.interval[0] <= res.value <= res.interval[1]
    assert res.n_fit + res.n_stop + res.n_heldout == 4000


def test_gaussian_pair_closed_form():
    # a 2 + 2 Gaussian pair (canonical correlations 0.8, 0.6) mixed linearly into 5 + 4 dims:
    # I = -1/2 [log(1 - 0.64) + log(1 - 0.36)] = 0.734 nats
    rng = np.random.default_rng(7)
    u = rng.standard_normal((4000, 2))
    v = np.array([0.8, 0.6]) * u + np.sqrt(1 - np.array([0.64, 0.36])) * rng.standard_normal((4000, 2))
    x, y = u @ rng.standard_normal((2, 5)), v @ rng.standard_normal((2, 4))
    truth = -0.5 * (math.log(1 - 0.64) + math.log(1 - 0.36))
    res = nonlinear_mutual_information(x, y, latent_dim=2, device="cpu", random_state=1, details=True, **FAST)
    assert abs(res.value - truth) < 0.1 and res.latent_dim == 2
    assert res.interval[0] - 0.05 <= truth <= res.interval[1] + 0.05


def test_invariant_to_injective_maps_of_each_side():
    x, y, _ = _curved_pair(3000, 0.7, 1)
    a = nonlinear_mutual_information(x, y, latent_dim=1, device="cpu", **FAST)
    b = nonlinear_mutual_information(np.sinh(2 * x) + 0.1 * x ** 3, np.exp(y / 2), latent_dim=1, device="cpu",
                                     **FAST)
    # the same information through other injective maps; the two readings differ by their own errors
    assert abs(a - b) < 0.12


def test_independent_pair_reads_zero():
    rng = np.random.default_rng(4)
    x, y = np.tanh(rng.standard_normal((2000, 6))), rng.standard_normal((2000, 5)) ** 3
    res = nonlinear_mutual_information(x, y, device="cpu", details=True, **FAST)
    assert abs(res.value) < 0.05


def test_deterministic_under_random_state_and_changes_with_it():
    x, y, _ = _curved_pair(1500, 0.8, 2)
    a = nonlinear_mutual_information(x, y, latent_dim=1, device="cpu", random_state=5, **FAST)
    b = nonlinear_mutual_information(x, y, latent_dim=1, device="cpu", random_state=5, **FAST)
    c = nonlinear_mutual_information(x, y, latent_dim=1, device="cpu", random_state=6, **FAST)
    assert a == b
    assert a != c


def test_global_generators_untouched_and_threads_restored():
    x, y, _ = _curved_pair(800, 0.8, 3)
    torch.manual_seed(123)
    np.random.seed(7)
    threads = torch.get_num_threads()
    nonlinear_mutual_information(x, y, latent_dim=1, device="cpu", **FAST)
    assert torch.get_num_threads() == threads
    torch_next, np_next = torch.rand(1), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(7)
    assert torch.equal(torch_next, torch.rand(1)) and np_next == np.random.rand()


def test_torch_input_gives_tensor():
    x, y, _ = _curved_pair(800, 0.8, 4)
    out = nonlinear_mutual_information(torch.from_numpy(x), torch.from_numpy(y), latent_dim=1, device="cpu",
                                       **FAST)
    assert isinstance(out, torch.Tensor) and out.ndim == 0


def test_repeated_pairs_are_counted_once():
    x, y, _ = _curved_pair(1500, 0.8, 5)
    idx = np.random.default_rng(0).integers(0, 1500, 3000)  # re-sampled with replacement: exact ties
    res = nonlinear_mutual_information(x[idx], y[idx], latent_dim=1, device="cpu", details=True, **FAST)
    distinct = np.unique(idx).size
    assert res.mode == "latent" and res.n_rows == 3000 and res.n_distinct_pairs == distinct
    assert res.n_fit + res.n_stop + res.n_heldout == distinct
    assert any("counted once" in note for note in res.notes)
    # the same value as on the distinct pairs themselves (in the order of their first appearance, same seed)
    first = idx[np.sort(np.unique(idx, return_index=True)[1])]
    direct = nonlinear_mutual_information(x[first], y[first], latent_dim=1, device="cpu", **FAST)
    assert res.value == pytest.approx(direct)


def test_heavily_repeated_rows_are_read_as_discrete():
    rng = np.random.default_rng(6)
    a = rng.integers(0, 5, 4000)
    b = np.where(rng.random(4000) < 0.7, a, rng.integers(0, 5, 4000))
    x, y = rng.standard_normal((5, 32))[a], rng.standard_normal((5, 16))[b]  # five distinct rows a side
    res = nonlinear_mutual_information(x, y, details=True)
    assert res.mode == "discrete"
    assert res.value == pytest.approx(discrete_mutual_information(a, b))
    assert res.interval[0] <= res.value <= res.interval[1]


def test_forced_discrete_mode():
    x, y, _ = _curved_pair(400, 0.8, 7)
    res = nonlinear_mutual_information(x, y, duplicates="discrete", details=True)
    # every row its own symbol: the plug-in reads about log n, as documented
    assert res.mode == "discrete" and res.value > math.log(400) - 1


@pytest.mark.parametrize("kw, match", [
    (dict(reading="kde"), "reading"),
    (dict(duplicates="jitter"), "duplicates"),
    (dict(latent_dim=0), "latent_dim"),
    (dict(train_fraction=1.0), "train_fraction"),
    (dict(stop_fraction=0.0), "stop_fraction"),
    (dict(lr=0.0), "lr"),
])
def test_bad_options(kw, match):
    x, y, _ = _curved_pair(400, 0.8, 8)
    with pytest.raises(ValueError, match=match):
        nonlinear_mutual_information(x, y, **kw)


def test_too_few_rows():
    x, y, _ = _curved_pair(150, 0.8, 9)
    with pytest.raises(ValueError, match="200"):
        nonlinear_mutual_information(x, y)
    x, y, _ = _curved_pair(300, 0.8, 9)
    with pytest.raises(ValueError, match="at least 50"):
        nonlinear_mutual_information(x, y, train_fraction=0.2)
