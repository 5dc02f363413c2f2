"""The network: waveform crops through augmentation (training only), the spectrogram layer and
a classifier, to logits: one per genre, or one per tag for a tagging network."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genre.model.augment import WaveAugment


def pool_windows(values: torch.Tensor, mask: torch.Tensor | None, how: str) -> torch.Tensor:
    """``[clips, windows, ...]`` to ``[clips, ...]``: the mean (``probs`` and ``mean``) or the
    maximum (``max``) over each clip's real windows (``mask`` ``[clips, windows]``; None: all
    are real)."""
    if mask is None:
        return values.amax(1) if how == "max" else values.mean(1)
    mask = mask.reshape(*mask.shape, *([1] * (values.dim() - 2))).to(values.device)
    if how == "max":
        return values.masked_fill(~mask, float("-inf")).amax(1)
    return (values * mask).sum(1) / mask.sum(1).clamp(min=1)


def to_probabilities(logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """A softmax over the genres; for a multilabel network, a sigmoid per tag."""
    return logits.float().sigmoid() if multilabel else logits.float().softmax(-1)


class GenreNet(nn.Module):
    """Waveform crops in, logits out. Carries what a user of the trained model needs: the names
    of what it predicts (``genres``: the genres, or for a ``multilabel`` network the tags), the
    sample rate, the crop length it was trained on and the hop between the windows that cover a
    clip.

    A clip's prediction pools its windows as the classifier's ``clip_pool`` says: ``probs``
    (the default, any classifier) averages the windows' probabilities; ``mean`` or ``max`` pools
    the windows' embeddings first and the head sees one vector a clip (classifiers that split
    into ``features`` and ``head_logits``: the pretrained ones)."""

    def __init__(
        self,
        spectrogram: nn.Module,
        classifier: nn.Module,
        genres: list[str],
        sample_rate: int,
        chunk_samples: int,
        augment: WaveAugment | None = None,
        multilabel: bool = False,
        hop_samples: int | None = None,
    ):
        super().__init__()
        self.augment = augment or WaveAugment()  # in training mode only; no weights
        self.spectrogram, self.classifier = spectrogram, classifier
        self.genres, self.sample_rate, self.chunk_samples = list(genres), sample_rate, chunk_samples
        self.hop_samples = hop_samples or chunk_samples
        self.multilabel = multilabel
        self.clip_pool = getattr(classifier, "clip_pool", "probs")

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.spectrogram(self.augment(waves)))

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The trainable parameters as optimiser groups: the classifier's own grouping where it
        has one (pretrained layers at a lower rate), else one group."""
        if hasattr(self.classifier, "parameter_groups"):
            return self.classifier.parameter_groups()
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    def frozen_state(self) -> list[str]:
        """State dict keys of pretrained weights that training leaves unchanged."""
        keys = getattr(self.classifier, "frozen_state", list)()
        return [f"classifier.{key}" for key in keys]

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return to_probabilities(logits, self.multilabel)

    def clip_probabilities(
        self, crops: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``[clips, crops, samples]`` (``mask``: which crops are real, where clips have
        different numbers) to ``[clips, genres or tags]``, pooled as ``clip_pool`` says."""
        n_clips, n_crops, n_samples = crops.shape
        flat = crops.reshape(n_clips * n_crops, n_samples)
        if self.clip_pool == "probs":
            probs = self.probabilities(self(flat)).reshape(n_clips, n_crops, -1)
            return pool_windows(probs, mask, "probs")
        features = self.classifier.features(self.spectrogram(self.augment(flat)))
        pooled = pool_windows(features.reshape(n_clips, n_crops, -1), mask, self.clip_pool)
        return self.probabilities(self.classifier.head_logits(pooled))
