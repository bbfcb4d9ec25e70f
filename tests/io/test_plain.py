"""infossl.io.plain: numpy / torch / path values to plain JSON-able Python, NaN and infinities, round trip."""

import json
import math
import pathlib

import numpy as np
import pytest
import torch

from infossl.io.plain import json_default, to_plain


def test_scalars_become_python_numbers():
    out = to_plain([np.float32(0.5), np.int64(3), np.bool_(True), torch.tensor(2.5), torch.tensor(7)])
    assert out == [0.5, 3, True, 2.5, 7]
    assert [type(v) for v in out] == [float, int, bool, float, int]


def test_arrays_tensors_paths_and_keys():
    obj = {1: np.arange(3).reshape(1, 3), "t": torch.ones(2, dtype=torch.float64),
           "p": pathlib.Path("a") / "b.npy", "nested": ({"x": np.float64(1.0)},)}
    assert to_plain(obj) == {"1": [[0, 1, 2]], "t": [1.0, 1.0], "p": str(pathlib.Path("a") / "b.npy"),
                             "nested": [{"x": 1.0}]}


def test_nonfinite_keep_or_null():
    values = [float("nan"), np.float32("inf"), torch.tensor(-math.inf), 1.0]
    kept = to_plain(values)
    assert math.isnan(kept[0]) and kept[1:] == [math.inf, -math.inf, 1.0]
    assert to_plain(values, nonfinite="null") == [None, None, None, 1.0]
    assert json.loads(json.dumps(to_plain({"v": values}, nonfinite="null"))) == {"v": [None, None, None, 1.0]}
    with pytest.raises(ValueError, match="nonfinite must be 'keep' or 'null', got 'drop'"):
        to_plain(1.0, nonfinite="drop")


def test_json_default_round_trip_and_refusal():
    record = {"value": np.float64(0.25), "shape": np.array([3, 4]), "grad": torch.tensor([0.5, 1.5])}
    text = json.dumps(record, default=json_default)
    assert json.loads(text) == {"value": 0.25, "shape": [3, 4], "grad": [0.5, 1.5]}
    assert json.loads(text) == to_plain(record)
    with pytest.raises(TypeError, match="object of type object is not JSON serializable"):
        json.dumps({"x": object()}, default=json_default)


def test_unknown_objects_pass_through_unchanged():
    marker = object()
    assert to_plain([marker])[0] is marker
