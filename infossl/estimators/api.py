"""Old home of :mod:`infossl.estimators.dispatch` (the ``method=`` façade and the ``"auto"`` rules), kept for
one release: its names are served from the new module with a ``DeprecationWarning``."""

from infossl._deprecation import moved_module_getattr

__getattr__ = moved_module_getattr(__name__, {name: "infossl.estimators.dispatch" for name in (
    "AUTO_KNN_MAX_DIM", "ENTROPY_METHODS", "ID_ROWS", "LATENT_MAX_ID", "LATENT_MIN_DIM", "LATENT_MIN_ROWS",
    "MI_METHODS", "auto_entropy_route", "auto_mi_estimate", "auto_mi_route", "entropy", "entropy_function",
    "is_manifold", "low_dimensional_sides", "manifold_dimension", "mi_function", "mutual_information")})
