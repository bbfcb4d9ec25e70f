"""infossl.diagnostics.spectral_shape, the old home of spectrum_shape, keeps working for one release."""

import importlib

import pytest

from infossl.diagnostics import spectrum_shape


@pytest.mark.parametrize("name", ["alpha_req", "alpha_req_from_spectrum", "lidar", "lidar_from_scatter"])
def test_public_names_warn_and_are_the_new_objects(name):
    old = importlib.import_module("infossl.diagnostics.spectral_shape")
    with pytest.warns(DeprecationWarning, match=rf"spectral_shape\.{name} moved to "
                                                rf"infossl\.diagnostics\.spectrum_shape\.{name}"):
        assert getattr(old, name) is getattr(spectrum_shape, name)


def test_unknown_names_raise_attribute_error():
    old = importlib.import_module("infossl.diagnostics.spectral_shape")
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        old.nope  # noqa: B018
