"""Embed once (genre.embed): a frozen pretrained network's embeddings computed once per window
of each clip and cached; probes trained on them predict exactly what the waveform network
predicts; whole-clip evaluation; the run says which input it trained on."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from helpers import TINY_RUN, exit_2_in_process, run_module
from torch.utils.data import DataLoader

from genre.build import build_network
from genre.config import compose_config, settings
from genre.data.datamodule import GenreDataModule
from genre.data.windows import collate_windows, window_starts
from genre.embed import cache as embed_cache
from genre.embed.plan import plan as plan_of
from genre.embed.probe import ProbeNet
from genre.errors import GenreError
from genre.model import transfer
from genre.tracking import INPUT_TAG


@pytest.fixture(autouse=True)
def wheel(musicnn_wheel: Path) -> Path:
    return musicnn_wheel


def config(folder: Path, cache: Path, *overrides: str):
    return compose_config(
        [
            "data=folder",
            f"data.root={folder}",
            "data.clip_seconds=3",
            "data.chunk_seconds=1",
            f"data.cache_dir={cache}",
            "data.eval_crops=all",
            "model=musicnn",
            *overrides,
        ]
    )


def plan(cfg, data, net):
    """genre.embed.plan with the settings train.py hands it."""
    groups = (settings(cfg, group) for group in ("embed", "augment", "features"))
    return plan_of(*groups, data, net)


def batches(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    (inputs, mask, _), *_ = DataLoader(dataset, batch_size=64, collate_fn=collate_windows)
    return inputs, mask


def test_windows_cover_each_clip_at_most_a_hop_apart():
    assert window_starts(10, 16, 8).tolist() == [0]  # shorter than a window: padded
    assert window_starts(16, 16, 8).tolist() == [0]
    assert window_starts(40, 16, 8).tolist() == [0, 8, 16, 24]
    starts = window_starts(47_000, 16_000, 16_000)  # 2.9 s in 1 s windows: 3 of them
    assert starts.tolist() == [0, 15_500, 31_000]
    assert np.diff(starts).max() <= 16_000 and starts[-1] + 16_000 == 47_000


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        ["model.clip_pool=probs"],
        ["model.clip_pool=mean", "model.standardize=true", "model.head_hidden=8"],
        ["model.clip_pool=max", "model.embedding=max_pool+penultimate+taggram"],
    ],
)
def test_cached_embeddings_predict_what_the_waveform_network_predicts(
    tiny_folder, tmp_path, overrides
):
    cfg = config(tiny_folder, tmp_path, "data.hop_seconds=0.5", *overrides)
    data = GenreDataModule(settings(cfg, "data"))
    data.load()
    net = build_network(cfg, data.labels)
    cached, probe, trained_on = plan(cfg, data, net)
    assert isinstance(probe, ProbeNet) and trained_on.startswith("embeddings: embed-")
    net.eval(), probe.eval()

    waves, mask = batches(data.dataset("val"))
    embeddings, embedding_mask = batches(cached.dataset("val"))
    # 3 s clips in 1 s windows 0.5 s apart: 5 windows each.
    assert waves.shape[1] == embeddings.shape[1] == 5 and torch.equal(mask, embedding_mask)
    with torch.no_grad():
        from_audio = net.clip_probabilities(waves, mask)
        from_cache = probe.clip_probabilities(embeddings, embedding_mask)
    torch.testing.assert_close(from_cache, from_audio, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_standardisation_takes_the_training_split_s_statistics(tiny_folder, tmp_path):
    cfg = config(tiny_folder, tmp_path, "model.standardize=true", "model.clip_pool=mean")
    data = GenreDataModule(settings(cfg, "data"))
    data.load()
    net = build_network(cfg, data.labels)
    cached, _, _ = plan(cfg, data, net)
    seen = net.classifier.standardize(cached.training_inputs())
    assert len(cached.training_inputs()) == (data.clips["split"] == "train").sum()
    torch.testing.assert_close(seen.mean(0), torch.zeros(seen.shape[1]), atol=1e-4, rtol=0)


@pytest.mark.slow
def test_one_cache_per_model_and_gain_reused_and_rebuilt_when_its_key_changes(
    tiny_folder, tmp_path, monkeypatch
):
    cfg = config(tiny_folder, tmp_path, "model.variant=msd+mtt", "augment.gain_db=6")
    data = GenreDataModule(settings(cfg, "data"))
    data.load()
    net = build_network(cfg, data.labels)
    cached, _, _ = plan(cfg, data, net)
    folders = [c.path for per_model in cached.caches for c in per_model]
    assert len(set(folders)) == 6  # 2 models x 3 gains (0, -6, +6 dB)
    meta = json.loads((folders[0] / "meta.json").read_text())
    assert meta["weights_sha256"] == net.classifier.weights_sha256.split("+")[0]
    assert meta["widths"] == {"taggram": 50, "penultimate": 200, "max_pool": 753, "mean_pool": 753}
    stamp = (folders[0] / "meta.json").stat().st_mtime_ns

    # A run reading one of those models at 0 dB builds nothing.
    one = config(tiny_folder, tmp_path, "model.variant=mtt")
    again, _, _ = plan(one, data, build_network(one, data.labels))
    assert again.caches[0][0].path in folders
    assert (folders[0] / "meta.json").stat().st_mtime_ns == stamp

    # Other weights, or another format version, are another cache.
    spec = embed_cache.EmbedSpec.of(net, 0, 0.0)
    other = embed_cache.EmbedSpec(**{**spec.__dict__, "weights_sha256": "0" * 64})
    assert other.key(data.cache) != spec.key(data.cache)
    monkeypatch.setattr(embed_cache, "FORMAT_VERSION", embed_cache.FORMAT_VERSION + 1)
    rebuilt, _, _ = plan(one, data, build_network(one, data.labels))
    assert rebuilt.caches[0][0].path not in folders


def test_models_that_hear_different_front_ends_are_not_concatenated(monkeypatch):
    other_rate = {**transfer.musicnn.SPECTROGRAM, "sample_rate": 22050}
    original = transfer.musicnn.front_end
    monkeypatch.setattr(
        transfer.musicnn,
        "front_end",
        lambda arch, variant: other_rate if variant == "mtt" else original(arch, variant),
    )
    with pytest.raises(GenreError, match=r"different sample rates \(16000, 22050 Hz\)"):
        transfer.front_end(transfer.members("musicnn", "msd+mtt"))
    assert transfer.front_end(transfer.members("musicnn", "msd")) == original("musicnn", "msd")


@pytest.mark.slow
def test_a_run_trains_on_cached_embeddings_and_says_when_it_needs_the_audio(tiny_folder, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    common = [
        "data=folder", f"data.root={tiny_folder}", "data.clip_seconds=3", *TINY_RUN,
        "model=musicnn", f"mlflow.tracking_uri={uri}", f"data.cache_dir={tmp_path}/cache",
    ]  # fmt: skip
    probe = run_module(
        "genre.train", *common, "augment.mixup=0.2", "augment.gain_db=3", "model.standardize=true",
        "model.clip_pool=mean", "model.head_hidden=8", "model.head_layers=2", cwd=tmp_path,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert "Training on the audio" not in probe.stderr + probe.stdout
    assert len(list((tmp_path / "cache").glob("embed-*"))) == 3  # 0, -3 and +3 dB

    audio = run_module("genre.train", *common, "model.freeze=frontend", cwd=tmp_path)
    assert audio.returncode == 0, audio.stderr[-3000:]
    line = (
        "Training on the audio, not on cached embeddings: model.freeze=frontend fine-tunes the "
        "pretrained layers."
    )
    assert line in audio.stderr + audio.stdout

    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("genre").experiment_id])
    inputs = sorted(run.data.tags[INPUT_TAG].split(":")[0] for run in runs)
    assert inputs == ["audio", "embeddings"]
    assert all("test/acc" in run.data.metrics for run in runs)


@pytest.mark.slow
def test_whole_clip_evaluation_on_the_waveform_path(tiny_folder, tmp_path):
    result = run_module(
        "genre.train", "data=folder", f"data.root={tiny_folder}", "data.clip_seconds=3",
        *TINY_RUN, "data.eval_crops=all", "data.hop_seconds=0.5",
        f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_a_window_longer_than_every_clip_is_one_sentence(
    tiny_folder, tmp_path, monkeypatch, capsys
):
    argv = [
        "data=folder", f"data.root={tiny_folder}", "data.clip_seconds=10",
        "data.chunk_seconds=5", "model=musicnn", f"data.cache_dir={tmp_path}",
        f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db", f"hydra.run.dir={tmp_path}/run",
    ]  # fmt: skip
    stderr = exit_2_in_process(argv, monkeypatch, capsys)
    assert "shorter than data.chunk_seconds=5" in stderr and "data.chunk_seconds=3" in stderr
