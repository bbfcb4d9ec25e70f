"""infossl: how much information do self-supervised representations keep?

Entropy and mutual-information estimators for embeddings (in nats, numpy or torch, CPU or GPU), with
ground-truth distributions to check them against; collapse diagnostics; the information of deterministic
networks under input noise; self-supervised objectives derived from the estimators, and a training loop;
the kernel-regime spectral theory of SSL. Importing has no side effects.

>>> import infossl
>>> infossl.entropy(z)                      # doctest: +SKIP
>>> infossl.mutual_information(z1, z2)      # doctest: +SKIP
>>> infossl.diagnose(z).verdict             # doctest: +SKIP

The subpackages and the top-level functions load on first use (``import infossl`` alone imports neither
torch nor scipy), so the command line and scripts that need one corner do not pay for all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The version, kept here only (pyproject.toml reads it; CHANGELOG.md says what each one changed).
__version__ = "0.2.0"

_SUBPACKAGES = ("deterministic", "diagnostics", "estimators", "io", "objectives", "spectral", "synthetic",
                "training")
#: Top-level names and the module each comes from.
_NAMES = {
    "DegenerateInputWarning": "infossl._validation",
    "ReliabilityWarning": "infossl.estimators",
    "diagnose": "infossl.diagnostics",
    "entropy": "infossl.estimators",
    "label_mutual_information": "infossl.estimators",
    "mutual_information": "infossl.estimators",
}

if TYPE_CHECKING:  # the same names for type checkers and editors, which do not run __getattr__
    from infossl import deterministic, diagnostics, estimators, io, objectives, spectral, synthetic, training
    from infossl._validation import DegenerateInputWarning
    from infossl.diagnostics import diagnose
    from infossl.estimators import ReliabilityWarning, entropy, label_mutual_information, mutual_information


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")  # the import also binds it on this module
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
