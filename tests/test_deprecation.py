"""infossl._deprecation: moved names keep working for one release and say where they went."""

import pytest


@pytest.mark.parametrize("old_module, name, new_module, new_name", [
    ("infossl.training.models", "build_model", "infossl.models", "build_model"),
    ("infossl.training.models", "GlobalBatchNorm", "infossl.models", "GlobalBatchNorm"),
    ("infossl.training.checkpoint", "checkpoint_dict", "infossl.io.checkpoints", "checkpoint_dict"),
    ("infossl.training.checkpoint", "load_checkpoint_file", "infossl.io.checkpoints", "read_training_checkpoint"),
    ("infossl.training.checkpoint", "model_from_checkpoint", "infossl.models", "model_from_checkpoint"),
    ("infossl.training.loop", "fit", "infossl.training.engine", "fit"),
    ("infossl.training.loop", "train", "infossl.training.run", "train"),
    ("infossl.training", "load_checkpoint_file", "infossl.io.checkpoints", "read_training_checkpoint"),
    ("infossl.objectives._distributed", "gather_with_grad", "infossl._distributed", "gather_with_grad"),
])
def test_moved_names_warn_and_are_the_new_objects(old_module, name, new_module, new_name):
    import importlib

    old, new = importlib.import_module(old_module), importlib.import_module(new_module)
    if old_module == "infossl.objectives._distributed":  # a plain re-export, no warning
        assert getattr(old, name) is getattr(new, new_name)
        return
    with pytest.warns(DeprecationWarning, match=rf"{new_module}\.{new_name}"):
        assert getattr(old, name) is getattr(new, new_name)


def test_unknown_names_still_raise_attribute_error():
    import infossl.training.models as old

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        old.nope  # noqa: B018


def test_renamed_function_warns_and_forwards():
    from infossl._deprecation import renamed

    def new(x, *, y=1):
        return x + y

    old = renamed("old", new, where="pkg")
    with pytest.warns(DeprecationWarning, match="pkg.old is now pkg.new"):
        assert old(1, y=2) == 3
    assert old.__name__ == "old"


def test_renamed_keywords_warn_forward_and_refuse_both():
    import inspect

    from infossl._deprecation import renamed_keywords

    @renamed_keywords(old="new")
    def f(x, *, new=1):
        """Doc."""
        return x + new

    assert f(1, new=2) == 3
    with pytest.warns(DeprecationWarning, match=r"f\(old=\.\.\.\) is now new=\.\.\.; the old name will be removed"):
        assert f(1, old=5) == 6
    with pytest.raises(TypeError, match="got both new= and its old name old="):
        f(1, old=1, new=2)
    assert list(inspect.signature(f).parameters) == ["x", "new"] and f.__doc__ == "Doc."


# infossl.diagnostics.spectral_shape, the old home of spectrum_shape, keeps working for one release.
@pytest.mark.parametrize("name", ["alpha_req", "alpha_req_from_spectrum", "lidar", "lidar_from_scatter"])
def test_spectral_shape_names_warn_and_are_the_new_objects(name):
    import importlib

    from infossl.diagnostics import spectrum_shape

    old = importlib.import_module("infossl.diagnostics.spectral_shape")
    with pytest.warns(DeprecationWarning, match=rf"spectral_shape\.{name} moved to "
                                                rf"infossl\.diagnostics\.spectrum_shape\.{name}"):
        assert getattr(old, name) is getattr(spectrum_shape, name)


def test_spectral_shape_unknown_names_raise_attribute_error():
    import importlib

    old = importlib.import_module("infossl.diagnostics.spectral_shape")
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        old.nope  # noqa: B018
