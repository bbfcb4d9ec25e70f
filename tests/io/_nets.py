"""A helper shared by the checkpoint tests of tests/io (the seeded network itself is the ``net`` fixture of
conftest.py)."""
import torch


def same_weights(a, b):
    """Whether two state dicts hold the same names and bitwise-equal tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
