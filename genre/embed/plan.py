"""Which input a run trains on: a frozen pretrained network's cached embeddings where nothing
needs the audio, else the audio itself (one line says why)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch

from genre.data.datamodule import GenreDataModule
from genre.embed.data import EmbeddingDataModule
from genre.embed.probe import ProbeNet
from genre.model.net import GenreNet

if TYPE_CHECKING:
    from genre.config import AugmentConfig, EmbedConfig, FeaturesConfig

log = logging.getLogger(__name__)


def audio_reason(
    embed: EmbedConfig, augment: AugmentConfig, features: FeaturesConfig, freeze: str
) -> str | None:
    """Why this run of a pretrained network (its ``model.freeze``) must train on the audio; None
    when cached embeddings serve it."""
    if not embed.cache:
        return "embed.cache=false"
    if freeze != "all":
        return f"model.freeze={freeze} fine-tunes the pretrained layers"
    if features.freq_masks or features.time_masks:
        return "SpecAugment (features.freq_masks, features.time_masks) changes every crop"
    if augment.shift:
        return f"augment.shift={augment.shift} moves every crop"
    return None


def gains(augment: AugmentConfig) -> tuple[float, ...]:
    """The fixed gains the embeddings are computed at: 0 dB (what evaluation hears), and for
    ``augment.gain_db`` g > 0 also -g and +g dB, which training draws from."""
    g = float(augment.gain_db)
    return (0.0, -g, g) if g > 0 else (0.0,)


def plan(
    embed: EmbedConfig,
    augment: AugmentConfig,
    features: FeaturesConfig,
    data: GenreDataModule,
    net: GenreNet,
) -> tuple[GenreDataModule, torch.nn.Module, str]:
    """The data and the network to train for ``net`` (a loaded ``data``), and what the run
    trained on, for its record. A pretrained network with a new head trains its head on cached
    embeddings unless :func:`audio_reason` says otherwise; its standardisation, where asked
    for, takes the training split's statistics from the cache either way."""
    classifier = net.classifier
    if not hasattr(classifier, "head_logits"):
        return data, net, "audio"
    reason = audio_reason(embed, augment, features, classifier.freeze)
    if reason is None or classifier.standardize.enabled:
        gains_db = gains(augment) if reason is None else (0.0,)
        cached = EmbeddingDataModule(data, net, gains_db, embed.batch_size)
        if classifier.standardize.enabled:
            classifier.standardize.fit(cached.training_inputs())
    if reason is not None:
        log.info("Training on the audio, not on cached embeddings: %s.", reason)
        return data, net, f"audio: {reason}"
    names = " ".join(cache.path.name for per_model in cached.caches for cache in per_model)
    return cached, ProbeNet(net), f"embeddings: {names}"
