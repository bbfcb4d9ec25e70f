"""infossl.io.locks: one writer per run folder / output file; stale locks and temporaries of a killed writer."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from infossl.io.locks import (RUN_LOCK_NAME, LockHeldError, WriteLock, clean_stale_temp_files, lock_output_file,
                              lock_run_dir)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals for the killed writer")

HOLDER = textwrap.dedent("""
    import importlib.util, sys, time
    spec = importlib.util.spec_from_file_location("locks", sys.argv[3])  # the module alone: no torch import
    locks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(locks)
    lock = (locks.lock_run_dir if sys.argv[1] == "dir" else locks.lock_output_file)(sys.argv[2])
    print("held", flush=True)
    time.sleep(120)
""")


def _holder(kind, path):
    """A second process that takes the lock and sleeps until killed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    import infossl.io.locks as locks

    proc = subprocess.Popen([sys.executable, "-c", HOLDER, kind, str(path), locks.__file__],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_of_a_run_folder_is_refused_naming_the_pid(tmp_path):
    proc = _holder("dir", tmp_path / "run")
    try:
        with pytest.raises(LockHeldError, match=rf"run folder .*run is being written by process {proc.pid}") as info:
            lock_run_dir(tmp_path / "run")
        assert info.value.pid == proc.pid
        assert info.value.lock_path == tmp_path / "run" / RUN_LOCK_NAME
    finally:
        proc.kill()
        proc.wait()


def test_second_writer_of_an_output_file_is_refused(tmp_path):
    out = tmp_path / "report.json"
    proc = _holder("file", out)
    try:
        with pytest.raises(LockHeldError, match=rf"output file .*report.json is being written by process {proc.pid}"):
            lock_output_file(out)
        lock_output_file(tmp_path / "other.json").release()  # another file is independent
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_writer_is_taken_over_and_its_temporaries_removed(tmp_path):
    run = tmp_path / "run"
    proc = _holder("dir", run)
    (run / ".last.pt.abc123.tmp").write_bytes(b"partial")  # what a kill mid-write leaves
    (run / "epoch_0001.pt").write_bytes(b"intact")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run / RUN_LOCK_NAME).exists()  # the marker survives the kill
    with lock_run_dir(run) as lock:
        assert lock.took_over_from == proc.pid
        assert lock.cleaned == [run / ".last.pt.abc123.tmp"]
        assert json.loads((run / RUN_LOCK_NAME).read_text())["pid"] == os.getpid()
    assert (run / "epoch_0001.pt").read_bytes() == b"intact"
    assert not (run / RUN_LOCK_NAME).exists()  # released cleanly


def test_same_process_second_writer_is_refused_and_release_frees(tmp_path):
    lock = lock_run_dir(tmp_path)
    with pytest.raises(LockHeldError, match=rf"this process \({os.getpid()}\)"):
        lock_run_dir(tmp_path)
    lock.release()
    lock.release()  # idempotent
    with lock_run_dir(tmp_path) as again:
        assert again.held and again.took_over_from is None
    assert not again.held


def test_output_file_lock_cleans_only_its_own_temporaries(tmp_path):
    (tmp_path / ".report.json.x1.tmp").write_text("{")
    (tmp_path / ".other.csv.x2.tmp").write_text("a,")
    with lock_output_file(tmp_path / "report.json") as lock:
        assert lock.cleaned == [tmp_path / ".report.json.x1.tmp"]
    assert (tmp_path / ".other.csv.x2.tmp").exists()


def test_exclusive_marker_fallback_without_advisory_locks(tmp_path, monkeypatch):
    import infossl.io.locks as locks

    def no_locks(fd):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(locks, "_try_lock", no_locks)
    first = lock_run_dir(tmp_path)
    with pytest.raises(LockHeldError, match=f"process {os.getpid()}|this process"):
        lock_run_dir(tmp_path)
    first.release()
    # a marker of a dead pid is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / RUN_LOCK_NAME).write_text(json.dumps({"pid": pid, "host": __import__("socket").gethostname()}))
    with lock_run_dir(tmp_path) as lock:
        assert lock.took_over_from == pid


def test_wrong_kind_of_target(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="is a file, not a run folder"):
        lock_run_dir(tmp_path / "f")
    with pytest.raises(ValueError, match="is a directory"):
        lock_output_file(tmp_path)


def test_clean_stale_temp_files_patterns(tmp_path):
    for name in (".a.1.tmp", ".b.2.tmp", "c.tmp", "keep.pt"):
        (tmp_path / name).write_text("")
    assert [p.name for p in clean_stale_temp_files(tmp_path)] == [".a.1.tmp", ".b.2.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tmp", "keep.pt"]
    assert repr(WriteLock(tmp_path, is_dir=True)).startswith("WriteLock(")
