"""Tests of the shared pieces of the held-out estimators (infossl.estimators._heldout)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from infossl.estimators._heldout import (discrete_mi, fit_row_normal_scores, heldout_interval,
                                         miller_madow_entropy, row_codes, seeded_init)


def test_miller_madow_entropy_of_uniform_counts():
    counts = np.array([250, 250, 250, 250, 0])
    assert miller_madow_entropy(counts, 1000) == pytest.approx(math.log(4) + 3 / 2000)


def test_row_codes_equal_rows_equal_codes():
    t = torch.tensor([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0], [0.0, 1.0], [5.0, 5.0]])
    codes = row_codes(t)
    assert codes.dtype == np.int64 and codes[0] == codes[2] and codes[1] == codes[3]
    assert len(set(codes.tolist())) == 3


def test_discrete_mi_of_a_copy_is_the_entropy():
    a = np.repeat(np.arange(4), 500)
    assert discrete_mi(a, a) == pytest.approx(math.log(4) + 3 / 4000)  # MM terms: +3 +3 -3 over 2n


def test_fit_row_normal_scores_use_only_fit_rows_and_ignore_increasing_maps():
    rng = np.random.default_rng(0)
    t = torch.from_numpy(rng.standard_normal((500, 3)))
    fit = torch.arange(300)
    z = fit_row_normal_scores(t, fit)
    # any increasing map leaves the fit rows' scores; an increasing affine map leaves every row's
    assert torch.allclose(z[:300], fit_row_normal_scores(torch.exp(t) * 3 + 1, fit)[:300])
    assert torch.allclose(z, fit_row_normal_scores(t * 3 + 1, fit))
    t2 = t.clone()
    t2[300:] = t2[300:] * 2  # changing rows outside the fit rows leaves the fit rows' scores
    assert torch.allclose(fit_row_normal_scores(t2, fit)[:300], z[:300])
    assert abs(float(z[:300].mean())) < 0.05 and abs(float(z[:300].std()) - 1) < 0.1


def test_fit_row_normal_scores_interpolate_without_ties_and_match_the_ecdf_at_fit_rows():
    from scipy.stats import norm, rankdata

    rng = np.random.default_rng(3)
    t = torch.from_numpy(rng.standard_normal((2000, 2)))
    fit = torch.arange(200)
    z = fit_row_normal_scores(t, fit)
    # at the fit rows: the normal quantile of the mid-rank ECDF (r - 1/2) / m
    for c in range(2):
        expect = norm.ppf((rankdata(t[:200, c].numpy()) - 0.5) / 200)
        assert np.allclose(z[:200, c].numpy(), expect, atol=1e-12)
    # held-out rows: 1800 values between 200 fit values, yet no two share a score
    assert all(torch.unique(z[200:, c]).numel() == 1800 for c in range(2))
    # strictly increasing on a grid far beyond the fit range, and finite
    grid = torch.linspace(-400.0, 400.0, 40001, dtype=torch.float64)[:, None].repeat(1, 2)
    g = fit_row_normal_scores(torch.cat([t[:200], grid]), fit)[200:]
    assert bool(torch.isfinite(g).all()) and bool((g.diff(dim=0) > 0).all())
    # linear between two neighbouring fit values: the midpoint's CDF is the mean of theirs
    ref = t[:200, 0].sort().values
    mid = 0.5 * (ref[100] + ref[101])
    zm = fit_row_normal_scores(torch.cat([t[:200], torch.stack([mid, mid])[None, :]]), fit)[200, 0]
    assert float(zm) == pytest.approx(norm.ppf(101 / 200), abs=1e-12)


def test_fit_row_normal_scores_with_tied_fit_values_and_constant_columns():
    t = torch.tensor([[0.0], [1.0], [1.0], [2.0], [0.5], [1.5], [-3.0], [9.0]], dtype=torch.float64)
    fit = torch.arange(4)
    z = fit_row_normal_scores(t, fit).flatten()
    from scipy.stats import norm

    assert float(z[1]) == float(z[2]) == pytest.approx(0.0)  # tied fit values share the mid-rank 2/4
    assert float(z[0]) < float(z[4]) < float(z[1]) < float(z[5]) < float(z[3])
    assert float(z[6]) < float(z[0]) and float(z[7]) > float(z[3])
    assert float(z[4]) == pytest.approx(norm.ppf(0.5 * (0.125 + 0.5)))
    assert fit_row_normal_scores(t.float(), fit).dtype == torch.float32
    const = torch.ones(10, 2, dtype=torch.float64)
    const[7:, 0] = torch.tensor([0.0, 2.0, 1.0])
    zc = fit_row_normal_scores(const, torch.arange(5))
    assert bool(torch.isfinite(zc).all()) and float(zc[:5].abs().max()) == 0.0
    assert float(zc[7, 0]) == pytest.approx(norm.ppf(0.1)) and float(zc[8, 0]) == pytest.approx(norm.ppf(0.9))
    with pytest.raises(ValueError, match="at least 2 fit rows"):
        fit_row_normal_scores(torch.ones(10, 2), torch.arange(1))


def test_seeded_init_is_reproducible_and_leaves_the_global_generator():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    nets = [nn.Linear(4, 3), nn.Linear(4, 3)]
    torch.set_rng_state(before)
    for net in nets:
        seeded_init(net, torch.Generator().manual_seed(7))
    assert torch.equal(nets[0].weight, nets[1].weight)
    assert torch.equal(torch.get_rng_state(), before)


def test_heldout_interval_covers_a_mean_and_reports_subsamples():
    rng = np.random.default_rng(1)
    data = rng.standard_normal(4000)
    value = float(data.mean())
    (lo, hi), spread = heldout_interval(value, lambda idx: float(data[idx].mean()), 4000,
                                        np.random.default_rng(2))
    assert lo <= 0.0 <= hi and hi - lo < 0.2
    assert len(spread["halves"]) == 2 and len(spread["quarters"]) == 4
    _, small = heldout_interval(value, lambda idx: float(data[idx].mean()), 300, np.random.default_rng(2))
    assert small["quarters"] == []


def test_silu_mlp_layers_and_shape():
    import torch

    from infossl.estimators._heldout import silu_mlp

    net = silu_mlp(5, 16, 2, 3)
    assert [type(m).__name__ for m in net] == ["Linear", "SiLU", "Linear", "SiLU", "Linear"]
    assert net(torch.zeros(4, 5)).shape == (4, 3)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_normal_scores_refuse_non_finite_values(bad):
    t = torch.randn(50, 2, dtype=torch.float64)
    t[7, 1] = bad
    with pytest.raises(ValueError, match="finite"):
        fit_row_normal_scores(t, torch.arange(30))
