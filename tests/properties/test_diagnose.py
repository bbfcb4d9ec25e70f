"""infossl.diagnose on generated bad inputs keeps the contract; options are checked."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import infossl
from ._contract import assert_contract
from ._inputs import KINDS, REFUSED, make

KNOWN = {"meta": "diagnose on a meta tensor: RuntimeError 'Tensor.item() cannot be called on meta tensors'",
         "sparse": "diagnose on a sparse tensor: NotImplementedError from aten::ne (SparseCPU)"}
KINDS_OK = [k for k in KINDS if k not in KNOWN and k != "wide"]


@given(kind=st.sampled_from(KINDS_OK), n=st.integers(3, 80), d=st.integers(1, 6), seed=st.integers(0, 999))
def test_diagnose_contract(kind, n, d, seed, tmp_path_factory):
    z = make(kind, n, d, seed=seed, memmap_dir=str(tmp_path_factory.getbasetemp()))
    out = assert_contract(infossl.diagnose, z, limit=30)
    if kind in REFUSED - {"scipy-sparse", "object", "strings", "ragged-list", "dataframe-object"}:
        assert out.kind == "error", out.detail


@pytest.mark.parametrize("kind", sorted(KNOWN))
def test_diagnose_refuses_meta_and_sparse(kind):
    out = assert_contract(infossl.diagnose, make(kind))
    assert out.kind == "error"


def test_nan_labels_and_view_shapes_are_refused():
    z = make("normal", 100, 4)
    labels = (np.arange(100) % 3).astype(float)
    labels[5] = np.nan
    with pytest.raises(ValueError, match="labels contain 1 NaN"):
        infossl.diagnose(z, labels=labels)
    with pytest.raises(ValueError, match="same shape"):
        infossl.diagnose(z, views=(z, make("normal", 100, 5)))


def test_sample_size_below_two_is_refused():
    out = assert_contract(infossl.diagnose, make("normal", 100, 4), sample_size=0)
    assert out.kind == "error" and "sample_size" in out.detail, out.detail


def test_misspelled_option_names_the_public_function():
    with pytest.raises(TypeError, match=r"infossl\.diagnose\(\) .*'sampel_size' \(did you mean 'sample_size'\?\)"):
        infossl.diagnose(make("normal", 100, 4), sampel_size=10)
