"""Files in and out of the readers and the command line: inputs are never destroyed, cut-off text is never
read as data, a failed write leaves nothing behind and names its file, and each wrong kind of file gets the
one message that says what it is."""

import errno
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infossl.cli import main
from infossl.diagnostics.checkpoints import diagnose_checkpoints
from infossl.io import array_shape, iter_array_chunks, load_array, load_checkpoint, read_training_checkpoint

READERS = {
    "load_array": load_array,
    "array_shape": array_shape,
    "iter_array_chunks": lambda p: list(iter_array_chunks(p, chunk_rows=3)),
}


@pytest.fixture
def emb(tmp_path):
    path = tmp_path / "emb.npy"
    np.save(path, np.random.default_rng(0).standard_normal((60, 4)))
    return path


# -------------------------------------------------------------------------------- never write over an input
@pytest.mark.parametrize("flag", ["--out", "--plot"])
@pytest.mark.parametrize("spelling", ["same", "dot", "symlink", "hardlink"])
def test_diagnose_output_onto_its_input_is_refused(tmp_path, emb, flag, spelling, capsys):
    target = {"same": str(emb), "dot": os.path.join(str(tmp_path), ".", "emb.npy"),
              "symlink": str(tmp_path / "alias.npy"), "hardlink": str(tmp_path / "hard.npy")}[spelling]
    if spelling == "symlink":
        os.symlink(emb, target)
    if spelling == "hardlink":
        os.link(emb, target)
    before = emb.read_bytes()
    assert main(["diagnose", str(emb), flag, target, "-q"]) == 1
    err = capsys.readouterr().err
    assert f"{flag} {target} is the input file" in err
    assert emb.read_bytes() == before


def test_diagnose_views_labels_and_estimate_inputs_are_protected(tmp_path, emb, capsys):
    views = tmp_path / "v.npy"
    np.save(views, np.random.default_rng(1).standard_normal((60, 4)))
    labels = tmp_path / "y.npy"
    np.save(labels, np.arange(60) % 3)
    kept = {p: p.read_bytes() for p in (views, labels, emb)}
    for argv in (["diagnose", str(emb), "--views", str(views), "--out", str(views)],
                 ["diagnose", str(emb), "--labels", str(labels), "--plot", str(labels)],
                 ["estimate", str(emb), str(views), "--out", str(views)],
                 ["estimate", str(emb), "--out", str(emb)]):
        assert main(argv + ["-q"] if argv[0] == "diagnose" else argv) == 1
        assert "is the input file" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in kept} == kept


# ------------------------------------------------------------------------------------------ truncated text
def _csv(path, rows=12, cols=3, seed=0):
    z = np.random.default_rng(seed).standard_normal((rows, cols)).round(4) + 4.0625
    pd.DataFrame(z, columns=[f"c{j}" for j in range(cols)]).to_csv(path, index=False)
    return z


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(1, 60), seed=st.integers(0, 9))
def test_a_csv_cut_anywhere_in_its_last_line_is_refused_naming_file_and_line(tmp_path_factory, cut, seed):
    d = tmp_path_factory.mktemp("csv")
    full = d / "full.csv"
    _csv(full, seed=seed)
    text = full.read_bytes()
    last_line = text[:-1].rsplit(b"\n", 1)[1] + b"\n"
    cut = min(cut, len(last_line) - 1)  # at least the final line break is lost, at most the whole last row
    if cut == len(last_line) - 1:
        cut -= 1  # the whole last row gone (cut at a line break) is a shorter complete file, not detectable
    torn = d / "torn.csv"
    torn.write_bytes(text[: len(text) - 1 - cut] if cut else text[:-1])
    lines = torn.read_bytes().count(b"\n") + 1
    for reader in READERS.values():
        with pytest.raises(ValueError, match=rf"torn\.csv is truncated: its last line \(line {lines}\)"):
            reader(torn)


def test_the_issue_cases_cut_inside_the_last_number_and_inside_a_row(tmp_path):
    path = tmp_path / "z.csv"
    path.write_text("a,b\n1.5,2.25\n3.0,4.0625\n")
    np.testing.assert_array_equal(load_array(path), [[1.5, 2.25], [3.0, 4.0625]])
    (tmp_path / "number.csv").write_text("a,b\n1.5,2.25\n3.0,4.06")  # was read as 4.06
    (tmp_path / "row.csv").write_text("a,b\n1.5,2.25\n3.0")  # was read with NaN in the last row
    for name in ("number.csv", "row.csv"):
        for reader in READERS.values():
            with pytest.raises(ValueError, match=rf"{name} is truncated: its last line \(line 3\)"):
                reader(tmp_path / name)


def test_diagnose_labels_csv_cut_off_is_named(tmp_path, emb, capsys):
    labels = tmp_path / "y.csv"
    labels.write_text("y\n" + "\n".join(str(i % 3) for i in range(60)))  # no final line break
    assert main(["diagnose", str(emb), "--labels", str(labels), "-q"]) == 1
    assert "y.csv is truncated: its last line (line 61)" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- failed writes
def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".lock", ".tmp")))


@pytest.mark.parametrize("failing", ["os.write", "os.replace", "os.fsync"])
def test_a_full_disk_leaves_no_lock_or_temporary_and_names_the_file(tmp_path, emb, monkeypatch, capsys,
                                                                    failing):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "report.json").write_text("previous\n")
    monkeypatch.setattr(os, failing.split(".")[1], _no_space)
    code = main(["diagnose", str(emb), "--out", str(out_dir / "report.json"),
                 "--plot", str(out_dir / "spectrum.png"), "-q"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 1 and "[Errno 28]" in err and str(out_dir) in err, err
    assert _leftovers(out_dir) == []
    assert (out_dir / "report.json").read_text() == "previous\n"


def test_write_text_atomic_names_the_path_on_a_full_disk(tmp_path, monkeypatch):
    from infossl.io import write_text_atomic

    monkeypatch.setattr(os, "replace", _no_space)
    with pytest.raises(OSError, match=r"writing .*r\.json failed \(No space left on device\)") as info:
        write_text_atomic("{}", tmp_path / "r.json")
    assert info.value.errno == errno.ENOSPC and os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------ one message per cause
def _embedding_files(folder):
    z = np.random.default_rng(0).standard_normal((10, 3))
    np.save(folder / "e.npy", z)
    np.savez(folder / "e.npz", z=z)
    pd.DataFrame(z).to_csv(folder / "e.csv", index=False)
    (folder / "e.txt").write_text("1 2 3\n4 5 6\n")
    (folder / "ragged.pt").write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n")
    paths = ["e.npy", "e.npz", "e.csv", "e.txt", "ragged.pt"]
    try:
        import pyarrow  # noqa: F401

        pd.DataFrame(z, columns=list("abc")).to_parquet(folder / "e.parquet")
        paths.append("e.parquet")
    except ImportError:
        pass
    return [folder / p for p in paths]


def test_checkpoint_loaders_say_what_an_embeddings_or_text_file_is(tmp_path, capsys):
    for path in _embedding_files(tmp_path):
        text = path.suffix in (".pt", ".txt")
        want = (rf"{path.name} is a text file, not a model" if text
                else rf"{path.name} is an embeddings file \({path.suffix}\), not a model checkpoint")
        loaders = (load_checkpoint, read_training_checkpoint,
                   lambda p: diagnose_checkpoints(p, progress=False))
        for load in loaders:
            with pytest.raises(ValueError, match=want) as info:
                load(path)
            assert "unpickle" not in str(info.value) and "pop from empty list" not in str(info.value)
        assert main(["diagnose", "--checkpoints", str(path), "-q"]) == 1
        err = capsys.readouterr().err
        assert "not a model checkpoint" in err and "unpickle" not in err
