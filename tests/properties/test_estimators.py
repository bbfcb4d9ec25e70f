"""infossl.entropy / infossl.mutual_information on generated bad inputs keep the contract (see _contract)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import infossl
from infossl.estimators.dispatch import ENTROPY_METHODS, MI_METHODS
from ._contract import assert_contract, classify
from ._inputs import KINDS, REFUSED, make

FAST_KINDS = [k for k in KINDS if k != "wide"]  # n=50, d=10 000 is in tests/estimators/test_dispatch.py
VARIATIONAL = {"infonce", "nwj", "dv"}
OPTIONS = {"mixture": {"sigma": 1.0}, "infonce": {"steps": 10}, "nwj": {"steps": 10}, "dv": {"steps": 10}}

shapes = dict(n=st.integers(3, 60), d=st.integers(1, 6), scale=st.sampled_from([1.0, 1e-3, 1e3]),
              seed=st.integers(0, 2**16))


@given(kind=st.sampled_from(FAST_KINDS), method=st.sampled_from([*ENTROPY_METHODS, "auto"]), **shapes)
def test_entropy_contract(kind, method, n, d, scale, seed, tmp_path_factory):
    z = make(kind, n, d, scale, seed, memmap_dir=str(tmp_path_factory.getbasetemp()))
    out = assert_contract(infossl.entropy, z, method=method, limit=20, **OPTIONS.get(method, {}))
    if kind in REFUSED:
        assert out.kind == "error", f"{kind} input must be refused, got {out.detail}"


@given(kind=st.sampled_from(FAST_KINDS), method=st.sampled_from([*MI_METHODS, "auto"]), **shapes)
def test_mutual_information_contract(kind, method, n, d, scale, seed, tmp_path_factory):
    if method in VARIATIONAL:
        n = min(n, 30)
    x = make(kind, n, d, scale, seed, memmap_dir=str(tmp_path_factory.getbasetemp()))
    y = make("normal", n if kind not in ("empty-rows", "tiny-n") else (0 if kind == "empty-rows" else 2), 2,
             seed=seed + 1)
    out = assert_contract(infossl.mutual_information, x, y, method=method, limit=20, **OPTIONS.get(method, {}))
    if kind in REFUSED:
        assert out.kind == "error", f"{kind} input must be refused, got {out.detail}"


@given(method=st.sampled_from([*MI_METHODS, "auto"]), n=st.integers(3, 40), gap=st.integers(1, 5))
def test_mismatched_rows_are_named(method, n, gap):
    out = assert_contract(infossl.mutual_information, make("normal", n), make("normal", n + gap), method=method)
    assert out.kind == "error" and "same number of samples" in out.detail


@given(method=st.sampled_from(sorted(ENTROPY_METHODS)), kind=st.sampled_from(["meta", "sparse", "scipy-sparse",
                                                                               "object", "complex"]))
def test_unreadable_tensors_are_refused_by_type(method, kind):
    out = classify(infossl.entropy, make(kind), method=method, **OPTIONS.get(method, {}))
    assert out.kind == "error" and out.exc.__class__ is TypeError, out.detail
    assert "z" in str(out.exc)


@pytest.mark.parametrize("method", ["nope", "Gaussian", "knn ", ""])
def test_unknown_method_lists_the_choices(method):
    with pytest.raises(ValueError, match="unknown entropy method .*choose one of"):
        infossl.entropy(make("normal"), method=method)
    with pytest.raises(ValueError, match="unknown mutual-information method .*choose one of"):
        infossl.mutual_information(make("normal"), make("normal"), method=method)


@pytest.mark.parametrize("kind", ["all-constant", "constant-column"])
@pytest.mark.parametrize("d", [1, 3])
def test_copula_mi_with_constant_columns_is_finite(kind, d):
    # was: torch's amax() RuntimeError once every column had been dropped (fixed in _backend.global_scale)
    out = assert_contract(infossl.mutual_information, make(kind, 40, d), make("normal", 40, 2, seed=1),
                          method="copula")
    assert out.kind == "value"


def test_checker_can_fail():
    """The contract checker itself flags what it must: silent NaN, foreign errors, other types."""
    assert classify(lambda: float("nan")).kind == "defect"
    assert classify(lambda: np.linalg.inv(np.zeros((2, 2)))).kind == "defect"  # LinAlgError from numpy
    assert classify(lambda: [][1]).kind == "defect"
    assert classify(lambda: np.zeros(3).reshape(2, 2)).kind == "defect"  # ValueError raised inside numpy
