"""Logger outputs: JSON lines and CSV appended whole (also from concurrent writers), TensorBoard / Lightning
sinks get only finite numbers."""

import csv
import json
import threading

import numpy as np
import pytest
import torch

from infossl.integrations import CSVLogger, JSONLinesLogger, LightningLogger, TensorBoardLogger, log_metrics

VALUES = {"verdict": "healthy", "verdict_code": 0, "rankme": 7.25, "bad": float("nan"), "t": torch.tensor(1.5),
          "g": np.float32(2.0)}


def test_jsonl_appends_one_object_per_call(tmp_path):
    path = tmp_path / "m.jsonl"
    log = JSONLinesLogger(path)
    log(VALUES, step=1)
    log({"rankme": 6.0}, step=2)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0] == {"step": 1, "verdict": "healthy", "verdict_code": 0, "rankme": 7.25, "bad": None, "t": 1.5,
                       "g": 2.0}
    assert rows[1] == {"step": 2, "rankme": 6.0}


def test_csv_long_table_with_one_header(tmp_path):
    path = tmp_path / "m.csv"
    CSVLogger(path)(VALUES, step=3)
    CSVLogger(path)({"rankme": 6.0}, step=4)  # a second logger on the same file keeps one header
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["step", "name", "value"]
    assert ["3", "verdict", "healthy"] in rows and ["3", "bad", ""] in rows and rows[-1] == ["4", "rankme", "6.0"]
    assert sum(r == ["step", "name", "value"] for r in rows) == 1
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="header"):
        CSVLogger(other)


def test_concurrent_writers_never_tear_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    payload = {f"metric_{i}": float(i) for i in range(200)}  # ~4 kB lines

    def write(worker):
        log = JSONLinesLogger(path)
        for step in range(25):
            log({**payload, "worker": worker}, step=step)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 100 and all(len(r) == 202 for r in rows)


def test_scalar_sinks_get_finite_numbers_only():
    class Writer:
        def __init__(self):
            self.calls = []

        def add_scalar(self, name, value, global_step=None):
            self.calls.append((name, value, global_step))

    class Module:
        def __init__(self):
            self.logged = None

        def log_dict(self, values, **kwargs):
            self.logged = (values, kwargs)

    w, m = Writer(), Module()
    log_metrics(VALUES, 5, [TensorBoardLogger(w), LightningLogger(m, prog_bar=True)])
    assert {c[0] for c in w.calls} == {"verdict_code", "rankme", "t", "g"} and all(c[2] == 5 for c in w.calls)
    assert m.logged == ({"verdict_code": 0.0, "rankme": 7.25, "t": 1.5, "g": 2.0}, {"prog_bar": True})


def test_real_summary_writer(tmp_path):
    pytest.importorskip("tensorboard")
    log = TensorBoardLogger(log_dir=tmp_path)
    log({"rankme": 3.0, "verdict": "healthy"}, step=1)
    log.writer.close()
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        JSONLinesLogger(tmp_path)
    with pytest.raises(ValueError, match="folder"):
        CSVLogger(tmp_path / "missing" / "m.csv")
    log = JSONLinesLogger(tmp_path / "m.jsonl")
    with pytest.raises(TypeError, match="dict"):
        log([1, 2], step=1)
    with pytest.raises(TypeError, match="step"):
        log({"a": 1.0}, step=1.5)
    with pytest.raises(ValueError, match="scalars"):
        log({"a": torch.ones(3)}, step=1)
    with pytest.raises(TypeError, match="add_scalar"):
        TensorBoardLogger(object())
    with pytest.raises(TypeError, match="log_dict"):
        LightningLogger(object())
    with pytest.raises(TypeError, match="callable"):
        log_metrics({"a": 1.0}, 1, [3])


def test_wide_csv_one_row_per_step_and_new_columns(tmp_path):
    import csv

    path = tmp_path / "wide.csv"
    log = CSVLogger(path, layout="wide")
    log({"rankme": 7.5, "verdict": "healthy", "bad": float("nan")}, step=0)
    CSVLogger(path, layout="wide")({"rankme": 7.0, "verdict": "healthy"}, step=1)  # reopened: same header
    log({"lidar": 3.25, "rankme": 6.5}, step=2)  # a new metric adds a column, earlier rows empty there
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["step", "rankme", "verdict", "bad", "lidar"],
                    ["0", "7.5", "healthy", "", ""],
                    ["1", "7.0", "healthy", "", ""],
                    ["2", "6.5", "", "", "3.25"]]
    assert not list(tmp_path.glob(".*.tmp"))  # the rewrite's temporary file was renamed away
    with pytest.raises(ValueError, match="clash"):
        log({"step": 1.0}, step=3)
    CSVLogger(tmp_path / "long.csv")({"a": 1.0}, step=0)
    with pytest.raises(ValueError, match="not a wide one"):
        CSVLogger(tmp_path / "long.csv", layout="wide")
    with pytest.raises(ValueError, match="layout='wide'"):
        CSVLogger(path)
    with pytest.raises(ValueError, match="layout"):
        CSVLogger(tmp_path / "x.csv", layout="pivot")
