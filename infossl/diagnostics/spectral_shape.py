"""Old home of :mod:`infossl.diagnostics.spectrum_shape` (alpha-ReQ, LiDAR), kept for one release.

"spectral" names the kernel-regime theory (:mod:`infossl.spectral`); these are covariance-spectrum metrics.
Their public names are served from the new module with a ``DeprecationWarning``.
"""

from infossl._deprecation import moved_module_getattr

__getattr__ = moved_module_getattr(__name__, {name: "infossl.diagnostics.spectrum_shape" for name in (
    "alpha_req", "alpha_req_from_spectrum", "lidar", "lidar_from_scatter")})
