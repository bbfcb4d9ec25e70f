"""What ``infossl diagnose ckpt_*.pt --plot`` draws for a long run: 41 checkpoints of a synthetic collapse.

No model is trained: each "checkpoint" is a (600, 32) Gaussian embedding whose live dimensions shrink as
32 exp(-epoch / 12) (the others at variance 1e-10), and the last one is a constant plus 1e-7 noise; each is
diagnosed with :func:`infossl.diagnose` and the reports drawn by :meth:`CheckpointTrajectory.plot`. The
figure shows the plot's keys at this length: verdict bands with a legend entry each, the legend below the
axes, the collapse rank as a step line, the spectra keyed by a colour bar.

    python analysis/trajectory_plot.py        # < 30 s; writes results/trajectory_plot.png
"""

import os

import numpy as np

from infossl.diagnostics import diagnose
from infossl.diagnostics.checkpoints import CheckpointTrajectory

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCHS, N, D = 41, 600, 32


def main() -> None:
    rng = np.random.default_rng(0)
    reports = []
    for epoch in range(EPOCHS):
        live = max(1, int(round(D * np.exp(-epoch / 12))))
        scales = np.r_[np.linspace(1.0, 0.3, live), np.full(D - live, 1e-5)]
        z = rng.standard_normal((N, D)) * scales
        if epoch == EPOCHS - 1:
            z = 3.0 + 1e-7 * rng.standard_normal((N, D))  # complete collapse
        reports.append(diagnose(z))
    epochs = list(range(EPOCHS))
    traj = CheckpointTrajectory([f"ckpt_epoch{e:03d}.pt" for e in epochs], reports, epochs, epochs,
                                "backbone", f"synthetic ({N} x {D})")
    out = os.path.join(HERE, "results", "trajectory_plot.png")
    traj.plot(out)
    print(f"wrote {out}; verdicts every 10 epochs: {[r.verdict for r in reports][::10]}")


if __name__ == "__main__":
    main()
