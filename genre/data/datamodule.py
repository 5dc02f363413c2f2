"""Crops straight from the decode-once memmap: a random ``chunk_seconds`` crop per training
example, evenly spaced crops per clip for validation and test (``data.eval_crops`` of them, or
``all``: windows that cover the whole clip), pooled later into one clip-level prediction. Each
crop comes with its clip's label: the genre's index, or for tagging a multi-hot vector over the
tags."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, Sampler, WeightedRandomSampler

from genre.data.cache import AudioSpec, Cache, load_or_build, open_audio
from genre.data.conflicts import resolve
from genre.data.sources import SPLITS, TAGS, read_manifest, split_tags
from genre.data.splits import assign_splits
from genre.data.windows import collate_windows, window_starts
from genre.errors import GenreError

if TYPE_CHECKING:
    from genre.config import DataConfig


class ClipCrops(Dataset):
    """Crops of the clips in ``rows`` of a cache. ``crops=None`` draws one random crop per item
    (training); an integer gives that many evenly spaced crops, stacked (evaluation); ``"all"``
    the windows that cover the clip, ``hop`` samples apart at most (their number varies by clip:
    :func:`genre.data.windows.collate_windows` pads them)."""

    def __init__(
        self,
        cache: Cache,
        rows: np.ndarray,
        labels: np.ndarray,
        chunk: int,
        crops: int | str | None,
        hop: int | None = None,
    ):
        self.folder, self.n_clips = cache.path, len(cache.clips)
        self.clip_samples = cache.meta["clip_samples"]
        self.rows, self.labels, self.chunk, self.crops = rows, labels, chunk, crops
        self.hop = hop or chunk
        # Crops stay inside the decoded audio of a padded clip, unless it is shorter than a chunk.
        self.valid = cache.valid_samples[rows]
        self.last_start = np.clip(self.valid - chunk, 0, self.clip_samples - chunk)
        self._audio: np.memmap | None = None  # opened lazily, once per DataLoader worker

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._audio is None:
            self._audio = open_audio(self.folder, self.n_clips, self.clip_samples)
        row, last = self.rows[i], int(self.last_start[i])
        if self.crops is None:
            start = int(torch.randint(0, last + 1, ()))
            wave = self._audio[row, start : start + self.chunk]
        else:
            if self.crops == "all":
                starts = window_starts(int(self.valid[i]), self.chunk, self.hop)
            else:
                starts = np.linspace(0, last, self.crops).astype(int)
            wave = np.stack([self._audio[row, s : s + self.chunk] for s in starts])
        # float16 -> float32 in torch (vectorised, ~7 us per 3 s crop) rather than numpy (~80 us).
        return torch.from_numpy(np.array(wave)).float(), torch.as_tensor(self.labels[i])


def _check_chunk_fits(cache: Cache, chunk_seconds: float, name: str) -> None:
    """Refuse a chunk longer than most clips: their crops would be mostly padding. (A few short
    clips are fine; each is padded with silence.)"""
    median = float(cache.clips["seconds"].median())
    if median < chunk_seconds:
        fits = max(math.floor(median * 10) / 10, 0.1)
        raise GenreError(
            f"Most clips of {name} are shorter than data.chunk_seconds={chunk_seconds:g} (median "
            f"{median:.2f} s): lower the chunk, e.g. data.chunk_seconds={fits:g}."
        )


class GenreDataModule(pl.LightningDataModule):
    """The clips of ``data`` (the ``data`` settings), labelled by genre, or by their tags when
    ``tagging``."""

    def __init__(self, data: DataConfig, tagging: bool = False):
        super().__init__()
        self.data, self.tagging = data, tagging
        self.cache: Cache | None = None
        self.clips: pd.DataFrame | None = None

    @property
    def spec(self) -> AudioSpec:
        d = self.data
        return AudioSpec(int(d.sample_rate), float(d.clip_seconds), float(d.min_seconds))

    @property
    def chunk_samples(self) -> int:
        return self.data.chunk_samples

    def prepare_data(self) -> None:
        self.load()

    def load(self) -> Cache:
        """Build or find the cache and fix the splits; cheap after the first call."""
        if self.cache is None:
            d = self.data
            manifest = read_manifest(d, self.tagging)
            cache = load_or_build(manifest, self.spec, d.cache_dir, d.decode_workers)
            if cache.clips.empty:
                raise GenreError(
                    f"No clip of {d.root or d.source} could be decoded; see {cache.path}/"
                    "rejected.csv for the reasons."
                )
            _check_chunk_fits(cache, float(d.chunk_seconds), d.root or d.source)
            clips = cache.clips
            if not self.tagging:
                policy = d.conflicts
                clips = resolve(clips, manifest.clips, cache, policy, d.root or d.source)
            self.clips = assign_splits(
                clips, d.val_fraction, d.test_fraction, int(d.split_seed), self.tagging
            )
            self.cache = cache
        return self.cache

    @property
    def genres(self) -> list[str]:
        """The genres of the clips (where the source gives them: a tagging source may not)."""
        self.load()
        return sorted(self.clips["genre"].dropna().unique())

    @property
    def tags(self) -> list[str]:
        """The tag vocabulary: every tag of the training split (the splits' check makes sure
        the held-out splits have the same ones)."""
        self.load()
        train = self.clips.loc[self.clips["split"] == "train", TAGS].fillna("")
        return sorted({tag for tags in train for tag in split_tags(tags)})

    @property
    def labels(self) -> list[str]:
        """What the network predicts: the tags for tagging, else the genres."""
        return self.tags if self.tagging else self.genres

    def setup(self, stage: str | None = None) -> None:
        self.load()

    def split_rows(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The cache rows of a split and their labels: genre indices ``[n]``, or for tagging
        multi-hot ``[n, tags]`` (0 or 1)."""
        self.load()
        mask = (self.clips["split"] == split).to_numpy()
        if self.tagging:
            return np.flatnonzero(mask), self._multi_hot(self.clips.loc[mask, TAGS])
        index = {g: i for i, g in enumerate(self.genres)}
        return np.flatnonzero(mask), self.clips["genre"][mask].map(index).to_numpy()

    def _multi_hot(self, tags: pd.Series) -> np.ndarray:
        index = {tag: i for i, tag in enumerate(self.tags)}
        # Integers, as the metrics want them; the loss takes them as floats.
        hot = np.zeros((len(tags), len(index)), dtype=np.int64)
        for row, text in enumerate(tags.fillna("")):
            hot[row, [index[tag] for tag in split_tags(text)]] = 1
        return hot

    def counts_per_split(self) -> pd.DataFrame:
        """Clips per label and split: a row per genre (index ``genre``), or for tagging per tag
        (index ``tag``, a clip counted under each of its tags), a column per split."""
        self.load()
        if self.tagging:
            pairs = self.clips.assign(tag=self.clips[TAGS].fillna("").map(split_tags))
            pairs = pairs.explode("tag").dropna(subset=["tag"])
            counts = pairs.groupby(["tag", "split"]).size().unstack(fill_value=0)
        else:
            counts = self.clips.groupby(["genre", "split"]).size().unstack(fill_value=0)
        return counts.reindex(columns=[s for s in SPLITS if s in counts])

    def class_counts(self) -> np.ndarray:
        """Training clips per label: per genre, or for tagging the positives of each tag."""
        _, labels = self.split_rows("train")
        if self.tagging:
            return labels.sum(axis=0).astype(np.int64)
        return np.bincount(labels, minlength=len(self.genres))

    def class_weights(self) -> torch.Tensor | None:
        """The loss's per-label weights, when ``data.balance == weights``: inverse frequency
        (cross-entropy's ``weight``), or for tagging each tag's negatives over its positives
        in the training split (binary cross-entropy's ``pos_weight``), so that a rare tag's few
        positives weigh as much as its many negatives."""
        if self.data.balance != "weights":
            return None
        counts = self.class_counts().astype(np.float64)
        if self.tagging:
            negatives = len(self.split_rows("train")[0]) - counts
            return torch.tensor(negatives / counts, dtype=torch.float32)
        return torch.tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32)

    def dataset(self, split: str) -> Dataset:
        """The items of a split: random crops for training, every clip's evaluation crops
        otherwise."""
        rows, labels = self.split_rows(split)
        crops = None if split == "train" else self.data.eval_crops
        crops = crops if crops in (None, "all") else int(crops)
        return ClipCrops(self.cache, rows, labels, self.chunk_samples, crops, self.data.hop_samples)

    def _loader(self, split: str) -> DataLoader:
        """A split's loader: training items shuffled (or balanced), evaluation items in order,
        their crops padded and masked; under DDP each process's share of an evaluation split."""
        dataset, train = self.dataset(split), split == "train"
        labels = self.split_rows(split)[1]
        sampler: Sampler | None = None
        if train and self.data.balance == "sampler":
            weights = 1.0 / self.class_counts()[labels]
            sampler = WeightedRandomSampler(torch.as_tensor(weights), len(labels))
        elif not train and self.trainer is not None and self.trainer.world_size > 1:
            sampler = self._eval_shard(split, dataset)
        workers = int(self.data.num_workers)
        return DataLoader(
            dataset,
            batch_size=int(self.data.batch_size),
            shuffle=train and sampler is None,
            sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            collate_fn=None if train else collate_windows,
        )

    def _eval_shard(self, split: str, dataset: Dataset) -> Sampler:
        """This DDP process's share of an evaluation split. Every clip is scored exactly once over
        all processes, as the synced metrics assume: Lightning's own DistributedSampler would pad
        the shards to equal length with repeated clips."""
        world, rank = self.trainer.world_size, self.trainer.global_rank
        if len(dataset) < world:
            # A process without a batch would never join the others' metric sync.
            raise GenreError(
                f"The {split} split has {len(dataset)} clip(s), fewer than the {world} DDP "
                "processes: add clips or lower trainer.devices."
            )
        return UnrepeatedDistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
