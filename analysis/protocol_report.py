"""One table and one figure over every run of analysis/protocol.py: results, chosen configs, convergence.

Reads ``results/protocol_<setting>_<dataset>{.json,_curves.csv}`` and writes ``results/protocol_report.csv``
(one row per comparison: each method's test mean and 95 % t-interval, clean and augmented, the paired
difference challenger - baseline, the controls, the chosen configurations) and
``results/protocol_convergence.csv`` + ``results/protocol_report.png`` (the convergence evidence: each chosen
configuration's validation probe at its checkpoints and its training loss, mean over the tuning seeds).
"Converged" in the table means the chosen configuration's augmented validation accuracy moved by less than
one point between the last two checkpoints (mean over tuning seeds).

    python analysis/protocol_report.py
"""

from __future__ import annotations

import argparse
import glob
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from infossl.io import save_csv_atomic, save_figure_atomic

HERE = os.path.dirname(os.path.abspath(__file__))


def convergence(curves: pd.DataFrame, chosen: dict) -> pd.DataFrame:
    """Validation accuracy at each checkpoint and the loss there, of each method's chosen configuration.

    Parameters
    ----------
    curves : DataFrame
        ``protocol.py``'s ``_curves.csv`` (method, config, seed, epoch, loss, val_clean, val_augmented).
    chosen : dict
        method -> chosen config (with its ``config`` index), from the protocol's JSON.

    Returns
    -------
    pandas.DataFrame
        One row per (method, checkpoint epoch): means over the tuning seeds of ``loss``, ``val_clean`` and
        ``val_augmented``.
    """
    out = []
    for method, cfg in chosen.items():
        sub = curves[(curves.method == method) & (curves.config == cfg["config"])]
        cols = ["loss", "val_clean", "val_augmented"]
        pts = sub.dropna(subset=["val_augmented"]).groupby("epoch")[cols].mean()
        for epoch, r in pts.iterrows():
            out.append({"method": method, "epoch": int(epoch), **r.to_dict()})
    return pd.DataFrame(out)


def report(results: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gather every protocol run under ``results``.

    Returns
    -------
    tuple of DataFrame
        ``(table, convergence)``: one row per comparison; one row per method and checkpoint.
    """
    rows, conv = [], []
    for path in sorted(glob.glob(os.path.join(results, "protocol_*.json"))):
        rec = json.load(open(path))
        base = path[:-5]
        summ = {r["method"]: r for r in rec["summary"]}
        ch, bl = rec["options"]["challenger"], rec["options"]["baseline"]
        c = convergence(pd.read_csv(base + "_curves.csv"), rec["chosen"])
        label = f"{rec['setting']}/{rec['dataset']} {ch} vs {bl}"
        c.insert(0, "comparison", label)
        conv.append(c)
        row = {"comparison": label, "n_train": rec["n_train"],
               "n_val": rec["n_val"], "n_test": rec["n_test"],
               "configs_per_method": rec["options"]["configs"],
               "tune_seeds": len(rec["tune_seeds"]), "tune_epochs": rec["options"]["tune_epochs"],
               "final_epochs": rec["final_epochs"], "final_seeds": len(rec["final_seeds"]),
               "select_on": rec["options"]["select_on"], "wall_seconds": rec["wall_seconds"],
               "cpu_model": rec["machine_start"]["cpu_model"],
               "load_start_end": (f"{rec['machine_start']['load_avg_1min']} / "
                                  f"{rec['machine_end']['load_avg_1min']}")}
        for m in (ch, bl, "random-init", "raw-pixels"):
            for col in ("test_clean", "test_augmented"):
                r = summ[m]
                row[f"{m}_{col}"] = (f"{100 * r[col + '_mean']:.1f} [{100 * r[col + '_ci_lo']:.1f}, "
                                     f"{100 * r[col + '_ci_hi']:.1f}]")
        for col in ("test_clean", "test_augmented"):
            r = summ[ch]
            row[f"diff_{col}"] = (f"{100 * r[col + '_minus_baseline_mean']:+.1f} "
                                  f"[{100 * r[col + '_minus_baseline_ci_lo']:+.1f}, "
                                  f"{100 * r[col + '_minus_baseline_ci_hi']:+.1f}]")
        for m in (ch, bl):
            cfg = rec["chosen"][m]
            row[f"{m}_chosen"] = f"#{cfg['config']} {json.dumps(cfg['options'])} lr {cfg['lr']}"
            cm = c[c.method == m].sort_values("epoch")
            last, prev = cm.val_augmented.iloc[-1], cm.val_augmented.iloc[-2]
            row[f"{m}_val_aug_last_two_checkpoints"] = f"{100 * prev:.1f} -> {100 * last:.1f}"
            row[f"{m}_converged"] = bool(abs(last - prev) < 0.01)
        rows.append(row)
    return pd.DataFrame(rows), (pd.concat(conv, ignore_index=True) if conv else pd.DataFrame())


def main(argv=None) -> pd.DataFrame:
    """Write the report table, the convergence table and the figure; returns the table.

    Returns
    -------
    pandas.DataFrame
        One row per comparison.
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    table, conv = report(args.results)
    if table.empty:
        raise FileNotFoundError(f"no protocol_*.json under {args.results}; run analysis/protocol.py first")
    save_csv_atomic(table, os.path.join(args.results, "protocol_report.csv"))
    save_csv_atomic(conv, os.path.join(args.results, "protocol_convergence.csv"))
    comps = list(table.comparison)
    fig, axes = plt.subplots(2, len(comps), figsize=(4.5 * len(comps), 6.5), squeeze=False)
    for j, comp in enumerate(comps):
        for method, sub in conv[conv.comparison == comp].groupby("method"):
            axes[0, j].plot(sub.epoch, 100 * sub.val_augmented, "o-", label=f"{method} augmented")
            axes[0, j].plot(sub.epoch, 100 * sub.val_clean, "s--", label=f"{method} clean")
            axes[1, j].plot(sub.epoch, sub.loss, "o-", label=method)
        axes[0, j].set(title=f"{comp}: chosen configs, validation", xlabel="epoch",
                       ylabel="probe accuracy (%)")
        axes[1, j].set(xlabel="epoch", ylabel="training loss (epoch mean)")
        axes[0, j].legend(fontsize=7)
        axes[1, j].legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, os.path.join(args.results, "protocol_report.png"), dpi=110)
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.max_colwidth", 80):
        print(table.T.to_string())
    return table


if __name__ == "__main__":
    main()
