"""infossl.models.rebuild: model factories, rebuilding infossl checkpoints and loading plain weights."""

import pytest

from infossl.models import load_factory


def test_load_factory_errors(factory_module):
    assert callable(load_factory(f"{factory_module}:Nets.wide"))
    assert load_factory(len) is len
    for bad in ("no_colon", ":build", f"{factory_module}:", f"{factory_module}:a-b"):
        with pytest.raises(ValueError, match="must be written 'package.module:factory'"):
            load_factory(bad)
    with pytest.raises(ValueError, match="has no attribute 'missing'"):
        load_factory(f"{factory_module}:missing")
    with pytest.raises(TypeError, match="names a int, which is not callable"):
        load_factory(f"{factory_module}:NOT_CALLABLE")
    with pytest.raises(ModuleNotFoundError, match="no_such_pkg"):
        load_factory("no_such_pkg.mod:build")
    with pytest.raises(TypeError, match="model must be 'package.module:factory' or a callable, got 3"):
        load_factory(3)
