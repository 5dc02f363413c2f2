"""The network: waveform crops through augmentation (training only), the spectrogram layer and
a classifier, to logits: one per genre, or one per tag for a tagging network."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genre.model.augment import WaveAugment


class GenreNet(nn.Module):
    """Waveform crops in, logits out. Carries what a user of the trained model needs: the names
    of what it predicts (``genres``: the genres, or for a ``multilabel`` network the tags), the
    sample rate and the crop length it was trained on."""

    def __init__(
        self,
        spectrogram: nn.Module,
        classifier: nn.Module,
        genres: list[str],
        sample_rate: int,
        chunk_samples: int,
        augment: WaveAugment | None = None,
        multilabel: bool = False,
    ):
        super().__init__()
        self.augment = augment or WaveAugment()  # in training mode only; no weights
        self.spectrogram, self.classifier = spectrogram, classifier
        self.genres, self.sample_rate, self.chunk_samples = list(genres), sample_rate, chunk_samples
        self.multilabel = multilabel

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
        """A softmax over the genres; for a multilabel network, a sigmoid per tag."""
        return logits.float().sigmoid() if self.multilabel else logits.float().softmax(-1)

    def clip_probabilities(self, crops: torch.Tensor) -> torch.Tensor:
        """``[clips, crops, samples]`` to ``[clips, genres or tags]``: the mean of the crops'
        probabilities."""
        n_clips, n_crops, n_samples = crops.shape
        logits = self(crops.reshape(n_clips * n_crops, n_samples))
        return self.probabilities(logits).reshape(n_clips, n_crops, -1).mean(1)
