"""infossl._deprecation: moved names keep working for one release and say where they went."""

import pytest


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
