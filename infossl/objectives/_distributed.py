"""Kept for code that imported the gathering helpers from here; they live in :mod:`infossl._distributed`
(below every package that gathers: objectives, models, diagnostics)."""

from infossl._distributed import gather_with_grad, is_distributed, rank_and_world

__all__ = ["gather_with_grad", "is_distributed", "rank_and_world"]
