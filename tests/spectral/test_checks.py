"""infossl.spectral._checks: views with their group ids, Gram matrices, beta / lambda and the lambda convention."""

import numpy as np
import pytest
import torch

from infossl.spectral._checks import check_beta_lam, check_gram, check_groups, check_view_list, lambda_factor


def test_check_groups_inverse_and_counts():
    inverse, n, m = check_groups(np.array([7, 3, 7, 3, 5, 5]), 6)
    assert (n, m) == (3, 2) and inverse.tolist() == [2, 0, 2, 0, 1, 1] and inverse.dtype == torch.int64
    assert check_groups(torch.tensor([1, 1, 1]), 3)[1:] == (1, 3)
    for groups, rows, match in ((None, 2, "groups is required"), (np.zeros((2, 2)), 4, "must be 1-D"),
                                ([0, 0, 1], 4, "has 3 ids but there are 4 views"),
                                ([0.0, np.nan], 2, "NaN or infinite ids"),
                                ([0, 0, 1, 1, 1], 5, "same number of views; got between 2 and 3"),
                                ([0, 1], 2, "at least 2 views")):
        with pytest.raises(ValueError, match=match):
            check_groups(groups, rows)


def test_check_view_list_list_form_equals_grouped_form(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    x, inverse, n, m, boundary = check_view_list([a, b], None)
    assert (n, m) == (4, 2) and x.shape == (8, 3) and not boundary.is_torch
    assert torch.equal(x[0::2], torch.from_numpy(a)) and inverse.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    x2, inverse2, n2, m2, _ = check_view_list(x.numpy(), inverse.numpy())
    assert torch.equal(x2, x) and torch.equal(inverse2, inverse) and (n2, m2) == (4, 2)
    with pytest.raises(ValueError, match="not both"):
        check_view_list([a, b], inverse)
    with pytest.raises(ValueError, match="at least 2 views"):
        check_view_list([a], None)
    with pytest.raises(ValueError, match="same shape"):
        check_view_list([a, b[:3]], None)


def test_check_gram(rng):
    f = rng.standard_normal((5, 2))
    g, _ = check_gram(f @ f.T)  # rank 2, PSD
    assert g.shape == (5, 5)
    for bad, match in ((np.ones((2, 3)), "square"), (np.ones((1, 1)), "at least 2 rows"),
                       (np.array([[1.0, np.inf], [np.inf, 1.0]]), "NaN or infinite"),
                       (np.array([[1.0, 2.0], [2.0, 1.0]]), "positive semi-definite")):
        with pytest.raises(ValueError, match=match):
            check_gram(bad)


def test_beta_lambda_and_conventions():
    assert check_beta_lam(2.0, 0.5, "penalty") == (2.0, 0.5, 0.5)
    assert check_beta_lam(2.0, 0.5, "operator") == (2.0, 0.5, 1.0)
    assert lambda_factor("penalty") == 0.5 and lambda_factor("operator") == 1.0
    with pytest.raises(ValueError, match="beta"):
        check_beta_lam(0.0, 0.5, "penalty")
    with pytest.raises(ValueError, match="lam"):
        check_beta_lam(1.0, -0.1, "penalty")
    with pytest.raises(ValueError, match="convention"):
        lambda_factor("ridge")
