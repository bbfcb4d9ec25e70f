"""Renamed to :mod:`infossl.diagnostics.diagnosis` (the module of :func:`~infossl.diagnose`); the old import
path keeps working for one release and warns."""

from infossl._deprecation import moved_module_getattr

__getattr__ = moved_module_getattr(__name__, {name: "infossl.diagnostics.diagnosis"
                                              for name in ("diagnose", "diagnose_statistics")})
