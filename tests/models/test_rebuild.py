"""infossl.models.rebuild: model factories, rebuilding infossl checkpoints and loading plain weights."""

import os
import sys

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


NETS = """
from torch import nn
from helpers_{tag} import WIDTH


def build():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, WIDTH))
"""


def _user_folder(tmp_path, tag):
    (tmp_path / f"nets_{tag}.py").write_text(NETS.format(tag=tag))
    (tmp_path / f"helpers_{tag}.py").write_text("WIDTH = 5\n")
    return tmp_path


def test_a_module_in_the_working_directory_is_found(tmp_path, monkeypatch):
    # the console script has the script's folder, not the working directory, on sys.path: "No module named"
    folder = _user_folder(tmp_path, "cwd")
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if os.path.abspath(p or ".") != str(folder)])
    before = list(sys.path)
    try:
        net = load_factory("nets_cwd:build")()
    finally:
        for name in ("nets_cwd", "helpers_cwd"):
            sys.modules.pop(name, None)
    assert net[1].out_features == 5 and sys.path == before  # sys.path is left as it was


def test_a_file_path_is_imported_with_its_siblings(tmp_path, monkeypatch):
    # "./nets.py:build" crashed with a relative-import message
    folder = _user_folder(tmp_path, "file")
    monkeypatch.chdir(folder)
    before = list(sys.path)
    try:
        for spec in ("./nets_file.py:build", f"{folder / 'nets_file.py'}:build"):
            assert load_factory(spec)()[1].out_features == 5
    finally:
        sys.modules.pop("helpers_file", None)
    assert sys.path == before
    with pytest.raises(ValueError, match="no file './missing.py'"):
        load_factory("./missing.py:build")
