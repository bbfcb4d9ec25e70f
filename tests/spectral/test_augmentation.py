"""Augmentation operator from views (canonical correlations) and the regime map over lambda."""

import numpy as np
import pytest
import torch

from infossl.spectral import (
    augmentation_spectrum,
    commuting_scores,
    crop_eigenvalues,
    crossover_lambdas,
    feature_closed_form,
    feature_regime_map,
    regime_map,
    relu_ntk_eigenvalues,
    walsh_subsets,
)

TOY_NU = [0.9, 0.75, 0.5]
TOY_NORMS = [0.4, 0.25, 0.125]


# ------------------------------------------------------------------------- the paper's Figure 2 toy example
@pytest.mark.parametrize("convention, switches", [("operator", [1.0, 2.0]), ("penalty", [2.0, 4.0])])
def test_toy_switch_points(convention, switches):
    cross = crossover_lambdas(TOY_NU, TOY_NORMS, convention=convention)
    assert cross.lam.tolist() == pytest.approx(switches, rel=1e-12)
    # The winner just before / between / after the switches: f1, f2, f3.
    lams = [switches[0] * 0.99, (switches[0] + switches[1]) / 2, switches[1] * 1.01]
    df = regime_map(TOY_NU, TOY_NORMS, lams, convention=convention)
    assert df.top.tolist() == [0, 1, 2]
    assert df.regime.tolist() == ["augmentation", "interplay", "architecture"]


def test_toy_scores_match_by_hand():
    # lambda = 1.5 (operator convention): .9 - .6, .75 - .375, .5 - .1875
    assert commuting_scores(TOY_NU, TOY_NORMS, 1.5, convention="operator") == pytest.approx([0.3, 0.375, 0.3125])
    assert commuting_scores(TOY_NU, TOY_NORMS, 3.0, convention="penalty") == pytest.approx([0.3, 0.375, 0.3125])


def test_regime_map_rank_with_beta():
    # beta = 1: s_i = score_i, kept iff score > 0; at lambda = 8 (operator convention) the best two scores are
    # .5 - 8 * .125 = -0.5 and .75 - 8 * .25 < 0 -> complete collapse.
    df = regime_map(TOY_NU, TOY_NORMS, [0.0, 8.0], k=2, beta=1.0, convention="operator")
    assert df["rank"].tolist() == [2, 0]
    assert df.variances[0] == pytest.approx([0.9, 0.75])


# ------------------------------------------------------------------------------- hypercube d = 10, w = 7
@pytest.fixture(scope="module")
def cube10():
    subsets = walsh_subsets(10)
    nu = crop_eigenvalues(10, 7, subsets)
    mu = relu_ntk_eigenvalues(10)
    norms = 1.0 / np.array([mu[len(s)] for s in subsets])
    return subsets, nu, norms


def test_hypercube_crossover_and_collapse(cube10):
    subsets, nu, norms = cube10
    cross = crossover_lambdas(nu, norms, k=41)
    first = cross.iloc[0]
    # Contiguous triples (T = .25, ||.||^2 = 1/mu_3 ~ 3567) give way to pairs (T = .16, 1/mu_2 ~ 115):
    # lambda* = 2 (.25 - .16) / (1/mu_3 - 1/mu_2) (penalty convention).
    mu = relu_ntk_eigenvalues(10)
    lam_star = 2 * (0.25 - 0.16) / (1 / mu[3] - 1 / mu[2])
    assert first.lam == pytest.approx(lam_star, rel=1e-9)
    assert 5.1e-5 < first.lam < 5.3e-5
    assert [c[2] for c in first.leaving] == [10] and first.leaving[0][0] == pytest.approx(0.25)
    assert sum(c[2] for c in first.entering) == 10 and first.entering[0][0] == pytest.approx(0.16)
    df = regime_map(nu, norms, [1e-5, 1e-4, 1.0], k=41, beta=10.0)
    sel = [subsets[i] for i in df.selected[0]]
    assert sorted(len(s) for s in sel) == [0] + [1] * 10 + [2] * 20 + [3] * 10
    assert df["rank"].tolist() == [41, 41, 11]   # dimensional collapse to rank 11 at lambda = 1
    # Past lambda* the selection already equals the lambda -> infinity one (kernel PCA with ties inside K's
    # degenerate degree-2 eigenspace broken by T), so this k has no separate interplay regime.
    assert df.regime.tolist() == ["augmentation", "architecture", "architecture"]


# ------------------------------------------------------------------------------ spectrum estimated from views
def latent_views(rng, n, rhos, m=2):
    """Views x_a = sqrt(rho) s + sqrt(1 - rho) e_a per coordinate: corr(x_a, x_b) = rho exactly."""
    rhos = np.asarray(rhos)
    s = rng.standard_normal((n, len(rhos)))
    return [np.sqrt(rhos) * s + np.sqrt(1 - rhos) * rng.standard_normal(s.shape) for _ in range(m)]


def test_spectrum_recovers_view_correlations(rng):
    rhos = [0.9, 0.6, 0.3, 0.05]
    views = latent_views(rng, 40000, rhos)
    mixing = rng.standard_normal((4, 4))  # CCA is invariant to an invertible map of the features
    nu = augmentation_spectrum([v @ mixing for v in views])
    # Standard error of a correlation ~ (1 - rho^2)/sqrt(n) <= 0.005; 4 s.e. plus the sample-CCA upward bias.
    assert nu == pytest.approx(rhos, abs=0.02)


def test_spectrum_list_equals_array_with_groups(rng):
    views = latent_views(rng, 500, [0.8, 0.4], m=3)
    stacked = np.stack(views, axis=1).reshape(-1, 2)
    groups = np.repeat(np.arange(500), 3)
    perm = rng.permutation(len(stacked))  # row order does not matter
    a = augmentation_spectrum(views)
    b = augmentation_spectrum(stacked[perm], groups[perm])
    assert np.allclose(a, b, atol=1e-12)
    c = augmentation_spectrum([torch.from_numpy(v) for v in views])
    assert isinstance(c, torch.Tensor) and np.allclose(c.numpy(), a, atol=1e-12)


def test_uncentred_spectrum_contains_the_constant(rng):
    views = latent_views(rng, 2000, [0.5])
    views = [np.hstack([v + 3.0, np.ones((len(v), 1))]) for v in views]
    nu = augmentation_spectrum(views, center=False)
    assert nu[0] == pytest.approx(1.0, abs=1e-10)
    assert augmentation_spectrum(views, center=True).shape == (1,)  # the constant column drops out


def test_feature_regime_map_matches_toy_and_solver(rng):
    rho, var = np.array(TOY_NU), 1 / np.array(TOY_NORMS)
    s = rng.standard_normal((30000, 3))
    views = [np.sqrt(var) * (np.sqrt(rho) * s + np.sqrt(1 - rho) * rng.standard_normal(s.shape)) for _ in range(2)]
    # Sample switch points move by O(n^-1/2); probe well inside each regime.
    df = feature_regime_map(views, lams=[0.0, 0.7, 1.5, 2.5, 10.0], k=1, convention="operator", beta=1.0)
    assert df.regime.tolist() == ["augmentation", "augmentation", "interplay", "architecture", "architecture"]
    assert df.overlap_augmentation[0] == pytest.approx(1.0)
    assert df.overlap_architecture.iloc[-1] > 0.99
    # top_nu is the solver's top eigenvalue (same estimator, same convention)
    phi = np.stack(views, axis=1).reshape(-1, 3)
    sol = feature_closed_form(phi, np.repeat(np.arange(30000), 2), k=1, lam=1.5, convention="operator",
                              beta=1.0, center=True)
    assert df.top_nu[2] == pytest.approx(float(sol.nu[0]), abs=1e-10)
    assert df["rank"].tolist()[-1] == 0 and df["rank"][0] == 1


# --------------------------------------------------------------------------------------------- error paths
def test_bad_views(rng):
    v = rng.standard_normal((10, 2))
    with pytest.raises(ValueError, match="views must all have the same shape"):
        augmentation_spectrum([v, v[:8]])
    with pytest.raises(ValueError, match="at least 2 views"):
        augmentation_spectrum([v])
    with pytest.raises(ValueError, match="groups is required"):
        augmentation_spectrum(v)
    with pytest.raises(ValueError, match="not both"):
        augmentation_spectrum([v, v], groups=np.arange(10))
    with pytest.raises(ValueError, match="same number of views"):
        augmentation_spectrum(v, [0, 0, 0, 1, 1, 2, 2, 3, 3, 4])
    with pytest.raises(ValueError, match="covariance is zero"):
        augmentation_spectrum([np.ones((10, 2)), np.ones((10, 2))])
    with pytest.raises(ValueError, match=r"tol must be in \[0.0"):
        augmentation_spectrum([v, v], tol=-1.0)
    with pytest.raises(ValueError, match="k=3 exceeds the rank r=2"):
        feature_regime_map([v, v], lams=[0.1], k=3)
    with pytest.raises(ValueError, match="lams must be a non-empty array"):
        feature_regime_map([v, v], lams=[], k=1)
    with pytest.raises(ValueError, match=r"threshold must be in \(0.0, 1.0\]"):
        feature_regime_map([v, v], lams=[0.1], k=1, threshold=0.0)
    with pytest.raises(ValueError, match=r"beta must be in \(0.0"):
        feature_regime_map([v, v], lams=[0.1], k=1, beta=-1.0)
    with pytest.raises(ValueError, match="groups is required"):
        feature_regime_map(v, lams=[0.1], k=1)


def test_bad_spectra():
    with pytest.raises(ValueError, match="same length"):
        regime_map([0.5, 0.2], [1.0], [0.1])
    with pytest.raises(ValueError, match="squared RKHS norms and must be >= 0"):
        crossover_lambdas([0.5, 0.2], [1.0, -1.0])
    with pytest.raises(ValueError, match="non-empty and finite"):
        commuting_scores([np.nan], [1.0], 0.1)
    with pytest.raises(ValueError, match="lams must be a non-empty array of finite values >= 0"):
        regime_map([0.5], [1.0], [-0.1])
    with pytest.raises(ValueError, match=r"lam must be in \[0.0"):
        commuting_scores([0.5], [1.0], -1.0)
    with pytest.raises(ValueError, match=r"k must be in \[1, 2\]"):
        regime_map([0.5, 0.2], [1.0, 2.0], [0.1], k=3)
    with pytest.raises(ValueError, match="convention must be one of"):
        crossover_lambdas([0.5, 0.2], [1.0, 2.0], convention="half")
    with pytest.raises(ValueError, match=r"beta must be in \(0.0"):
        regime_map([0.5], [1.0], [0.1], beta=0.0)
