"""Misspelled keyword options: the check_options decorator, and the public functions it should guard."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import infossl
from infossl._validation import check_option_names, check_options, unknown_option_error
from infossl.objectives import OBJECTIVES
from ._inputs import make


def inner(z, *, sample_size=10, ridge=0.0):
    return sample_size


@check_options("infossl.demo", forwards_to=inner)
def outer(z, *, eps=1.0, **options):
    return inner(z, **options)


@check_options("infossl.pick", forwards_to=lambda a: {"a": inner, "b": None}[a["method"]], resolve=True)
def pick(z, method="a", **options):
    return inner(z, **options)


def test_decorator_names_the_public_function_and_the_close_name():
    assert outer(1, sample_size=3, eps=2.0) == 3
    with pytest.raises(TypeError, match=r"infossl\.demo\(\) got an unexpected keyword argument 'sampel_size' "
                                        r"\(did you mean 'sample_size'\?\); it accepts: eps, ridge, sample_size"):
        outer(1, sampel_size=3)
    assert outer.__infossl_options__ >= {"eps", "sample_size", "ridge"}


def test_decorator_resolves_the_target_from_the_arguments():
    assert pick(0, method="a", ridge=1.0) == 10
    with pytest.raises(TypeError, match=r"'ridg' \(did you mean 'ridge'\?\)"):
        pick(0, method="a", ridg=1.0)
    with pytest.raises(TypeError, match=r"infossl\.pick\(\) got an unexpected keyword argument 'ridge'"):
        pick(0, method="b", ridge=1.0)  # "b" forwards nothing
    with pytest.raises(TypeError, match="unexpected keyword"):  # an unresolvable method: the function decides
        pick(0, method="zzz", ridg=1.0)


def test_helpers():
    err = unknown_option_error("infossl.f", ["alpah", "zzz"], ["alpha", "beta"])
    assert "'alpah' (did you mean 'alpha'?), 'zzz';" in str(err)
    assert "unexpected keyword arguments" in str(err)
    check_option_names("infossl.f", {"anything": 1}, lambda **kw: None)  # undeclared **kwargs: no check


@given(name=st.sampled_from(sorted(OBJECTIVES)), typo=st.sampled_from(["tempreature", "lamda", "gama", "eps_",
                                                                          "sim_coef", "gather_distributd"]))
def test_objectives_suggest_the_close_name(name, typo):
    with pytest.raises(TypeError, match=rf"infossl\.objectives\.\w+\(\) got an unexpected keyword argument '{typo}'"):
        OBJECTIVES[name](**{typo: 1.0})


@pytest.mark.parametrize("call", [
    lambda: infossl.entropy(make("normal"), method="knn", kk=3),
    lambda: infossl.mutual_information(make("normal"), make("normal"), method="ksg", kk=3),
])
def test_estimator_facade_suggests_the_close_name(call):
    with pytest.raises(TypeError, match=r"infossl\.(entropy|mutual_information)\(\).*did you mean 'k'"):
        call()


@pytest.mark.parametrize("call,typo,close", [
    (lambda p: __import__("infossl").io.load_array(p, mmpa=False), "mmpa", "mmap"),
    (lambda p: __import__("infossl").io.iter_array_chunks(p, chunk_row=3), "chunk_row", "chunk_rows"),
    (lambda p: __import__("infossl").io.save_json_atomic({}, p, indnt=1), "indnt", "indent"),
])
def test_io_functions_suggest_the_close_name(call, typo, close, tmp_path):
    with pytest.raises(TypeError, match=rf"infossl\.io\.\w+\(\) got an unexpected keyword argument '{typo}' "
                                        rf"\(did you mean '{close}'\?\)"):
        call(tmp_path / "z.npy")
