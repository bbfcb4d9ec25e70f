"""Tests for infossl.estimators._native: building, caching and refusing the compiled max-norm kernels."""
import ctypes
import os
import subprocess
import pathlib
import tempfile

import pytest

from infossl.estimators import _native


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A private cache folder and no library loaded yet in this process."""
    monkeypatch.setenv("INFOSSL_CACHE", str(tmp_path))
    monkeypatch.delenv("INFOSSL_NATIVE", raising=False)  # each test sets what it checks
    monkeypatch.setattr(_native, "_STATE", {})
    return tmp_path


def test_disabled_by_the_environment_gives_none_and_says_why(fresh, monkeypatch):
    monkeypatch.setenv("INFOSSL_NATIVE", "0")
    assert _native.kernels() is None
    assert "INFOSSL_NATIVE" in _native.unavailable_reason()
    assert list(fresh.iterdir()) == []  # nothing compiled


def test_a_failing_compiler_gives_none_and_leaves_no_partial_file(fresh, monkeypatch, tmp_path_factory):
    fake = tmp_path_factory.mktemp("bin") / "cc"
    fake.write_text("#!/bin/sh\necho 'error: no compiler here' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CC", str(fake))
    assert _native.kernels() is None
    assert "no compiler here" in _native.unavailable_reason()
    assert list(fresh.iterdir()) == []  # the temporary output was removed


def test_no_compiler_on_the_path_gives_none(fresh, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(_native.shutil, "which", lambda name: None)
    assert _native.kernels() is None
    assert "no C compiler" in _native.unavailable_reason()


def test_the_library_is_built_once_per_source_and_cpu_and_reused(fresh, monkeypatch):
    monkeypatch.delenv("INFOSSL_NATIVE", raising=False)
    monkeypatch.delenv("CC", raising=False)
    if _native._compiler() is None:
        pytest.skip("no C compiler on this machine")
    lib = _native.kernels()
    if lib is None:
        pytest.skip(f"the kernels do not build here: {_native.unavailable_reason()}")
    built = sorted(p.name for p in fresh.iterdir())
    assert len(built) == 1 and built[0].startswith("maxnorm-") and built[0].endswith(".so")
    assert _native.kernels() is lib and _native.unavailable_reason() == ""
    stamp = os.stat(fresh / built[0]).st_mtime_ns
    monkeypatch.setattr(_native, "_STATE", {})  # a new process: finds the cached library, no rebuild
    assert isinstance(_native.kernels(), ctypes.CDLL)
    assert os.stat(fresh / built[0]).st_mtime_ns == stamp
    assert sorted(p.name for p in fresh.iterdir()) == built
    assert lib.maxnorm_columns_i16() % 16 == 0 and lib.maxnorm_columns_f32() % 8 == 0


def test_a_read_only_home_falls_back_to_a_temporary_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("INFOSSL_CACHE", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(_native.os, "access", lambda path, mode: False)  # as if no folder were writable
    folder = _native._cache_dir()
    assert folder.parent == pathlib.Path(tempfile.gettempdir()) and folder.name.startswith("infossl-")
    monkeypatch.undo()
    monkeypatch.setenv("INFOSSL_CACHE", str(tmp_path / "mine"))
    assert _native._cache_dir() == tmp_path / "mine"


def _built(fresh, monkeypatch):
    monkeypatch.delenv("INFOSSL_NATIVE", raising=False)
    monkeypatch.delenv("CC", raising=False)
    if _native._compiler() is None or _native.kernels() is None:
        pytest.skip(f"the kernels do not build here: {_native.unavailable_reason()}")
    (lib_file,) = fresh.glob("maxnorm-*.so")
    monkeypatch.setattr(_native, "_STATE", {})  # the next kernels() call is a new process's
    return lib_file


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="user ids and modes are POSIX")
def test_a_library_others_can_write_or_a_link_is_never_loaded(fresh, monkeypatch, tmp_path_factory):
    lib_file = _built(fresh, monkeypatch)
    lib_file.chmod(0o722)  # writable by group and others: anyone could have replaced it
    assert _native.kernels() is None and "writable by other users" in _native.unavailable_reason()
    lib_file.chmod(0o700)
    monkeypatch.setattr(_native, "_STATE", {})
    assert _native.kernels() is not None
    elsewhere = tmp_path_factory.mktemp("other") / "lib.so"
    lib_file.rename(elsewhere)
    lib_file.symlink_to(elsewhere)
    monkeypatch.setattr(_native, "_STATE", {})
    assert _native.kernels() is None and "symbolic link" in _native.unavailable_reason()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="user ids and modes are POSIX")
def test_a_cache_folder_of_another_user_is_refused(fresh, monkeypatch):
    uid = os.getuid()
    monkeypatch.setattr(_native.os, "getuid", lambda: uid + 1)  # as if another user had created the folder
    assert _native.kernels() is None and "cache folder refused" in _native.unavailable_reason()
    assert "belongs to user id" in _native.unavailable_reason()
    assert list(fresh.iterdir()) == []  # nothing built there


@pytest.mark.parametrize("stale", ["garbage", "old version"])
def test_a_stale_library_is_rebuilt_and_a_missing_source_falls_back(fresh, monkeypatch, tmp_path_factory,
                                                                   stale):
    monkeypatch.delenv("CC", raising=False)
    if _native._compiler() is None:
        pytest.skip("no C compiler on this machine")
    monkeypatch.setenv("INFOSSL_CACHE", str(tmp_path_factory.mktemp("reference")))
    reference = _native.kernels()  # the build this machine should end with
    if reference is None:
        pytest.skip(f"the kernels do not build here: {_native.unavailable_reason()}")
    want = reference.maxnorm_columns_i16()
    monkeypatch.setenv("INFOSSL_CACHE", str(fresh))
    monkeypatch.setattr(_native, "_STATE", {})
    cmd = _native._compiler() + _native._FLAGS + _native._targets()[0]
    path = _native._target_path(fresh, cmd, _native._SOURCE.read_bytes())
    if stale == "garbage":  # e.g. a build cut off by a full disk
        path.write_bytes(b"not a shared library")
    else:  # a library that loads but is another version of the kernels (loaded first, then replaced)
        src = fresh / "old.c"
        src.write_text("int maxnorm_version(void) { return 1; }\n")
        subprocess.run(cmd + ["-o", str(path), str(src)], check=True, capture_output=True)
    path.chmod(0o700)
    lib = _native.kernels()
    assert lib is not None and lib.maxnorm_version() == _native._VERSION, _native.unavailable_reason()
    assert lib.maxnorm_columns_i16() == want  # the host's build again, not the portable fallback
    assert [p.name for p in fresh.glob("maxnorm-*.so")] == [path.name]
    monkeypatch.setattr(_native, "_STATE", {})
    monkeypatch.setattr(_native, "_SOURCE", fresh / "missing.c")
    assert _native.kernels() is None and "missing.c" in _native.unavailable_reason()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="user ids and modes are POSIX")
def test_our_own_group_writable_cache_folder_is_made_private(fresh, monkeypatch):
    fresh.chmod(0o775)  # left by a umask of 002
    if _native._compiler() is None:
        pytest.skip("no C compiler on this machine")
    monkeypatch.delenv("CC", raising=False)
    assert _native.kernels() is not None or "failed" in _native.unavailable_reason()
    assert fresh.stat().st_mode & 0o777 == 0o700


def test_cc_with_a_launcher_is_split_like_a_command_line(monkeypatch):
    monkeypatch.setenv("CC", "ccache gcc -w")
    assert _native._compiler() == ["ccache", "gcc", "-w"]
