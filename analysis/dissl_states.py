"""DISSL's loss on its three idealised states, against lambda: what lambda < 1 + beta does and does not change.

For C pseudo-classes, a batch of B = 4 C examples (a multiple of C), beta = 0.8, teacher and student
temperatures 0.5 and 1 (the defaults of ``infossl.objectives.DISSLLoss``), the loss is evaluated on

* ideal clustering: every example deterministically in its own pseudo-class (b mod C), the same in both views,
  the student equal to the teacher; logits s * one-hot with a large scale s (the state is a limit: a softmax
  is never exactly one-hot). Closed form -lambda ln C;
* total collapse: every example in pseudo-class 0, both views, student equal. Closed form 0;
* uniform teacher and student: all logits 0. Closed form (1 + beta - lambda) ln C.

Since both cross-entropies are >= 0 and the marginal entropy is <= ln C, L >= -lambda ln C for every input, so
the ideal clustering is the global infimum for every lambda > 0 (Dubois et al., arXiv 2209.06235, define the
loss; the bound is this two-line argument). lambda < 1 + beta only swaps the order of the other two states:
collapse (0) falls below the uniform state ((1 + beta - lambda) ln C > 0), which is what lets training started
near uniform slide into collapse (``dissl_collapse.py``).

    python analysis/dissl_states.py        # < 10 s
"""

from __future__ import annotations

import argparse
import math
import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from infossl.io import save_csv_atomic, save_figure_atomic
from infossl.objectives import DISSLLoss

HERE = os.path.dirname(os.path.abspath(__file__))


def states(c: int, scale: float) -> dict[str, torch.Tensor]:
    b = 4 * c
    ideal = scale * torch.eye(c, dtype=torch.float64)[torch.arange(b) % c]  # (B, C)
    collapse = torch.zeros(b, c, dtype=torch.float64)
    collapse[:, 0] = scale
    return {"ideal clustering": ideal, "total collapse": collapse,
            "uniform": torch.zeros(b, c, dtype=torch.float64)}


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="unused: nothing is random")
    ap.add_argument("--classes", type=int, default=16)
    ap.add_argument("--beta", type=float, default=0.8)
    ap.add_argument("--scale", type=float, default=60.0)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "dissl_states"))
    args = ap.parse_args(argv)
    c, beta = args.classes, args.beta
    lams = np.round(np.arange(0.0, 3.01, 0.1), 2)
    closed = {"ideal clustering": lambda lam: -lam * math.log(c), "total collapse": lambda lam: 0.0,
              "uniform": lambda lam: (1 + beta - lam) * math.log(c)}
    rows = []
    for lam in lams:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the lambda < 1 + beta warning, on purpose here
            loss = DISSLLoss(lambd=float(lam), beta=beta)
        values = {}
        for name, logits in states(c, args.scale).items():
            v = float(loss(student_a=logits, student_b=logits, teacher_a=logits, teacher_b=logits))
            values[name] = v
            rows.append({"lambda": lam, "state": name, "loss": v, "closed_form": closed[name](lam),
                         "abs_error": abs(v - closed[name](lam))})
        order = sorted(values, key=values.get)
        rows[-1]["order"] = rows[-2]["order"] = rows[-3]["order"] = " < ".join(order)
    table = pd.DataFrame(rows)
    save_csv_atomic(table, args.out + ".csv")
    print(f"C = {c}, beta = {beta}: max |loss - closed form| = {table.abs_error.max():.2e}")
    for lam in (0.5, 1.0, 1.5, 1.8, 2.3):
        sub = table[np.isclose(table["lambda"], lam)]
        print(f"lambda {lam}: " + ", ".join(f"{r.state} {r.loss:+.3f}" for r in sub.itertuples())
              + f"   order: {sub.order.iloc[0]}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, color in zip(closed, ("C2", "C3", "C0")):
        sub = table[table.state == name]
        ax.plot(sub["lambda"], sub["loss"], color=color, label=name)
    ax.axvline(1 + beta, color="k", ls=":", label="lambda = 1 + beta")
    ax.set_xlabel("lambda")
    ax.set_ylabel("DISSL loss (nats)")
    ax.set_title(f"three idealised states, C = {c}, beta = {beta}")
    ax.legend()
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png", dpi=110)
    print("wrote", args.out + ".csv", args.out + ".png")
    return table


if __name__ == "__main__":
    main()
