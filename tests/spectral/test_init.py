"""Public surface of infossl.spectral: __all__ resolves; the ideal-representation checks are not re-exported."""

import ast
import pathlib

import pytest

from infossl import spectral

_MOVED = ("invariance_ratio", "class_mean_rank", "nc1", "separability_fraction", "cover_fraction")


def test_all_names_exist_and_are_unique():
    assert len(spectral.__all__) == len(set(spectral.__all__))
    for name in spectral.__all__:
        assert hasattr(spectral, name), name


@pytest.mark.parametrize("name", _MOVED)
def test_ideal_checks_point_to_diagnostics(name):
    with pytest.raises(AttributeError, match=f"has no attribute '{name}'.*infossl.diagnostics.ideal"):
        getattr(spectral, name)
    from infossl.diagnostics import ideal

    assert callable(getattr(ideal, name))


def test_spectral_imports_neither_diagnostics_nor_training():
    root = pathlib.Path(spectral.__file__).parent
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for mod in names:
                assert not mod.startswith(("infossl.diagnostics", "infossl.training")), (path.name, mod)


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="has no attribute 'not_a_function'"):
        spectral.not_a_function  # noqa: B018
