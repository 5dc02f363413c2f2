"""The network the LightningModule trains on cached embeddings: the new head of a pretrained
classifier alone, sharing its weights, so the waveform network the run logs is trained too."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genre.model.net import GenreNet, pool_windows, to_probabilities


class ProbeNet(nn.Module):
    """Embeddings in (``[batch, width]``, or a clip's windows ``[clips, windows, width]``),
    logits out: ``net``'s standardisation and head, the very modules of ``net`` (the pretrained
    models stay out: their work is in the cache). Carries what the LightningModule and its
    checkpoints read of a :class:`GenreNet`."""

    def __init__(self, net: GenreNet):
        super().__init__()
        classifier = net.classifier
        self.standardize, self.head = classifier.standardize, classifier.head
        self.genres, self.sample_rate = net.genres, net.sample_rate
        self.chunk_samples, self.multilabel = net.chunk_samples, net.multilabel
        self.clip_pool = net.clip_pool

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.head(self.standardize(embeddings))

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return to_probabilities(logits, self.multilabel)

    def clip_probabilities(
        self, windows: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``[clips, windows, width]`` to ``[clips, genres or tags]``, pooled as the waveform
        network pools (:meth:`GenreNet.clip_probabilities`)."""
        if self.clip_pool == "probs":
            return pool_windows(self.probabilities(self(windows)), mask, "probs")
        return self.probabilities(self(pool_windows(windows, mask, self.clip_pool)))

    def parameter_groups(self) -> list[dict[str, Any]]:
        return [{"params": list(self.head.parameters())}]
