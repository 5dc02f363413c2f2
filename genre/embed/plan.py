"""Which input a run trains on: a frozen pretrained network's cached embeddings where nothing
needs the audio, else the audio itself (one line says why)."""

from __future__ import annotations

import logging

import torch
from omegaconf import DictConfig, OmegaConf

from genre.data.datamodule import GenreDataModule
from genre.embed.data import EmbeddingDataModule
from genre.embed.probe import ProbeNet
from genre.model.net import GenreNet

log = logging.getLogger(__name__)


def audio_reason(cfg: DictConfig) -> str | None:
    """Why this run of a pretrained network must train on the audio; None when cached
    embeddings serve it."""
    if not OmegaConf.select(cfg, "embed.cache", default=True):
        return "embed.cache=false"
    if cfg.model.get("freeze", "all") != "all":
        return f"model.freeze={cfg.model.freeze} fine-tunes the pretrained layers"
    features = cfg.get("features") or {}
    if features.get("freq_masks") or features.get("time_masks"):
        return "SpecAugment (features.freq_masks, features.time_masks) changes every crop"
    shift = OmegaConf.select(cfg, "augment.shift", default=0.0)
    if shift:
        return f"augment.shift={shift} moves every crop"
    return None


def gains(cfg: DictConfig) -> tuple[float, ...]:
    """The fixed gains the embeddings are computed at: 0 dB (what evaluation hears), and for
    ``augment.gain_db`` g > 0 also -g and +g dB, which training draws from."""
    g = float(OmegaConf.select(cfg, "augment.gain_db", default=0.0))
    return (0.0, -g, g) if g > 0 else (0.0,)


def plan(
    cfg: DictConfig, data: GenreDataModule, net: GenreNet
) -> tuple[GenreDataModule, torch.nn.Module, str]:
    """The data and the network to train for ``net`` (a loaded ``data``), and what the run
    trained on, for its record. A pretrained network with a new head trains its head on cached
    embeddings unless :func:`audio_reason` says otherwise; its standardisation, where asked
    for, takes the training split's statistics from the cache either way."""
    classifier = net.classifier
    if not hasattr(classifier, "head_logits"):
        return data, net, "audio"
    reason = audio_reason(cfg)
    standardize = classifier.standardize.enabled
    if reason is not None and not standardize:
        log.info("Training on the audio, not on cached embeddings: %s.", reason)
        return data, net, f"audio: {reason}"
    batch = int(OmegaConf.select(cfg, "embed.batch_size", default=64))
    cached = EmbeddingDataModule(data, net, gains(cfg) if reason is None else (0.0,), batch)
    if standardize:
        classifier.standardize.fit(cached.training_inputs())
    if reason is not None:
        log.info("Training on the audio, not on cached embeddings: %s.", reason)
        return data, net, f"audio: {reason}"
    names = " ".join(cache.path.name for per_model in cached.caches for cache in per_model)
    return cached, ProbeNet(net), f"embeddings: {names}"
