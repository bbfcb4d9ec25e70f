"""``infossl estimate``: entropy of one embeddings file, or mutual information between two."""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any, Callable, Sequence

from infossl.cli._common import (add_option_flag, emit, format_table, package_version,
                                 refuse_overwriting_inputs)
from infossl.estimators.dispatch import (ENTROPY_METHODS, MI_METHODS, auto_entropy_estimate,
                                        auto_mutual_information)

EPILOG = """\
examples:
  infossl estimate --example                          synthetic data with a known answer
  infossl estimate z.npy --method knn --option k=5    H(z) in nats
  infossl estimate view1.npy view2.npy --method ksg   I(view1; view2) in nats
  infossl estimate emb.npz --key train --method gaussian --json
  infossl estimate a.pt b.pt --key emb --key-b emb --out result.json
  infossl estimate table.csv --key "f0,f1,f2" --method copula
  infossl estimate view1.npy view2.npy --details      value, interval, kind and trust checks

Files: .npy .npz .pt .pth .safetensors .csv .parquet (read without unpickling code).
--key picks the array (npz/pt/safetensors) or the columns (csv/parquet, comma-separated).
Values are in nats. Exit status: 0 ok, 1 data error, 2 usage error.
"""

EXAMPLE_MI = 1.0  # true I(X;Y) of the synthetic example, nats
EXAMPLE_DIM = 4
EXAMPLE_N = 2000
EXAMPLE_METHODS = ("gaussian", "copula", "ksg", "auto")
def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``estimate`` sub-command."""
    p = subparsers.add_parser(
        "estimate",
        help="entropy of one file or mutual information between two",
        description="Estimate H(A) for one embeddings file, or I(A;B) for two files with paired rows.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", nargs="?", metavar="A", help="embeddings file, rows are samples")
    p.add_argument("b", nargs="?", metavar="B", help="second file with the same rows: estimate I(A;B)")
    p.add_argument(
        "-m",
        "--method",
        default=None,
        help="estimator (default auto). Entropy: " + " ".join((*ENTROPY_METHODS, "auto"))
        + "; MI: " + " ".join((*MI_METHODS, "auto")),
    )
    p.add_argument("--key", default=None, help="array name / dict key / columns in A")
    p.add_argument("--key-b", default=None, help="array name / dict key / columns in B")
    add_option_flag(p, "-o", "--option",
                    help="estimator option, repeatable (e.g. --option k=5 --option metric=chebyshev)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument(
        "--details",
        action="store_true",
        help="also report an interval, what kind of number it is (estimate / lower bound / ...) and the trust "
        "checks (n, n/2, n/4 stability, agreement of two estimators, log n ceiling, intrinsic dimension); "
        "costs about three estimates",
    )
    p.add_argument(
        "--out", default=None, metavar="FILE", help="also write the JSON result to FILE (atomically)"
    )
    p.add_argument(
        "--example",
        action="store_true",
        help=f"no files: estimate I(X;Y) of a seeded {EXAMPLE_DIM}+{EXAMPLE_DIM}-dim correlated "
        f"Gaussian (n={EXAMPLE_N}, true MI {EXAMPLE_MI} nats) with several methods",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the --example data (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run, parser=p)
    return p


# ------------------------------------------------------------------------------------------ estimating
def _messages(caught: Sequence[warnings.WarningMessage]) -> list[str]:
    """The text of each caught warning, once, in order."""
    return list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))


def estimate_with_route(fn: Callable[..., Any], *data: Any, method: str, details: bool,
                        **options: Any) -> tuple[Any, dict[str, Any]]:
    """Run ``infossl.entropy`` or ``infossl.mutual_information`` and keep what the bare number loses.

    Parameters
    ----------
    fn : callable
        ``infossl.entropy`` or ``infossl.mutual_information``.
    *data : arrays
        Its positional inputs.
    method : str
        The method asked for (``"auto"`` included).
    details : bool
        Also compute the interval, kind and trust checks (``details=True``, about three estimates).
    **options
        Estimator options.

    Returns
    -------
    value : float or EstimateResult
        The number, or the :class:`~infossl.estimators.reliability.EstimateResult` with ``details``.
    route : dict
        ``method`` (the estimator that ran: ``"auto -> copula"`` for a routed call), ``kind`` and
        ``interval`` (with ``details``, else None) and ``warnings`` (every warning the call issued, once).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "auto" and not details and not options:
            # the route auto took comes back with the value (dispatch's structured form), not from a log line
            routed = auto_mutual_information if len(data) == 2 else auto_entropy_estimate
            value, ran = routed(*data)
        else:
            value = fn(*data, method=method, details=details, **options)
            ran = None
    messages = _messages(caught)
    if details:
        messages = list(dict.fromkeys([*value.warnings, *messages]))
        route = value.method
    else:
        route = f"auto -> {ran}" if ran is not None else method
    return value, {
        "method": route,
        "kind": value.kind if details else None,
        "interval": [float(v) for v in value.interval] if details else None,
        "warnings": messages,
    }


# ------------------------------------------------------------------------------------------ formatting
def _as_number(value: Any) -> Any:
    """Estimator results are floats for numpy input; keep anything else JSON-friendly."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _shape(a: Any) -> tuple[int, int]:
    return int(a.shape[0]), (1 if a.ndim == 1 else int(a.shape[1]))


def _emit(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    emit(record, text, as_json=args.json, out=args.out)


def _warning_lines(messages: Sequence[str]) -> str:
    return "".join(f"\nwarning: {m}" for m in messages)


# ------------------------------------------------------------------------------------------ commands
def _run_files(args: argparse.Namespace, options: dict[str, Any]) -> int:
    import infossl
    from infossl.io import load_array

    method = args.method or "auto"
    a = load_array(args.a, args.key)
    n, d = _shape(a)
    record: dict[str, Any] = {"a": args.a, "key": args.key}
    if args.b is None:
        start = time.perf_counter()
        value, route = estimate_with_route(infossl.entropy, a, method=method, details=args.details, **options)
        quantity, dims = "H(A)", str(d)
        record.update(quantity=quantity, n=n, d=d)
    else:
        b = load_array(args.b, args.key_b)
        nb, db = _shape(b)
        if nb != n:
            raise ValueError(f"A and B must have the same number of rows (paired samples); got {n} and {nb}")
        start = time.perf_counter()
        value, route = estimate_with_route(infossl.mutual_information, a, b, method=method,
                                           details=args.details, **options)
        quantity, dims = "I(A;B)", f"{d}+{db}"
        record.update(b=args.b, key_b=args.key_b, quantity=quantity, n=n, dx=d, dy=db)
    seconds = time.perf_counter() - start
    details = value if args.details else None
    value = _as_number(value.value if args.details else value)
    record.update(
        method=route["method"],
        requested_method=method,
        options=options,
        value=value,
        units="nats",
        kind=route["kind"],
        interval=route["interval"],
        warnings=route["warnings"],
        seconds=seconds,
        infossl_version=package_version(),
    )
    row = {"quantity": quantity, "n": n, "d": dims, "method": route["method"], "value": value}
    if route["interval"] is not None:
        row.update(low=route["interval"][0], high=route["interval"][1], kind=route["kind"])
    row.update(units="nats", seconds=seconds)
    header = f"A = {args.a}" + (f" [{args.key}]" if args.key else "")
    if args.b is not None:
        header += f"\nB = {args.b}" + (f" [{args.key_b}]" if args.key_b else "")
    text = header + "\n" + format_table([row], list(row))
    if details is not None:
        record["details"] = details.to_dict()
        text += "\n\n" + str(details)
    text += ("\n" if route["warnings"] else "") + _warning_lines(route["warnings"])
    _emit(args, record, text)
    return 0


def _run_example(args: argparse.Namespace, options: dict[str, Any]) -> int:
    import infossl
    from infossl.synthetic import correlated_gaussian_for_mi

    dist = correlated_gaussian_for_mi(EXAMPLE_DIM, EXAMPLE_MI)
    x, y = dist.sample(EXAMPLE_N, random_state=args.seed)
    truth = dist.mutual_information()
    methods = (args.method,) if args.method else EXAMPLE_METHODS
    rows, failed = [], 0
    for method in methods:
        start = time.perf_counter()
        route: dict[str, Any] = {"method": method, "warnings": []}
        try:
            value, route = estimate_with_route(infossl.mutual_information, x, y, method=method, details=False,
                                               **options)
            value, note = _as_number(value), ""
        except (ValueError, TypeError, ImportError, NotImplementedError) as exc:
            value, note = None, f"failed: {' '.join(str(exc).split())}"
            failed += 1
        rows.append(
            {
                "quantity": "I(X;Y)",
                "n": EXAMPLE_N,
                "d": f"{EXAMPLE_DIM}+{EXAMPLE_DIM}",
                "method": route["method"],
                "value": value,
                "truth": truth,
                "units": "nats",
                "seconds": time.perf_counter() - start,
                "warnings": route["warnings"],
                **({"note": note} if note else {}),
            }
        )
    columns = ["quantity", "n", "d", "method", "value", "truth", "units", "seconds"]
    if failed:
        columns.append("note")
    warned = [f"{r['method']}: {m}" for r in rows for m in r["warnings"]]
    header = (
        f"Synthetic example: x, y in R^{EXAMPLE_DIM}, coordinate pairs (x_i, y_i) correlated Gaussian, "
        f"n={EXAMPLE_N}, seed={args.seed}; true I(X;Y) = {truth:.4f} nats."
    )
    record = {
        "example": {
            "distribution": "correlated_gaussian_for_mi",
            "dim_x": EXAMPLE_DIM,
            "dim_y": EXAMPLE_DIM,
            "n": EXAMPLE_N,
            "seed": args.seed,
            "truth": truth,
        },
        "options": options,
        "results": rows,
        "units": "nats",
        "infossl_version": package_version(),
    }
    _emit(args, record, header + "\n" + format_table(rows, columns) + ("\n" if warned else "")
          + _warning_lines(warned))
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    """Execute ``infossl estimate`` for parsed ``args``; returns the exit status."""
    parser: argparse.ArgumentParser = args.parser
    names = [name for name, _ in args.option]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        parser.error(f"--option given more than once for {', '.join(dup)}")
    options = dict(args.option)
    if args.example:
        if args.a is not None:
            parser.error("--example uses synthetic data and takes no files")
        return _run_example(args, options)
    if args.a is None:
        parser.error("give a file A (entropy), two files A B (mutual information), or --example")
    refuse_overwriting_inputs({"--out": args.out}, [args.a, args.b])
    return _run_files(args, options)
