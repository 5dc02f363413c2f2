"""Training-time augmentation of waveform batches, on the model's device: random gain, a random
circular time shift, and mixup. Each is off at 0 and does nothing at evaluation; SpecAugment
lives in the spectrogram layer (``genre.model.spectrogram``)."""

from __future__ import annotations

import torch
from torch import nn


class WaveAugment(nn.Module):
    """``[batch, samples]`` in and out, each example changed on its own:

    - ``gain_db``: a gain drawn uniformly from ±``gain_db`` dB. Under a per-example normalised
      spectrogram (``features.normalize=instance``) a gain cancels out, except where it moves
      quiet parts across ``top_db``; it matters for networks fed absolute levels (musicnn).
    - ``shift``: a circular shift by up to ± that fraction of the crop. Random crops already move
      within a clip; the shift also moves the content of clips barely longer than the crop (a
      2 s crop of a 2.1 s excerpt can only move 0.1 s).
    """

    def __init__(self, gain_db: float = 0.0, shift: float = 0.0):
        super().__init__()
        self.gain_db, self.shift = float(gain_db), float(shift)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return waves
        batch, samples = waves.shape
        if self.gain_db > 0:
            db = (torch.rand(batch, 1, device=waves.device) * 2 - 1) * self.gain_db
            waves = waves * torch.pow(10.0, db / 20)
        if self.shift > 0:
            most = int(self.shift * samples)
            offsets = torch.randint(-most, most + 1, (batch, 1), device=waves.device)
            index = (torch.arange(samples, device=waves.device) - offsets) % samples
            waves = waves.gather(1, index)
        return waves

    def extra_repr(self) -> str:
        return f"gain_db={self.gain_db}, shift={self.shift}"


class Mixup:
    """Mixup (Zhang et al., 2018): each batch is mixed with a shuffled copy of itself, with one
    weight ``lam ~ Beta(alpha, alpha)`` per batch; the loss mixes the two targets' losses alike.
    Under a balanced sampler (``data.balance=sampler``) the partners come from the same balanced
    batch, so the mixed targets stay balanced in expectation: the two work together."""

    def __init__(self, alpha: float):
        self.alpha = float(alpha)

    def __bool__(self) -> bool:
        return self.alpha > 0

    def __call__(
        self, waves: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
        """Mixed waves, the two targets of each example, and the first target's weight."""
        beta = torch.distributions.Beta(self.alpha, self.alpha)
        lam = float(beta.sample())
        order = torch.randperm(len(waves), device=waves.device)
        return lam * waves + (1 - lam) * waves[order], targets, targets[order], lam
