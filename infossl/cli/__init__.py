"""The ``infossl`` command line: parse, call the library, print or save. Nothing imports this package.

Exit status: 0 success, 1 a data error (one line ``infossl: error: ...`` on stderr, no traceback),
2 a usage error (argparse).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from infossl.cli._common import SuggestingParser, package_version

# Errors that mean "your data or environment is wrong", reported in one line without a traceback; main adds
# the lock's error (another writer holds the output), whose module imports torch.
DATA_ERRORS = (ValueError, TypeError, ImportError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with its sub-commands (importing them imports torch and the library).

    Returns
    -------
    SuggestingParser
        The ``infossl`` parser; it and every sub-command's parser suggest the closest option on a typo.
    """
    from infossl.cli import diagnose, estimate, train

    parser = SuggestingParser(
        prog="infossl",
        description="Entropy and mutual information of embeddings (nats), collapse diagnostics, SSL training.",
        epilog="Run 'infossl estimate --example' for a first look, 'infossl estimate --help' for details.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    estimate.add_parser(sub)
    diagnose.add_parser(sub)
    train.add_parser(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``infossl`` console script; returns the exit status.

    ``argv`` defaults to ``sys.argv[1:]``. Usage errors (and ``--help``/``--version``) are returned as
    argparse's status (2, resp. 0) rather than raised, so the function can be called in-process.

    Returns
    -------
    int
        The exit status: 0 success, 1 a data error, 2 a usage error (3: --fail-on-collapse).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:  # answered before the commands (and torch) are imported
        print(f"infossl {package_version()}")
        return 0
    from infossl.io.locks import LockHeldError

    from infossl._progress import no_progress

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "quiet", False):  # -q silences every progress bar of the command, not only its own
            with no_progress():
                return int(args.run(args))
        return int(args.run(args))
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except (*DATA_ERRORS, LockHeldError) as exc:
        print(f"infossl: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("infossl: interrupted", file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]
