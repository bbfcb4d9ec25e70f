"""infossl.synthetic._student: multivariate t entropy against scipy, and the split-t MI by the entropy route."""

import numpy as np
import pytest
import scipy.stats as st

from infossl.synthetic import SplitStudentT, StudentT, student_t_mi_correction


def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


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
