"""Test data and the memory-budget guard shared by the diagnostics tests."""
import contextlib
import tracemalloc

import numpy as np
import torch


def with_spectrum(rng, sigmas, n, center=True):
    """(n, d) data whose (centred) singular values are exactly ``sigmas`` (d = len(sigmas))."""
    d = len(sigmas)
    a = rng.standard_normal((n, d))
    if center:
        a -= a.mean(0)
    q, _ = np.linalg.qr(a)  # orthonormal columns, centred when a is
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return q @ np.diag(sigmas) @ v.T


def _budget_mode(limit):
    """A torch dispatch mode that fails on any operation that allocates a tensor of more than ``limit``
    entries."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Budget(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            # views (slices, from_numpy's wrapper) share an input's storage: they allocate nothing
            shared = {a.untyped_storage().data_ptr() for a in tree_leaves((args, kwargs))
                      if isinstance(a, torch.Tensor)}
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor) and t.numel() > limit \
                        and t.untyped_storage().data_ptr() not in shared:
                    raise AssertionError(f"{func} made a tensor of shape {tuple(t.shape)}: "
                                         f"{t.numel()} entries, over the budget of {limit}")
            return out

    return Budget()


@contextlib.contextmanager
def entry_budget(limit):
    """Fail if the block makes a torch tensor of more than ``limit`` entries, or if numpy's allocations
    (traced by tracemalloc) peak above ``limit`` float64 entries: with limit < d^2 / 4 a d x d matrix
    cannot be formed, whatever the route."""
    with _budget_mode(limit):  # the first use of a dispatch mode imports parts of torch: not the block's
        torch.zeros(1).add(1)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        with _budget_mode(limit):
            yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if started:
            tracemalloc.stop()
    assert peak - base <= 8 * limit, f"numpy allocations peaked at {peak - base} bytes, over {8 * limit}"


def wide_pair(n=20, d=2000, seed=0):
    """Two float32 views (n, d) with n much smaller than d: z and z plus 10 % noise."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)).astype(np.float32)
    return z, z + np.float32(0.1) * rng.standard_normal((n, d)).astype(np.float32)
