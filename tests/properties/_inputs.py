"""Bad inputs of every kind the contract covers, built from a few parameters (so hypothesis can draw them).

``make(kind, n, d, scale, seed)`` returns one array-like of the kind named in :data:`KINDS` (NaN/Inf,
empty, 0-D/1-D/3-D, n <= k, int/bool/complex/float16/bfloat16, object and string arrays, lists, DataFrames,
non-contiguous, Fortran and memory-mapped arrays, constant columns, duplicates, 1e30 outliers, scale 1e+-30,
requires_grad, meta and sparse tensors, and "wide": n = 50, d = 10 000).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

KINDS = (
    "normal", "nan", "inf", "empty-rows", "empty-cols", "1d", "3d", "0d", "tiny-n", "int", "bool", "complex",
    "float16", "torch-float16", "torch-bfloat16", "object", "strings", "list", "ragged-list", "dataframe",
    "dataframe-object", "non-contiguous", "fortran", "memmap", "constant-column", "all-constant", "duplicates",
    "outlier-1e30", "scale-1e30", "scale-1e-30", "requires-grad", "meta", "sparse", "scipy-sparse",
    "torch-int", "torch-float32", "wide",
)

#: kinds that must be refused (ValueError/TypeError) by every estimator, whatever the method
REFUSED = {"nan", "inf", "empty-rows", "empty-cols", "3d", "0d", "bool", "complex", "object", "strings",
           "ragged-list", "dataframe-object", "meta", "sparse", "scipy-sparse"}


def make(kind: str, n: int = 40, d: int = 3, scale: float = 1.0, seed: int = 0, memmap_dir: str = "/tmp"):
    rng = np.random.default_rng(seed)
    z = scale * rng.standard_normal((n, d))
    if kind == "normal":
        return z
    if kind == "nan":
        z[rng.integers(n), rng.integers(d)] = np.nan
        return z
    if kind == "inf":
        z[rng.integers(n), rng.integers(d)] = -np.inf
        return z
    if kind == "empty-rows":
        return np.empty((0, d))
    if kind == "empty-cols":
        return np.empty((n, 0))
    if kind == "1d":
        return z[:, 0].copy()
    if kind == "3d":
        return z.reshape(n, d, 1)
    if kind == "0d":
        return np.float64(1.0)
    if kind == "tiny-n":
        return z[:2]
    if kind == "int":
        return np.round(10 * z).astype(np.int64)
    if kind == "bool":
        return z > 0
    if kind == "complex":
        return z.astype(np.complex128)
    if kind == "float16":
        return z.astype(np.float16)
    if kind == "torch-float16":
        return torch.from_numpy(z).half()
    if kind == "torch-bfloat16":
        return torch.from_numpy(z).bfloat16()
    if kind == "torch-float32":
        return torch.from_numpy(z).float()
    if kind == "torch-int":
        return torch.from_numpy(np.round(10 * z).astype(np.int32))
    if kind == "object":
        a = z.astype(object)
        a[0, 0] = None
        return a
    if kind == "strings":
        return z.astype(str)
    if kind == "list":
        return z.tolist()
    if kind == "ragged-list":
        rows = z.tolist()
        rows[0] = rows[0][:-1] or [1.0, 2.0]
        return rows
    if kind == "dataframe":
        return pd.DataFrame(z, columns=[f"c{j}" for j in range(d)])
    if kind == "dataframe-object":
        df = pd.DataFrame(z)
        df["label"] = ["a"] * n
        return df
    if kind == "non-contiguous":
        return np.repeat(z, 2, axis=1)[:, ::2]
    if kind == "fortran":
        return np.asfortranarray(z)
    if kind == "memmap":
        path = f"{memmap_dir}/infossl-props-{seed}-{n}-{d}.dat"
        m = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, d))
        m[:] = z
        m.flush()
        return np.memmap(path, dtype=np.float64, mode="r", shape=(n, d))
    if kind == "constant-column":
        z[:, 0] = 3.0
        return z
    if kind == "all-constant":
        return np.full((n, d), 2.5)
    if kind == "duplicates":
        z[n // 2:] = z[: n - n // 2]
        return z
    if kind == "outlier-1e30":
        z[0] = 1e30
        return z
    if kind == "scale-1e30":
        return z * 1e30
    if kind == "scale-1e-30":
        return z * 1e-30
    if kind == "requires-grad":
        return torch.from_numpy(z).requires_grad_()
    if kind == "meta":
        return torch.empty(n, d, device="meta")
    if kind == "sparse":
        return torch.from_numpy(z).to_sparse()
    if kind == "scipy-sparse":
        import scipy.sparse as sp
        return sp.csr_matrix(z)
    if kind == "wide":
        return rng.standard_normal((50, 10_000))
    raise KeyError(kind)
