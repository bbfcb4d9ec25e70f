"""TrainConfig validation: every bad value gives an error naming the field and the value."""

import pytest

from infossl.objectives import DISSLLoss, InfoVICRegLoss, VICRegLoss
from infossl.training.config import (OBJECTIVES, TrainConfig, applies_to, make_objective,
                                     objective_option_names, resolve_device)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(objective="mocov3"), ValueError, "objective must be one of .*got 'mocov3'"),
    (dict(entropy="knn"), ValueError, "entropy must be one of .*got 'knn'"),
    (dict(options=[1]), TypeError, "options must be a dict"),
    (dict(options={"temperature": 0.1}), ValueError,
     "temperature=0.1 does not apply to objective 'info-vicreg' \\(it applies to simclr, cissl\\)"),
    (dict(options={"tau": 0.1}), ValueError, "objective 'info-vicreg' has no option 'tau'; its options are mu, "),
    (dict(objective="vicreg", options={"std_coeff": -1.0}), ValueError, "std_coeff must be in \\[0.0, inf\\), got -1.0"),
    (dict(objective="simclr", options={"temperature": 0.0}), ValueError, "temperature must be in \\(0.0, inf\\)"),
    (dict(options={"beta": "big"}), TypeError, "beta must be a real number"),
    (dict(options={"beta": [1]}), TypeError, "objective option beta=\\[1\\] must be a number"),
    (dict(epochs=0), ValueError, "epochs must be >= 1, got 0"),
    (dict(epochs=2.5), TypeError, "epochs must be an integer, got 2.5"),
    (dict(batch_size=1), ValueError, "batch_size must be >= 2, got 1"),
    (dict(lr=0.0), ValueError, "lr must be in \\(0.0, inf\\), got 0.0"),
    (dict(lr=float("nan")), ValueError, "lr must be finite"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay must be in"),
    (dict(schedule="step"), ValueError, "schedule must be one of"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(backbone="resnet"), ValueError, "backbone must be one of"),
    (dict(widths="32-x"), ValueError, "widths='32-x' is not a list"),
    (dict(projector="0"), ValueError, "projector='0' is not a list"),
    (dict(objective="dissl", student=0), ValueError, "student must be >= 1"),
    (dict(augment=[1]), TypeError, "augment must be a dict"),
    (dict(augment={"blur": 1}), ValueError, "unknown augmentation option\\(s\\) \\['blur'\\]"),
    (dict(augment={"rotation": -5.0}), ValueError, "augment rotation must be in"),
    (dict(device="tpu"), ValueError, "device must be one of"),
    (dict(amp="yes"), TypeError, "amp must be True, False or None"),
    (dict(save_every=0), ValueError, "save_every must be >= 1"),
    (dict(probe_every=0), ValueError, "probe_every must be >= 1"),
    (dict(save_format="onnx"), ValueError, "save_format must be one of"),
    (dict(steps_per_epoch=0), ValueError, "steps_per_epoch must be >= 1"),
    (dict(heldout_fraction=0.9), ValueError, "heldout_fraction must be in"),
    (dict(threads=0), ValueError, "threads must be >= 1"),
    (dict(data=3), TypeError, "data must be a string path or None"),
    (dict(labels="y.npy"), ValueError, "labels are read only with data="),
    (dict(objective="cissl", projector=""), ValueError, "needs a projector"),
    (dict(objective="byol", projector=""), ValueError, "needs a projector \\(its predictor's input"),
    (dict(objective="barlow", entropy="gaussian"), ValueError,
     "entropy='gaussian' does not apply to objective 'barlow' \\(it applies to info-vicreg\\)"),
    (dict(objective="vicreg-logdet", entropy="logdet"), ValueError, "entropy='logdet' does not apply"),
    (dict(objective="vicreg", student=8), ValueError, "student=8 does not apply .*cissl, dissl"),
    (dict(objective="dissl", predictor="8-8"), ValueError, "predictor='8-8' does not apply .*byol, byol-logdet"),
    (dict(objective="byol", predictor="32-8"), ValueError, "predictor='32-8' must end with .* size 256"),
    (dict(objective="byol", options={"sigma": 1.0}), ValueError,
     "sigma=1.0 does not apply to objective 'byol' \\(it applies to info-vicreg, vicreg-pairdist\\)"),
])
def test_bad_values(kwargs, err, match):
    with pytest.raises(err, match=match):
        TrainConfig(**kwargs)


def test_defaults_and_round_trip():
    c = TrainConfig()
    assert c.objective == "info-vicreg"
    assert TrainConfig.from_dict(dict(c.as_dict(), model={"ignored": 1})) == c


def test_per_objective_fields_are_resolved_or_absent():
    """config.json (as_dict) records only what the run uses."""
    assert TrainConfig().entropy == "logdet" and TrainConfig(entropy="gaussian").entropy == "gaussian"
    for name in ("vicreg", "barlow", "simclr", "vicreg-logdet", "byol"):
        assert TrainConfig(objective=name).as_dict()["entropy"] is None, name
    byol = TrainConfig(objective="byol", projector="64-32")
    assert byol.predictor == "64-32" and TrainConfig(objective="vicreg").predictor is None
    spec = byol.model_spec([20])
    assert (spec["predictor"], spec["target"]) == ("64-32", "ema")
    assert "predictor" not in TrainConfig(objective="vicreg").model_spec([20])
    assert applies_to("entropy") == ("info-vicreg",)
    assert applies_to("momentum") == ("byol", "byol-logdet") == applies_to("predictor")
    assert applies_to("student") == ("cissl", "dissl") and applies_to("nothing") == ()
    # a config recorded before the refusal held an entropy for every objective; it was never used there
    old = dict(TrainConfig(objective="barlow").as_dict(), entropy="logdet")
    assert TrainConfig.from_dict(old) == TrainConfig(objective="barlow")


def test_make_objective_classes_and_options():
    assert isinstance(make_objective(TrainConfig(objective="vicreg", options={"std_coeff": 0.0})), VICRegLoss)
    loss = make_objective(TrainConfig(entropy="gaussian", options={"ridge": 1e-3}), distributed=True)
    assert isinstance(loss, InfoVICRegLoss) and loss.entropy == "gaussian" and loss.ridge == 1e-3
    assert loss.gather_distributed
    assert isinstance(make_objective(TrainConfig(objective="dissl")), DISSLLoss)
    for name in OBJECTIVES:
        assert "gather_distributed" not in objective_option_names(name)


def test_model_spec_heads():
    spec = TrainConfig(objective="cissl", projector="64-32").model_spec([1, 8, 8])
    assert spec["student"] == 32 and spec["student_batchnorm"] and spec["backbone"] == "cnn"
    spec = TrainConfig(objective="dissl", projector="64-32").model_spec([20])
    assert spec["student"] == 32 and not spec["student_batchnorm"] and spec["backbone"] == "mlp"
    with pytest.raises(ValueError, match="student=8 must equal the projector's output size 32"):
        TrainConfig(objective="dissl", projector="64-32", student=8).model_spec([20])


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    import torch

    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ValueError, match="device='cuda' was requested"):
            resolve_device("cuda")
