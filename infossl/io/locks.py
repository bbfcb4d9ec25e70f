"""One writer at a time for a run folder or an output file, and clean-up after a killed writer.

:func:`lock_run_dir` and :func:`lock_output_file` take an exclusive advisory lock on a marker file next to
what they protect (``DIR/.infossl.lock``; ``.NAME.lock`` beside ``NAME``). The marker holds the
holder's pid, host and start time. A second writer, in this or another process, gets a
:class:`LockHeldError` naming that pid at once; it never waits.

The lock is the operating system's (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows), so it is
released by the kernel when the holder dies, however it dies (``kill -9`` included). A marker left by a dead
process is therefore simply taken over by the next writer, which reports the dead pid in
:attr:`WriteLock.took_over_from`; no pid-liveness guessing is needed, and pid reuse cannot fool it.
On a filesystem without advisory locks the marker is created exclusively (``O_EXCL``) instead, and a marker
whose pid is not alive on this host is taken over.

Once the lock is held, the temporary files (``.*.tmp``, the names :func:`infossl.io.write_text_atomic` uses)
that a killed writer left behind are removed: under the lock no live writer can own them. They are listed in
:attr:`WriteLock.cleaned`.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path
from typing import Optional

from infossl._backend import PathLike

RUN_LOCK_NAME = ".infossl.lock"

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]


class LockHeldError(RuntimeError):
    """Another writer holds the lock; ``pid``, ``host`` and ``lock_path`` say which and where."""

    def __init__(self, message: str, *, lock_path: Path, pid: Optional[int], host: Optional[str]) -> None:
        super().__init__(message)
        self.lock_path, self.pid, self.host = lock_path, pid, host


def _read_marker(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            info = json.loads(fh.read() or "{}")
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _try_lock(fd: int) -> bool:
    """Take the OS lock on ``fd`` without waiting: True if taken, False if held elsewhere.

    Raises OSError when the filesystem has no advisory locks."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
    if msvcrt is not None:  # pragma: no cover - Windows
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    raise OSError(errno.ENOLCK, "no advisory locks on this platform")


class WriteLock:
    """An exclusive lock on ``target`` (a run folder or an output file); a context manager.

    Attributes
    ----------
    target : Path
        What is protected.
    lock_path : Path
        The marker file.
    took_over_from : int or None
        The pid of a dead writer whose marker was taken over, if any.
    cleaned : list of Path
        Temporary files of a killed writer removed when the lock was taken.
    """

    def __init__(self, target: PathLike, *, is_dir: bool, clean_tmp: bool = True) -> None:
        self.target = Path(os.fspath(target))
        self.is_dir = is_dir
        if is_dir:
            self.lock_path = self.target / RUN_LOCK_NAME
        else:
            self.lock_path = self.target.parent / f".{self.target.name}.lock"
        self.clean_tmp = clean_tmp
        self.took_over_from: Optional[int] = None
        self.cleaned: list[Path] = []
        self._fd: Optional[int] = None
        self._exclusive_marker = False

    # -------------------------------------------------------------------------------------------- acquire
    def acquire(self) -> "WriteLock":
        if self._fd is not None or self._exclusive_marker:
            raise RuntimeError(f"{self.lock_path} is already held by this WriteLock")
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):  # retried only when the marker is replaced under us
            try:
                fd, created = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
            except FileExistsError:
                try:
                    fd, created = os.open(self.lock_path, os.O_RDWR), False
                except FileNotFoundError:  # released in between
                    continue
            try:
                taken = _try_lock(fd)
            except OSError:  # no advisory locks here: remove the empty marker we made, use O_EXCL markers
                os.close(fd)
                if created:
                    os.unlink(self.lock_path)
                self._acquire_exclusive_marker()
                break
            if not taken:
                os.close(fd)
                self._refuse(_read_marker(self.lock_path))
            # A holder that released between our open() and lock() unlinked the marker we opened: retry on
            # the current file, so that two writers can never hold locks on two different inodes.
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_marker(self.lock_path)
            if previous.get("pid") not in (None, os.getpid()):
                self.took_over_from = int(previous["pid"])
            try:
                self._write_marker(fd)
            except OSError as exc:  # a full disk, say: leave no marker behind and say which file failed
                os.unlink(self.lock_path)
                os.close(fd)
                raise self._marker_error(exc) from exc
            self._fd = fd
            break
        else:  # pragma: no cover - twenty replacements in a row
            raise LockHeldError(f"could not take the lock {self.lock_path}: it keeps being replaced",
                                lock_path=self.lock_path, pid=None, host=None)
        if self.clean_tmp:
            self.cleaned = clean_stale_temp_files(self.target if self.is_dir else self.target.parent,
                                                  None if self.is_dir else self.target.name)
        return self

    def _marker_text(self) -> str:
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                           "target": str(self.target)}) + "\n"

    def _write_marker(self, fd: int) -> None:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, self._marker_text().encode())
        os.fsync(fd)

    def _acquire_exclusive_marker(self) -> None:
        """Fallback without advisory locks: an O_EXCL marker; a dead holder's marker (same host) is replaced."""
        for _ in range(2):
            try:
                fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                info = _read_marker(self.lock_path)
                pid, host = info.get("pid"), info.get("host")
                if isinstance(pid, int) and host == socket.gethostname() and not _pid_alive(pid):
                    self.took_over_from = pid
                    try:
                        os.unlink(self.lock_path)
                    except FileNotFoundError:
                        pass
                    continue
                self._refuse(info)
            try:
                os.write(fd, self._marker_text().encode())
            except OSError as exc:
                os.close(fd)
                os.unlink(self.lock_path)
                raise self._marker_error(exc) from exc
            os.close(fd)
            self._exclusive_marker = True
            return
        self._refuse(_read_marker(self.lock_path))

    def _marker_error(self, exc: OSError) -> OSError:
        return OSError(exc.errno, f"cannot write the lock file {self.lock_path} for {self.target} "
                                  f"({exc.strerror or exc}); nothing was written")

    def _refuse(self, info: dict) -> None:
        pid, host = info.get("pid"), info.get("host")
        what = "run folder" if self.is_dir else "output file"
        who = f"process {pid}" if pid is not None else "another process"
        if host and host != socket.gethostname():
            who += f" on host {host}"
        if pid == os.getpid():
            who = f"this process ({pid})"
        since = info.get("started")
        when = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" if isinstance(
            since, (int, float)) else ""
        raise LockHeldError(
            f"the {what} {self.target} is being written by {who}{when} (lock {self.lock_path}); wait for it "
            f"to finish or choose another path. Two writers would mix their files",
            lock_path=self.lock_path, pid=pid if isinstance(pid, int) else None, host=host)

    # -------------------------------------------------------------------------------------------- release
    def release(self) -> None:
        """Remove the marker and drop the lock (idempotent)."""
        if self._fd is not None:
            try:
                os.unlink(self.lock_path)  # while still holding the lock: see acquire()'s inode check
            except FileNotFoundError:
                pass
            os.close(self._fd)  # closing releases flock / msvcrt locks
            self._fd = None
        elif self._exclusive_marker:
            try:
                os.unlink(self.lock_path)
            except FileNotFoundError:
                pass
            self._exclusive_marker = False

    @property
    def held(self) -> bool:
        return self._fd is not None or self._exclusive_marker

    def __enter__(self) -> "WriteLock":
        return self if self.held else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"WriteLock({str(self.target)!r}, held={self.held})"


def lock_run_dir(path: PathLike, *, clean_tmp: bool = True) -> WriteLock:
    """Lock the run folder ``path`` (created if missing) for this process; returns the held :class:`WriteLock`.

    Use as ``with lock_run_dir(out): ...`` or keep the object and call ``release()``. Raises
    :class:`LockHeldError` naming the holder's pid when another writer has it. With ``clean_tmp`` the
    ``.*.tmp`` files directly in the folder (left by a killed writer) are removed once the lock is held.

    Returns
    -------
    WriteLock
        The held lock (release it, or use it as a context manager).
    """
    p = Path(os.fspath(path))
    if p.exists() and not p.is_dir():
        raise ValueError(f"{p} is a file, not a run folder")
    p.mkdir(parents=True, exist_ok=True)
    return WriteLock(p, is_dir=True, clean_tmp=clean_tmp).acquire()


def lock_output_file(path: PathLike, *, clean_tmp: bool = True) -> WriteLock:
    """Lock the output file ``path`` (marker ``.NAME.lock`` beside it) for this process; returns the held lock.

    Raises :class:`LockHeldError` naming the holder's pid when another writer has it. With ``clean_tmp`` the
    ``.NAME.*.tmp`` files a killed writer of this file left are removed once the lock is held.

    Returns
    -------
    WriteLock
        The held lock (release it, or use it as a context manager).
    """
    p = Path(os.fspath(path))
    if p.is_dir():
        raise ValueError(f"{p} is a directory; give the path of the output file")
    return WriteLock(p, is_dir=False, clean_tmp=clean_tmp).acquire()


def clean_stale_temp_files(directory: PathLike, name: Optional[str] = None) -> list[Path]:
    """Remove the atomic-write temporaries in ``directory``: ``.*.tmp``, or only ``.{name}.*.tmp``.

    Call it only while holding the lock of that folder or file (as :func:`lock_run_dir` does): then no live
    writer owns them. Returns the removed paths, sorted.
    """
    d = Path(os.fspath(directory))
    pattern = f".{name}.*.tmp" if name is not None else ".*.tmp"
    removed = []
    for p in sorted(d.glob(pattern)):
        if p.is_file() and not p.is_symlink():
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed
