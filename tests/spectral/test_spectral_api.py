"""Public surface of infossl.spectral: __all__ resolves, the ideal-representation checks are reachable lazily."""

import pytest

from infossl import spectral


def test_all_names_exist_and_are_unique():
    assert len(spectral.__all__) == len(set(spectral.__all__))
    for name in spectral.__all__:
        assert hasattr(spectral, name), name


def test_ideal_checks_are_reexported_lazily():
    from infossl.diagnostics import ideal

    assert spectral.cover_fraction is ideal.cover_fraction
    assert spectral.cover_fraction(10, 3) == pytest.approx(0.25390625)
    for name in ("invariance_ratio", "class_mean_rank", "nc1", "separability_fraction"):
        assert getattr(spectral, name) is getattr(ideal, name)


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="has no attribute 'not_a_function'"):
        spectral.not_a_function  # noqa: B018
