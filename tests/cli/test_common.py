"""infossl.cli._common: option parsing, tables and JSON output shared by every command."""

import argparse
import json
import os

import pytest

from infossl.cli._common import collect_options, emit, format_table, package_version, parse_option, parse_value


@pytest.mark.parametrize("text, value", [("3", 3), ("0.5", 0.5), ("1e-3", 1e-3), ("yes", True), ("Off", False),
                                         ("none", None), ("null", None), ("ledoit_wolf", "ledoit_wolf")])
def test_parse_value(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_parse_option_and_errors():
    assert parse_option("bias-correction=false") == ("bias_correction", False)
    for bad in ("k", "=3", "1k=3", "a b=1"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected NAME=VALUE"):
            parse_option(bad)


def test_collect_options_refuses_duplicates():
    assert collect_options([("k", 3), ("ridge", 0.1)], "--option") == {"k": 3, "ridge": 0.1}
    with pytest.raises(ValueError, match="--option given more than once for k"):
        collect_options([("k", 3), ("k", 4)], "--option")


def test_format_table_aligns_numbers_right_and_text_left():
    text = format_table([{"name": "a", "value": 1.5}, {"name": "long", "value": 10.25}], ["name", "value"])
    assert text.splitlines() == ["name    value", "----  -------", "a      1.5000", "long  10.2500"]


def test_emit_prints_and_writes_atomically(tmp_path, capsys):
    emit({"x": 1}, "text", as_json=False, out=str(tmp_path / "r.json"))
    assert capsys.readouterr().out == "text\n" and json.loads((tmp_path / "r.json").read_text()) == {"x": 1}
    emit({"x": 1}, "text", as_json=True)
    assert json.loads(capsys.readouterr().out) == {"x": 1}
    assert package_version()


@pytest.mark.parametrize(
    "text, value",
    [
        ("3", 3),
        ("-2", -2),
        ("0.5", 0.5),
        ("1e-3", 1e-3),
        ("true", True),
        ("No", False),
        ("none", None),
        ("chebyshev", "chebyshev"),
        ("", ""),
    ],
)
def test_parse_value_signs_exponents_and_text(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_parse_option():
    assert parse_option("k=3") == ("k", 3)
    assert parse_option("chunk-size=10") == ("chunk_size", 10)
    assert parse_option("metric=a=b") == ("metric", "a=b")


def test_format_table_alignment():
    text = format_table([{"name": "a", "x": 1.5}, {"name": "long", "x": 10.25}], ["name", "x"])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "x"]
    assert lines[2].endswith(" 1.5000") and lines[3].endswith("10.2500")
    assert len(lines[2]) == len(lines[3])


def test_refuse_overwriting_inputs(tmp_path):
    from infossl.cli._common import refuse_overwriting_inputs

    data = tmp_path / "emb.npy"
    data.write_bytes(b"data")
    (tmp_path / "link.npy").symlink_to(data)
    os.link(data, tmp_path / "hard.npy")
    for out in (data, tmp_path / "link.npy", tmp_path / "hard.npy", tmp_path / "sub" / ".." / "emb.npy"):
        with pytest.raises(ValueError, match=r"--out .* is the input file .*emb\.npy; writing there would"):
            refuse_overwriting_inputs({"--out": str(out)}, [str(data)])
    with pytest.raises(ValueError, match="--out and --plot name the same file"):
        refuse_overwriting_inputs({"--out": str(tmp_path / "r.json"), "--plot": str(tmp_path / "r.json")}, [])
    refuse_overwriting_inputs({"--out": str(tmp_path / "r.json"), "--plot": None},
                              [str(data), None, "digits"])
    assert data.read_bytes() == b"data"
