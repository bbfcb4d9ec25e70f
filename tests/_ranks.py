"""Run a test body on several gloo ranks: the one spawn / init / destroy mechanism of the distributed tests.

The body is a module-level function ``body(rank, *args)`` (spawned processes import it by name); it runs
between ``init_process_group`` and ``destroy_process_group`` and writes what the test compares to files.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional


def _entry(rank: int, world: int, init_method: str, threads: Optional[int], body: Callable[..., Any],
           args: tuple) -> None:
    import torch
    import torch.distributed as dist

    if threads is not None:
        torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world)
    try:
        body(rank, *args)
    finally:
        dist.destroy_process_group()


def run_ranks(body: Callable[..., Any], store_dir: os.PathLike | str, *args: Any, world: int = 2,
              threads: Optional[int] = None) -> None:
    """Spawn ``world`` processes running ``body(rank, *args)`` in one gloo group (rendezvous file in
    ``store_dir``), ``threads`` intra-op threads each when given; returns when all have finished."""
    import torch.multiprocessing as mp

    init = f"file://{os.fspath(store_dir)}/store"
    mp.spawn(_entry, args=(world, init, threads, body, args), nprocs=world, join=True)
