"""tests/ mirrors infossl/ file for file: ``infossl/<pkg>/<mod>.py`` (a leading underscore dropped) is tested
by ``tests/<pkg>/test_<mod>.py``, and every ``tests/<pkg>/test_<name>.py`` names a module that exists.

``__init__.py`` and ``__main__.py`` may have a mirror (``test_init.py``, ``test_main.py``) but need none: most
only re-export.
"""

import pathlib

import pytest

import infossl

ROOT = pathlib.Path(infossl.__file__).parent
TESTS = pathlib.Path(__file__).parent
OPTIONAL = {"__init__", "__main__"}

#: Modules without a mirror file, each with the reason.
NO_MIRROR = {
    "estimators/_reference.py": "a test oracle (loop implementations of the k-NN estimators), exercised by "
                                "tests/estimators/test_knn.py",
}

#: Test files that test no single module, each with the reason.
CROSS_CUTTING = {
    "test_api.py": "the top-level names of infossl and their homes",
    "test_docstrings.py": "the Returns sections of every package's public callables",
    "test_exports.py": "every package's __all__ (sorted, public, no deprecated aliases)",
    "test_layers.py": "the import layering of every file",
    "test_private_imports.py": "no module imports another module's underscore name",
    "test_mirror.py": "this rule",
}

#: Folders of tests that are not mirrors: property suites over the whole API, the analysis scripts.
OTHER_FOLDERS = {"properties": "property tests across the public API", "analysis": "the scripts in analysis/"}


def _mirror(module: pathlib.Path) -> pathlib.Path:
    """tests/<pkg>/test_<name>.py for infossl/<pkg>/<_name>.py."""
    rel = module.relative_to(ROOT)
    stem = rel.stem.strip("_") if rel.stem in OPTIONAL else rel.stem.lstrip("_")
    return TESTS.joinpath(*rel.parts[:-1], f"test_{stem}.py")


MODULES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)
TEST_FILES = sorted(p for p in TESTS.rglob("test_*.py")
                    if p.relative_to(TESTS).parts[0] not in OTHER_FOLDERS)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_module_has_its_mirror(module):
    rel = module.relative_to(ROOT).as_posix()
    if module.stem in OPTIONAL or rel in NO_MIRROR:
        return
    mirror = _mirror(module)
    assert mirror.exists(), f"infossl/{rel} has no tests/{mirror.relative_to(TESTS).as_posix()}"


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.relative_to(TESTS).as_posix())
def test_every_test_file_names_a_module(test_file):
    rel = test_file.relative_to(TESTS)
    if rel.as_posix() in CROSS_CUTTING:
        return
    named = {_mirror(m) for m in MODULES}
    assert test_file in named, (f"tests/{rel.as_posix()} names no module of infossl/: put its tests in the mirror "
                                "of the module they exercise, or list it in CROSS_CUTTING with a reason")


def test_allow_lists_are_current():
    for rel in NO_MIRROR:
        path = ROOT / rel
        assert path.exists() and not _mirror(path).exists(), rel  # give the entry up once a mirror exists
    for rel in CROSS_CUTTING:
        assert (TESTS / rel).exists() and (TESTS / rel) not in {_mirror(m) for m in MODULES}, rel
    # the oracle is exercised: some test imports it
    users = [p for p in TESTS.rglob("test_*.py") if "infossl.estimators._reference" in p.read_text()]
    assert users, "estimators/_reference.py is listed as a test oracle but no test imports it"
