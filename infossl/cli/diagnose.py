"""``infossl diagnose``: collapse verdict and metrics for embedding files or for model checkpoints."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from infossl.cli._common import (add_option_flag, collect_options, format_table, package_version,
                                 refuse_overwriting_inputs)
from infossl.io.detect import is_checkpoint

EPILOG = """\
examples:
  infossl diagnose emb.npy                             verdict + metrics table
  infossl diagnose emb.npz --key train --json          one JSON object
  infossl diagnose emb.npy --views view2.npy --labels y.npy --plot spectrum.png --out report.json
  infossl diagnose shard_*.npy                         one row per file
  infossl diagnose run/ckpt_epoch*.pt                  'infossl train' checkpoints, on the digits test split
  infossl diagnose a.pt b.pt --model mypkg.nets:build --data inputs.npy --layer encoder.layer4

Embedding files: .npy .npz .pt .pth .safetensors .csv .parquet, read in chunks in one pass
(memory O(d^2)); --key picks the array (npz/pt/safetensors) or the columns (csv/parquet).
Checkpoints: torch.save state dicts (read with weights_only=True), .safetensors.
A pickled full module or a TorchScript archive is refused unless --trust-checkpoint is given: that
runs torch.load with weights_only=False or torch.jit.load, which EXECUTE CODE stored in the file;
use it only for files you wrote.
--model imports the named module and calls the factory: that runs the module's code, by design.
Exit status: 0 ok, 1 data error (nothing is written), 2 usage error,
3 with --fail-on-collapse when a verdict is not 'healthy'.
"""

TABLE_METRICS = ("rankme", "effective_rank", "nesum", "alpha_req")
COLLAPSE_STATUS = 3


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``diagnose`` sub-command."""
    p = subparsers.add_parser(
        "diagnose",
        help="diagnose collapse of embeddings or checkpoints",
        description="Diagnose representation collapse (healthy / dimensional collapse to k of d dimensions / "
        "complete collapse) of embedding files, or of a layer of model checkpoints run on data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="embedding files, or checkpoint files")
    p.add_argument(
        "--key", default=None, help="array / dict entry / columns (checkpoints: the state-dict entry)"
    )
    p.add_argument(
        "--views",
        nargs="+",
        default=None,
        metavar="FILE",
        help="other augmented views of the same inputs (row-aligned; one embeddings PATH)",
    )
    p.add_argument("--labels", default=None, metavar="FILE", help="class labels, one per row")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument(
        "--out", default=None, metavar="FILE", help="also write the JSON record to FILE (atomically)"
    )
    p.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="write a figure (PNG/SVG/PDF by suffix): the spectrum, or the checkpoint trajectory",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--chunk-rows", type=int, default=None, metavar="N", help="rows read per chunk")
    p.add_argument(
        "--sample-size",
        type=int,
        default=2048,
        metavar="N",
        help="rows kept (uniform reservoir) for pairwise and label metrics (default 2048, as infossl.diagnose)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the reservoir sample (default 0)")
    add_option_flag(p, "-o", "--option", help="option of the diagnosis, repeatable (e.g. --option eps=1e-6)")
    add_option_flag(p, "--threshold",
                    help="verdict threshold, repeatable (see infossl.diagnostics Thresholds)")
    p.add_argument(
        "--fail-on-collapse",
        action="store_true",
        help=f"exit with status {COLLAPSE_STATUS} when any verdict is not 'healthy'",
    )
    g = p.add_argument_group("checkpoints")
    g.add_argument("--checkpoints", action="store_true", help="read PATHs as checkpoints (default: detected)")
    g.add_argument(
        "--model",
        default=None,
        metavar="PKG.MODULE:FACTORY",
        help="builds the model for plain state dicts: package.module:factory (imports and runs that module), "
        "timm:NAME (timm installed) or hf:DIRECTORY (a Hugging Face save_pretrained folder); nothing is "
        "downloaded. Framework prefixes (model., backbone., module., encoder.) are stripped to fit the model",
    )
    g.add_argument("--data", default=None, help="'digits' (default: its test split), or an inputs file")
    g.add_argument("--data-key", default=None, help="array / entry of the inputs file")
    g.add_argument("--layer", default=None, help="submodule to diagnose (default: backbone, else the output)")
    g.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow pickled full modules and TorchScript archives: EXECUTES CODE stored in the file",
    )
    g.add_argument("--batch-size", type=int, default=256, help="inputs per forward pass (default 256)")
    g.add_argument("--device", default="cpu", help="torch device to run the models on (default cpu)")
    p.set_defaults(run=run, parser=p)
    return p


def _checkpoint_mode(args: argparse.Namespace) -> bool:
    flags = [
        f
        for f, on in (
            ("--model", args.model),
            ("--data", args.data),
            ("--layer", args.layer),
            ("--trust-checkpoint", args.trust_checkpoint),
            ("--data-key", args.data_key),
        )
        if on
    ]
    if args.checkpoints or flags:
        return True
    kinds = [is_checkpoint(p) for p in args.paths]
    if any(kinds) and not all(kinds):
        ck = [p for p, k in zip(args.paths, kinds) if k]
        emb = [p for p, k in zip(args.paths, kinds) if not k]
        raise ValueError(
            f"the paths mix checkpoints ({', '.join(ck)}) and embedding files ({', '.join(emb)}); "
            "diagnose them in separate calls"
        )
    return all(kinds)


# ------------------------------------------------------------------------------------------ output
def _figure_bytes(obj: Any, path: str) -> bytes:
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    fig = obj.plot()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=fmt, dpi=120)
    finally:
        import sys

        if "matplotlib.pyplot" in sys.modules:  # figures made through pyplot stay registered until closed
            sys.modules["matplotlib.pyplot"].close(fig)
    return buf.getvalue()


def _finish(args: argparse.Namespace, record: dict, text: Optional[str], plotted: Any,
            verdicts: Sequence[str]) -> int:
    """Prepare every output in memory first, then write them: a failure leaves no file behind."""
    from infossl.io import write_text_atomic
    from infossl.io.plain import json_default

    figure = _figure_bytes(plotted, args.plot) if args.plot else None
    payload = json.dumps(record, indent=2, default=json_default)
    from contextlib import ExitStack

    from infossl.io.locks import lock_output_file

    with ExitStack() as held:  # one writer per output file; a second one gets LockHeldError naming the holder
        for target in (args.plot if figure is not None else None, args.out):
            if target:
                held.enter_context(lock_output_file(target))
        if figure is not None:
            write_text_atomic(figure, args.plot)
        if args.out:
            write_text_atomic(payload + "\n", args.out)
    if args.json or text is not None:  # None: the rows were printed as they came
        print(payload if args.json else text)
    if args.fail_on_collapse and any(v != "healthy" for v in verdicts):
        return COLLAPSE_STATUS
    return 0


def _options(args: argparse.Namespace) -> dict:
    try:
        options = collect_options(args.option, "--option")
        thresholds = collect_options(args.threshold, "--threshold")
    except ValueError as exc:
        args.parser.error(str(exc))
    if thresholds:
        options["thresholds"] = _thresholds(thresholds)
    return options


def _thresholds(values: dict) -> Any:
    from dataclasses import fields, replace

    from infossl.diagnostics.verdict import Thresholds

    known = [f.name for f in fields(Thresholds)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown threshold {', '.join(unknown)}; known: {', '.join(known)}")
    return replace(Thresholds(), **values)


def _metric_rows(report: Any) -> list[dict]:
    """Rows of the metrics table: integral values print as integers, other numbers as floats (NaN kept)."""
    import numbers

    df = report.metrics
    rows = []
    for name, row in df.iterrows():
        value = row["value"]
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
            if value.is_integer() and abs(value) < 2**53:  # counts and ranks print as integers
                value = int(value)
        rows.append(
            {
                "metric": str(name),
                "value": value,
                **({"description": str(row["description"])} if "description" in df.columns else {}),
            }
        )
    return rows


def _verdict_line(report: Any) -> str:
    k, d = report.collapse_rank, report.dim
    return f"verdict: {report.verdict} (collapse rank {k} of {d} dimensions)"


def _summary_row(name: str, report: Any, extra: Optional[dict] = None) -> dict:
    flat = report.as_dict()
    row = {
        "file": name,
        **(extra or {}),
        "n": report.n,
        "dim": report.dim,
        "verdict": report.verdict,
        "collapse_rank": report.collapse_rank,
    }
    row.update({m: flat[m] for m in TABLE_METRICS if isinstance(flat.get(m), (int, float))})
    return row


# ------------------------------------------------------------------------------------------ commands
def _run_embeddings(args: argparse.Namespace, options: dict, progress: Optional[bool]) -> int:
    from infossl.diagnostics.checkpoints import CheckpointTrajectory
    from infossl.diagnostics.stream import diagnose_path

    if args.views and len(args.paths) > 1:
        args.parser.error("--views needs exactly one embeddings PATH")
    if args.labels and len(args.paths) > 1:
        args.parser.error("--labels needs exactly one embeddings PATH")
    from infossl.cli._common import StreamedTable, print_above_bars

    several = len(args.paths) > 1 and not args.json  # one row per file, printed as each file is done
    if several:
        columns = ["file", "n", "dim", "verdict", "collapse_rank", *TABLE_METRICS]
        widths = {"file": max(len(os.path.basename(p)) for p in args.paths), "verdict": 20, "n": 8, "dim": 5}
        table = StreamedTable(columns, widths, text=("file", "verdict"))
        print_above_bars(table.header())
    reports = []
    for p in args.paths:
        reports.append(diagnose_path(
            p,
            args.key,
            views=args.views,
            labels=args.labels,
            chunk_rows=args.chunk_rows,
            progress=progress,
            sample_size=args.sample_size,
            random_state=args.seed,
            **options,
        ))
        if several:
            print_above_bars(table.row(_summary_row(os.path.basename(p), reports[-1])))
    common = {"key": args.key, "infossl_version": package_version()}
    if len(reports) == 1:
        report, path = reports[0], args.paths[0]
        record = {
            "path": path,
            **common,
            "views": args.views,
            "labels": args.labels,
            **report.as_dict(),
            "reasons": list(report.reasons),
        }
        header = f"{path}{f' [{args.key}]' if args.key else ''}: n={report.n}, d={report.dim}"
        reasons = "".join(f"\n  - {r}" for r in report.reasons)
        rows = _metric_rows(report)
        text = f"{header}\n{_verdict_line(report)}{reasons}\n\n" + format_table(
            rows, list(rows[0]) if rows else []
        )
        return _finish(args, record, text, report, [report.verdict])
    record = {
        **common,
        "files": [
            {"path": p, **r.as_dict(), "reasons": list(r.reasons)} for p, r in zip(args.paths, reports)
        ],
    }
    plotted = CheckpointTrajectory(
        list(args.paths), reports, [None] * len(reports), [None] * len(reports), "embeddings", "files"
    )
    return _finish(args, record, None, plotted, [r.verdict for r in reports])  # rows already printed


def _stream_columns(first: Any) -> list[str]:
    columns = ["file", "epoch", "n", "dim", "verdict", "collapse_rank", *TABLE_METRICS]
    return columns if first.epoch is not None else [c for c in columns if c != "epoch"]


def _run_checkpoints(args: argparse.Namespace, options: dict, progress: Optional[bool]) -> int:
    """Diagnose each checkpoint in turn; in table mode each row is printed the moment its checkpoint is
    done (a long run shows its results as they come), notes go to stderr with it."""
    from infossl.cli._common import StreamedTable, print_above_bars
    from infossl.diagnostics.checkpoints import DIGITS, CheckpointTrajectory, iter_checkpoint_reports

    if args.views:
        args.parser.error("--views applies to embedding files, not to checkpoints")
    results, table = [], None
    names = [os.path.basename(p) for p in args.paths]
    for result in iter_checkpoint_reports(
        args.paths,
        model=args.model,
        data=args.data or DIGITS,
        data_key=args.data_key,
        labels=args.labels,
        layer=args.layer,
        trust=args.trust_checkpoint,
        key=args.key,
        batch_size=args.batch_size,
        device=args.device,
        progress=progress,
        sample_size=args.sample_size,
        random_state=args.seed,
        **options,
    ):
        results.append(result)
        name = os.path.basename(result.path)
        for note in result.notes:
            print_above_bars(f"infossl: note: {name}: {note}", file=sys.stderr)
        if args.json:
            continue
        if table is None:
            widths = {"file": max(map(len, names)), "verdict": 20, "epoch": 5, "n": 6, "dim": 5}
            table = StreamedTable(_stream_columns(result), widths, text=("file", "verdict"))
            print_above_bars(f"layer {result.layer} on {result.data}\n{table.header()}")
        print_above_bars(table.row(_summary_row(name, result.report, {"epoch": result.epoch})))
    traj = CheckpointTrajectory.of_results(results)
    record = {**traj.as_dict(), "infossl_version": package_version()}
    return _finish(args, record, None, traj, [r.verdict for r in traj.reports])


def run(args: argparse.Namespace) -> int:
    """Execute ``infossl diagnose`` for parsed ``args``; returns the exit status."""
    parser: argparse.ArgumentParser = args.parser
    for flag, value in (
        ("--chunk-rows", args.chunk_rows),
        ("--batch-size", args.batch_size),
        ("--sample-size", args.sample_size),
    ):
        if value is not None and value < (0 if flag == "--sample-size" else 1):
            parser.error(f"{flag} must be a positive integer, got {value}")
    options = _options(args)
    inputs = [*args.paths, *(args.views or []), args.labels, args.data]
    refuse_overwriting_inputs({"--out": args.out, "--plot": args.plot}, inputs)
    progress = False if args.quiet else None
    if _checkpoint_mode(args):
        return _run_checkpoints(args, options, progress)
    return _run_embeddings(args, options, progress)
