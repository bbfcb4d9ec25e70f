"""Augmentations: exact integer shifts, cutout geometry, seeding, vector pipeline, validation."""

import pytest
import torch

from infossl.training.augment import Augmentation, augment_images, augment_vectors

NONE = dict(shift=0, rotation=0.0, scale=0.0, noise=0.0, cutout=0)


def test_identity_when_every_strength_is_zero():
    x = torch.rand(6, 2, 8, 8)
    out = Augmentation(**NONE)(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, x) and out is not x


def test_shift_is_an_exact_translation_with_zero_fill(seed):
    # A single bright pixel moves by an integer offset in {-2..2}^2 and keeps its value.
    x = torch.zeros(50, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0
    out = augment_images(x, Augmentation(**dict(NONE, shift=2)), torch.Generator().manual_seed(seed))
    assert torch.allclose(out.sum(dim=(1, 2, 3)), torch.ones(50))
    pos = torch.nonzero(out[:, 0] > 0.5)  # (50, 3): image, row, col
    assert ((pos[:, 1] - 4).abs() <= 2).all() and ((pos[:, 2] - 4).abs() <= 2).all()
    assert len({(int(r), int(c)) for _, r, c in pos}) > 5  # offsets vary across the batch


def test_rotation_keeps_the_centre_and_mass_roughly():
    x = torch.zeros(20, 1, 9, 9)
    x[:, 0, 3:6, 3:6] = 1.0
    out = augment_images(x, Augmentation(**dict(NONE, rotation=30.0)), torch.Generator().manual_seed(0))
    assert torch.allclose(out[:, 0, 4, 4], torch.ones(20))
    # bilinear resampling of a 3x3 block rotated by <= 30 degrees keeps its mass within 15 %
    assert ((out.sum(dim=(1, 2, 3)) - 9).abs() < 1.35).all()


def test_cutout_zeroes_a_square():
    x = torch.ones(200, 1, 8, 8)
    out = augment_images(x, Augmentation(**dict(NONE, cutout=3, cutout_prob=1.0)), torch.Generator().manual_seed(0))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert (zeros >= 1).all() and (zeros <= 9).all() and (zeros == 9).any()
    out = augment_images(x, Augmentation(**dict(NONE, cutout=3, cutout_prob=0.0)), torch.Generator().manual_seed(0))
    assert torch.equal(out, x)


def test_noise_is_clipped_and_seeded():
    x = torch.rand(10, 1, 8, 8)
    aug = Augmentation(**dict(NONE, noise=0.5))
    a = aug(x, torch.Generator().manual_seed(5))
    b = aug(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a, aug(x, torch.Generator().manual_seed(6)))


def test_default_pipeline_is_seeded():
    x = torch.rand(16, 1, 8, 8)
    a = Augmentation()(x, torch.Generator().manual_seed(1))
    b = Augmentation()(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape


def test_vectors():
    x = torch.randn(400, 6)
    std = torch.linspace(0.5, 3, 6)
    out = augment_vectors(x, Augmentation(noise=1.0, feature_mask=0.0), torch.Generator().manual_seed(0), std)
    # the noise std per feature is `noise * std`; 400 draws -> relative error of the std ~ 1/sqrt(800) = 3.5 %
    torch.testing.assert_close((out - x).std(dim=0), std, rtol=0.15, atol=0)
    out = augment_vectors(x, Augmentation(noise=0.0, feature_mask=0.5), torch.Generator().manual_seed(0))
    frac = float((out == 0).float().mean())
    assert 0.45 < frac < 0.55  # 2400 Bernoulli(0.5) draws: 5 standard errors is 0.05


@pytest.mark.parametrize("kwargs, match", [
    (dict(shift=-1), "augment shift must be >= 0"),
    (dict(shift=1.5), "augment shift must be an integer"),
    (dict(rotation=200.0), "augment rotation must be in"),
    (dict(scale=1.0), "augment scale must be in"),
    (dict(noise=-0.1), "augment noise must be in"),
    (dict(cutout=-2), "augment cutout must be >= 0"),
    (dict(cutout_prob=1.5), "augment cutout_prob must be in"),
    (dict(feature_mask=1.0), "augment feature_mask must be in"),
    (dict(clip_min=1.0, clip_max=0.0), "clip_min=1.0 must be below clip_max=0.0"),
])
def test_bad_strengths(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Augmentation(**kwargs)


def test_bad_batch_shape():
    with pytest.raises(ValueError, match="expects \\(N, C, H, W\\) or \\(N, D\\) batches"):
        Augmentation()(torch.zeros(2, 3, 4), torch.Generator())
