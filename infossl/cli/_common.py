"""What every command shares: NAME=VALUE options, plain-text tables, JSON output files, the version."""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
from typing import Any, NoReturn, Optional, Sequence

_TRUE = ("true", "yes", "on")
_FALSE = ("false", "no", "off")


def parse_value(text: str) -> Any:
    """Read an option value: int, float, bool (true/false/yes/no/on/off), none/null, else the string."""
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_option(text: str) -> tuple[str, Any]:
    """``"k=3"`` -> ``("k", 3)``; an argparse ``type=`` (bad input is a usage error, exit status 2)."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. k=3), got {text!r}")
    return name, parse_value(value)


def add_option_flag(parser: Any, *flags: str, help: str) -> None:
    """A repeatable ``NAME=VALUE`` flag (values read by :func:`parse_option`), collected into a list of
    pairs."""
    parser.add_argument(*flags, action="append", type=parse_option, default=[], metavar="NAME=VALUE",
                        help=help)


def collect_options(pairs: Sequence[tuple[str, Any]], flag: str) -> dict[str, Any]:
    """``[(name, value), ...]`` from repeated ``flag NAME=VALUE`` -> dict; a name given twice is an error."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"{flag} given more than once for {name}")
        out[name] = value
    return out


# ------------------------------------------------------------------------------------------ parsing
_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")


def _suggestion(word: str, candidates: Sequence[str]) -> Optional[str]:
    """The candidate closest to ``word`` (difflib ratio >= 0.6), or None."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


class SuggestingParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors suggest the closest option or choice.

    ``infossl --objektive x`` is answered "unrecognized arguments: --objektive (did you mean --objective?)"
    and an invalid choice with the closest valid one. Sub-parsers made through ``add_subparsers`` are of the
    parser's own class, so one top-level parser of this class covers every sub-command.
    """

    def option_names(self) -> list[str]:
        """Every long and short option string of this parser.

        Returns
        -------
        list of str
            E.g. ``["-h", "--help", "--method", ...]``.
        """
        return [s for action in self._actions for s in action.option_strings]

    def _command_parser(self, namespace: argparse.Namespace) -> "argparse.ArgumentParser":
        """The sub-command's parser that parsed ``namespace`` (every command sets ``parser=``), else self."""
        chosen = getattr(namespace, "parser", None)
        return chosen if isinstance(chosen, argparse.ArgumentParser) else self

    def parse_args(self, args: Optional[Sequence[str]] = None,  # type: ignore[override]
                   namespace: Optional[argparse.Namespace] = None) -> argparse.Namespace:
        """Parse like :meth:`argparse.ArgumentParser.parse_args`; an unknown option is a usage error of the
        sub-command it was given to, with the closest known option suggested.

        Returns
        -------
        argparse.Namespace
            The parsed arguments.
        """
        parsed, extras = self.parse_known_args(args, namespace)
        if not extras:
            return parsed
        owner = self._command_parser(parsed)
        known = owner.option_names() if isinstance(owner, SuggestingParser) else self.option_names()
        words = []
        for word in extras:
            flag = word.split("=", 1)[0]
            close = _suggestion(flag, known) if flag.startswith("-") else None
            words.append(f"{word} (did you mean {close}?)" if close else word)
        owner.error("unrecognized arguments: " + " ".join(words))

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message`` (with the closest valid value of an invalid choice) to stderr and
        exit with status 2.

        Returns
        -------
        NoReturn
            Raises SystemExit(2).
        """
        found = _INVALID_CHOICE.search(message)
        if found and "did you mean" not in message:
            choices = re.findall(r"'([^']*)'", found.group(2))
            close = _suggestion(found.group(1), choices)
            if close:
                message += f" -- did you mean {close!r}?"
        super().error(message)


# ------------------------------------------------------------------------------------------ formatting
def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
    return "" if value is None else str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Plain-text table; numbers right-aligned, text left-aligned."""
    digits = {"seconds": 3}
    cells = [[_fmt(r.get(c), digits.get(c, 4)) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(items: Sequence[str]) -> str:
        return "  ".join(
            s.rjust(w) if num else s.ljust(w) for s, w, num in zip(items, widths, numeric)
        ).rstrip()

    out = [line(list(columns)), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


class StreamedTable:
    """A plain-text table printed row by row as results arrive (long commands show each row when it is
    ready, not all at the end). Widths are fixed up front: ``widths`` for the named columns, else
    :data:`DEFAULT_WIDTH`; a longer cell widens its row only. Numbers right-aligned, text left-aligned, as
    :func:`format_table`; the headers of the ``text`` columns left-aligned, the others right-aligned.
    """

    DEFAULT_WIDTH = 10

    def __init__(self, columns: Sequence[str], widths: Optional[dict] = None,
                 text: Sequence[str] = ()) -> None:
        self.columns = list(columns)
        self.widths = [max(len(c), (widths or {}).get(c, self.DEFAULT_WIDTH)) for c in self.columns]
        self.text = set(text)  # left-aligned columns; the others hold numbers

    def header(self) -> str:
        """The column names and the rule under them.

        Returns
        -------
        str
            Two lines.
        """
        names = "  ".join(c.ljust(w) if c in self.text else c.rjust(w)
                          for c, w in zip(self.columns, self.widths)).rstrip()
        return names + "\n" + "  ".join("-" * w for w in self.widths)

    def row(self, values: dict) -> str:
        """One row of ``values`` (a dict by column name; missing columns are blank).

        Returns
        -------
        str
            One line.
        """
        digits = {"seconds": 3}
        cells = []
        for c, w in zip(self.columns, self.widths):
            v = values.get(c)
            text = _fmt(v, digits.get(c, 4))
            numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
            cells.append(text.rjust(w) if numeric else text.ljust(w))
        return "  ".join(cells).rstrip()


def print_above_bars(text: str, file: Any = None) -> None:
    """Print ``text`` (stdout by default) without tearing a progress bar drawn on stderr, and flush it, so a
    row is seen the moment it is ready even through a pipe."""
    import sys

    from tqdm.auto import tqdm

    stream = sys.stdout if file is None else file
    tqdm.write(text, file=stream)
    stream.flush()


def emit(record: dict[str, Any], text: str, *, as_json: bool, out: Optional[str] = None) -> None:
    """Print ``text`` (or the JSON ``record``) and, with ``out``, write the record there atomically."""
    if out:
        from infossl.io import save_json_atomic

        save_json_atomic(record, out)
    print(json.dumps(record, indent=2) if as_json else text)


def _same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file: the same inode when both exist (hard links, symlinks,
    ``./x`` vs ``x``), else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_overwriting_inputs(outputs: dict[str, Optional[str]], inputs: Sequence[Optional[str]]) -> None:
    """Raise a ValueError when an output file (``{flag: path}``) is one of the ``inputs`` or another output.

    Every command calls it before reading anything: writing a report over the embeddings it was computed
    from destroys the data, and the atomic rename would do it without a trace.
    """
    given = [(flag, os.fspath(path)) for flag, path in outputs.items() if path]
    for flag, path in given:
        for source in inputs:
            if isinstance(source, (str, os.PathLike)) and _same_file(path, os.fspath(source)):
                raise ValueError(
                    f"{flag} {path} is the input file {os.fspath(source)}; writing there would destroy the "
                    "input. Choose another output path"
                )
    for i, (flag, path) in enumerate(given):
        for other, other_path in given[i + 1:]:
            if _same_file(path, other_path):
                raise ValueError(
                    f"{flag} and {other} name the same file {path}; give each output its own path"
                )


def package_version() -> str:
    """The installed distribution's version, else ``infossl.__version__``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("infossl")
    except PackageNotFoundError:
        import infossl

        return str(getattr(infossl, "__version__", "unknown"))


# ------------------------------------------------------------------------------------------ commands


__all__ = ["StreamedTable", "SuggestingParser", "add_option_flag", "collect_options", "emit", "format_table", "package_version", "parse_option",
           "parse_value", "print_above_bars", "refuse_overwriting_inputs"]
