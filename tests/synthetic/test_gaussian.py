"""Closed forms of infossl.synthetic against scipy and against independent routes."""

import math

import numpy as np
import pytest
import scipy.stats as st

from infossl.synthetic import (
    FAMILIES,
    TRANSFORMS,
    IsotropicGaussianMixture,
    MultivariateNormal,
    SplitMultinormal,
    SplitStudentT,
    StudentT,
    Transformed,
    UniformBox,
    correlated_gaussian,
    correlated_gaussian_for_mi,
    families,
    inverse_transform,
    log_abs_derivative,
    low_rank_gaussian_pair,
    make_family,
    rho_for_mi,
    student_t_mi_correction,
    transform,
)


def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


# ----------------------------------------------------------------------------------------- Gaussian
@pytest.mark.parametrize("d", [1, 3, 7])
def test_normal_entropy_matches_scipy(rng, d):
    cov = random_spd(rng, d)
    assert MultivariateNormal(cov).entropy() == pytest.approx(
        st.multivariate_normal(cov=cov).entropy(), rel=1e-12
    )


def test_normal_entropy_scalar_and_diagonal():
    assert MultivariateNormal(4.0).entropy() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 4.0))
    assert MultivariateNormal([1.0, 4.0]).entropy() == pytest.approx(
        math.log(2 * math.pi * math.e) + 0.5 * math.log(4.0)
    )


def test_normal_sample_moments(rng, seed):
    cov, mean = random_spd(rng, 3), rng.standard_normal(3)
    n = 40_000
    z = MultivariateNormal(cov, mean).sample(n, random_state=seed)
    assert z.shape == (n, 3)
    # Standard error of a sample mean is sqrt(var/n), of a covariance entry <= sqrt(2/n)*max var: 5 s.e.
    assert np.allclose(z.mean(axis=0), mean, atol=5 * math.sqrt(cov.diagonal().max() / n))
    assert np.allclose(np.cov(z.T), cov, atol=5 * math.sqrt(2 / n) * cov.diagonal().max())


def test_sampling_is_reproducible_and_leaves_global_rng_alone():
    state = np.random.get_state()[1].copy()
    d = correlated_gaussian(2, 0.3)
    x1, y1 = d.sample(10, random_state=5)
    x2, y2 = d.sample(10, random_state=np.random.default_rng(5))
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert np.array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("rho", [0.0, 0.5, -0.9, [0.1, 0.5, 0.99]])
def test_correlated_gaussian_mi(rho):
    d = correlated_gaussian(3, rho)
    r = np.broadcast_to(np.asarray(rho, dtype=float), (3,))
    expected = -0.5 * np.log1p(-(r**2)).sum()
    assert d.mutual_information() == pytest.approx(expected, abs=1e-12)
    # Independent route: H(X) + H(Y) - H(X, Y).
    assert d.entropy_x() + d.entropy_y() - d.entropy() == pytest.approx(expected, abs=1e-10)


def test_correlated_gaussian_unequal_dims():
    d = correlated_gaussian(2, 0.6, dim_y=5)
    assert (d.dim_x, d.dim_y) == (2, 5)
    assert d.mutual_information() == pytest.approx(-math.log(1 - 0.36))
    x, y = d.sample(7, random_state=0)
    assert x.shape == (7, 2) and y.shape == (7, 5)


def test_split_multinormal_general_cov(rng):
    cov = random_spd(rng, 5)
    d = SplitMultinormal(cov, 2)
    route = (
        st.multivariate_normal(cov=cov[:2, :2]).entropy()
        + st.multivariate_normal(cov=cov[2:, 2:]).entropy()
        - st.multivariate_normal(cov=cov).entropy()
    )
    assert d.mutual_information() == pytest.approx(route, abs=1e-10)


@pytest.mark.parametrize("mi", [0.0, 0.3, 2.0, 6.0])
def test_correlated_gaussian_for_mi(mi):
    d = correlated_gaussian_for_mi(4, mi)
    assert d.mutual_information() == pytest.approx(mi, abs=1e-10)
    # 1 - rho^2 = exp(-2 mi) cancels: relative error ~ 1e-16 / exp(-12) ~ 2e-11 at mi = 6.
    assert -0.5 * math.log(1 - rho_for_mi(mi) ** 2) == pytest.approx(mi, abs=1e-9)


def test_low_rank_pair_noiseless():
    p = low_rank_gaussian_pair(3, 25, rho=0.8, random_state=1)
    assert p.mutual_information() == pytest.approx(-1.5 * math.log(1 - 0.64))
    assert np.allclose(p.embedding_x.T @ p.embedding_x, np.eye(3), atol=1e-12)
    x, y = p.sample(500, random_state=0)
    assert x.shape == (500, 25) and y.shape == (500, 25)
    assert np.linalg.matrix_rank(x) == 3 and np.linalg.matrix_rank(y) == 3
    assert np.linalg.matrix_rank(p.covariance()) == 6
    # The same seed gives the same embedding (the distribution is a fixed object).
    assert np.array_equal(low_rank_gaussian_pair(3, 25, rho=0.8, random_state=1).embedding_y, p.embedding_y)


@pytest.mark.parametrize("noise", [0.1, 1.0])
def test_low_rank_pair_with_noise_matches_full_covariance(noise):
    p = low_rank_gaussian_pair(3, 10, mi_per_component=0.7, noise=noise, dim_y=6, random_state=2)
    # Independent route: Gaussian MI from the log-determinants of the (now full-rank) joint covariance.
    assert p.mutual_information() == pytest.approx(
        SplitMultinormal(p.covariance(), 10).mutual_information(), abs=1e-10
    )


def test_low_rank_pair_sample_covariance(seed):
    p = low_rank_gaussian_pair(2, 6, rho=0.7, noise=0.5, random_state=seed)
    n = 40_000
    x, y = p.sample(n, random_state=seed)
    # Entries of the covariance are <= 1.25; 5 standard errors of sqrt(2/n) * 1.25.
    assert np.allclose(np.cov(np.hstack([x, y]).T), p.covariance(), atol=5 * 1.25 * math.sqrt(2 / n))


# ----------------------------------------------------------------------------------------- uniform
def test_uniform_box():
    low, high = np.array([0.0, -1.0, 2.0]), np.array([1.0, 3.0, 2.5])
    box = UniformBox(low, high)
    expected = sum(st.uniform(loc=lo, scale=hi - lo).entropy() for lo, hi in zip(low, high))
    assert box.entropy() == pytest.approx(expected)
    z = box.sample(1000, random_state=0)
    assert z.shape == (1000, 3) and np.all(z >= low) and np.all(z <= high)


# ----------------------------------------------------------------------------------------- Student-t
@pytest.mark.parametrize("df", [1.0, 2.5, 5.0, 30.0])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_student_t_entropy_matches_scipy(rng, df, d):
    shape = random_spd(rng, d)
    expected = st.multivariate_t(shape=shape, df=df).entropy()
    assert StudentT(df, shape).entropy() == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_student_t_univariate_matches_scipy_t():
    assert StudentT(3.0, dim=1).entropy() == pytest.approx(st.t(df=3.0).entropy(), rel=1e-12)


def test_student_t_samples_have_t_marginals(seed):
    t = StudentT(4.0, np.array([[4.0, 1.0], [1.0, 1.0]]), mean=[1.0, 0.0])
    z = t.sample(20_000, random_state=seed)
    # First coordinate is t_4 with location 1 and scale 2. KS statistic: the 5% critical value at
    # n=20000 is 0.0096; 0.02 is ~ 2.8 critical values (p < 1e-6 under the null).
    ks = st.kstest((z[:, 0] - 1.0) / 2.0, st.t(df=4.0).cdf).statistic
    assert ks < 0.02


def test_student_t_covariance():
    assert np.allclose(StudentT(5.0, dim=2).covariance(), 5 / 3 * np.eye(2))
    with pytest.raises(ValueError, match="df > 2, got df=2.0"):
        StudentT(2.0, dim=2).covariance()


@pytest.mark.parametrize("df", [1.0, 3.0, 10.0])
@pytest.mark.parametrize("dims", [(1, 1), (2, 3), (4, 1)])
def test_split_student_t_mi_by_the_entropy_route(rng, df, dims):
    dx, dy = dims
    shape = random_spd(rng, dx + dy)
    d = SplitStudentT(df, shape, dx)
    # MI = H(X) + H(Y) - H(X, Y), each entropy from scipy (marginals of a t are t with the same df).
    route = (
        st.multivariate_t(shape=shape[:dx, :dx], df=df).entropy()
        + st.multivariate_t(shape=shape[dx:, dx:], df=df).entropy()
        - st.multivariate_t(shape=shape, df=df).entropy()
    )
    assert d.mutual_information() == pytest.approx(route, rel=1e-9, abs=1e-10)
    assert d.marginal_x().entropy() + d.marginal_y().entropy() - d.entropy() == pytest.approx(
        route, abs=1e-10
    )


def test_student_t_correction_limits():
    # Positive (shared mixing variable) and vanishing as df -> infinity (Gaussian limit).
    assert student_t_mi_correction(1.0, 2, 2) > student_t_mi_correction(5.0, 2, 2) > 0
    assert student_t_mi_correction(1e6, 2, 2) < 1e-5
    # Block-diagonal shape: X and Y uncorrelated yet dependent; MI is exactly the correction.
    d = SplitStudentT(3.0, np.eye(4), 2)
    assert d.mutual_information() == pytest.approx(student_t_mi_correction(3.0, 2, 2))
    x, y = d.sample(5, random_state=0)
    assert x.shape == (5, 2) and y.shape == (5, 2)


# ----------------------------------------------------------------------------------------- mixture
@pytest.fixture
def mixture(rng):
    return IsotropicGaussianMixture(2.0 * rng.standard_normal((6, 2)), 0.7, weights=rng.uniform(0.5, 1.5, 6))


def test_mixture_log_density_matches_scipy(mixture, rng):
    x = rng.standard_normal((50, 2)) * 2
    direct = np.log(
        sum(
            w * st.multivariate_normal(mean=m, cov=0.49 * np.eye(2)).pdf(x)
            for w, m in zip(mixture.weights, mixture.means)
        )
    )
    assert np.allclose(mixture.log_density(x), direct, rtol=1e-10, atol=1e-10)
    # Chunked == one-shot.
    assert np.allclose(mixture.log_density(x, chunk_size=7), mixture.log_density(x), rtol=0, atol=1e-12)


def test_mixture_mc_standard_error_shrinks(mixture, seed):
    est_small, se_small = mixture.entropy_monte_carlo(4_000, random_state=seed)
    est_big, se_big = mixture.entropy_monte_carlo(64_000, random_state=seed + 100)
    # 16x the samples: the standard error shrinks by sqrt(16) = 4 (its own sampling noise is a few %).
    assert 3.0 < se_small / se_big < 5.3
    # Two independent estimates agree within 4 combined standard errors.
    assert abs(est_small - est_big) < 4 * math.hypot(se_small, se_big)
    lower, upper = mixture.entropy_bounds()
    assert lower <= upper
    assert lower - 4 * se_big <= est_big <= upper + 4 * se_big


def test_mixture_limits():
    one = IsotropicGaussianMixture([[1.0, 2.0, 3.0]], 2.0)
    h = MultivariateNormal(4.0 * np.eye(3)).entropy()
    lower, upper = one.entropy_bounds()
    assert lower == pytest.approx(h) and upper == pytest.approx(h)
    est, se = one.entropy_monte_carlo(20_000, random_state=0)
    assert abs(est - h) < 4 * se
    # Far-apart components: H -> H(weights) + component entropy, and both bounds converge to it.
    w = np.array([0.2, 0.3, 0.5])
    far = IsotropicGaussianMixture(np.diag([1e3, 2e3, 3e3]), 1.0, weights=w)
    target = -(w * np.log(w)).sum() + MultivariateNormal(np.eye(3)).entropy()
    assert far.entropy_bounds() == pytest.approx((target, target), abs=1e-9)
    assert far.sample(10, random_state=0).shape == (10, 3)


# ----------------------------------------------------------------------------------------- transforms
@pytest.mark.parametrize("kind", TRANSFORMS)
def test_transforms_monotone_invertible_and_derivative(kind):
    x = np.linspace(-6, 6, 1201)
    x = x[x != 0]  # the cube/half-cube derivative vanishes at 0
    y = transform(x, kind)
    assert np.all(np.diff(y) > 0)
    assert np.allclose(inverse_transform(y, kind), x, rtol=1e-8, atol=1e-8)
    # log|f'| against a central difference (step 1e-5: truncation error ~1e-10 relative). On |x| <= 4,
    # where the rounding error of the normal CDF near 1 (~1e-16 / 2e-5) stays far below the tolerance.
    h, x = 1e-5, x[np.abs(x) <= 4]
    numeric = (transform(x + h, kind) - transform(x - h, kind)) / (2 * h)
    assert np.allclose(log_abs_derivative(x, kind), np.log(numeric), atol=1e-6)


@pytest.mark.parametrize("kind", ["normal_cdf", "half_cube", "exp", "asinh"])
def test_transformed_keeps_mi(kind):
    base = correlated_gaussian(3, 0.7)
    t = Transformed(base, kind, "cube")
    assert t.mutual_information() == base.mutual_information()
    x, y = t.sample(100, random_state=0)
    x0, y0 = base.sample(100, random_state=0)
    assert np.allclose(x, transform(x0, kind)) and np.allclose(y, y0**3)


@pytest.mark.parametrize("kind", ["identity", "normal_cdf", "exp", "half_cube", "cube"])
def test_transformed_entropy_closed_form_vs_monte_carlo(kind, seed):
    base = SplitMultinormal(
        np.array([[1.0, 0.5], [0.5, 2.0]]), 1, mean=None if "cube" in kind else [0.3, -1.0]
    )
    t = Transformed(base, kind)
    est, se = t.entropy_monte_carlo(50_000, random_state=seed)
    assert abs(est - t.entropy()) < 4 * se + 1e-12  # 4 Monte Carlo standard errors


def test_normal_cdf_of_standard_normal_is_uniform():
    t = Transformed(MultivariateNormal(np.eye(3)), "normal_cdf")
    assert t.entropy() == pytest.approx(UniformBox(np.zeros(3), np.ones(3)).entropy(), abs=1e-12)
    z = t.sample(20_000, random_state=0)
    assert st.kstest(z[:, 1], "uniform").statistic < 0.02  # 5% critical value 0.0096
    # For a correlated pair the copula entropy is -MI.
    g = correlated_gaussian(2, 0.6)
    assert Transformed(g, "normal_cdf").entropy() == pytest.approx(-g.mutual_information(), abs=1e-12)


def test_transformed_entropy_without_closed_form():
    t = Transformed(correlated_gaussian(1, 0.5), "sinh")
    with pytest.raises(NotImplementedError, match="entropy_monte_carlo"):
        t.entropy()
    with pytest.raises(TypeError, match="split"):
        Transformed(MultivariateNormal(np.eye(2)), "exp").mutual_information()
    with pytest.raises(ValueError, match="kind_y='exp' is only meaningful"):
        Transformed(MultivariateNormal(np.eye(2)), "exp", "exp")


# ----------------------------------------------------------------------------------------- families
@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize("dims", [(1, 1), (5, 3), (25, 25)])
def test_families(name, dims):
    dx, dy = dims
    d = make_family(name, dx, dy)
    x, y = d.sample(64, random_state=0)
    assert x.shape == (64, dx) and y.shape == (64, dy)
    mi = d.mutual_information()
    assert np.isfinite(mi) and mi > 0
    if name == "high-mi":
        assert mi >= 5.0
    if name == "collapsed" and dx >= 25:
        assert np.linalg.matrix_rank(x) == 3


def test_family_names_and_options():
    assert families() == ("gaussian", "student-t", "normal-cdf", "half-cube", "high-mi", "collapsed")
    assert make_family("high-mi", 3, mi=7.5).mutual_information() == pytest.approx(7.5)
    assert make_family("gaussian", 2).dim_y == 2
    with pytest.raises(ValueError, match="name must be one of"):
        make_family("cauchy", 2)


# ----------------------------------------------------------------------------------------- errors
def test_errors():
    with pytest.raises(ValueError, match="positive definite; its smallest eigenvalue"):
        MultivariateNormal([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="must be symmetric"):
        MultivariateNormal([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"square \(d, d\) matrix, got shape \(2, 3\)"):
        MultivariateNormal(np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        MultivariateNormal([[np.nan]])
    with pytest.raises(ValueError, match=r"mean must have shape \(2,\)"):
        MultivariateNormal(np.eye(2), mean=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"dim_x must be in \[1, 2\], got 3"):
        SplitMultinormal(np.eye(3), 3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        SplitMultinormal(np.eye(1), 1)
    with pytest.raises(ValueError, match=r"rho must lie in \(-1, 1\)"):
        correlated_gaussian(2, 1.0)
    with pytest.raises(ValueError, match=r"rho must be a scalar or have shape \(2,\)"):
        correlated_gaussian(2, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="mi must be in"):
        correlated_gaussian_for_mi(2, -1.0)
    with pytest.raises(ValueError, match="indistinguishable from 1"):
        correlated_gaussian_for_mi(1, 40.0)
    with pytest.raises(ValueError, match="exactly one of rho or mi_per_component"):
        low_rank_gaussian_pair(2, 5, rho=0.5, mi_per_component=0.1)
    with pytest.raises(ValueError, match=r"dim_x must be >= 4, got 3"):
        low_rank_gaussian_pair(4, 3, rho=0.5)
    with pytest.raises(ValueError, match="noise must be in"):
        low_rank_gaussian_pair(1, 3, rho=0.5, noise=-1.0)
    with pytest.raises(ValueError, match="high must exceed low in every coordinate; coordinate 1"):
        UniformBox([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        UniformBox([0.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="df must be in"):
        StudentT(0.0, dim=2)
    with pytest.raises(ValueError, match="give shape"):
        StudentT(3.0)
    with pytest.raises(ValueError, match="dim=3 does not match"):
        StudentT(3.0, np.eye(2), dim=3)
    with pytest.raises(ValueError, match="sigma must be in"):
        IsotropicGaussianMixture(np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        IsotropicGaussianMixture(np.zeros((2, 2)), 1.0, weights=[1.0])
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        IsotropicGaussianMixture(np.zeros((2, 2)), 1.0, weights=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"means must have shape \(K, d\)"):
        IsotropicGaussianMixture(np.zeros((2, 2, 2)), 1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        IsotropicGaussianMixture(np.zeros((2, 2)), 1.0).log_density(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        MultivariateNormal(np.eye(2)).sample(0)
    with pytest.raises(TypeError, match="random_state must be None"):
        MultivariateNormal(np.eye(2)).sample(3, random_state="seed")
    with pytest.raises(ValueError, match="kind must be one of"):
        transform(np.zeros(3), "square")
    with pytest.raises(ValueError, match="kind_x must be one of"):
        Transformed(correlated_gaussian(1, 0.5), "square")
