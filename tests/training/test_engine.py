"""infossl.training.engine: fit on tensors and loaders, determinism, the schedule, TwoViews and DDP wrapping."""

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset

from infossl.models import build_model
from infossl.objectives import VICRegLoss
from infossl.training import engine
from infossl.training.engine import FitConfig, RunState, TwoViews, fit, learning_rate

SPEC = {"backbone": "mlp", "input_shape": [6], "widths": "16", "projector": "8"}


def test_fit_on_tensors_and_loaders():
    x = torch.randn(64, 6)
    model = build_model(SPEC, generator=torch.Generator().manual_seed(0))
    hist = fit(model, x, VICRegLoss(), FitConfig(epochs=2, batch_size=16))
    assert [h["step"] for h in hist] == [4, 8] and {"invariance", "variance", "covariance", "loss"} <= set(hist[0])
    # a loader of single views (augmented in the loop) and one of ready-made view pairs
    views = DataLoader(TensorDataset(x, x + 0.1 * torch.randn(64, 6)), batch_size=16)
    assert len(fit(model, views, VICRegLoss())) == 1
    single = DataLoader(TensorDataset(x, torch.zeros(64)), batch_size=16)
    assert fit(model, single, VICRegLoss(), FitConfig(steps_per_epoch=2))[0]["step"] == 2
    with pytest.raises(ValueError, match="need an augmentation"):
        engine._views_from_batch(torch.zeros(2, 6), None, torch.Generator(), None)
    with pytest.raises(TypeError, match="must yield tensors or \\(view_a, view_b\\) pairs, got str"):
        fit(model, ["abc"], VICRegLoss())
    with pytest.raises(ValueError, match="data needs at least 2 samples"):
        fit(model, x[:1], VICRegLoss())


def test_fit_is_deterministic_for_a_seed():
    x = torch.randn(64, 6)
    runs = []
    for _ in range(2):
        model = build_model(SPEC, generator=torch.Generator().manual_seed(0))
        runs.append(fit(model, x, VICRegLoss(), FitConfig(epochs=2, batch_size=16, seed=5))[-1]["loss"])
    assert runs[0] == runs[1]


def test_learning_rate_schedule():
    assert learning_rate(1.0, 0, 10, "cosine") == 1.0
    assert abs(learning_rate(1.0, 5, 10, "cosine") - 0.5) < 1e-12
    assert learning_rate(1.0, 10, 10, "cosine") < 1e-12
    assert learning_rate(0.3, 7, 10, "constant") == 0.3


def test_fit_accepts_two_views_and_refuses_a_ddp_wrapped_plain_model(tmp_path):

    x = torch.randn(32, 6)
    model = build_model(SPEC, generator=torch.Generator().manual_seed(0))
    assert fit(TwoViews(model), x, VICRegLoss(), FitConfig(batch_size=16))[0]["step"] == 2
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    try:
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
        with pytest.raises(TypeError, match="wrap TwoViews\\(model\\) in DistributedDataParallel"):
            fit(wrapped, x, VICRegLoss(), FitConfig(batch_size=16))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=0), "epochs must be >= 1, got 0"),
    (dict(batch_size=1), "batch_size must be >= 2, got 1"),
    (dict(schedule="step"), "schedule must be one of"),
    (dict(steps_per_epoch=0), "steps_per_epoch must be >= 1, got 0"),
    (dict(seed=-1), "seed must be >= 0, got -1"),
])
def test_fit_config_refuses_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FitConfig(**kwargs)


def test_the_batch_must_split_evenly_over_the_processes():
    assert FitConfig(batch_size=64).local_batch(4) == 16
    with pytest.raises(ValueError, match="batch_size=64 must be divisible by the number of processes 3"):
        FitConfig(batch_size=64).local_batch(3)


def test_run_state_round_trips_and_continues_exactly():
    """A state saved after one epoch and loaded into a fresh one continues to the uninterrupted weights."""
    x = torch.randn(64, 6)
    config = FitConfig(epochs=2, batch_size=16, seed=3)
    whole = build_model(SPEC, generator=torch.Generator().manual_seed(0))
    fit(whole, x, VICRegLoss(), config)
    half = build_model(SPEC, generator=torch.Generator().manual_seed(0))
    state = RunState.start(half, config)
    assert not state.scaler.is_enabled()  # AMP is for CUDA only
    fit(half, x, VICRegLoss(), config, state, callback=lambda record, state: True)  # stop after epoch 1
    saved = {k: v.state_dict() if hasattr(v, "state_dict") else v for k, v in state.entries().items()}
    weights = {k: v.clone() for k, v in half.state_dict().items()}
    resumed = build_model(SPEC, generator=torch.Generator().manual_seed(1))
    resumed.load_state_dict(weights)
    again = RunState.start(resumed, config)
    again.load(saved)
    assert (again.epoch, again.step) == (1, 4)
    assert [r["epoch"] for r in fit(resumed, x, VICRegLoss(), config, again)] == [2]
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))


def test_a_target_objective_gets_its_ema_update_after_each_step():
    from infossl.objectives import BYOLLoss, byol_momentum

    spec = dict(SPEC, predictor="16-8", target="ema")
    model = build_model(spec, generator=torch.Generator().manual_seed(0))
    x = torch.randn(64, 6)
    config = FitConfig(epochs=2, batch_size=16, seed=1)
    state = RunState.start(model, config)
    assert sum(len(g["params"]) for g in state.optimizer.param_groups) == sum(
        q.requires_grad for q in model.parameters())  # the target is not the optimiser's
    seen = []

    class Recording(BYOLLoss):
        def target_momentum(self, step, total_steps):
            seen.append((step, total_steps, [q.clone() for q in model.target.parameters()]))
            return super().target_momentum(step, total_steps)

    fit(model, x, Recording(momentum=0.9), config, state)
    assert [(s, k) for s, k, _ in seen] == [(i, 8) for i in range(8)]
    # the last update: target = tau target_before + (1 - tau) online_after_the_step
    tau = byol_momentum(0.9, 7, 8)
    online = list(model.backbone.parameters()) + list(model.projector.parameters())
    for xi, xi0, theta in zip(model.target.parameters(), seen[-1][2], online):
        torch.testing.assert_close(xi, tau * xi0 + (1 - tau) * theta)
        assert xi.grad is None


def test_a_target_objective_needs_a_model_with_a_target():
    from infossl.objectives import BYOLLoss

    with pytest.raises(TypeError, match="declares an EMA target network, but the model .* has no update_target"):
        fit(torch.nn.Linear(6, 4), torch.randn(32, 6), BYOLLoss(), FitConfig(batch_size=16))


def test_fit_refuses_a_two_views_wrapper_that_does_not_match_the_objective():
    from infossl.objectives import BYOLLoss

    x = torch.randn(32, 6)
    model = build_model(SPEC, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match="needs TwoViews\\(model, with_student=False, with_target=True\\)"):
        fit(TwoViews(model), x, BYOLLoss(), FitConfig(batch_size=16))
