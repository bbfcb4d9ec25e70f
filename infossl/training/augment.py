"""Batched, seeded augmentations for small images (N, C, H, W) and feature vectors (N, D).

Every random number comes from the ``torch.Generator`` passed in (a CPU generator; the parameters are
drawn on the CPU and moved to the data's device, so a run draws the same augmentations on any device).
Whole batches are transformed at once; there is no per-image Python loop.

Image pipeline (each step skipped when its strength is 0), in this order:

1. **shift / crop with padding** -- zero-pad by ``shift`` pixels and crop back to the original size at a
   uniformly random integer offset, i.e. a translation by ``(dx, dy)`` in ``{-shift..shift}^2`` with
   zero fill;
2. **rotation** -- a uniform angle in ``[-rotation, rotation]`` degrees about the image centre, and
   **scale** -- a zoom factor uniform in ``[1 - scale, 1 + scale]``; steps 1-2 are one affine resampling
   (bilinear, zero fill), exact for the integer shifts when there is no rotation or zoom;
3. **pixel noise** -- add ``noise`` times standard normal noise, then clip to ``[clip_min, clip_max]``;
4. **cutout** -- with probability ``cutout_prob`` zero a ``cutout x cutout`` square at a uniform position
   (it may be partly outside the image), DeVries & Taylor 2017 (arXiv 1708.04552).

Vector pipeline: additive Gaussian ``noise`` (in units of each feature's standard deviation, given by
``feature_std``) and ``feature_mask``: each feature zeroed independently with that probability.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import torch
import torch.nn.functional as F

from infossl._validation import check_float, check_int


@dataclass
class Augmentation:
    """Strengths of the augmentations; the defaults suit the 8 x 8 digits in [0, 1].

    Parameters
    ----------
    shift : int, default 1
        Maximum translation in pixels (the padding of a random crop).
    rotation : float, default 10.0
        Maximum rotation in degrees.
    scale : float, default 0.1
        Maximum relative zoom.
    noise : float, default 0.05
        Standard deviation of additive Gaussian pixel noise (data units; for vectors: units of each
        feature's standard deviation).
    cutout : int, default 3
        Side of the erased square, pixels (0: none).
    cutout_prob : float, default 0.5
        Probability that an image gets a cutout square.
    clip_min, clip_max : float or None, default 0 and 1
        Pixel range after the noise (None: no clipping).
    feature_mask : float, default 0.1
        Vectors only: probability of zeroing each feature.

    Examples
    --------
    >>> aug = Augmentation(shift=0, rotation=0, scale=0, noise=0, cutout=0)
    >>> x = torch.rand(5, 1, 8, 8)
    >>> bool(torch.equal(aug(x, torch.Generator().manual_seed(0)), x))
    True
    """

    shift: int = 1
    rotation: float = 10.0
    scale: float = 0.1
    noise: float = 0.05
    cutout: int = 3
    cutout_prob: float = 0.5
    clip_min: Optional[float] = 0.0
    clip_max: Optional[float] = 1.0
    feature_mask: float = 0.1

    def __post_init__(self) -> None:
        self.shift = check_int(self.shift, "augment shift", low=0)
        self.rotation = check_float(self.rotation, "augment rotation", low=0.0, high=180.0)
        self.scale = check_float(self.scale, "augment scale", low=0.0, high=1.0, high_open=True)
        self.noise = check_float(self.noise, "augment noise", low=0.0)
        self.cutout = check_int(self.cutout, "augment cutout", low=0)
        self.cutout_prob = check_float(self.cutout_prob, "augment cutout_prob", low=0.0, high=1.0)
        self.feature_mask = check_float(self.feature_mask, "augment feature_mask", low=0.0, high=1.0,
                                        high_open=True)
        if self.clip_min is not None and self.clip_max is not None and self.clip_min >= self.clip_max:
            raise ValueError(f"augment clip_min={self.clip_min} must be below clip_max={self.clip_max}")

    def as_dict(self) -> dict:
        """The fields as a dict (what a run's config records).

        Returns
        -------
        dict
        """
        return asdict(self)

    def __call__(self, x: torch.Tensor, generator: torch.Generator,
                 feature_std: Optional[torch.Tensor] = None) -> torch.Tensor:
        """A new augmented copy of the batch ``x`` ((N, C, H, W) images or (N, D) vectors)."""
        if x.ndim == 4:
            return augment_images(x, self, generator)
        if x.ndim == 2:
            return augment_vectors(x, self, generator, feature_std)
        raise ValueError(f"augmentation expects (N, C, H, W) or (N, D) batches; got shape {tuple(x.shape)}")


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)  # (n,)


def augment_images(x: torch.Tensor, aug: Augmentation, g: torch.Generator) -> torch.Tensor:
    """Apply the image pipeline (module docstring) to a batch of shape (N, C, H, W).

    Returns
    -------
    torch.Tensor
        The augmented batch, the shape of ``x``.
    """
    n, _, h, w = x.shape
    out = x
    if aug.shift or aug.rotation or aug.scale:
        dx = torch.randint(-aug.shift, aug.shift + 1, (n,), generator=g).double()  # (n,) pixels
        dy = torch.randint(-aug.shift, aug.shift + 1, (n,), generator=g).double()
        angle = _uniform(n, -aug.rotation, aug.rotation, g) * (math.pi / 180)  # (n,)
        zoom = _uniform(n, 1 - aug.scale, 1 + aug.scale, g)  # (n,)
        c, s = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        # Output -> input map in pixel units is p_in = R p_out / zoom - d; in normalised coordinates
        # (x_norm = 2 x_pix / W) the off-diagonal entries pick up the aspect ratio.
        theta = torch.stack([
            torch.stack([c, -s * h / w, -2 * dx / w], dim=1),
            torch.stack([s * w / h, c, -2 * dy / h], dim=1),
        ], dim=1)  # (n, 2, 3)
        theta = theta.to(device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (n, h, w, 2)
        out = F.grid_sample(out, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if aug.noise:
        eps = torch.randn(out.shape, generator=g).to(device=x.device, dtype=out.dtype)  # (n, c, h, w)
        out = out + aug.noise * eps
        if aug.clip_min is not None or aug.clip_max is not None:
            out = out.clamp(aug.clip_min, aug.clip_max)
    if aug.cutout and aug.cutout_prob:
        k = aug.cutout
        apply = torch.rand(n, generator=g) < aug.cutout_prob  # (n,)
        top = torch.randint(-(k // 2), h - k // 2, (n,), generator=g)  # (n,) top row, may stick out
        left = torch.randint(-(k // 2), w - k // 2, (n,), generator=g)
        rows = torch.arange(h)[None, :]  # (1, h)
        cols = torch.arange(w)[None, :]  # (1, w)
        in_r = (rows >= top[:, None]) & (rows < top[:, None] + k)  # (n, h)
        in_c = (cols >= left[:, None]) & (cols < left[:, None] + k)  # (n, w)
        hole = in_r[:, :, None] & in_c[:, None, :] & apply[:, None, None]  # (n, h, w)
        out = out.masked_fill(hole[:, None].to(x.device), 0.0)
    return out if out is not x else x.clone()


def augment_vectors(x: torch.Tensor, aug: Augmentation, g: torch.Generator,
                    feature_std: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Apply the vector pipeline to a batch of shape (N, D); ``feature_std`` (D,) scales the noise.

    Returns
    -------
    torch.Tensor
        The augmented batch, the shape of ``x``.
    """
    out = x
    if aug.noise:
        eps = torch.randn(x.shape, generator=g).to(device=x.device, dtype=x.dtype)  # (n, d)
        scale = feature_std.to(device=x.device, dtype=x.dtype) if feature_std is not None else 1.0
        out = out + aug.noise * scale * eps
    if aug.feature_mask:
        keep = (torch.rand(x.shape, generator=g) >= aug.feature_mask).to(x.device)  # (n, d)
        out = out * keep
    return out if out is not x else x.clone()
