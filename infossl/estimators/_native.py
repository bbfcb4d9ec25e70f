r"""The optional compiled max-norm kernels of the KSG search (``_maxnorm.c``), built on first use.

The KSG search spends most of its time in ``max_f |a_f - b_f|`` over every pair of rows. In torch that is
a chain of elementwise ops that each write a (rows, columns) block to memory; the C kernels in
``_maxnorm.c`` keep the running maximum in vector registers and select neighbours and counts as they go,
several times faster on the same cores. They compute the same values bit for bit (see the file's header),
so they change the speed of :func:`infossl.estimators.neighbours.ksg_counts`, never a result.

The file is compiled once per machine with the system's C compiler (``$CC``, else the first of ``cc``,
``gcc``, ``clang``) at ``-O3`` for
the host CPU's vector extensions (one register per vector: 64 bytes with AVX-512, 32 with AVX2, 16
otherwise), into ``$INFOSSL_CACHE`` (default ``~/.cache/infossl``) under a name that
hashes the source, the compiler command and the CPU's model and flags, so a home directory shared by
machines of different CPUs holds one library per CPU. The library is written under a temporary name and
renamed, so a concurrent or interrupted build never leaves a partial file; the folder (created private)
and the library must belong to this user and be writable by nobody else, or nothing is loaded, since
loading a library runs its code (a cache folder that is a symbolic link, or on a network mount whose owner
does not map to this user, is refused too: set ``INFOSSL_CACHE`` to a local folder).
``INFOSSL_NATIVE_MARCH`` names another target CPU for timing (e.g.
``haswell``): a CPU newer than the host's builds a library that stops the process with an illegal
instruction, so it is for benchmarks only. Where no compiler is found, the
build fails, or ``INFOSSL_NATIVE=0`` is set, :func:`kernels` returns ``None`` and the torch kernels run
(same values, slower); the reason is logged at DEBUG level once.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Optional

__all__ = ["kernels", "unavailable_reason"]

_LOG = logging.getLogger(__name__)
_SOURCE = Path(__file__).with_name("_maxnorm.c")
_VERSION = 2  # maxnorm_version() of the source this module was written for
_LOCK = threading.Lock()
_STATE: dict = {}


def _cpu_signature() -> str:
    """The CPU's model name and flags (Linux), else the platform's processor string."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        fields = {}
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "flags", "Features", "CPU part") and key not in fields:
                fields[key] = value.strip()
        if fields:
            return "|".join(f"{k}={fields[k]}" for k in sorted(fields))
    except OSError:
        pass
    return f"{platform.machine()}|{platform.processor()}"


def _compiler() -> Optional[list[str]]:
    """``$CC`` split like a shell word list (``"ccache gcc"``), else the first of cc, gcc, clang on PATH."""
    cc = os.environ.get("CC", "").strip()
    if cc:
        return shlex.split(cc)
    found = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    return [found] if found else None


_FLAGS = ["-O3", "-fno-fast-math", "-fPIC", "-shared", "-std=gnu99"]


def _targets() -> tuple[list[str], ...]:
    """Target flags to try in order: the host's vector extensions (``-march=native``, or the CPU named by
    ``INFOSSL_NATIVE_MARCH``, e.g. ``haswell`` to time the AVX2 build on an AVX-512 machine), then the
    compiler's portable default for a compiler that does not know the first."""
    march = os.environ.get("INFOSSL_NATIVE_MARCH", "native").strip() or "native"
    return ([f"-march={march}"], [])


def _cache_dir() -> Path:
    """``$INFOSSL_CACHE``, else ``$XDG_CACHE_HOME/infossl`` or ``~/.cache/infossl``; where that folder cannot
    be created or written (a read-only or missing home), a per-user folder under the system's temporary
    directory (only where the platform has user ids, which :func:`_private` checks)."""
    base = os.environ.get("INFOSSL_CACHE")
    if base:
        return Path(base)
    try:
        xdg = os.environ.get("XDG_CACHE_HOME")
        folder = (Path(xdg) if xdg else Path.home() / ".cache") / "infossl"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except (OSError, RuntimeError):  # RuntimeError: no home directory can be determined
        pass
    if not hasattr(os, "getuid"):
        raise OSError("no writable cache folder for the compiled kernels (set INFOSSL_CACHE)")
    return Path(tempfile.gettempdir()) / f"infossl-{os.getuid()}"


def _private(path: Path) -> str:
    """"" when ``path`` (a folder or the library) is owned by this user and writable by nobody else, else
    why not: a library another user could have placed or changed is never loaded (loading runs its code)."""
    if not hasattr(os, "getuid"):
        return ""  # no user ids (Windows): the folder's access control is the platform's
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if st.st_uid != os.getuid():
        return f"{path} belongs to user id {st.st_uid}, not to this user ({os.getuid()})"
    if st.st_mode & 0o022:
        return f"{path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
    return ""


def _build() -> tuple[Optional[ctypes.CDLL], str]:
    """Compile (or find) the library and load it: (library, "") or (None, reason)."""
    if os.environ.get("INFOSSL_NATIVE", "1").strip() in ("0", "false", "no", "off"):
        return None, "disabled by INFOSSL_NATIVE"
    cc = _compiler()
    if cc is None:
        return None, "no C compiler (cc, gcc or clang) on PATH"
    source = _SOURCE.read_bytes()
    folder = _cache_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    own = hasattr(os, "getuid") and st.st_uid == os.getuid() and not stat.S_ISLNK(st.st_mode)
    if own and st.st_mode & 0o022:
        os.chmod(folder, 0o700)  # our own folder left group-writable by a umask of 002: make it private
    unsafe = _private(folder)
    if unsafe:
        return None, f"cache folder refused: {unsafe}"
    reasons = []
    for target_flags in _targets():
        cmd = cc + _FLAGS + target_flags
        target = _target_path(folder, cmd, source)
        if target.exists():
            lib, reason = _load(target)
            if lib is not None:
                return lib, ""
            if reason.startswith("library refused"):  # someone else could have placed it: load nothing
                return None, reason
            reasons.append(reason)  # stale or broken: rebuilt below
        lib, reason = _compile(cmd, folder, target)
        if lib is not None:
            return lib, ""
        reasons.append(reason)
    return None, "; ".join(reasons)


def _target_path(folder: Path, cmd: list[str], source: bytes) -> Path:
    """The cached library's path: a hash of the source, the compiler command and the CPU."""
    key = hashlib.sha256(source + " ".join(cmd).encode() + _cpu_signature().encode()).hexdigest()[:20]
    return folder / f"maxnorm-{key}.so"


def _load(target: Path) -> tuple[Optional[ctypes.CDLL], str]:
    """Load a built library after checking who owns it, and declare its functions' signatures."""
    unsafe = _private(target)
    if unsafe:
        return None, f"library refused: {unsafe}"
    try:
        lib = ctypes.CDLL(str(target))
        if lib.maxnorm_version() != _VERSION:
            return None, f"{target} has kernel version {lib.maxnorm_version()}, expected {_VERSION}"
        _declare(lib)
    except (OSError, AttributeError) as exc:
        return None, f"cannot load {target}: {exc}"
    return lib, ""


def _declare(lib: ctypes.CDLL) -> None:
    """The argument and result types of the library's functions (ctypes checks calls against them)."""
    p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    lib.maxnorm_columns_i16.restype = lib.maxnorm_columns_f32.restype = i32
    for suffix in ("i16", "f32"):
        count = getattr(lib, f"ksg_count_{suffix}")
        count.argtypes = [p, i64, i64, i32, i64, i64, p, p, p, p, p, i64, p]
        count.restype = i32
        knn_sym = getattr(lib, f"ksg_knn_sym_{suffix}")
        knn_sym.argtypes = [p, i64, i64, i32, i64, i64, i32, p, p, p]
        knn_sym.restype = i32
        count_sym = getattr(lib, f"ksg_count_sym_{suffix}")
        count_sym.argtypes = [p, i64, i64, i32, i64, i64, p, p, p, ctypes.POINTER(p), ctypes.POINTER(i64)]
        count_sym.restype = i32
    lib.maxnorm_free.argtypes = [p]
    lib.maxnorm_free.restype = None


def _compile(cmd: list[str], folder: Path, target: Path) -> tuple[Optional[ctypes.CDLL], str]:
    """Compile the source with ``cmd`` under a unique temporary name, load it from there, then rename it to
    ``target`` (atomic: a reader sees no library or the whole one). Loading the new file under its own name
    matters when a stale library of the same path is already loaded in this process (the loader would hand
    back the old one). Returns (library, "") or (None, reason)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".maxnorm-", suffix=".so", dir=folder)
        os.close(fd)
        try:
            run = subprocess.run(cmd + ["-o", tmp, str(_SOURCE), "-lm"], capture_output=True, text=True,
                                 timeout=120)
            if run.returncode != 0:
                return None, f"{' '.join(cmd)} failed: {run.stderr.strip()[:300]}"
            os.chmod(tmp, 0o700)  # the compiler's umask may have left it group-writable, which _load refuses
            lib, reason = _load(Path(tmp))
            if lib is None:
                return None, reason
            os.replace(tmp, target)
            return lib, ""
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"build failed: {exc}"


def kernels() -> Optional[ctypes.CDLL]:
    """The loaded kernel library, or ``None`` where it cannot be built (see :func:`unavailable_reason`).

    Returns
    -------
    ctypes.CDLL or None
        Built and loaded once per process; later calls return the same object.
    """
    with _LOCK:
        if "lib" not in _STATE:
            try:
                lib, reason = _build()
            except Exception as exc:  # a missing source, no home, a foreign library: the torch kernels run
                lib, reason = None, f"{type(exc).__name__}: {exc}"
            _STATE["lib"], _STATE["reason"] = lib, reason
            if lib is None:
                _LOG.debug("compiled max-norm kernels unavailable (%s); using the torch kernels", reason)
        return _STATE["lib"]


def unavailable_reason() -> str:
    """Why :func:`kernels` returned ``None`` ("" when the kernels are loaded).

    Returns
    -------
    str
        The reason recorded by the first :func:`kernels` call.
    """
    kernels()
    return _STATE["reason"]
