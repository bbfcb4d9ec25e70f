"""``infossl train``: train an encoder with a self-supervised objective, with monitors and checkpoints."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

EPILOG = """\
examples:
  infossl train                                   info-vicreg (log-det entropy) on scikit-learn's digits
  infossl train --objective vicreg --out runs/vicreg
  infossl train --objective info-vicreg --entropy pairdist-kl --sigma 1.0
  infossl train --objective vicreg-logdet --alpha 0.5       VICReg plus a LogDet entropy reward
  infossl train --objective byol --option momentum_schedule=constant     BYOL with a fixed EMA momentum
  infossl train --objective vicreg --std-coeff 0 --out runs/collapse     a run that collapses (flagged)
  infossl train --data inputs.npy --labels labels.npy --epochs 20       your (N, C, H, W) or (N, D) data
  infossl train --out runs/vicreg --objective vicreg --resume           continue after an interruption
  torchrun --nproc-per-node 2 -m infossl.cli train --objective vicreg   data-parallel (gloo on the CPU)

The run folder (--out) gets metrics.jsonl (one JSON line per epoch), ckpt_epochEEE.pt checkpoints that
'infossl diagnose' reads, last.pt (full state for --resume), config.json, summary.json and curves.png.
Epoch 0 is the randomly initialised network. Information quantities are in nats. The projector's verdict is
often dimensional-collapse in healthy runs (256 outputs computed from a 128-d representation); the collapse
alarm (sqrt(d) x std of the l2-normalised projector rows below 0.5 for 3 epochs, or complete collapse) flags
real trouble.
Exit status: 0 ok, 1 data error or diverged loss (the last good checkpoint is kept), 2 usage error.
"""

# (flag, option name, help) -- coefficient options passed to the loss class; each objective accepts some, and
# the help names them (computed from the loss classes' signatures when the parser is built).
COEFFICIENTS = (
    ("--mu", "mu", "weight of the cross-entropy (invariance) term"),
    ("--alpha", "alpha",
     "weight of the entropy sum H(Z) + H(Z') (info-vicreg: default 2 here, 0.5 is the bound form; "
     "the additive forms and byol-logdet: 1)"),
    ("--beta", "beta", "logdet: beta of 1/2 logdet(I + beta Cov); dissl: weight of the det./inv. term"),
    ("--ridge", "ridge", "info-vicreg gaussian: ridge relative to the mean variance"),
    ("--sigma", "sigma", "pairwise-distance entropy: component standard deviation"),
    ("--sim-coeff", "sim_coeff", "VICReg invariance weight (25)"),
    ("--std-coeff", "std_coeff", "VICReg variance weight (25; 0 collapses)"),
    ("--cov-coeff", "cov_coeff", "VICReg covariance weight (1)"),
    ("--lambd", "lambd", "barlow: off-diagonal weight (5e-3); dissl: marginal-entropy weight (2.3)"),
    ("--temperature", "temperature", "softmax temperature"),
    ("--momentum", "momentum", "base EMA momentum of the target network (0.996; cosine schedule to 1)"),
)


def _applies(name: str) -> str:
    from infossl.training.config import applies_to

    return "[" + ", ".join(applies_to(name)) + "]"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``train`` sub-command."""
    from infossl.objectives.derived import ENTROPIES
    from infossl.training.config import DEVICES, OBJECTIVES, SAVE_FORMATS, SCHEDULES, TrainConfig

    d = TrainConfig()
    p = subparsers.add_parser(
        "train", help="train an encoder with a self-supervised objective (digits by default)",
        description="Self-supervised training with information and collapse monitors, a linear probe and "
                    "checkpoints. With no options: info-vicreg on scikit-learn's 8x8 digits, a few minutes "
                    "on a CPU.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objective", default=d.objective, choices=tuple(OBJECTIVES),
                   help=f"training objective (default {d.objective})")
    p.add_argument("--entropy", default=None, choices=ENTROPIES,
                   help=f"entropy estimator (default logdet) {_applies('entropy')}")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs (default {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"global batch size (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"AdamW learning rate (default {d.lr})")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"(default {d.weight_decay})")
    p.add_argument("--schedule", default=d.schedule, choices=SCHEDULES,
                   help="learning-rate schedule (cosine)")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="seed of weights, shuffling and augmentations (0)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default runs/<objective>[-<entropy>]-seed<seed>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    p.add_argument("--data", default=None, metavar="FILE",
                   help="training inputs (N, C, H, W) or (N, D): .npy .npz .pt .safetensors "
                        "(.csv .parquet for 2-D)")
    p.add_argument("--data-key", default=None, help="array name inside --data")
    p.add_argument("--labels", default=None, metavar="FILE",
                   help="(N,) integer labels of --data for the probe")
    p.add_argument("--device", default=d.device, choices=DEVICES, help="auto: CUDA when available")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision on CUDA (default on with CUDA)")
    p.add_argument("--backbone", default=d.backbone, choices=("auto", "cnn", "mlp"),
                   help="auto: cnn for images, mlp for vectors")
    p.add_argument("--widths", default=d.widths, help="backbone widths, e.g. 32-64-128 (auto)")
    p.add_argument("--projector", default=d.projector,
                   help=f"projector widths (default {d.projector}; '' none)")
    p.add_argument("--student", type=int, default=None,
                   help=f"student outputs (= projector output) {_applies('student')}")
    p.add_argument("--predictor", default=None,
                   help="predictor widths ending with the projector output (default "
                        f"<first projector width>-<projector output>) {_applies('predictor')}")
    g = p.add_argument_group("objective coefficients (each objective accepts its own, listed in brackets; "
                             "others are errors)")
    for flag, name, text in COEFFICIENTS:
        g.add_argument(flag, type=float, default=None, help=f"{text} {_applies(name)}")
    g.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="any other keyword option of the loss class, repeatable")
    p.add_argument("--augment", action="append", default=[], metavar="NAME=VALUE",
                   help="augmentation strength, repeatable: shift rotation scale noise cutout cutout_prob "
                        "feature_mask (e.g. --augment rotation=0)")
    p.add_argument("--save-every", type=int, default=d.save_every, help="epoch checkpoint period (1)")
    p.add_argument("--save-format", default=d.save_format, choices=SAVE_FORMATS,
                   help="pt, or also weights-only .safetensors copies")
    p.add_argument("--probe-every", type=int, default=d.probe_every, help="linear-probe period in epochs (1)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="cap on steps per epoch (quick tries)")
    p.add_argument("--threads", type=int, default=d.threads,
                   help=f"torch CPU threads (default {d.threads}; fastest for the small default model)")
    p.add_argument("--json", action="store_true",
                   help="print the final summary as JSON (epoch lines go to stderr)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    p.set_defaults(run=run, parser=p)
    return p


def _pairs(items: list[str], flag: str) -> dict[str, Any]:
    from infossl.cli._common import collect_options, parse_option

    pairs = []
    for text in items:
        try:
            pairs.append(parse_option(text))
        except argparse.ArgumentTypeError:
            raise ValueError(f"{flag} expects NAME=VALUE, got {text!r}") from None
    return collect_options(pairs, flag)


def config_from_args(args: argparse.Namespace) -> Any:
    """Build the validated :class:`~infossl.training.TrainConfig` of parsed ``args``."""
    from infossl.training.config import TrainConfig, default_entropy

    options = _pairs(args.option, "--option")
    for _, name, _ in COEFFICIENTS:
        value = getattr(args, name)
        if value is not None:
            if name in options:
                raise ValueError(f"{name} given both as a flag and as --option")
            options[name] = value
    out = args.out
    if out is None:
        entropy = args.entropy or default_entropy(args.objective)
        tag = args.objective + (f"-{entropy}" if entropy is not None else "")
        out = f"runs/{tag}-seed{args.seed}"
    return TrainConfig(objective=args.objective, entropy=args.entropy, options=options, epochs=args.epochs,
                       batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                       schedule=args.schedule, seed=args.seed, data=args.data, data_key=args.data_key,
                       labels=args.labels, backbone=args.backbone, widths=args.widths,
                       projector=args.projector,
                       student=args.student, predictor=args.predictor,
                       augment=_pairs(args.augment, "--augment"), device=args.device,
                       amp=args.amp, out=out, save_every=args.save_every, probe_every=args.probe_every,
                       save_format=args.save_format, steps_per_epoch=args.steps_per_epoch,
                       threads=args.threads)


SUMMARY_ROWS = (
    ("probe_augmented", "linear probe, augmented test set", "pct"),
    ("probe_clean", "linear probe, clean test set", "pct"),
    ("random_init_probe_augmented", "  random-init backbone, augmented", "pct"),
    ("raw_probe_augmented", "  raw inputs, augmented", "pct"),
    ("loss", "final loss (epoch mean)", "num"),
    ("cross_entropy", "  cross-entropy CE(Z|Z'), nats", "num"),
    ("entropy_a", "  entropy term H(Z), nats", "num"),
    ("regression", "  BYOL regression, both views (2 - 2 cos each)", "num"),
    ("vicreg_loss", "  VICReg part of the loss", "num"),
    ("invariance", "  invariance", "num"),
    ("variance", "  variance", "num"),
    ("covariance", "  covariance", "num"),
    ("mi_lower_bound", "  InfoNCE bound on I(Z;Z'), nats", "num"),
    ("mi_views_gaussian", "held-out Gaussian I(Z_a;Z_b), nats", "num"),
    ("backbone_rankme", "held-out RankMe (representation)", "num"),
    ("backbone_effective_rank", "held-out effective rank", "num"),
    ("backbone_normalized_std", "held-out std of l2-normalised rows", "num"),
    ("projector_normalized_std_scaled", "sqrt(d) x std of l2-normalised projector rows", "num"),
    ("backbone_verdict", "collapse verdict (representation)", "str"),
    ("projector_verdict", "collapse verdict (projector output)", "str"),
    ("collapse_alarm", "collapse alarm", "str"),
    ("collapse_alarm_epoch", "  first flagged at epoch", "str"),
    ("epochs", "epochs", "str"),
    ("seconds", "wall time, s", "num"),
    ("checkpoint", "checkpoint", "str"),
)


def format_summary(summary: dict, title: str) -> str:
    """The final table: one row per available summary entry."""
    rows = []
    for key, label, kind in SUMMARY_ROWS:
        v = summary.get(key)
        if v is None:
            continue
        if kind == "pct":
            text = f"{100 * v:.1f} %"
        elif kind == "num":
            text = f"{v:.4g}" if isinstance(v, float) else str(v)
        else:
            text = str(v)
        rows.append((label, text))
    width = max(len(r[0]) for r in rows) if rows else 10
    lines = [title, "-" * max(len(title), width + 20)]
    lines += [f"{label.ljust(width)}  {text}" for label, text in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Execute ``infossl train`` for parsed ``args``; returns the exit status."""
    from pathlib import Path

    from infossl.training.engine import NonFiniteLossError
    from infossl.training.run import train

    config = config_from_args(args)
    out = Path(config.out)
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    first_rank = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 owns the run folder
    if first_rank and (out / "last.pt").exists() and not (args.resume or args.overwrite):
        raise ValueError(f"{out} already holds a run; pass --resume to continue it, --overwrite to replace "
                         "it, or choose another --out")
    if first_rank and args.overwrite and out.is_dir():
        for p in list(out.glob("ckpt_epoch*.pt")) + list(out.glob("ckpt_epoch*.safetensors")):
            p.unlink()
    try:
        result = train(config, resume=args.resume, quiet=args.quiet, stream=sys.stderr if args.json else None)
    except NonFiniteLossError as exc:
        print(f"infossl: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if not result.summary:  # not rank 0 of a distributed run
        return 0
    if args.json:
        print(json.dumps(result.summary, indent=2))
    else:
        tag = config.objective + (f" ({config.entropy} entropy)" if config.entropy is not None else "")
        title = f"infossl train: {tag} on {config.data or 'digits'}, seed {config.seed}"
        print(format_summary(result.summary, title))
    return 0
