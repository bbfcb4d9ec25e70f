"""infossl: how much information do self-supervised representations keep?

Entropy and mutual-information estimators for embeddings (in nats, numpy or torch, CPU or GPU), with
ground-truth distributions to check them against; collapse diagnostics; the information of deterministic
networks under input noise; self-supervised objectives derived from the estimators, and a training loop;
the kernel-regime spectral theory of SSL. Importing has no side effects.

>>> import infossl
>>> infossl.entropy(z)                      # doctest: +SKIP
>>> infossl.mutual_information(z1, z2)      # doctest: +SKIP
>>> infossl.diagnose(z).verdict             # doctest: +SKIP
"""

from infossl import deterministic, diagnostics, estimators, io, objectives, spectral, synthetic, training
from infossl._validation import DegenerateInputWarning
from infossl.diagnostics import diagnose
from infossl.estimators import ReliabilityWarning, entropy, label_mutual_information, mutual_information

__version__ = "0.1.0"

__all__ = [
    "DegenerateInputWarning",
    "ReliabilityWarning",
    "__version__",
    "deterministic",
    "diagnose",
    "diagnostics",
    "entropy",
    "estimators",
    "io",
    "label_mutual_information",
    "mutual_information",
    "objectives",
    "spectral",
    "synthetic",
    "training",
]
