"""The verdict rule on constructed cases: constant, constant + tiny noise, low rank + noise, power-law
spectra, n < d, healthy isotropic data, and the traps (a dominant direction, embeddings on one ray)."""

import numpy as np
import pytest

from infossl.diagnostics import Thresholds, collapse_rank, diagnose, effective_rank, nesum, rankme
from infossl.diagnostics.verdict import decide


def test_constant_is_complete_collapse():
    r = diagnose(np.full((100, 16), 2.5))
    assert r.verdict == "complete-collapse" and r.collapse_rank == 0
    assert r["variance_fraction"] == 0.0
    r0 = diagnose(np.zeros((50, 4)))  # the all-zero matrix too
    assert r0.verdict == "complete-collapse"


@pytest.mark.parametrize("noise", [1e-6, 1e-3])
def test_constant_plus_tiny_noise_is_complete_collapse(rng, noise):
    c = rng.standard_normal(32)
    z = c + noise * rng.standard_normal((3000, 32))
    r = diagnose(z)
    assert r.verdict == "complete-collapse" and r.collapse_rank == 0
    assert any("variance fraction" in s for s in r.reasons)
    # The trap: the centred scale-free metrics read the noise as a healthy isotropic spectrum ...
    assert effective_rank(z) > 30 and nesum(z) > 20 and r["spectral_rank"] == 32
    # ... while the uncentred RankMe and the scale-aware statistics see the collapse.
    assert rankme(z) < 1.1 and r["normalized_std_scaled"] < 1e-2


def test_float32_constant_plus_noise(rng):
    z = (1.0 + 1e-6 * rng.standard_normal((2000, 16))).astype(np.float32)
    assert diagnose(z).verdict == "complete-collapse"


@pytest.mark.parametrize("noise", [0.0, 1e-3])
def test_low_rank_plus_noise_is_dimensional_collapse(rng, noise):
    z = rng.standard_normal((4000, 3)) @ rng.standard_normal((3, 32))
    z += noise * rng.standard_normal((4000, 32))
    r = diagnose(z)
    assert r.verdict == "dimensional-collapse" and r.collapse_rank == 3 and r.dim == 32
    assert "to k = 3 of d = 32" in " ".join(r.reasons)
    r32 = diagnose(z.astype(np.float32))  # float32 products: the trailing eigenvalues stay at the noise floor
    assert (r32.verdict, r32.collapse_rank) == ("dimensional-collapse", 3)


def test_dead_dimension(rng):
    z = rng.standard_normal((3000, 10))
    z[:, 4] = 1.0
    r = diagnose(z)
    assert (r.verdict, r.collapse_rank, r["dead_dimensions"]) == ("dimensional-collapse", 9, 1)


def _power_law(rng, alpha, d, n=3000):
    q, _ = np.linalg.qr(rng.standard_normal((n, d)) - 0)
    q -= q.mean(0)
    return q * np.arange(1, d + 1) ** (-alpha / 2) * np.sqrt(n)


def test_power_law_spectra(rng):
    healthy = diagnose(_power_law(rng, 1.0, 64))  # alpha-ReQ ~ 1: the "good" band of the paper
    assert healthy.verdict == "healthy" and healthy.collapse_rank == 64
    assert healthy["alpha_req"] == pytest.approx(1.0, abs=0.02)
    steep = diagnose(_power_law(rng, 4.0, 64))
    lam = np.arange(1, 65) ** -4.0
    edge = (1 - np.sqrt(64 / 2999)) ** 2  # Marchenko-Pastur lower edge for n = 3000, d = 64
    k = int(np.sum(lam > 1e-5 * edge * lam.mean()))  # the floor rule, by hand
    assert k < 64 and steep.verdict == "dimensional-collapse" and steep.collapse_rank == k


def test_healthy_isotropic_gaussian(rng):
    r = diagnose(rng.standard_normal((5000, 32)))
    assert r.verdict == "healthy" and r.collapse_rank == 32
    assert r["normalized_std_scaled"] == pytest.approx(1.0, abs=0.02)
    assert r["variance_fraction"] > 0.99


def test_n_smaller_than_d(rng):
    r = diagnose(rng.standard_normal((20, 64)))
    assert r.verdict == "healthy" and r.collapse_rank == 19
    assert r["observable_rank"] == 19
    assert any("n - 1 = 19 < d = 64" in s for s in r.reasons)
    low = diagnose(rng.standard_normal((20, 2)) @ rng.standard_normal((2, 64)))
    assert (low.verdict, low.collapse_rank) == ("dimensional-collapse", 2)


def test_dominant_direction_over_healthy_bulk_is_not_collapse(rng):
    z = rng.standard_normal((5000, 32))
    z[:, 0] *= 300.0  # an "outlier" dimension: a 1e5 eigenvalue gap, but the bulk holds 0.03 % of... >1e-3
    z[:, 1] *= 30.0
    r = diagnose(z)
    assert r.verdict == "healthy", r.reasons


def test_embeddings_on_one_ray_are_complete_collapse(rng):
    c = rng.standard_normal(16)
    z = rng.uniform(1, 5, size=(1000, 1)) * c  # varying norms, one direction
    r = diagnose(z)
    assert r.verdict == "complete-collapse"
    assert any("point in one direction" in s for s in r.reasons)


def test_a_few_dead_units_are_tolerated_by_default(rng):
    # 2 dead of 128 output units (1.6 %, under the default 5 %): healthy, with the rank still reported;
    # counting every collapsed direction (max_collapsed_fraction=0) flags it.
    w = rng.standard_normal((2000, 128))
    w[:, :2] = 0.0
    r = diagnose(w)
    assert (r.verdict, r.collapse_rank) == ("healthy", 126)
    strict = diagnose(w, thresholds={"max_collapsed_fraction": 0.0})
    assert (strict.verdict, strict.collapse_rank) == ("dimensional-collapse", 126)


def test_thresholds_are_tunable(rng):
    z = 3.0 + 0.1 * rng.standard_normal((2000, 8))  # variance fraction 0.08 / 72.08 ~ 1.1e-3
    assert diagnose(z).verdict == "healthy"
    assert diagnose(z, thresholds={"complete_variance_fraction": 1e-2}).verdict == "complete-collapse"
    w = rng.standard_normal((2000, 10))
    w[:, 0] = 0.0
    assert diagnose(w, thresholds=Thresholds(max_collapsed_fraction=0.2)).verdict == "healthy"


def test_collapse_rank_rules():
    assert collapse_rank(np.array([1.0, 1.0, 1e-7, 1e-7])) == 2  # floor
    assert collapse_rank(np.array([1.0, 1.0, 1e-4, 1e-4])) == 2  # cliff 1e4 with a 1e-4 tail share
    assert collapse_rank(np.array([1.0, 1.0, 1e-4, 1e-4]), cliff_ratio=1e5) == 4
    assert collapse_rank(np.zeros(3)) == 0
    assert collapse_rank(np.ones(5), n=1) == 0


def test_decide_and_threshold_errors():
    v = decide(np.ones(4), n=3, variance_fraction=1.0, normalized_std_scaled=1.0)
    assert (v.verdict, v.collapse_rank, v.observable_rank) == ("healthy", 2, 2)
    with pytest.raises(ValueError, match="Thresholds.eigenvalue_floor must be in \\[0.0, inf\\), got -1"):
        Thresholds(eigenvalue_floor=-1.0)
    with pytest.raises(ValueError, match="Thresholds.cliff_ratio must be in \\[1.0, inf\\)"):
        Thresholds(cliff_ratio=0.5)
    with pytest.raises(ValueError, match="unknown thresholds \\['floor'\\]"):
        Thresholds.coerce({"floor": 1.0})
    with pytest.raises(TypeError, match="thresholds must be None, a Thresholds or a dict"):
        Thresholds.coerce(3)


@pytest.mark.parametrize("n", [128, 129, 131, 160])
def test_n_close_to_d_is_not_read_as_collapse(rng, n):
    # The smallest sample eigenvalues of isotropic data approach 0 as n -> d (Marchenko-Pastur hard edge);
    # the floor is scaled by that edge, so healthy data stay healthy.
    r = diagnose(rng.standard_normal((n, 128)))
    assert r.verdict == "healthy" and r.collapse_rank == min(128, n - 1)
    low = diagnose(rng.standard_normal((n, 20)) @ rng.standard_normal((20, 128)))
    assert (low.verdict, low.collapse_rank) == ("dimensional-collapse", 20)
