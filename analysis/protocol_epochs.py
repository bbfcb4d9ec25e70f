"""Convergence check of a protocol run: the chosen configurations trained longer, scored on validation only.

analysis/protocol.py tunes and tests at a fixed number of epochs. Whether that number is long enough is
checked here without touching the test set: each method's chosen configuration (read from
``results/protocol_<setting>_<dataset>.json``) is trained again on train-minus-validation (the same split)
on the same tuning seeds for ``--factor`` times the epochs (the cosine schedule stretched to the new length),
with the validation probe at 8 checkpoints. If the validation gap between the methods at the longer budget
matches the gap at the protocol's budget, the protocol's epochs did not decide the comparison.

Writes ``results/protocol_<setting>_<dataset>_epochs.csv`` (one row per method, seed and checkpoint) and
prints the mean over seeds per method and checkpoint.

    python analysis/protocol_epochs.py --dataset digits --setting mlp --factor 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import pandas as pd
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from protocol import SETTINGS, _machine, load_data, select  # noqa: E402

from infossl.io import save_csv_atomic  # noqa: E402


def main(argv=None) -> pd.DataFrame:
    """Re-run the chosen configurations for ``--factor`` x the epochs on validation; returns the curves.

    Returns
    -------
    pandas.DataFrame
        One row per (method, seed, checkpoint epoch) with ``val_clean``, ``val_augmented``, ``loss`` and the
        protocol's epochs in ``protocol_epochs``.
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    ap.add_argument("--setting", choices=tuple(SETTINGS), default="mlp")
    ap.add_argument("--factor", type=float, default=2.0)
    ap.add_argument("--mnist-file", default=None)
    ap.add_argument("--subsample", type=int, default=None, help="as in protocol.py (must match the run)")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--prefix", default=None, help="default: protocol_<setting>_<dataset>")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    base = os.path.join(args.results, args.prefix or f"protocol_{args.setting}_{args.dataset}")
    rec = json.load(open(base + ".json"))
    opts = rec["options"]
    epochs = int(round(args.factor * opts["tune_epochs"]))
    x, y, _, _, augment = load_data(args.dataset, args.mnist_file)  # the test half is not used
    if args.subsample:
        x, y = x[:args.subsample], y[:args.subsample]
    t0 = time.perf_counter()
    print(f"{base}: chosen configs for {epochs} epochs (protocol: {opts['tune_epochs']}); "
          f"machine {_machine()}", flush=True)
    cands = {m: [{"options": c["options"], "lr": c["lr"]}] for m, c in rec["chosen"].items()}
    sel = select(x, y, methods=list(cands), setting=SETTINGS[args.setting], augment=augment, configs=1,
                 tune_epochs=epochs, tune_seeds=opts["tune_seeds"], val_fraction=opts["val_fraction"],
                 split_seed=opts["split_seed"], search_seed=opts["search_seed"], select_on=opts["select_on"],
                 checkpoints=8, candidates=cands, log=lambda m: print(m, flush=True))
    curves = sel["curves"].dropna(subset=["val_augmented"]).drop(columns="config")
    curves["protocol_epochs"] = opts["tune_epochs"]
    save_csv_atomic(curves, base + "_epochs.csv")
    table = curves.groupby(["method", "epoch"])[["loss", "val_clean", "val_augmented"]].mean().round(4)
    print(table.to_string())
    print(f"{time.perf_counter() - t0:.0f} s wall; load {_machine()['load_avg_1min']}; "
          f"wrote {base}_epochs.csv")
    return curves


if __name__ == "__main__":
    main()
