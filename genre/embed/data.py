"""Training and evaluation items read from an embedding cache instead of the audio: a random
window's embedding per training example (or, where the head sees one vector a clip, the clip's
windows pooled), every window of a clip at validation and test."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from genre.data.datamodule import GenreDataModule
from genre.embed.cache import EmbeddingCache, load_or_build
from genre.model.net import GenreNet

# The pooled training vector per clip, as the head's input in training (numpy's own pooling).
POOL = {"mean": np.mean, "max": np.max}


class WindowEmbeddings(Dataset):
    """The embeddings of the clips in ``rows``: per gain (the first is 0 dB: what evaluation
    hears), the chosen layers of each model (``arrays[gain]``, each ``[windows, width]``)
    concatenated in the classifier's order. Training items draw a gain at random and, for
    ``pool=probs``, a window."""

    def __init__(
        self,
        arrays: list[list[np.ndarray]],
        cache: EmbeddingCache,
        rows: np.ndarray,
        labels: np.ndarray,
        train: bool,
        pool: str,
    ):
        self.arrays, self.cache, self.rows, self.labels = arrays, cache, rows, labels
        self.train, self.pool = train, pool

    def __len__(self) -> int:
        return len(self.rows)

    def windows(self, i: int, gain: int = 0) -> np.ndarray:
        """``[windows, width]``: every window of item ``i`` at one gain."""
        index = self.cache.windows_of(int(self.rows[i]))
        return np.concatenate([array[index] for array in self.arrays[gain]], axis=1)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        label = torch.as_tensor(self.labels[i])
        if not self.train:
            return torch.from_numpy(self.windows(i)), label
        windows = self.windows(i, int(torch.randint(len(self.arrays), ())))
        if self.pool == "probs":
            vector = windows[int(torch.randint(len(windows), ()))]
        else:
            vector = POOL[self.pool](windows, axis=0)
        return torch.from_numpy(np.ascontiguousarray(vector)), label


class EmbeddingDataModule(GenreDataModule):
    """The clips of a loaded :class:`GenreDataModule` (same splits, labels and weights), served
    as ``net``'s embeddings of their windows, from a cache built on first use."""

    def __init__(
        self, audio: GenreDataModule, net: GenreNet, gains_db: tuple[float, ...], batch: int
    ):
        super().__init__(audio.data, audio.tagging)
        self.cache, self.clips = audio.load(), audio.clips
        self.layers, self.clip_pool = net.classifier.layers, net.classifier.clip_pool
        folder = audio.data.cache_dir
        # caches[gain][model]: one per pretrained model and gain (genre.embed.cache).
        self.caches = [
            [
                load_or_build(self.cache, net, model, gain, folder, batch)
                for model in range(len(net.classifier.models))
            ]
            for gain in gains_db
        ]

    def dataset(self, split: str) -> WindowEmbeddings:
        rows, labels = self.split_rows(split)
        arrays = [
            [cache.layer(layer) for cache in per_model for layer in self.layers]
            for per_model in self.caches
        ]
        train = split == "train"
        return WindowEmbeddings(arrays, self.caches[0][0], rows, labels, train, self.clip_pool)

    def training_inputs(self) -> torch.Tensor:
        """What the head sees in training, at 0 dB: every window of the training clips, or each
        training clip's pooled windows where the head sees one vector a clip."""
        items = self.dataset("train")
        if items.pool == "probs":
            vectors = [items.windows(i) for i in range(len(items))]
        else:
            vectors = [POOL[items.pool](items.windows(i), axis=0)[None] for i in range(len(items))]
        return torch.from_numpy(np.concatenate(vectors))
