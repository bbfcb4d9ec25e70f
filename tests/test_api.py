"""The public surface: names promised in DESIGN.md section 3, side-effect-free import (``__all__``:
tests/test_exports.py)."""
import logging
import subprocess
import sys

import numpy as np
import pytest

import infossl
from infossl.estimators import ReliabilityWarning
from infossl.estimators.dispatch import ENTROPY_METHODS, MI_METHODS


def test_design_names():
    assert callable(infossl.entropy) and callable(infossl.mutual_information)
    assert infossl.diagnose is infossl.diagnostics.diagnose
    for name in ("VICRegLoss", "InfoVICRegLoss", "BarlowTwinsLoss", "InfoNCELoss", "CISSLLoss", "DISSLLoss"):
        assert hasattr(infossl.objectives, name)
    assert set(ENTROPY_METHODS) >= {"gaussian", "logdet", "knn", "mixture", "renyi"}
    assert set(MI_METHODS) >= {"gaussian", "copula", "ksg", "infonce", "nwj", "dv", "renyi"}
    # the two warnings a user filters on are at the top level, and are the ones the estimators raise
    assert infossl.ReliabilityWarning is infossl.estimators.details.ReliabilityWarning
    assert issubclass(infossl.DegenerateInputWarning, UserWarning)


ENTROPY_NAMES = {"gaussian": "gaussian_entropy", "logdet": "logdet_entropy", "copula": "copula_entropy",
                 "knn": "knn_entropy", "corrected-knn": "corrected_knn_entropy", "mixture": "mixture_entropy",
                 "renyi": "renyi_entropy"}
MI_NAMES = {"gaussian": "gaussian_mutual_information", "copula": "copula_mutual_information",
            "ksg": "ksg_mutual_information", "corrected-ksg": "corrected_ksg_mutual_information",
            "infonce": "infonce_mutual_information", "nwj": "nwj_mutual_information", "dv": "dv_mutual_information",
            "renyi": "renyi_mutual_information", "latent": "latent_mutual_information",
            "discrete": "discrete_mutual_information"}


def test_method_tables_map_each_name_to_its_estimator():
    """A wrong entry (e.g. "knn" -> the copula estimator) fails here: names and objects are both checked."""
    assert {m: f.__name__ for m, f in ENTROPY_METHODS.items()} == ENTROPY_NAMES
    assert {m: f.__name__ for m, f in MI_METHODS.items()} == MI_NAMES
    for m, f in {**ENTROPY_METHODS, **MI_METHODS}.items():
        assert f is getattr(infossl.estimators, f.__name__), m


@pytest.mark.parametrize("method", ["gaussian", "logdet", "copula", "knn", "renyi"])
def test_entropy_dispatch_gives_the_estimators_value(method):
    z = np.random.default_rng(0).standard_normal((300, 3))
    assert infossl.entropy(z, method=method) == ENTROPY_METHODS[method](z)


@pytest.mark.parametrize("method", ["gaussian", "copula", "ksg", "renyi"])
def test_mi_dispatch_gives_the_estimators_value(method):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 2))
    y = x + rng.standard_normal((300, 2))
    assert infossl.mutual_information(x, y, method=method) == MI_METHODS[method](x, y)


def test_import_has_no_side_effects():
    code = (
        "import logging, torch, warnings, numpy, scipy.special, scipy.stats, sklearn.covariance, pandas\n"
        "before = (torch.get_default_dtype(), torch.get_num_threads(), len(logging.getLogger().handlers),\n"
        "          torch.are_deterministic_algorithms_enabled(), list(warnings.filters))\n"
        "import infossl\n"
        "from infossl import *  # every lazily loaded subpackage and name\n"
        "after = (torch.get_default_dtype(), torch.get_num_threads(), len(logging.getLogger().handlers),\n"
        "         torch.are_deterministic_algorithms_enabled(), list(warnings.filters))\n"
        "assert before == after, (before, after)\n"
        "assert not logging.getLogger('infossl').handlers\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_auto_rules_are_logged(rng, caplog):
    z = rng.standard_normal((300, 2))
    with caplog.at_level(logging.DEBUG, logger="infossl"):
        infossl.entropy(z)
        infossl.entropy(rng.standard_normal((300, 130)))
        infossl.mutual_information(z[:, :1], z[:, 1:])
        infossl.mutual_information(rng.standard_normal((300, 70)), rng.standard_normal((300, 70)))
    text = caplog.text
    assert "d=2 -> corrected-knn" in text and "d=130 -> copula" in text
    assert "dims=2 -> corrected-ksg" in text and "dims=140 -> copula" in text


def test_auto_mi_reads_heavily_repeated_rows_as_discrete_symbols(rng, caplog):
    x = np.repeat(rng.standard_normal((50, 1)), 6, axis=0)
    y = x + 0.5 * np.repeat(rng.standard_normal((50, 1)), 6, axis=0)
    with caplog.at_level(logging.DEBUG, logger="infossl"), pytest.warns(ReliabilityWarning, match="symbols"):
        v = infossl.mutual_information(x, y)
    assert "-> discrete" in caplog.text
    assert v == pytest.approx(infossl.estimators.discrete_mutual_information(x, y))



def test_import_is_light_and_loads_names_on_first_use():
    code = (
        "import sys, infossl\n"
        "heavy = sorted({'torch', 'scipy', 'pandas', 'sklearn', 'matplotlib'} & set(sys.modules))\n"
        "assert heavy == [], heavy\n"
        "assert infossl.entropy is infossl.estimators.entropy and 'torch' in sys.modules\n"
        "assert set(infossl.__all__) <= set(dir(infossl))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        infossl.nope  # noqa: B018


def test_version_is_the_distribution_version():
    import re
    from pathlib import Path

    pyproject = (Path(infossl.__file__).parents[1] / "pyproject.toml").read_text()
    assert 'version = { attr = "infossl.__version__" }' in pyproject  # written once, in infossl/__init__.py
    assert re.fullmatch(r"\d+\.\d+\.\d+", infossl.__version__)


def test_packaging_metadata_a_user_expects():
    # no classifiers, no project URLs, no py.typed: type checkers ignored the annotations
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    from pathlib import Path

    root = Path(infossl.__file__).parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    meta = project["project"]
    assert "Typing :: Typed" in meta["classifiers"]
    assert any(c.startswith("Programming Language :: Python :: 3.") for c in meta["classifiers"])
    assert {"Homepage", "Documentation", "Changelog"} <= set(meta["urls"])
    assert (Path(infossl.__file__).parent / "py.typed").is_file()
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["infossl"]
    assert "include infossl/py.typed" in (root / "MANIFEST.in").read_text().splitlines()
