"""Model inputs built on the GPU: pixel patches from a screenshot, and the 3-D rotary positions.

The processor normalizes and patchifies a screenshot on the CPU (30-90 ms for a desktop
frame). The same arithmetic on the GPU takes a few milliseconds: upload the uint8
pixels once, then subtract, divide and reshape there. The formulas follow the
transformers image processor exactly (mean and std scaled by 255, one subtraction and
one division in float32), so the patches equal the processor's bit for bit when the
screenshot already has its frame size, which the agent guarantees (DESIGN.md).

Positions follow Qwen2.5-VL's multimodal rotary scheme: text counts up by one; an
image's tokens take (start, start + row, start + column) on the merged grid and the
text after it continues from start + max(rows, columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class PatchSpec:
    """The image processor's numbers that shape the patches."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    rescale_factor: float
    patch_size: int
    temporal_patch_size: int
    merge_size: int

    @classmethod
    def from_processor(cls, image_processor: Any) -> PatchSpec:
        return cls(
            mean=tuple(image_processor.image_mean),
            std=tuple(image_processor.image_std),
            rescale_factor=float(image_processor.rescale_factor),
            patch_size=int(image_processor.patch_size),
            temporal_patch_size=int(image_processor.temporal_patch_size),
            merge_size=int(image_processor.merge_size),
        )


def image_to_patches(
    image: Any, spec: PatchSpec, device: torch.device | str, size: tuple[int, int] | None = None
) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """(patches, (t, h, w) grid) for one RGB image; ``size`` = (height, width) to resize to on the GPU."""
    array = np.array(image.convert("RGB") if hasattr(image, "convert") else image, dtype=np.uint8)
    pixels = torch.from_numpy(array).to(device, non_blocking=True).permute(2, 0, 1).unsqueeze(0)
    if size is not None and tuple(pixels.shape[-2:]) != tuple(size):
        from torchvision.transforms.v2 import functional as tvf  # the resize the processor itself uses

        pixels = tvf.resize(pixels, list(size), interpolation=tvf.InterpolationMode.BICUBIC, antialias=True)
    mean = torch.tensor(spec.mean, device=device) * (1.0 / spec.rescale_factor)
    std = torch.tensor(spec.std, device=device) * (1.0 / spec.rescale_factor)
    pixels = pixels.to(torch.float32).sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))
    return patchify(pixels, spec)


def patchify(pixels: torch.Tensor, spec: PatchSpec) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """(1, C, H, W) normalized pixels -> (h*w, C*T*P*P) patches in merge-block order, and the grid."""
    _, channels, height, width = pixels.shape
    p, m, t = spec.patch_size, spec.merge_size, spec.temporal_patch_size
    gh, gw = height // p, width // p
    blocks = pixels.reshape(1, channels, gh // m, m, p, gw // m, m, p).permute(0, 2, 5, 3, 6, 1, 4, 7)
    # A still image is its own second frame: the temporal patch repeats it.
    patches = blocks.unsqueeze(6).expand(-1, -1, -1, -1, -1, -1, t, -1, -1)
    return patches.reshape(gh * gw, channels * t * p * p), (1, gh, gw)


def expand_image_tokens(
    input_ids: list[int], image_token_id: int, grids: list[tuple[int, int, int]], merge: int
) -> list[int]:
    """Repeat each single image placeholder as many times as its image has merged patches."""
    expanded: list[int] = []
    counts = iter(t * h * w // (merge * merge) for t, h, w in grids)
    for token in input_ids:
        expanded.extend([token] * next(counts) if token == image_token_id else [token])
    return expanded


def rope_positions(
    input_ids: list[int], image_token_id: int, grids: list[tuple[int, int, int]], merge: int
) -> tuple[torch.Tensor, int]:
    """(3, 1, L) rotary positions for an expanded prompt, and the delta that later tokens add to their index."""
    rows: list[np.ndarray] = []
    ids = np.asarray(input_ids)
    grids_left = iter(grids)
    position = 0
    index = 0
    while index < len(ids):
        if ids[index] != image_token_id:
            end = index
            while end < len(ids) and ids[end] != image_token_id:
                end += 1
            rows.append(np.broadcast_to(np.arange(end - index) + position, (3, end - index)))
            position += end - index
            index = end
            continue
        t, h, w = next(grids_left)
        gh, gw = h // merge, w // merge
        tt, hh, ww = np.meshgrid(np.arange(t), np.arange(gh), np.arange(gw), indexing="ij")
        rows.append(np.stack([tt.ravel(), hh.ravel(), ww.ravel()]) + position)
        position += max(gh, gw)
        index += t * gh * gw
    positions = np.concatenate(rows, axis=1)
    delta = int(positions.max()) + 1 - len(ids)
    return torch.from_numpy(positions.astype(np.int64)).view(3, 1, -1), delta
