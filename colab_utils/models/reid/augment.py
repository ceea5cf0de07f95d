"""reid's training augmentation: drawn per crop in the loader, applied per batch on the device.

torchreid's recipe (horizontal flip, a random translation by padding and cropping back, random
erasing) cost 0.65 ms of a core per crop with albumentations, and Colab has two cores: the
loader fed ~1,500 crops/s against the 1,700/s a T4 trains. Profiled per crop on synthetic crops
(one process, one thread): PNG decode 0.09 ms, resize 0.03 ms, albumentations' reseeding 0.08 ms
and its three transforms 0.11 ms plus call overhead, seeding the global generators for it 0.10
ms, tensor building the rest. So the loader now only decodes, resizes and draws the parameters
from the sample's generator (:func:`draw`); :func:`apply` turns a batch of uint8 crops and their
parameters into the augmented batch in a few tensor operations, on the GPU in training and the
same on the CPU. Augmentation stays a function of (seed, epoch, index): the parameters come from
the sample's generator, and :func:`apply` draws nothing.

A pre-resized uint8 cache was the other way: at 256x128 it is 98 KB a crop, ~22 GB for
reid-2023's ~222k training crops, more than the page cache of a 12 GB runtime, so every crop
would be a disk read (~500 MB/s at 5,000 crops/s) to save the 0.1 ms of a decode. Not built.
"""

from __future__ import annotations

import math

import numpy as np
import torch

PAD_FRACTION = 0.04  # random translation of up to 4 % of the height (10 px at 256), each way
ERASE_AREA = (0.02, 0.33)  # fraction of the crop that random erasing covers (torchreid's)
ERASE_ASPECT = (0.3, 3.3)  # its height / width, drawn log-uniformly
FILL = (124, 116, 104)  # erased pixels: the ImageNet mean colour
PARAMS = ("flip", "shift_y", "shift_x", "erase_top", "erase_left", "erase_height", "erase_width")


def draw(rng: np.random.Generator, height: int, width: int, erase_p: float) -> torch.Tensor:
    """One crop's parameters, in :data:`PARAMS` order (an erased box of 0 x 0 when not erased).

    One draw of eight uniforms whatever the outcome (a few microseconds; each generator call costs
    about as much as the arithmetic).
    """
    pad = max(1, round(PAD_FRACTION * height))
    flip, shift_y, shift_x, erase, area, aspect, top, left = rng.random(8).tolist()
    shift_y, shift_x = (int(u * (2 * pad + 1)) - pad for u in (shift_y, shift_x))
    area = (ERASE_AREA[0] + area * (ERASE_AREA[1] - ERASE_AREA[0])) * height * width
    aspect = ERASE_ASPECT[0] * (ERASE_ASPECT[1] / ERASE_ASPECT[0]) ** aspect  # log-uniform
    box_h = min(height, max(1, round(math.sqrt(area * aspect))))
    box_w = min(width, max(1, round(math.sqrt(area / aspect))))
    top, left = int(top * (height - box_h + 1)), int(left * (width - box_w + 1))
    if erase >= erase_p:
        box_h = box_w = 0
    return torch.tensor([flip < 0.5, shift_y, shift_x, top, left, box_h, box_w], dtype=torch.int16)


def apply(images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 crops augmented by their (N, 7) parameters: flip, then shift, then erase.

    A shift moves the content by (shift_y, shift_x) pixels and fills what comes in with black
    (pad and crop back); the erased box is filled with :data:`FILL`.
    """
    n, _, height, width = images.shape
    device = images.device
    flip, shift_y, shift_x, top, left, box_h, box_w = params.to(device=device, dtype=torch.long).unbind(1)
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    source_rows = rows - shift_y[:, None]  # (N, H)
    shifted_cols = cols - shift_x[:, None]  # (N, W): columns of the flipped crop
    source_cols = torch.where(flip[:, None] > 0, width - 1 - shifted_cols, shifted_cols)
    inside = ((source_rows >= 0) & (source_rows < height))[:, :, None] & (
        (source_cols >= 0) & (source_cols < width)
    )[:, None, :]
    batch = torch.arange(n, device=device)[:, None, None]
    moved = images.permute(0, 2, 3, 1)[
        batch, source_rows.clamp(0, height - 1)[:, :, None], source_cols.clamp(0, width - 1)[:, None, :]
    ]  # (N, H, W, 3)
    erased = ((rows >= top[:, None]) & (rows < (top + box_h)[:, None]))[:, :, None] & (
        (cols >= left[:, None]) & (cols < (left + box_w)[:, None])
    )[:, None, :]
    fill = torch.tensor(FILL, dtype=images.dtype, device=device)
    out = torch.where(erased[..., None], fill, moved * inside[..., None].to(images.dtype))
    return out.permute(0, 3, 1, 2)  # channels-last in memory, as the t4 profile trains
