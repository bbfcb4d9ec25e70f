"""Test data shared by the diagnostics tests."""
import numpy as np


def with_spectrum(rng, sigmas, n, center=True):
    """(n, d) data whose (centred) singular values are exactly ``sigmas`` (d = len(sigmas))."""
    d = len(sigmas)
    a = rng.standard_normal((n, d))
    if center:
        a -= a.mean(0)
    q, _ = np.linalg.qr(a)  # orthonormal columns, centred when a is
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return q @ np.diag(sigmas) @ v.T
