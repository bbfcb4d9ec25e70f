"""infossl: how much information do self-supervised representations keep?

Entropy and mutual-information estimators for embeddings (in nats, numpy or torch, CPU or GPU), with
ground-truth distributions to check them against. Importing has no side effects.

>>> import infossl
>>> infossl.entropy(z)                      # doctest: +SKIP
>>> infossl.mutual_information(z1, z2)      # doctest: +SKIP
"""

from infossl import deterministic, estimators, io, objectives, synthetic
from infossl._validation import DegenerateInputWarning
from infossl.estimators import entropy, mutual_information

__version__ = "0.1.0"

__all__ = [
    "entropy",
    "mutual_information",
    "DegenerateInputWarning",
    "deterministic",
    "estimators",
    "io",
    "objectives",
    "synthetic",
    "__version__",
]
