"""numpy <-> torch at the public boundary, the dtype/device policy, and chunking.

Every estimator kernel in infossl is written once, in torch. The public functions convert their input
with :func:`to_tensor` and their result with :func:`Boundary.finish`:

* numpy (or anything array-like: lists, pandas) -> float64 tensor on the CPU; the result is a Python
  ``float``.
* torch -> stays on its device. float32/float64 keep their dtype; float16/bfloat16 are computed in
  float32 (log-determinants and log-distances are meaningless in half precision) and the result is
  float32. The result is a 0-d tensor and autograd flows through it where the estimator is
  differentiable.
* integer input is read as continuous values (float64); bool, complex, object and string input, meta
  tensors and sparse (torch or scipy) input are refused with a TypeError naming the argument.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar, Union

import numpy as np
import torch

from infossl.linalg import column_deviation

ArrayLike = Union[np.ndarray, torch.Tensor, "list[float]"]
#: A file path: a string or any ``os.PathLike`` (the one spelling used by every module).
PathLike = Union[str, "os.PathLike[str]"]

# The chunking memory budgets of the package, in bytes (one home; each value was chosen or measured as said).
#: A chunked estimator kernel holds at most about this many bytes in one (chunk, n) block; measured with it, the
#: kNN entropy at n = 10^5, d = 64 (111-row float32 chunks) raises the resident set by about 200 MiB
#: (benchmarks/README.md).
DEFAULT_MEMORY_BUDGET = 256 * 2**20
#: Rows per chunk of a diagnosis pass over a file (``infossl.diagnostics.stream``), in the file's dtype. Larger
#: products run closer to the BLAS peak (10^6 x 512 float32: 3.5 s per pass against 3.9 s with 64 MiB chunks,
#: on the 2-core development machine); the pass holds two read buffers and one workspace of this size.
PASS_CHUNK_BYTES = 128 * 2**20
#: One chunk of the ``infossl.io.streaming`` readers when ``chunk_rows`` is not given, in the file's dtype; the
#: general-purpose default (no timing of its own is recorded: the hot path, the diagnosis pass, measured
#: its chunk separately and reads with :data:`PASS_CHUNK_BYTES`).
READ_CHUNK_BYTES = 64 * 2**20
#: One batch of (P, K, K) pairwise Cholesky factorisations in ``infossl.estimators.mixture``: small enough to
#: stay cache-resident, measured 2-3x faster than 40 MiB batches.
PAIR_BATCH_BYTES = 2**21
#: One (rows, n, d) block of direct differences in the exact fallback of the k-NN search
#: (``infossl.estimators.neighbours``, rows whose float32 and float64 screens both stay uncertain, e.g.
#: near-duplicate points): a rare path whose block is d times a distance block, so a quarter of
#: :data:`DEFAULT_MEMORY_BUDGET` (no timing of its own is recorded).
DIRECT_BLOCK_BYTES = 64 * 2**20
#: One working block of the streamed second-moment kernels (``infossl.estimators.gaussian``, ``copula`` and
#: ``latent``): the rows whose outer products are added to a (d, d) covariance at a time, and the columns
#: ranked at a time for the normal scores. It bounds their memory beyond the input and a d x d matrix (and the
#: copula's int32 ranks). Measured on the 2-core development machine (beside another job): the float64
#: moment of 20000 x 1024 rows took 1.08 s in the 1365-row chunks of this budget against 0.95 s in one
#: product.
STREAM_BLOCK_BYTES = 32 * 2**20


@dataclass(frozen=True)
class Boundary:
    """What the caller gave us, so the result can be handed back in the same currency."""

    is_torch: bool
    device: torch.device
    dtype: torch.dtype

    def finish(self, value: torch.Tensor) -> Union[float, torch.Tensor]:
        """Return ``value`` as a Python float (numpy input) or a 0-d tensor (torch input)."""
        if self.is_torch:
            return value.reshape(()).to(dtype=self.dtype)
        return float(value.detach().cpu())

    def finish_many(self, values: torch.Tensor) -> Union[np.ndarray, torch.Tensor]:
        """Return a vector of values as a numpy float64 array or a tensor."""
        if self.is_torch:
            return values.to(dtype=self.dtype)
        return values.detach().cpu().double().numpy()


def _refuse_dtype(kind: str, name: str, dtype: object) -> None:
    if kind == "b":
        raise TypeError(
            f"{name} has boolean dtype {dtype}; the estimators expect continuous embeddings. "
            f"Convert explicitly (e.g. {name}.astype(float)) if the 0/1 values are meant as numbers."
        )
    if kind == "c":
        raise TypeError(
            f"{name} has complex dtype {dtype}; stack the real and imaginary parts as separate "
            "columns to estimate on them."
        )


def _is_scipy_sparse(a: object) -> bool:
    mod = type(a).__module__ or ""
    return mod.startswith("scipy.sparse") and hasattr(a, "toarray")


def refuse_special_tensor(t: torch.Tensor, name: str = "z") -> None:
    """Refuse tensors whose values cannot be read: meta tensors (shape only, no data) and sparse or
    quantized layouts, with a message that names the argument and the way out."""
    if t.is_meta:
        raise TypeError(f"{name} is a meta tensor (shape {tuple(t.shape)}, no data); infossl needs real values: "
                        f"materialise it on a device first (e.g. {name}.to_empty(device='cpu') and fill it)")
    if t.layout != torch.strided:
        raise TypeError(f"{name} is a sparse tensor (layout {t.layout}); infossl needs dense embeddings: "
                        f"pass {name}.to_dense()")
    if t.is_quantized:
        raise TypeError(f"{name} is a quantized tensor ({t.dtype}); pass {name}.dequantize()")


def to_tensor(a: ArrayLike, *, name: str = "z") -> tuple[torch.Tensor, Boundary]:
    """Convert ``a`` to a floating tensor following the module's policy.

    Returns the tensor and the :class:`Boundary` that maps results back to the caller's type.
    No copy is made for float64 numpy arrays or float32/float64 tensors.
    """
    if isinstance(a, torch.Tensor):
        refuse_special_tensor(a, name)
        if a.is_complex():
            _refuse_dtype("c", name, a.dtype)
        if a.dtype == torch.bool:
            _refuse_dtype("b", name, a.dtype)
        if a.dtype in (torch.float32, torch.float64):
            t = a
        elif a.is_floating_point():  # float16, bfloat16, float8
            t = a.to(torch.float32)
        else:  # integers
            t = a.to(torch.float64)
        return t, Boundary(True, t.device, t.dtype)
    if hasattr(a, "to_numpy") and not isinstance(a, np.ndarray):  # pandas
        a = a.to_numpy()
    if _is_scipy_sparse(a):
        raise TypeError(f"{name} is a scipy sparse matrix ({type(a).__name__}); infossl estimators need dense "
                        f"embeddings: pass {name}.toarray()")
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as exc:  # ragged nested lists, unconvertible objects
        raise TypeError(f"{name} cannot be read as a numeric array ({type(a).__name__}: {exc})") from None
    if arr.dtype.kind in "bc":
        _refuse_dtype(arr.dtype.kind, name, arr.dtype)
    if arr.dtype.kind not in "fiu":
        # object arrays (mixed lists, None entries, pandas object columns), strings, datetimes: refused
        # rather than coerced, so that "1.0" strings or None never turn silently into numbers or NaN
        raise TypeError(f"{name} has dtype {arr.dtype}, which cannot be read as numbers; infossl takes real "
                        f"numeric arrays (convert explicitly, e.g. np.asarray({name}, dtype=float))")
    arr = np.asarray(arr, dtype=np.float64)
    if not arr.flags.c_contiguous:  # np.ascontiguousarray would turn 0-d into 1-d
        arr = arr.copy()
    with warnings.catch_warnings():  # read-only input (memmaps, broadcast views) is never written to
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(arr)
    return t, Boundary(False, t.device, torch.float64)


def chunk_size_for(n_cols: int, *, itemsize: int = 8, memory_budget: int = DEFAULT_MEMORY_BUDGET,
                   factor: int = 1) -> int:
    """Rows per chunk so that ``factor`` blocks of shape (rows, n_cols) fit in ``memory_budget`` bytes."""
    per_row = max(1, n_cols * itemsize * factor)
    return max(1, int(memory_budget // per_row))


def iter_chunks(n: int, chunk_size: int) -> Iterator[slice]:
    """Yield consecutive slices covering ``range(n)`` in blocks of ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    for start in range(0, n, chunk_size):
        yield slice(start, min(start + chunk_size, n))


def global_scale(z: torch.Tensor) -> torch.Tensor:
    """Root-mean-square deviation of all entries of ``z`` from their column means (0-d tensor).

    Kernels divide by it before squaring distances or forming covariances, so that data at scale
    1e30 or 1e-30 neither overflows nor underflows, and add back ``d * log(scale)`` analytically.
    Computed without squaring the raw values: first divided by the largest absolute deviation
    (:func:`infossl.linalg.column_deviation`, the one overflow-safe scale of the package). The result is
    detached: every kernel's value is exactly invariant to the choice of scale (it is divided out and
    added back), so no gradient needs to flow through it, and the backward pass is cheaper.
    """
    z = z.detach()
    if z.numel() == 0:  # no columns left (e.g. every column constant and dropped): nothing to scale
        return torch.zeros((), dtype=z.dtype, device=z.device)
    mean = z.mean(dim=0, keepdim=True)
    m = column_deviation(z, mean).amax()
    if m == 0:
        return m
    return m * ((z - mean) / m).pow(2).mean().sqrt()


F = TypeVar("F", bound=Callable)


@contextlib.contextmanager
def autocast_disabled(*device_types: str) -> Iterator[None]:
    """Switch ``torch.autocast`` off within the block for each of ``device_types`` where it is on (default:
    ``"cpu"`` and ``"cuda"``); device types without autocast are skipped.

    Log-determinants, log-distances and the losses' statistics lose all accuracy when autocast downcasts
    their products and factorisations to float16/bfloat16; half-precision *inputs* are promoted separately
    (:func:`to_tensor`).
    """
    with contextlib.ExitStack() as stack:
        for kind in dict.fromkeys(device_types or ("cpu", "cuda")):
            try:
                on = torch.is_autocast_enabled(kind)
            except (TypeError, RuntimeError):  # a device type without autocast
                on = False
            if on:
                stack.enter_context(torch.autocast(kind, enabled=False))
        yield


def full_precision(fn: F) -> F:
    """Decorate an estimator so that it runs with autocast off (:func:`autocast_disabled`, CPU and CUDA).

    Estimators called inside a mixed-precision training step (``torch.autocast``) would otherwise have their
    matrix products and factorisations downcast to float16/bfloat16.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with autocast_disabled("cpu", "cuda"):
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """torch's intra-op threads set to 1 for the duration, restored after (also on error).

    For callers that supply their own parallelism (the neighbour engine's chunk workers) or whose ops are too
    small to split (a small network's training steps): on a machine where another process holds a core,
    torch's intra-op threads wait at every op's join for the thread that lost its core, while a single thread
    per op just runs slower by its share (beside one busy process on 2 cores: KSG at n = 10^4, 64 + 64 took
    61 s on torch's threads and 8 s on one-thread chunk workers; a small network's epoch 6.9 s against 0.10 s).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
