"""infossl.synthetic._families: the named benchmark families at given (dim_x, dim_y)."""

import numpy as np
import pytest

from infossl.synthetic import FAMILIES, families, make_family


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
