"""The config's schema and its checks, in one place, run before any work starts.

Each option of the groups ``data``, ``task``, ``features``, ``model``, ``augment`` and
``training`` has a dataclass schema, registered in Hydra's ConfigStore as
``<group>/base_<option>`` and extended by its YAML file (``defaults: [base_<option>, _self_]``):
Hydra refuses unknown keys and values of the wrong type while composing. The ranges and
relations a type cannot say are checked by :func:`validate`, which builds every schema (their
``__post_init__``) and then looks across groups: each problem is one sentence naming the key,
the value and what is allowed. ``optim`` and ``trainer`` take any keyword of their ``_target_``
(``torch.optim.*``, Lightning's ``Trainer``), so they have no closed schema; their keys genre
relies on are checked here too.
"""

from __future__ import annotations

import difflib
import inspect
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from hydra.utils import get_class
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from genre.errors import GenreError, check_choice, check_members, check_range
from genre.pretrained.names import ARCHS, LAYERS, VARIANTS
from genre.util import CONF_DIR, cache_dir

# data.cache_dir's default: genre's cache folder, as genre.util.cache_dir says it, resolved when
# the config is (so $GENRE_CACHE is read then, and a logged config holds the folder itself).
OmegaConf.register_new_resolver("genre.cache_dir", lambda: str(cache_dir()), replace=True)

BIG = 1_000_000_000  # an upper bound for counts that have no natural one

BALANCE_OPTIONS = ("none", "weights", "sampler")
CONFLICTS = ("keep_first", "drop_both", "stop")  # genre.data.conflicts
KINDS = ("stft", "mel")
SCALES = ("db", "log", "log1p", "linear")
NORMALIZATIONS = ("instance", "none")
MEL_SCALES = ("htk", "slaney")
MEL_NORMS = (None, "slaney")
PAD_MODES = ("reflect", "constant", "replicate", "circular")  # torch.stft's, for centred frames
POWER_DTYPES = ("float32", "float16")
POOLS = ("max", "avg")
FREEZE = ("all", "frontend", "none")
SCHEDULES = ("none", "cosine")
CLIP_POOLS = ("probs", "mean", "max")
TASKS = ("genre", "tagging")
DOWNSAMPLING = ("pool", "stride")
# What the LightningModule logs at validation, per task: the objective must be one of its task's
# (maximised).
OBJECTIVES = {
    "genre": ("val/macro_f1", "val/acc", "val/balanced_acc"),
    "tagging": ("val/pr_auc", "val/roc_auc", "val/pr_auc_micro", "val/roc_auc_micro"),
}


# --- data ------------------------------------------------------------------------------------


@dataclass
class DataConfig:
    """``data``: where clips come from (``source``, ``root``) and how they are cut and served.
    ``conf/data/folder.yaml`` and its siblings set what differs per layout."""

    source: str = MISSING
    root: str | None = None  # the dataset: a folder, or a csv file for data=csv
    sample_rate: int = 16000  # decode rate (Hz); clips are resampled to it once, at cache time
    clip_seconds: float = 30.0  # kept per clip: the middle of longer files, shorter ones padded
    min_seconds: float = 1.0  # shorter decoded files are rejected
    chunk_seconds: float = 3.0  # training crop length, and the length of each evaluation crop
    # Evenly spaced crops per clip at val/test, pooled per clip; all: the windows that cover
    # the whole clip, data.hop_seconds apart at most.
    eval_crops: Any = 5
    hop_seconds: float | None = None  # between the windows that cover a clip; null: a crop
    val_fraction: float = 0.15  # used where the source gives no split
    test_fraction: float = 0.15
    split_seed: int = 0
    balance: str = "none"  # none | weights (inverse-frequency loss) | sampler (balanced batches)
    # One recording under two genres: keep_first (the copy kept) | drop_both | stop
    conflicts: str = "keep_first"
    batch_size: int = 32
    num_workers: int = 0  # DataLoader workers; crops come from a memmap, so 0-2 is plenty
    decode_workers: int | None = None  # processes for the one-time decode; null = all cores
    cache_dir: str = "${genre.cache_dir:}"

    def __post_init__(self) -> None:
        check_range("data.sample_rate", self.sample_rate, 1000, 384_000)
        check_range("data.clip_seconds", self.clip_seconds, 0.1, 24 * 3600)
        check_range("data.min_seconds", self.min_seconds, 0.0, self.clip_seconds)
        check_range("data.chunk_seconds", self.chunk_seconds, 0.05, self.clip_seconds)
        if self.eval_crops != "all":
            if not isinstance(self.eval_crops, int) or isinstance(self.eval_crops, bool):
                raise GenreError(
                    f"data.eval_crops={self.eval_crops} is neither a number of crops nor all: "
                    "use 1 to 1000, or all (the windows that cover each clip)."
                )
            check_range("data.eval_crops", self.eval_crops, 1, 1000)
        if self.hop_seconds is not None:
            check_range("data.hop_seconds", self.hop_seconds, 0.01, self.chunk_seconds)
        check_range("data.val_fraction", self.val_fraction, 0.0, 0.99)
        check_range("data.test_fraction", self.test_fraction, 0.0, 0.99 - self.val_fraction)
        check_choice("data.balance", self.balance, BALANCE_OPTIONS)
        check_choice("data.conflicts", self.conflicts, CONFLICTS)
        check_range("data.batch_size", self.batch_size, 1, 1_000_000)
        check_range("data.num_workers", self.num_workers, 0, 1024)
        if self.decode_workers is not None:
            check_range("data.decode_workers", self.decode_workers, 1, 1024)

    @property
    def chunk_samples(self) -> int:
        """Samples in one crop: ``chunk_seconds`` at ``sample_rate``."""
        return samples(self.chunk_seconds, self.sample_rate)

    @property
    def hop_samples(self) -> int:
        """Samples between the windows that cover a clip: ``hop_seconds``, or a whole crop."""
        hop = self.chunk_seconds if self.hop_seconds is None else self.hop_seconds
        return samples(hop, self.sample_rate)


def samples(seconds: float, rate: int) -> int:
    """A duration of the config in whole samples at ``rate`` Hz."""
    return int(round(float(seconds) * int(rate)))


@dataclass
class GtzanDataConfig(DataConfig):
    split_dir: str | None = None  # null: the shipped artist-filtered split; a folder; random
    stem_split: list[int] | None = None  # [35, 42]: stems <= 35 train, <= 42 val, the rest test


@dataclass
class MtatDataConfig(DataConfig):
    genre_map: str | None = None  # csv: genre + one of mp3_path, clip_id, album, artist
    genre_tags: Any = None  # tag columns as genres: [classical, techno] or {tag: Genre, ...}
    top_tags: int = 50  # task=tagging: the most frequent tag columns of the file
    keep_untagged: bool = False  # task=tagging: keep clips with none of them as all-negative rows

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("data.top_tags", self.top_tags, 1, 1000)


@dataclass
class FmaDataConfig(DataConfig):
    subset: str = "small"  # small | medium | large | full (nested: medium includes small, ...)
    min_tag_tracks: int = 50  # task=tagging: genres with at least this many training tracks

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("data.subset", self.subset, ("small", "medium", "large", "full"))
        check_range("data.min_tag_tracks", self.min_tag_tracks, 1, BIG)


@dataclass
class MtgJamendoDataConfig(DataConfig):
    split: int = 0  # which of the five official splits (splits/split-<k>/)
    audio: str = "low"  # low: NN/<id>.low.mp3 (what genre.download fetches) | full: NN/<id>.mp3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("data.split", self.split, 0, 4)
        check_choice("data.audio", self.audio, ("low", "full"))


@dataclass
class SynthDataConfig(DataConfig):
    clips_per_genre: int = 40
    difficulty: float = 0.3  # 0 = well separated genres, 1 = heavy overlap
    synth_seed: int = 0
    mp3_share: float = 0.25  # share of clips written as mp3 rather than wav

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("data.clips_per_genre", self.clips_per_genre, 3, 100_000)
        check_range("data.difficulty", self.difficulty, 0.0, 1.0)
        check_range("data.mp3_share", self.mp3_share, 0.0, 1.0)


# --- features --------------------------------------------------------------------------------


@dataclass
class FeaturesConfig:
    """``features``: the spectrogram layer, computed on the device (genre.model.spectrogram)."""

    name: str = "mel"
    kind: str = "mel"  # mel | stft (the regular spectrogram; f_min/f_max then keep that band)
    n_fft: int = 1024
    hop_length: int | None = 512  # null = n_fft // 4
    win_length: int | None = None  # null = n_fft
    n_mels: int = 128  # mel only
    f_min: float = 0.0
    f_max: float | None = 8000.0  # null = Nyquist
    scale: str = "db"  # db | log | log1p (log10(1 + log_gain x), musicnn's) | linear
    top_db: float | None = 80.0
    log_gain: float = 1.0
    normalize: str = "instance"  # instance (zero mean, unit variance per example) | none
    mel_scale: str = "htk"  # htk | slaney (librosa's default)
    mel_norm: str | None = None  # null | slaney (librosa's default: filters of equal area)
    pad_mode: str = "reflect"  # how centred frames are padded at the ends
    power_dtype: str = "float32"  # float16: the power rounded to float16 (musicnn's extractor)
    freq_masks: int = 0  # SpecAugment (training only): number of frequency masks ...
    freq_mask: int = 0  # ... of up to this many bins
    time_masks: int = 0
    time_mask: int = 0

    def __post_init__(self) -> None:
        check_choice("features.kind", self.kind, KINDS)
        check_range("features.n_fft", self.n_fft, 16, 65536)
        if self.hop_length is not None:
            check_range("features.hop_length", self.hop_length, 1, self.n_fft)
        if self.win_length is not None:
            check_range("features.win_length", self.win_length, 2, self.n_fft)
        check_range("features.n_mels", self.n_mels, 1, 1024)
        check_range("features.f_min", self.f_min, 0.0, BIG)
        if self.f_max is not None:
            check_range("features.f_max", self.f_max, self.f_min + 1.0, BIG)
        check_choice("features.scale", self.scale, SCALES)
        if self.top_db is not None:
            check_range("features.top_db", self.top_db, 1.0, 1000.0)
        check_range("features.log_gain", self.log_gain, 1e-12, 1e12)
        check_choice("features.normalize", self.normalize, NORMALIZATIONS)
        check_choice("features.mel_scale", self.mel_scale, MEL_SCALES)
        check_choice("features.mel_norm", self.mel_norm, MEL_NORMS)
        check_choice("features.pad_mode", self.pad_mode, PAD_MODES)
        check_choice("features.power_dtype", self.power_dtype, POWER_DTYPES)
        for key in ("freq_masks", "freq_mask", "time_masks", "time_mask"):
            check_range(f"features.{key}", getattr(self, key), 0, 10_000)


# --- models ----------------------------------------------------------------------------------


@dataclass
class CNN3Config:
    """``model=cnn3``: the seed report's CNN: three conv + ReLU + 2x2 max-pool layers, then a
    dense layer over 8 frequency bands."""

    name: str = "cnn3"
    _target_: str = "genre.model.cnn.CNN3"
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    kernel_size: int = 3
    dropout: float = 0.3

    def __post_init__(self) -> None:
        if len(self.channels) != 3:
            raise GenreError(f"model.channels={self.channels} must list three widths.")
        for width in self.channels:
            check_range("model.channels", width, 1, 4096)
        check_kernel_and_dropout(self.kernel_size, self.dropout)


@dataclass
class CNNConfig:
    """``model=cnn``: ``depth`` blocks of conv (+ batch norm) + ReLU + 2x2 pooling, channels
    doubling from ``width`` up to ``max_width``."""

    name: str = "cnn"
    _target_: str = "genre.model.cnn.CNN"
    depth: int = 4
    width: int = 32
    max_width: int = 256
    kernel_size: int = 3
    dropout: float = 0.3
    batch_norm: bool = True
    pool: str = "max"  # max | avg

    def __post_init__(self) -> None:
        check_range("model.depth", self.depth, 1, 12)
        check_range("model.width", self.width, 1, 4096)
        check_range("model.max_width", self.max_width, self.width, 8192)
        check_kernel_and_dropout(self.kernel_size, self.dropout)
        check_choice("model.pool", self.pool, POOLS)


@dataclass
class ResNetConfig:
    """``model=resnet``: the short-chunk ResNet of Won et al. (2020)."""

    name: str = "resnet"
    _target_: str = "genre.model.cnn.ShortChunkResNet"
    n_blocks: int = 7
    channels: int = 128
    dropout: float = 0.5
    widths: list[int] | None = None  # each block's width; null: n_blocks - 1 x channels, then 2x
    downsample: str = "pool"  # pool: 2x2 max pooling after each block | stride: strided convs

    def __post_init__(self) -> None:
        check_range("model.n_blocks", self.n_blocks, 1, 12)
        check_range("model.channels", self.channels, 1, 4096)
        check_range("model.dropout", self.dropout, 0.0, 0.99)
        if self.widths is not None:
            check_range("model.widths (number of blocks)", len(self.widths), 1, 12)
            for width in self.widths:
                check_range("model.widths", width, 1, 4096)
        check_choice("model.downsample", self.downsample, DOWNSAMPLING)


@dataclass
class MusicnnConfig:
    """``model=musicnn``: a pretrained musicnn with a new head (docs/pretrained.md)."""

    name: str = "musicnn"
    _target_: str = "genre.model.transfer.MusicnnClassifier"
    # Several joined by "+" are concatenated: every arch with every variant, every layer of each.
    arch: str = "musicnn"  # musicnn | vgg (vgg takes crops of 2.98 s exactly)
    variant: str = "msd"  # msd: trained on the Million Song Dataset | mtt: on MagnaTagATune
    embedding: str = "max_pool"  # penultimate | max_pool | mean_pool | taggram: feeds the head
    freeze: str = "all"  # all: the head alone learns | frontend: fine-tune after it | none
    standardize: bool = False  # the head's input standardised, statistics of the training split
    head_hidden: int = 0  # 0: a linear head; else hidden layers (ReLU) of this width ...
    head_layers: int = 1  # ... this many
    head_dropout: float = 0.0
    # A clip's windows: probs (mean of their probabilities) | mean, max (their embeddings pooled,
    # one vector a clip for the head, in training too where the embedding cache serves it)
    clip_pool: str = "probs"
    pretrained_lr: float = 0.1  # fine-tuned pretrained layers learn at this share of optim.lr

    def __post_init__(self) -> None:
        check_members("model.arch", self.arch, ARCHS)
        check_members("model.variant", self.variant, VARIANTS)
        check_members("model.embedding", self.embedding, LAYERS)
        check_choice("model.freeze", self.freeze, FREEZE)
        check_range("model.head_hidden", self.head_hidden, 0, 65536)
        check_range("model.head_layers", self.head_layers, 1, 16)
        check_range("model.head_dropout", self.head_dropout, 0.0, 0.99)
        check_choice("model.clip_pool", self.clip_pool, CLIP_POOLS)
        check_range("model.pretrained_lr", self.pretrained_lr, 0.0, 10.0)


def check_kernel_and_dropout(kernel_size: int, dropout: float) -> None:
    check_range("model.kernel_size", kernel_size, 1, 31)
    check_range("model.dropout", dropout, 0.0, 0.99)


# --- training-time options -------------------------------------------------------------------


@dataclass
class AugmentConfig:
    mixup: float = 0.0
    gain_db: float = 0.0
    shift: float = 0.0

    def __post_init__(self) -> None:
        check_range("augment.mixup", self.mixup, 0.0, 10.0)
        check_range("augment.gain_db", self.gain_db, 0.0, 40.0)
        check_range("augment.shift", self.shift, 0.0, 1.0)


@dataclass
class TrainingConfig:
    early_stopping: int | None = None
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        if self.early_stopping is not None:
            check_range("training.early_stopping", self.early_stopping, 1, 100_000)
        if self.ema_decay is not None:
            check_range("training.ema_decay", self.ema_decay, 0.0, 0.99999)


@dataclass
class EmbedConfig:
    """``embed``: a frozen pretrained network's embeddings computed once per window of each clip
    and cached (genre.embed); training and evaluation then read them instead of the audio."""

    cache: bool = True  # false: always the waveform path, the network run on every crop
    batch_size: int = 64  # windows per forward pass while the cache is built

    def __post_init__(self) -> None:
        check_range("embed.batch_size", self.batch_size, 1, 1_000_000)


@dataclass
class TaskConfig:
    """``task``: one genre per clip (``genre``) or many tags per clip (``tagging``). The task
    decides the labels, the head's activation, the loss, the metrics and the default objective
    (conf/task/)."""

    name: str = "genre"

    def __post_init__(self) -> None:
        check_choice("task", self.name, TASKS)


@dataclass
class LossConfig:
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        check_range("loss.label_smoothing", self.label_smoothing, 0.0, 0.99)


DATA_SCHEMAS = {
    "folder": DataConfig,
    "csv": DataConfig,
    "gtzan": GtzanDataConfig,
    "mtat": MtatDataConfig,
    "fma": FmaDataConfig,
    "synth": SynthDataConfig,
    "ballroom": DataConfig,
    "mtg_jamendo": MtgJamendoDataConfig,
}
MODEL_SCHEMAS = {
    "cnn3": CNN3Config,
    "cnn": CNNConfig,
    "resnet": ResNetConfig,
    "musicnn": MusicnnConfig,
}


# Where model classes lived before genre.model: configs logged then name them so, and reproduce
# and predict still rebuild them.
MOVED_TARGETS = {
    "genre.models.": "genre.model.cnn.",
    "genre.model.pretrained.": "genre.model.transfer.",
}


def model_target(model: DictConfig) -> str:
    """The class a ``model`` node names, wherever it lives now."""
    target = str(model._target_)
    for old, new in MOVED_TARGETS.items():
        if target.startswith(old):
            return new + target.removeprefix(old)
    return target


# What a config from elsewhere (a run's config.yaml, a model folder's network.yaml) may name by
# ``_target_``: Hydra imports and calls whatever it names, so that config is code.
GENRE_NETWORKS = frozenset(schema._target_ for schema in MODEL_SCHEMAS.values())
OPTIMIZER_MODULE = "torch.optim."


def check_targets(cfg: DictConfig, source: str) -> None:
    """Refuse a config made elsewhere whose ``_target_`` names anything but one of genre's own
    networks (``model``) or one of torch's optimisers (``optim``), before anything it names is
    imported: loading someone else's model or run must not run their code."""
    import torch

    container = OmegaConf.to_container(cfg, resolve=False)
    for path, target in _targets(container, ()):
        if path not in (("model",), ("optim",)):
            raise GenreError(
                f"The config of {source} names code to run at {'.'.join((*path, '_target_'))}"
                f"={target}, which genre never does: only genre's networks and torch's "
                "optimisers are rebuilt from a config made elsewhere."
            )
    if "model" in cfg and model_target(cfg.model) not in GENRE_NETWORKS:
        raise GenreError(
            f"The config of {source} builds model._target_={cfg.model._target_}, which is not "
            f"one of genre's networks ({', '.join(sorted(GENRE_NETWORKS))}): genre does not run "
            "code named by a config made elsewhere."
        )
    optimizer = str(OmegaConf.select(cfg, "optim._target_", default=""))
    name = optimizer.removeprefix(OPTIMIZER_MODULE)
    candidate = getattr(torch.optim, name, None) if "." not in name else None
    if "optim" in cfg and not (
        optimizer.startswith(OPTIMIZER_MODULE)
        and isinstance(candidate, type)
        and issubclass(candidate, torch.optim.Optimizer)
    ):
        raise GenreError(
            f"The config of {source} builds optim._target_={optimizer}, which is not one of "
            "torch's optimisers (torch.optim.*): genre does not run code named by a config made "
            "elsewhere."
        )


def _targets(node: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], object]]:
    """``(path of the node, its _target_)`` for every node of a config that has one."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield path, node["_target_"]
        for key, value in node.items():
            yield from _targets(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _targets(value, (*path, str(index)))


def register() -> None:
    """Put the schemas in Hydra's ConfigStore as ``<group>/base_<option>``, where the options'
    YAML files find them."""
    store = ConfigStore.instance()
    for group, schemas in (
        ("data", DATA_SCHEMAS),
        ("model", MODEL_SCHEMAS),
        ("features", {"features": FeaturesConfig}),
        ("task", {"task": TaskConfig}),
    ):
        for name, schema in schemas.items():
            store.store(group=group, name=f"base_{name}", node=schema)


def _schema_of(group: str, node: DictConfig) -> type | None:
    """The schema of a group's node: by its data source, model name, or the group itself."""
    if group == "data":
        return DATA_SCHEMAS.get(node.get("source"))
    if group == "model":
        return MODEL_SCHEMAS.get(node.get("name"))
    return {"features": FeaturesConfig, "task": TaskConfig, **NODES}.get(group)


NODES = {
    "augment": AugmentConfig,
    "training": TrainingConfig,
    "loss": LossConfig,
    "embed": EmbedConfig,
}


def settings(cfg: DictConfig, group: str) -> Any:
    """A group of a composed (or logged) config as its plain dataclass, for the layers that take
    no OmegaConf (genre/data, genre/embed): over its schema's defaults (a key or group logged
    before it existed gets its default), resolved, and checked by its ``__post_init__``."""
    node = cfg.get(group)
    if node is None:
        node = OmegaConf.create()
    schema = _schema_of(group, node)
    if schema is None:
        data = group == "data"
        known = ", ".join(sorted(DATA_SCHEMAS if data else MODEL_SCHEMAS))
        what, name = ("data source", node.get("source")) if data else (group, node.get("name"))
        raise GenreError(f"Unknown {what} '{name}'; choose one of: {known}.")
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), node))
    except OmegaConfBaseException as exc:  # a value of the wrong type, or an unknown key
        where = f"{group}.{exc.full_key}" if getattr(exc, "full_key", None) else group
        raise GenreError(f"{where}: {str(exc.msg).splitlines()[0]}") from exc


def task_name(cfg: DictConfig) -> str:
    """The config's task; ``genre`` for configs logged before there were tasks."""
    return str(OmegaConf.select(cfg, "task.name", default="genre"))


def is_tagging(cfg: DictConfig) -> bool:
    return task_name(cfg) == "tagging"


# --- checks across groups --------------------------------------------------------------------


def validate(cfg: DictConfig) -> None:
    """Every range and relation of a composed config (``genre.train``'s, or the data and
    features of ``prepare`` and ``explore``); a GenreError names the first problem. Runs before
    any data is read or any run is opened."""
    for group in ("data", "task", "features", "model", *NODES):
        node = cfg.get(group)
        schema = None if node is None else _schema_of(group, node)
        if schema is None:
            continue  # a user's own data source or model: its own code checks it
        values = OmegaConf.to_container(node, resolve=True)
        _check_known(group, str(node.get("name") or group), values, schema.__dataclass_fields__)
        schema(**values)  # its __post_init__ checks the ranges
    if "seed" in cfg:
        check_range("seed", cfg.seed, 0, 2**32 - 1)  # NumPy's seeds
    if "trainer" in cfg:
        _check_trainer(cfg.trainer)
        _check_optim(cfg.optim, int(cfg.trainer.max_epochs))
        _check_task(cfg)
    data, features = cfg.data, cfg.features
    nyquist = int(data.sample_rate) / 2
    if features.f_max is not None and float(features.f_max) > nyquist:
        raise GenreError(
            f"features.f_max={features.f_max:g} is above {nyquist:g} Hz, half of "
            f"data.sample_rate={data.sample_rate}: lower it, or null for {nyquist:g} Hz."
        )
    chunk = samples(data.chunk_seconds, data.sample_rate)
    pretrained = "model" in cfg and hasattr(get_class(model_target(cfg.model)), "SPECTROGRAM")
    if not pretrained and int(features.n_fft) > chunk:
        raise GenreError(
            f"features.n_fft={features.n_fft} is longer than a crop ({chunk} samples: "
            f"data.chunk_seconds={data.chunk_seconds:g} at {data.sample_rate} Hz): lower "
            "features.n_fft or raise data.chunk_seconds."
        )
    if features.kind == "mel" and not pretrained:
        _check_n_mels(features, int(data.sample_rate))
    _check_cache_dir(Path(str(data.cache_dir)).expanduser())


def _check_known(group: str, option: str, values: dict, known: object) -> None:
    """Refuse a key that ``known`` lacks (a typo Hydra's ``+`` let in), naming the closest."""
    unknown = sorted(set(values) - set(known))
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
    hint = f"did you mean {group}.{close[0]}?" if close else "check its spelling"
    raise GenreError(
        f"{group}.{unknown[0]} is not a setting of {group}={option}: {hint} "
        "(python -m genre.train --cfg job shows the config)."
    )


def _check_n_mels(features: DictConfig, sample_rate: int) -> None:
    """More mel filters than the FFT has bins in the band leaves some filters empty: their rows
    are zero, and torchaudio only warns. Refuse it, naming the largest count that fills all."""
    import torchaudio

    f_max = sample_rate / 2 if features.f_max is None else float(features.f_max)

    def fills(n_mels: int) -> bool:
        with warnings.catch_warnings():  # torchaudio's own warning is what this check replaces
            warnings.simplefilter("ignore", UserWarning)
            banks = torchaudio.functional.melscale_fbanks(
                int(features.n_fft) // 2 + 1, float(features.f_min), f_max, n_mels, sample_rate,
                features.mel_norm, features.mel_scale,
            )  # fmt: skip
        return bool((banks.max(dim=0).values > 0).all())

    n_mels = int(features.n_mels)
    if fills(n_mels):
        return
    low, high = 1, n_mels  # fills(low), not fills(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fills(middle) else (low, middle)
    raise GenreError(
        f"features.n_mels={n_mels} is more mel filters than features.n_fft={features.n_fft} has "
        f"frequency bins between {float(features.f_min):g} and {f_max:g} Hz (some would be "
        f"empty): use features.n_mels={low} or fewer, or raise features.n_fft."
    )


def _check_task(cfg: DictConfig) -> None:
    """The objective and the loss options must suit the task."""
    task = task_name(cfg)
    if cfg.objective not in OBJECTIVES[task]:
        raise GenreError(
            f"objective={cfg.objective} is not a metric of task={task}: choose one of "
            f"{', '.join(OBJECTIVES[task])}."
        )
    if task != "tagging":
        return
    if cfg.data.balance == "sampler":
        raise GenreError(
            "data.balance=sampler balances genres, and task=tagging has none: use "
            "data.balance=weights (each tag's positives weighed by its negatives) or none."
        )
    if float(OmegaConf.select(cfg, "loss.label_smoothing", default=0.0)) > 0:
        raise GenreError(
            "loss.label_smoothing smooths one genre per clip, not tags: set it to 0 with "
            "task=tagging."
        )


def _check_optim(optim: DictConfig, max_epochs: int) -> None:
    target = get_class(str(optim._target_))
    known = {*inspect.signature(target).parameters, "_target_", "schedule", "warmup_epochs"}
    _check_known("optim", target.__name__.lower(), dict(optim), known - {"params", "self"})
    check_range("optim.lr", optim.get("lr", 0.0), 0.0, 100.0)
    check_range("optim.weight_decay", optim.get("weight_decay", 0.0), 0.0, 10.0)
    if "momentum" in optim:
        check_range("optim.momentum", optim.momentum, 0.0, 0.9999)
    check_choice("optim.schedule", optim.get("schedule", "none"), SCHEDULES)
    check_range("optim.warmup_epochs", optim.get("warmup_epochs", 0), 0.0, max_epochs)


def _check_trainer(trainer: DictConfig) -> None:
    import lightning.pytorch as pl
    import torch

    known = set(inspect.signature(pl.Trainer).parameters) - {"self", "callbacks", "logger"}
    _check_known("trainer", "lightning.pytorch.Trainer", dict(trainer), known)
    check_range("trainer.max_epochs", trainer.max_epochs, 1, 1_000_000)
    # Lightning takes any truthy value as true; null is genre's own: on unless in a sweep.
    check_choice(
        "trainer.enable_progress_bar", trainer.get("enable_progress_bar"), (True, False, None)
    )
    accelerator = trainer.get("accelerator", "auto")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise GenreError(
            f"trainer.accelerator={trainer.accelerator}, but this machine has no usable GPU: "
            "use trainer=default (trainer.accelerator=auto or cpu)."
        )
    devices = trainer.get("devices", "auto")
    if isinstance(devices, int) and devices > 0:
        gpu = accelerator in ("gpu", "cuda") or (
            accelerator == "auto" and torch.cuda.is_available()
        )
        available = torch.cuda.device_count() if gpu else len(os.sched_getaffinity(0))
        what = "GPUs" if gpu else "CPU cores"
        if devices > available:
            # Checked here, before Lightning starts one process per device.
            raise GenreError(
                f"trainer.devices={devices} asks for more {what} than this machine has "
                f"({available}): use trainer.devices={available} or fewer."
            )


def _check_cache_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenreError(
            f"data.cache_dir={folder} cannot be created ({exc.strerror.lower()}): point it at a "
            "writable folder, or set GENRE_CACHE."
        ) from exc
    try:
        # A cache is built in a new folder inside: what matters is that one can be made there.
        os.rmdir(tempfile.mkdtemp(prefix=".write-probe-", dir=folder))
    except OSError as exc:
        raise GenreError(
            f"data.cache_dir={folder} is not writable ({exc.strerror.lower()}): point it at a "
            "writable folder, or set GENRE_CACHE."
        ) from exc


register()


def compose_config(overrides: list[str], return_hydra_config: bool = False) -> DictConfig:
    """The config ``python -m genre.train OVERRIDES`` would run, for the tools that are not Hydra
    apps; a composition error (unknown key or option) becomes a GenreError."""
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=return_hydra_config)
    except HydraException as exc:
        raise GenreError(str(exc)) from exc
