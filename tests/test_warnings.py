"""infossl._warnings: warnings are attributed to the caller's line, however deep in infossl they are
raised."""
import warnings

import numpy as np
import pytest

import infossl
from infossl import DegenerateInputWarning
from infossl._warnings import PACKAGE_DIR, caller_stacklevel, warn
from infossl.estimators import ReliabilityWarning


def test_warn_names_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("here", RuntimeWarning)
    assert caught[0].filename == __file__ and caught[0].category is RuntimeWarning
    assert caller_stacklevel() == 1 and not __file__.startswith(PACKAGE_DIR)


def _shown(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return caught


def test_public_calls_warn_at_the_users_line():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 3))
    z[:, 2] = 1.0  # a constant column: the Gaussian entropy is -inf, returned with a ridge and a warning
    for call in (lambda: infossl.entropy(z, method="gaussian"),
                 lambda: infossl.estimators.gaussian_entropy(z),
                 lambda: infossl.entropy(z, method="gaussian", details=True),
                 lambda: infossl.mutual_information(z[:, :2], z[:, :2] @ np.ones((2, 2)), method="gaussian"),
                 lambda: infossl.mutual_information(z[:, :2], z[:, :2] @ np.ones((2, 2)), method="gaussian",
                                                    details=True)):
        caught = _shown(call)
        assert any(issubclass(w.category, DegenerateInputWarning) for w in caught)
        assert {w.filename for w in caught} == {__file__}, [(w.filename, w.lineno) for w in caught]


def test_reliability_warnings_point_at_the_user_too():
    rng = np.random.default_rng(1)
    t = rng.uniform(0, 6.0, 800)
    ring = np.stack([np.cos(t), np.sin(t)], 1) @ rng.standard_normal((2, 8))  # a closed curve in R^8
    for call in (lambda: infossl.entropy(ring), lambda: infossl.entropy(ring, details=True)):
        caught = [w for w in _shown(call) if issubclass(w.category, ReliabilityWarning)]
        assert caught and {w.filename for w in caught} == {__file__}


def test_filters_by_module_see_the_users_module():
    z = np.ones((50, 2))
    z[:, 1] = np.arange(50.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", category=DegenerateInputWarning, module=__name__)
        with pytest.raises(DegenerateInputWarning):
            infossl.estimators.gaussian_entropy(z)
