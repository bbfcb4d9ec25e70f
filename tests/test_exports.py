"""Every package's ``__all__``: sorted, no duplicates, only existing, public, non-deprecated names.

Order: ``sorted(__all__)``, plain case-sensitive string order (constants and classes, then ``__version__``,
then lower-case functions and modules), so the rule needs no key to state.
"""

import importlib
import warnings

import pytest

PACKAGES = ["infossl", "infossl.cli", "infossl.deterministic", "infossl.diagnostics", "infossl.estimators",
            "infossl.integrations", "infossl.io", "infossl.models", "infossl.objectives", "infossl.spectral",
            "infossl.synthetic", "infossl.training"]
#: Deprecated aliases that stay importable for one release and must not be exported.


def _all(package):
    return list(importlib.import_module(package).__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted(package):
    names = _all(package)
    assert names == sorted(names)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_has_no_duplicates_and_only_public_existing_names(package):
    module = importlib.import_module(package)
    names = _all(package)
    assert len(names) == len(set(names))
    assert [n for n in names if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))] == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # an exported name served by a moved-name shim fails
        for name in names:
            assert hasattr(module, name), f"{package}.{name}"
            assert getattr(getattr(module, name), "__deprecated__", None) is None, f"{package}.{name}"


def test_internal_helpers_left_the_exports_but_stay_importable():
    import infossl.deterministic
    import infossl.models

    for module, name in [(infossl.deterministic, "check_model"), (infossl.deterministic, "sketch_covariance_factor"),
                         (infossl.models, "reset_parameters")]:
        assert name not in module.__all__ and callable(getattr(module, name))


def test_design_names_stay_exported():
    """DESIGN.md section 3 and the README examples rely on these."""
    assert {"entropy", "mutual_information", "diagnose", "deterministic", "spectral", "synthetic", "io",
            "training"} <= set(_all("infossl"))
    assert {"VICRegLoss", "InfoVICRegLoss", "BarlowTwinsLoss", "InfoNCELoss", "CISSLLoss",
            "DISSLLoss"} <= set(_all("infossl.objectives"))
    assert {"output_mixture", "information_table", "regime_check"} <= set(_all("infossl.deterministic"))
    assert {"CollapseMetrics", "ViewInformation", "JSONLinesLogger", "log_metrics",
            "InfoSSLCallback"} <= set(_all("infossl.integrations"))
