"""The ``infossl`` command line: parse, call the library, print or save. Nothing imports this package.

Exit status: 0 success, 1 a data error (one line ``infossl: error: ...`` on stderr, no traceback),
2 a usage error (argparse).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from infossl.cli import diagnose, estimate, train
from infossl.io.locks import LockHeldError

# Errors that mean "your data or environment is wrong" (or that another writer holds the output), reported in
# one line without a traceback.
DATA_ERRORS = (ValueError, TypeError, ImportError, OSError, LockHeldError)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="infossl",
        description="Entropy and mutual information of embeddings (nats), collapse diagnostics, SSL training.",
        epilog="Run 'infossl estimate --example' for a first look, 'infossl estimate --help' for details.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {estimate.package_version()}")
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
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
        return int(args.run(args))
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except DATA_ERRORS as exc:
        print(f"infossl: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("infossl: interrupted", file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]
