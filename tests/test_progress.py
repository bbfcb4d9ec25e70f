"""infossl._progress: one rule for whether a bar is drawn, and bars on stderr only."""

import io

import pytest

from infossl._progress import no_progress, progress_bar, progress_enabled, set_progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_explicit_choice_wins_and_is_checked():
    assert progress_enabled(True) and not progress_enabled(False, work=10**9, min_work=1)
    with pytest.raises(TypeError, match="progress must be True, False or None, got 'yes'"):
        progress_enabled("yes")


def test_automatic_rule_terminal_size_switch_and_environment(monkeypatch):
    assert not progress_enabled(None)  # pytest's stderr is not a terminal
    monkeypatch.setattr("sys.stderr", _Tty())
    assert progress_enabled(None) and progress_enabled(None, work=10, min_work=10)
    assert not progress_enabled(None, work=9, min_work=10)
    with no_progress():
        assert not progress_enabled(None) and progress_enabled(True)
    assert progress_enabled(None)
    set_progress(False)
    try:
        assert not progress_enabled(None)
    finally:
        set_progress(None)
    assert progress_enabled(None)
    monkeypatch.setenv("INFOSSL_PROGRESS", "0")
    assert not progress_enabled(None)
    with pytest.raises(ValueError, match="set_progress takes False"):
        set_progress(True)


def test_bar_writes_to_stderr_only_when_enabled(monkeypatch, capsys):
    fake = _Tty()
    monkeypatch.setattr("sys.stderr", fake)
    with progress_bar(True, total=5, desc="blocks", unit="blocks") as bar:
        bar.update(5)
    assert "blocks" in fake.getvalue() and capsys.readouterr().out == ""
    fake.truncate(0)
    fake.seek(0)
    with progress_bar(False, total=5, desc="blocks") as bar:
        bar.update(5)
    assert fake.getvalue() == ""
