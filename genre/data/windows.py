"""Windows that cover a whole clip: the evaluation crops of ``data.eval_crops=all``, the windows
an embedding cache embeds (``genre.embed``) and the crops ``genre.predict`` hears. One scheme for
all three, so that a trained model hears a file at prediction time as it heard its clips at test
time."""

from __future__ import annotations

import math

import numpy as np
import torch


def window_starts(samples: int, window: int, hop: int) -> np.ndarray:
    """Start samples of the fewest evenly spaced windows of ``window`` samples, at most ``hop``
    apart, that cover ``samples``: the first at 0, the last ending at the end. A clip shorter
    than a window has one window, at 0 (the clip is padded)."""
    if samples <= window:
        return np.zeros(1, dtype=np.int64)
    n = math.ceil((samples - window) / hop) + 1
    return np.linspace(0, samples - window, n).round().astype(np.int64)


def pad_windows(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips with different numbers of windows (``[windows_i, ...]`` each) as one batch
    ``[clips, most windows, ...]`` padded with zeros, and the mask of the real windows
    ``[clips, most windows]``."""
    most = max(len(item) for item in items)
    batch = items[0].new_zeros((len(items), most, *items[0].shape[1:]))
    mask = torch.zeros(len(items), most, dtype=torch.bool)
    for i, item in enumerate(items):
        batch[i, : len(item)] = item
        mask[i, : len(item)] = True
    return batch, mask


def collate_windows(
    batch: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A DataLoader's ``collate_fn`` for evaluation items ``(windows, label)``: the padded
    windows, their mask and the stacked labels."""
    windows, mask = pad_windows([item[0] for item in batch])
    return windows, mask, torch.stack([torch.as_tensor(item[1]) for item in batch])
